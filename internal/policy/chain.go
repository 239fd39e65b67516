package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"bouncer.dev/bouncer/internal/rawjson"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// Admission is what the API server's admission chain makes of one request:
// mutating admission first, its patch applied, then validating admission on
// the patched object. A policy that requires a label and also defaults it
// admits an object that lacks it, because validate sees the default.
type Admission struct {
	Mutate, Validate Decision
	in               rawjson.Value // the request's object
}

// Object returns the object validate judged: the request's, patched with the
// JSON Patch library the API server uses.
func (a *Admission) Object() (rawjson.Value, error) { return ApplyPatch(a.in, a.Mutate) }

// Admit runs the chain. Mutation is idempotent, so the API server's
// reinvocation would add nothing: one pass is the whole chain.
//
// The patch only adds labels, and validate reads only the identity and the
// label maps, so validate judges the object mutate read with the added labels
// laid over it: what reading the patched document would give, without
// applying the patch and parsing the whole document again.
// TestAdmitDecidesAsValidatingThePatchedObjectWould holds the two equal.
func (p *Policy) Admit(r *Request) (Admission, error) {
	a := Admission{in: r.Object}
	var obj *Object
	a.Mutate, obj = p.decideOn(r, Mutation, nil)
	if len(a.Mutate.Added) > 0 {
		if obj = obj.withAdded(a.Mutate.Added); obj == nil {
			patched, err := a.Object()
			if err != nil {
				return a, err
			}
			mutated := *r
			mutated.Object = patched
			a.Validate = p.Validate(&mutated)
			return a, nil
		}
	}
	a.Validate, _ = p.decideOn(r, Validation, obj)
	return a, nil
}

// withAdded returns a copy of o with the added labels in their places, as
// readObject reads the patched document; o is left as it was. It returns nil
// when a label place lies in metadata outside metadata.labels (a custom
// kind's template path may): there the patch can turn a field the reader
// takes for the object's identity, such as metadata.name, into a map, and
// only the patched document says what validate makes of it.
func (o *Object) withAdded(added []Added) *Object {
	c := *o
	c.Places = slices.Clone(o.Places)
	copied := make([]bool, len(c.Places))
	for _, a := range added {
		i := slices.IndexFunc(c.Places, func(pl Place) bool { return pl.Path == a.Place })
		if i < 0 {
			return nil
		}
		pl := &c.Places[i]
		if pl.Path != objectPlace && pl.Segments[0] == "metadata" {
			return nil
		}
		if !copied[i] {
			copied[i] = true
			pl.Labels = maps.Clone(pl.Labels)
			if pl.Labels == nil {
				pl.Labels = map[string]string{}
			}
			pl.Present, pl.Depth = true, len(pl.Segments)
		}
		pl.Labels[a.Key] = a.Value
	}
	return &c
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
