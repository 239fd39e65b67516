package admission

import (
	"time"

	"bouncer.dev/bouncer/internal/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The decision log's field names are an interface: the e2e suite, the
// hardening tests and users' log queries read them. README.md documents them.
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
	DecisionMessage   = "admission decision"
)

// logDecision writes one line per decision. It names the object and the
// labels involved, never their values nor any other object content: a
// mis-scoped webhook can receive Secrets, and Pods carry env values.
func (f *Function) logDecision(r *policy.Request, d *policy.Decision, latency time.Duration) {
	if r == nil {
		return
	}
	decision := "allow"
	if !d.Allowed {
		decision = "deny"
	}
	fields := []zap.Field{
		zap.String(FieldFunction, f.Name),
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
	if !d.Allowed {
		fields = append(fields, zap.Int32(FieldCode, d.Code))
	}
	if d.Skip != "" {
		fields = append(fields, zap.String(FieldSkip, d.Skip))
	}
	if len(d.Violations) > 0 {
		fields = append(fields, zap.Array(FieldViolations, violations(d.Violations)))
	}
	if len(d.Patch) > 0 {
		fields = append(fields, zap.Array(FieldPatchOps, patchOps(d)))
	}
	if len(d.Warnings) > 0 {
		fields = append(fields, zap.Int(FieldWarnings, len(d.Warnings)))
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
			return nil
		}))
	}
	return nil
}

// patchOps logs each operation as "add <path>", without its value.
func patchOps(d *policy.Decision) zapcore.ArrayMarshaler {
	return zapcore.ArrayMarshalerFunc(func(e zapcore.ArrayEncoder) error {
		for _, op := range d.Patch {
			e.AppendString(op.Op + " " + op.Path)
		}
		return nil
	})
}

// clip bounds a request field in the log: a hostile client must not be able
// to write a line of megabytes. 253 bytes holds any valid Kubernetes name.
func clip(s string) string {
	if len(s) > 253 {
		return s[:253] + "…"
	}
	return s
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
