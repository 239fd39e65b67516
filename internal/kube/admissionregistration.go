package kube

// The admissionregistration.k8s.io/v1 types bouncer generates, with the
// fields it sets. Names and JSON tags are those of k8s.io/api.

// GroupVersion is the API version of every type in this file.
const GroupVersion = "admissionregistration.k8s.io/v1"

type (
	ScopeType              string
	OperationType          string
	FailurePolicyType      string
	MatchPolicyType        string
	SideEffectClass        string
	ReinvocationPolicyType string
	ValidationAction       string
	PatchType              string
)

const (
	AllScopes                  ScopeType              = "*"
	Create                     OperationType          = "CREATE"
	Update                     OperationType          = "UPDATE"
	Ignore                     FailurePolicyType      = "Ignore"
	Fail                       FailurePolicyType      = "Fail"
	Equivalent                 MatchPolicyType        = "Equivalent"
	SideEffectClassNone        SideEffectClass        = "None"
	IfNeededReinvocationPolicy ReinvocationPolicyType = "IfNeeded"
	Deny                       ValidationAction       = "Deny"
	Warn                       ValidationAction       = "Warn"
	Audit                      ValidationAction       = "Audit"
	PatchTypeJSONPatch         PatchType              = "JSONPatch"
)

type Rule struct {
	APIGroups   []string   `json:"apiGroups,omitempty"`
	APIVersions []string   `json:"apiVersions,omitempty"`
	Resources   []string   `json:"resources,omitempty"`
	Scope       *ScopeType `json:"scope,omitempty"`
}

type RuleWithOperations struct {
	Operations []OperationType `json:"operations,omitempty"`
	Rule
}

type NamedRuleWithOperations struct {
	ResourceNames []string `json:"resourceNames,omitempty"`
	RuleWithOperations
}

type MatchCondition struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

type ServiceReference struct {
	Namespace string  `json:"namespace"`
	Name      string  `json:"name"`
	Path      *string `json:"path,omitempty"`
	Port      *int32  `json:"port,omitempty"`
}

type WebhookClientConfig struct {
	URL      *string           `json:"url,omitempty"`
	Service  *ServiceReference `json:"service,omitempty"`
	CABundle []byte            `json:"caBundle,omitempty"`
}

type ValidatingWebhook struct {
	Name                    string               `json:"name"`
	ClientConfig            WebhookClientConfig  `json:"clientConfig"`
	Rules                   []RuleWithOperations `json:"rules,omitempty"`
	FailurePolicy           *FailurePolicyType   `json:"failurePolicy,omitempty"`
	MatchPolicy             *MatchPolicyType     `json:"matchPolicy,omitempty"`
	NamespaceSelector       *LabelSelector       `json:"namespaceSelector,omitempty"`
	ObjectSelector          *LabelSelector       `json:"objectSelector,omitempty"`
	SideEffects             *SideEffectClass     `json:"sideEffects"`
	TimeoutSeconds          *int32               `json:"timeoutSeconds,omitempty"`
	AdmissionReviewVersions []string             `json:"admissionReviewVersions"`
	MatchConditions         []MatchCondition     `json:"matchConditions,omitempty"`
}

type MutatingWebhook struct {
	Name                    string                  `json:"name"`
	ClientConfig            WebhookClientConfig     `json:"clientConfig"`
	Rules                   []RuleWithOperations    `json:"rules,omitempty"`
	FailurePolicy           *FailurePolicyType      `json:"failurePolicy,omitempty"`
	MatchPolicy             *MatchPolicyType        `json:"matchPolicy,omitempty"`
	NamespaceSelector       *LabelSelector          `json:"namespaceSelector,omitempty"`
	ObjectSelector          *LabelSelector          `json:"objectSelector,omitempty"`
	SideEffects             *SideEffectClass        `json:"sideEffects"`
	TimeoutSeconds          *int32                  `json:"timeoutSeconds,omitempty"`
	AdmissionReviewVersions []string                `json:"admissionReviewVersions"`
	ReinvocationPolicy      *ReinvocationPolicyType `json:"reinvocationPolicy,omitempty"`
	MatchConditions         []MatchCondition        `json:"matchConditions,omitempty"`
}

