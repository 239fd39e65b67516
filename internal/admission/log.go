package admission

import (
	"time"

	"bouncer.dev/bouncer/internal/patch"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/text"
	"bouncer.dev/bouncer/internal/verdict"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The decision log's field names are an interface: the e2e suite, the
// hardening tests and users' log queries read them. docs/protocol.md documents them.
const (
	FieldFunction     = "function"
	FieldUID          = "uid"
	FieldKind         = "kind"
	FieldNamespace    = "namespace"
	FieldName         = "name"
	FieldGenerateName = "generateName"
	FieldOperation    = "operation"
	FieldDryRun       = "dryRun"
	FieldDecision     = "decision"
	FieldCode         = "code"
	FieldSkip         = "skip"
	FieldViolations   = "violations"
	FieldPatchOps     = "patchOps"
	FieldWarnings     = "warnings"
	FieldLatency      = "latency"
	// FieldParent names the controller a child's violations were inherited
	// from; FieldTemplateFrozen says mutate left its template alone.
	FieldParent         = "parent"
	FieldTemplateFrozen = "templateFrozen"
	DecisionMessage     = "admission decision"
)

// logDecision writes one line per decision. It names the object and the
// labels involved, never their values nor any other object content: a
// mis-scoped webhook can receive Secrets, and Pods carry env values.
func (f *Handler) logDecision(r *policy.Request, d *policy.Decision, a *verdict.Answer, latency time.Duration) {
	if r == nil {
		return
	}
	decision := "allow"
	if !a.Allowed {
		decision = "deny"
	}
	fields := []zap.Field{
		zap.Stringer(FieldFunction, f.Stage),
		zap.String(FieldUID, r.UID),
		zap.String(FieldKind, clip(r.Kind)),
		zap.String(FieldNamespace, clip(r.Namespace)),
		zap.String(FieldName, clip(firstNonEmpty(r.Name, d.Target.Name))),
		zap.String(FieldOperation, clip(r.Operation)),
		zap.Bool(FieldDryRun, r.DryRun),
		zap.String(FieldDecision, decision),
	}
	if d.Target.GenerateName != "" && r.Name == "" && d.Target.Name == "" {
		fields = append(fields, zap.String(FieldGenerateName, clip(d.Target.GenerateName)))
	}
	if !a.Allowed {
		fields = append(fields, zap.Int32(FieldCode, a.Code))
	}
	if d.Skip != "" {
		fields = append(fields, zap.String(FieldSkip, d.Skip))
	}
	if len(d.Violations) > 0 {
		fields = append(fields, zap.Array(FieldViolations, violations(d.Violations)))
	}
	if d.Parent != nil {
		fields = append(fields, zap.String(FieldParent, d.Parent.Kind+"/"+clip(d.Parent.Name)))
	}
	if d.Frozen {
		fields = append(fields, zap.Bool(FieldTemplateFrozen, true))
	}
	if len(a.Patch) > 0 {
		fields = append(fields, zap.Array(FieldPatchOps, patchOps(a.Patch)))
	}
	if len(a.Warnings) > 0 {
		fields = append(fields, zap.Int(FieldWarnings, len(a.Warnings)))
	}
	fields = append(fields, zap.Duration(FieldLatency, latency))
	f.Log.Info(DecisionMessage, fields...)
}

type violations []policy.Violation

func (vs violations) MarshalLogArray(e zapcore.ArrayEncoder) error {
	for _, v := range vs {
		_ = e.AppendObject(zapcore.ObjectMarshalerFunc(func(o zapcore.ObjectEncoder) error {
			o.AddString("rule", v.Rule)
			o.AddString("action", string(v.Action))
			o.AddString("place", v.Place)
			o.AddString("key", v.Key)
			o.AddString("problem", string(v.Problem))
			o.AddBool("existing", v.Existing)
			if v.Inherited {
				o.AddBool("inherited", true)
			}
			return nil
		}))
	}
	return nil
}

// patchOps logs each operation as "add <path>", without its value.
func patchOps(ops []patch.Op) zapcore.ArrayMarshaler {
	return zapcore.ArrayMarshalerFunc(func(e zapcore.ArrayEncoder) error {
		for _, op := range ops {
			e.AppendString(op.Op + " " + op.Path)
		}
		return nil
	})
}

// clip bounds a request field in the log: a hostile client must not be able
// to write a line of megabytes. 253 bytes holds any valid Kubernetes name.
func clip(s string) string { return text.Clip(s, 256) }

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
