package kube

import (
	"fmt"
	"sort"
	"strings"
)

// LabelSelector is metav1.LabelSelector.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is metav1.LabelSelectorRequirement.
type LabelSelectorRequirement struct {
	Key      string                `json:"key"`
	Operator LabelSelectorOperator `json:"operator"`
	Values   []string              `json:"values,omitempty"`
}

// LabelSelectorOperator is metav1.LabelSelectorOperator.
type LabelSelectorOperator string

const (
	LabelSelectorOpIn           LabelSelectorOperator = "In"
	LabelSelectorOpNotIn        LabelSelectorOperator = "NotIn"
	LabelSelectorOpExists       LabelSelectorOperator = "Exists"
	LabelSelectorOpDoesNotExist LabelSelectorOperator = "DoesNotExist"
)

// Empty reports whether the selector has no requirement: it selects
// everything, as metav1.LabelSelectorAsSelector's Empty says.
func (s *LabelSelector) Empty() bool {
	return len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
}

// Validate applies the rules metav1.LabelSelectorAsSelector enforces, and
// names the offending field in each error.
func (s *LabelSelector) Validate() []error {
	var errs []error
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if msgs := IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("matchLabels: %q is not a label key: %s", k, strings.Join(msgs, "; ")))
		}
		if msgs := IsValidLabelValue(s.MatchLabels[k]); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("matchLabels[%s]: %q is not a label value: %s", k, s.MatchLabels[k], strings.Join(msgs, "; ")))
		}
	}
	for i, r := range s.MatchExpressions {
		f := fmt.Sprintf("matchExpressions[%d]", i)
		if msgs := IsQualifiedName(r.Key); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s.key: %q is not a label key: %s", f, r.Key, strings.Join(msgs, "; ")))
		}
		switch r.Operator {
		case LabelSelectorOpIn, LabelSelectorOpNotIn:
			if len(r.Values) == 0 {
				errs = append(errs, fmt.Errorf("%s.values: must be non-empty for operator %s", f, r.Operator))
			}
		case LabelSelectorOpExists, LabelSelectorOpDoesNotExist:
			if len(r.Values) > 0 {
				errs = append(errs, fmt.Errorf("%s.values: must be empty for operator %s", f, r.Operator))
			}
		default:
			errs = append(errs, fmt.Errorf("%s.operator: %q is not a label selector operator; want In, NotIn, Exists or DoesNotExist", f, r.Operator))
		}
		for j, v := range r.Values {
			if msgs := IsValidLabelValue(v); len(msgs) > 0 {
				errs = append(errs, fmt.Errorf("%s.values[%d]: %q is not a label value: %s", f, j, v, strings.Join(msgs, "; ")))
			}
		}
	}
	return errs
}

// Matches reports whether a valid selector selects the labels: every
// matchLabels pair is present, and every requirement holds.
func (s *LabelSelector) Matches(labels map[string]string) bool {
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		v, has := labels[r.Key]
		in := has && contains(r.Values, v)
		switch r.Operator {
		case LabelSelectorOpIn:
			if !in {
				return false
			}
		case LabelSelectorOpNotIn:
			if in {
				return false
			}
		case LabelSelectorOpExists:
			if !has {
				return false
			}
		case LabelSelectorOpDoesNotExist:
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