type ValidatingWebhookConfiguration struct {
	TypeMeta
	ObjectMeta `json:"metadata,omitempty"`
	Webhooks   []ValidatingWebhook `json:"webhooks,omitempty"`
}

type MutatingWebhookConfiguration struct {
	TypeMeta
	ObjectMeta `json:"metadata,omitempty"`
	Webhooks   []MutatingWebhook `json:"webhooks,omitempty"`
}

type MatchResources struct {
	NamespaceSelector    *LabelSelector            `json:"namespaceSelector,omitempty"`
	ObjectSelector       *LabelSelector            `json:"objectSelector,omitempty"`
	ResourceRules        []NamedRuleWithOperations `json:"resourceRules,omitempty"`
	ExcludeResourceRules []NamedRuleWithOperations `json:"excludeResourceRules,omitempty"`
	MatchPolicy          *MatchPolicyType          `json:"matchPolicy,omitempty"`
}

type Validation struct {
	Expression        string        `json:"expression"`
	Message           string        `json:"message,omitempty"`
	Reason            *StatusReason `json:"reason,omitempty"`
	MessageExpression string        `json:"messageExpression,omitempty"`
}

type Variable struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

type AuditAnnotation struct {
	Key             string `json:"key"`
	ValueExpression string `json:"valueExpression"`
}

type ValidatingAdmissionPolicySpec struct {
	MatchConstraints *MatchResources    `json:"matchConstraints,omitempty"`
	Validations      []Validation       `json:"validations,omitempty"`
	FailurePolicy    *FailurePolicyType `json:"failurePolicy,omitempty"`
	AuditAnnotations []AuditAnnotation  `json:"auditAnnotations,omitempty"`
	MatchConditions  []MatchCondition   `json:"matchConditions,omitempty"`
	Variables        []Variable         `json:"variables,omitempty"`
}

type ValidatingAdmissionPolicy struct {
	TypeMeta
	ObjectMeta `json:"metadata,omitempty"`
	Spec       ValidatingAdmissionPolicySpec `json:"spec,omitempty"`
}

type ValidatingAdmissionPolicyBindingSpec struct {
	PolicyName        string             `json:"policyName,omitempty"`
	MatchResources    *MatchResources    `json:"matchResources,omitempty"`
	ValidationActions []ValidationAction `json:"validationActions,omitempty"`
}

type ValidatingAdmissionPolicyBinding struct {
	TypeMeta
	ObjectMeta `json:"metadata,omitempty"`
	Spec       ValidatingAdmissionPolicyBindingSpec `json:"spec,omitempty"`
}

type JSONPatch struct {
	Expression string `json:"expression,omitempty"`
}

type Mutation struct {
	PatchType PatchType  `json:"patchType"`
	JSONPatch *JSONPatch `json:"jsonPatch,omitempty"`
}

type MutatingAdmissionPolicySpec struct {
	MatchConstraints   *MatchResources        `json:"matchConstraints,omitempty"`
	Variables          []Variable             `json:"variables,omitempty"`
	Mutations          []Mutation             `json:"mutations,omitempty"`
	FailurePolicy      *FailurePolicyType     `json:"failurePolicy,omitempty"`
	MatchConditions    []MatchCondition       `json:"matchConditions,omitempty"`
	ReinvocationPolicy ReinvocationPolicyType `json:"reinvocationPolicy,omitempty"`
}

type MutatingAdmissionPolicy struct {
	TypeMeta
	ObjectMeta `json:"metadata,omitempty"`
	Spec       MutatingAdmissionPolicySpec `json:"spec,omitempty"`
}

type MutatingAdmissionPolicyBindingSpec struct {
	PolicyName     string          `json:"policyName,omitempty"`
	MatchResources *MatchResources `json:"matchResources,omitempty"`
}

type MutatingAdmissionPolicyBinding struct {
	TypeMeta
	ObjectMeta `json:"metadata,omitempty"`
	Spec       MutatingAdmissionPolicyBindingSpec `json:"spec,omitempty"`
}
