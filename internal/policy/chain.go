package policy

import (
	"encoding/json"
	"fmt"

	"bouncer.dev/bouncer/internal/rawjson"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// Admission is what the API server's admission chain makes of one request:
// mutating admission first, its patch applied, then validating admission on
// the patched object. A policy that requires a label and also defaults it
// admits an object that lacks it, because validate sees the default.
type Admission struct {
	Mutate, Validate Decision
	// Object is the object validate judged: the request's, patched.
	Object rawjson.Value
}

// Admit runs the chain. The patch is applied with the JSON Patch library the
// API server uses. Mutation is idempotent, so the API server's reinvocation
// would add nothing: one pass is the whole chain.
func (p *Policy) Admit(r *Request) (Admission, error) {
	a := Admission{Mutate: p.Mutate(r), Object: r.Object}
	if len(a.Mutate.Patch) > 0 {
		patched, err := ApplyPatch(r.Object, a.Mutate)
		if err != nil {
			return a, err
		}
		a.Object = patched
	}
	mutated := *r
	mutated.Object = a.Object
	a.Validate = p.Validate(&mutated)
	return a, nil
}

// ApplyPatch applies a decision's patch to obj as the API server would.
func ApplyPatch(obj rawjson.Value, d Decision) (rawjson.Value, error) {
	if len(d.Patch) == 0 {
		return obj, nil
	}
	ops, err := json.Marshal(d.Patch)
	if err != nil {
		return obj, err
	}
	jp, err := jsonpatch.DecodePatch(ops)
	if err != nil {
		return obj, fmt.Errorf("decoding bouncer's own patch: %w", err)
	}
	out, err := jp.Apply(obj.Bytes())
	if err != nil {
		return obj, fmt.Errorf("applying bouncer's own patch: %w", err)
	}
	return rawjson.Parse(out)
}
