package policy

import (
	"strconv"
	"strings"

	"bouncer.dev/bouncer/internal/rawjson"
	"bouncer.dev/bouncer/internal/text"
)

// Object is what the decision reads of an admitted object: its identity and
// the label maps at the kind's places. Nothing else is decoded, so unknown
// fields are never touched and large specs cost one scan.
type Object struct {
	Name, GenerateName, Namespace string
	// Deleting is true when metadata.deletionTimestamp is set.
	Deleting bool
	// Places holds one entry per label path of the kind, in its order.
	Places []Place
	// SelectorKeys are the label keys the kind's selector names, in
	// matchLabels or matchExpressions; nil when it names none.
	SelectorKeys map[string]bool
	// ownerRefs is metadata.ownerReferences, read only when a decision needs it.
	ownerRefs rawjson.Value
	field     string
}

// Place is one label map of the object.
type Place struct {
	Path     string
	Segments []string
	// Labels is nil when the map is absent or null.
	Labels map[string]string
	// Present is true when the labels map exists and is not null.
	Present bool
	// Depth is how many leading segments exist as JSON objects; a patch must
	// create the rest. When Present, Depth == len(Segments).
	Depth int
}

// own returns the object's own labels (nil when it has none).
func (o *Object) own() map[string]string { return o.Places[0].Labels }

// OwnerRef is an object's controller: the ownerReference with controller set.
type OwnerRef struct {
	GroupKind
	Name string
}

// String names the owner the way messages name objects.
func (r *OwnerRef) String() string { return r.Kind + " " + text.Quote(r.Name, 253) }

// ObjectError says what is unreadable in an object and where.
type ObjectError struct {
	Path string // such as request.object.metadata.labels
	Msg  string
}

func (e *ObjectError) Error() string { return e.Path + ": " + e.Msg }

// readObject reads the identity and every label place of kind k from v, the
// value of request.object or request.oldObject. field names it in errors.
func readObject(v rawjson.Value, k *Kind, field string) (*Object, error) {
	r := reader{cache: map[string]map[string]rawjson.Value{}, field: field, want: k.want}
	root, err := r.object(nil, v)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, &ObjectError{field, "must be a JSON object, got null"}
	}
	r.cache[""] = root
	o := &Object{Places: make([]Place, len(k.Paths)), field: field}
	meta, err := r.walk([]string{"metadata"})
	if err != nil {
		return nil, err
	}
	if meta != nil {
		for _, f := range []struct {
			key string
			dst *string
		}{{"name", &o.Name}, {"generateName", &o.GenerateName}, {"namespace", &o.Namespace}} {
			if err := r.str(meta, []string{"metadata", f.key}, f.dst); err != nil {
				return nil, err
			}
		}
		o.Deleting = !meta["deletionTimestamp"].IsAbsent()
		o.ownerRefs = meta["ownerReferences"]
	}
	for i := range k.Paths {
		if err := r.place(&o.Places[i], k.Paths[i], k.segments[i]); err != nil {
			return nil, err
		}
	}
	if k.selector != nil {
		if o.SelectorKeys, err = r.selectorKeys(k.selector); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// selectorKeys reads the keys a label selector names, in its matchLabels
// and its matchExpressions.
func (r *reader) selectorKeys(segs []string) (map[string]bool, error) {
	sel, err := r.walk(segs)
	if err != nil || sel == nil {
		return nil, err
	}
	keys := map[string]bool{}
	if ml := sel["matchLabels"]; !ml.IsAbsent() && ml.Kind() != rawjson.Null {
		ok, err := ml.Fields(func(k []byte, _ rawjson.Value) error {
			keys[string(k)] = true
			return nil
		})
		if !ok {
			return nil, &ObjectError{r.where(append(segs, "matchLabels")), "must be a map of strings, got " + ml.Kind().String()}
		}
		if err != nil {
			return nil, &ObjectError{r.where(append(segs, "matchLabels")), err.Error()}
		}
	}
	if me := sel["matchExpressions"]; !me.IsAbsent() && me.Kind() != rawjson.Null {
		where := r.where(append(segs, "matchExpressions"))
		ok, err := me.Elements(func(i int, e rawjson.Value) error {
			var key string
			ok, err := e.Fields(func(k []byte, v rawjson.Value) error {
				if string(k) == "key" {
					s, isStr := v.Str()
					if !isStr {
						return &ObjectError{where + "[" + strconv.Itoa(i) + "].key", "must be a string, got " + v.Kind().String()}
					}
					key = s
				}
				return nil
			})
			if !ok {
				return &ObjectError{where + "[" + strconv.Itoa(i) + "]", "must be an object, got " + e.Kind().String()}
			}
			keys[key] = true
			return err
		})
		if !ok {
			return nil, &ObjectError{where, "must be an array, got " + me.Kind().String()}
		}
		if err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// Controller returns the object's controller reference, or nil. Anyone may
// write an ownerReference, so it is a fact about the object, never a
// credential: the decision pairs it with the request's user. Two or more
// references with controller set name no controller: the API server refuses
// such an object ("Only one reference can have Controller set to true"), so
// none of them may soften the decision, and the compiled policy reads them
// the same way.
func (o *Object) Controller() (*OwnerRef, error) {
	if o.ownerRefs.IsAbsent() {
		return nil, nil
	}
	where := o.field + ".metadata.ownerReferences"
	var found *OwnerRef
	controllers := 0
	ok, err := o.ownerRefs.Elements(func(i int, ref rawjson.Value) error {
		var apiVersion, kind, name string
		var controller bool
		ok, err := ref.Fields(func(k []byte, v rawjson.Value) error {
			switch string(k) {
			case "apiVersion":
				apiVersion, _ = v.Str()
			case "kind":
				kind, _ = v.Str()
			case "name":
				name, _ = v.Str()
			case "controller":
				controller = v.True()
			}
			return nil
		})
		if !ok || err != nil {
			return &ObjectError{where + "[" + strconv.Itoa(i) + "]", "must be an object with unique fields"}
		}
		if controller {
			controllers++
			group, _, cut := strings.Cut(apiVersion, "/")
			if !cut {
				group = "" // "v1": the core group
			}
			found = &OwnerRef{GroupKind{group, kind}, name}
		}
		return nil
	})
	if !ok {
		return nil, &ObjectError{where, "must be an array, got " + o.ownerRefs.Kind().String()}
	}
	if controllers != 1 {
		return nil, err
	}
	return found, err
}

// reader decodes nested JSON objects once each, keyed by their dotted path.
type reader struct {
	cache map[string]map[string]rawjson.Value
	field string
	want  map[string]string // the field names read, interned
}

func (r *reader) where(segs []string) string {
	if len(segs) == 0 {
		return r.field
	}
	return r.field + "." + strings.Join(segs, ".")
}

// object reads v as a JSON object's members, as slices of the document (no
// copies). It returns nil for null.
func (r *reader) object(segs []string, v rawjson.Value) (map[string]rawjson.Value, error) {
	if v.Kind() == rawjson.Null {
		return nil, nil
	}
	m := make(map[string]rawjson.Value, 4)
	ok, err := v.Fields(func(k []byte, val rawjson.Value) error {
		// Only the fields some place or the identity reads are kept, under
		// interned names, so walking a large object allocates nothing per field.
		if name, ok := r.want[string(k)]; ok {
			m[name] = val
		}
		return nil
	})
	if !ok {
		return nil, &ObjectError{r.where(segs), "must be a JSON object, got " + v.Kind().String()}
	}
	if d, isDup := err.(*rawjson.DuplicateKeyError); isDup {
		return nil, &ObjectError{r.where(segs), "duplicate field " + text.Quote(d.Key, 100)}
	}
	return m, err
}

// walk returns the object at segs, or nil when it or a parent is absent or null.
func (r *reader) walk(segs []string) (map[string]rawjson.Value, error) {
	key := strings.Join(segs, ".")
	if m, ok := r.cache[key]; ok {
		return m, nil
	}
	parent, err := r.walk(segs[:len(segs)-1])
	if err != nil || parent == nil {
		return nil, err
	}
	v, ok := parent[segs[len(segs)-1]]
	var m map[string]rawjson.Value
	if ok {
		if m, err = r.object(segs, v); err != nil {
			return nil, err
		}
	}
	r.cache[key] = m
	return m, nil
}

func (r *reader) place(pl *Place, path string, segs []string) error {
	*pl = Place{Path: path, Segments: segs}
	for pl.Depth = 0; pl.Depth < len(segs)-1; pl.Depth++ {
		m, err := r.walk(segs[:pl.Depth+1])
		if err != nil {
			return err
		}
		if m == nil {
			return nil
		}
	}
	parent, err := r.walk(segs[:len(segs)-1])
	if err != nil {
		return err
	}
	v := parent[segs[len(segs)-1]]
	if v.IsAbsent() {
		return nil
	}
	labels := map[string]string{}
	ok, err := v.Fields(func(k []byte, val rawjson.Value) error {
		switch val.Kind() {
		case rawjson.String:
			labels[string(k)], _ = val.Str()
		case rawjson.Null:
			// As the API server decodes it: a null value is the empty string.
			labels[string(k)] = ""
		default:
			return &ObjectError{r.where(segs) + "[" + text.Quote(string(k), 100) + "]", "label values must be strings, got " + val.Kind().String()}
		}
		return nil
	})
	if !ok {
		return &ObjectError{r.where(segs), "must be a map of strings, got " + v.Kind().String()}
	}
	if d, isDup := err.(*rawjson.DuplicateKeyError); isDup {
		return &ObjectError{r.where(segs), "duplicate label " + text.Quote(d.Key, 100)}
	}
	if err != nil {
		return err
	}
	pl.Labels, pl.Present, pl.Depth = labels, true, len(segs)
	return nil
}

func (r *reader) str(m map[string]rawjson.Value, segs []string, dst *string) error {
	v := m[segs[len(segs)-1]]
	if v.IsAbsent() {
		return nil
	}
	s, ok := v.Str()
	if !ok {
		return &ObjectError{r.where(segs), "must be a string, got " + v.Kind().String()}
	}
	*dst = s
	return nil
}

// beingDeleted reports whether v is a JSON object whose
// metadata.deletionTimestamp is set, reading nothing else: an object being
// deleted is let through even when its label places are unreadable.
func beingDeleted(v rawjson.Value) bool {
	var meta rawjson.Value
	_, _ = v.Fields(func(k []byte, val rawjson.Value) error {
		if string(k) == "metadata" {
			meta = val
		}
		return nil
	})
	deleting := false
	_, _ = meta.Fields(func(k []byte, val rawjson.Value) error {
		if string(k) == "deletionTimestamp" && !val.IsAbsent() {
			deleting = true
		}
		return nil
	})
	return deleting
}

func (o *Object) label(place int, key string) (string, bool) {
	v, ok := o.Places[place].Labels[key]
	return v, ok
}
