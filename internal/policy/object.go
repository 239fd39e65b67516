package policy

import (
	"strings"

	"bouncer.dev/bouncer/internal/rawjson"
)

// Object is what the decision reads of an admitted object: its identity and
// the label maps at the kind's places. Nothing else is decoded, so unknown
// fields are never touched and large specs cost one scan.
type Object struct {
	Name, GenerateName, Namespace string
	// Deleting is true when metadata.deletionTimestamp is set.
	Deleting bool
	Places   map[string]*Place
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

// ObjectError says what is unreadable in an object and where.
type ObjectError struct {
	Path string // such as request.object.metadata.labels
	Msg  string
}

func (e *ObjectError) Error() string { return e.Path + ": " + e.Msg }

// ParseObject reads the identity and every label place of kind k from raw,
// the JSON of request.object or request.oldObject. field names it in errors.
func ParseObject(raw []byte, k *Kind, field string) (*Object, error) {
	if err := rawjson.Validate(raw); err != nil {
		return nil, &ObjectError{field, err.Error()}
	}
	return parseValid(raw, k, field)
}

// parseValid is ParseObject for bytes already validated as JSON.
func parseValid(raw []byte, k *Kind, field string) (*Object, error) {
	r := reader{cache: map[string]map[string][]byte{}, field: field, want: k.wantFields()}
	root, err := r.object(nil, raw)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, &ObjectError{field, "must be a JSON object, got null"}
	}
	r.cache[""] = root
	o := &Object{Places: make(map[string]*Place, 1+len(k.TemplateLabelPaths))}
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
		if ts, ok := meta["deletionTimestamp"]; ok && !isNull(ts) {
			o.Deleting = true
		}
	}
	for _, path := range k.Places() {
		pl, err := r.place(path)
		if err != nil {
			return nil, err
		}
		o.Places[path] = pl
	}
	return o, nil
}

// reader decodes nested JSON objects once each, keyed by their dotted path.
type reader struct {
	cache map[string]map[string][]byte
	field string
	want  map[string]string // the field names read, interned
}

// identityFields are read from metadata besides the label places.
var identityFields = []string{"metadata", "name", "generateName", "namespace", "deletionTimestamp", "labels"}

// wantFields is the set of field names a kind's reader keeps.
func (k *Kind) wantFields() map[string]string {
	k.wantOnce.Do(func() {
		k.want = map[string]string{}
		for _, f := range identityFields {
			k.want[f] = f
		}
		for _, p := range k.Places() {
			for _, seg := range splitPath(p) {
				k.want[seg] = seg
			}
		}
	})
	return k.want
}

func (r *reader) where(segs []string) string {
	if len(segs) == 0 {
		return r.field
	}
	return r.field + "." + strings.Join(segs, ".")
}

// object reads raw as a JSON object's members, as slices of raw (no
// copies). It returns nil for null.
func (r *reader) object(segs []string, raw []byte) (map[string][]byte, error) {
	if isNull(raw) {
		return nil, nil
	}
	if t := rawjson.Type(raw); t != "object" {
		return nil, &ObjectError{r.where(segs), "must be a JSON object, got " + t}
	}
	m := make(map[string][]byte, 4)
	dup, err := rawjson.Fields(raw, func(k, v []byte) error {
		// Only the fields some place or the identity reads are kept, under
		// interned names, so walking a large object allocates nothing per field.
		if name, ok := r.want[string(k)]; ok {
			m[name] = v
		}
		return nil
	})
	if err != nil {
		return nil, &ObjectError{r.where(segs), err.Error()}
	}
	if dup != "" {
		return nil, &ObjectError{r.where(segs), "duplicate field " + quoteTrunc(dup, 100)}
	}
	return m, nil
}

// walk returns the object at segs, or nil when it or a parent is absent or null.
func (r *reader) walk(segs []string) (map[string][]byte, error) {
	key := strings.Join(segs, ".")
	if m, ok := r.cache[key]; ok {
		return m, nil
	}
	parent, err := r.walk(segs[:len(segs)-1])
	if err != nil || parent == nil {
		return nil, err
	}
	raw, ok := parent[segs[len(segs)-1]]
	var m map[string][]byte
	if ok {
		if m, err = r.object(segs, raw); err != nil {
			return nil, err
		}
	}
	r.cache[key] = m
	return m, nil
}

func (r *reader) place(path string) (*Place, error) {
	segs := splitPath(path)
	pl := &Place{Path: path, Segments: segs}
	for pl.Depth = 0; pl.Depth < len(segs)-1; pl.Depth++ {
		m, err := r.walk(segs[:pl.Depth+1])
		if err != nil {
			return nil, err
		}
		if m == nil {
			return pl, nil
		}
	}
	parent, err := r.walk(segs[:len(segs)-1])
	if err != nil {
		return nil, err
	}
	raw, ok := parent[segs[len(segs)-1]]
	if !ok || isNull(raw) {
		return pl, nil
	}
	if t := rawjson.Type(raw); t != "object" {
		return nil, &ObjectError{r.where(segs), "must be a map of strings, got " + t}
	}
	labels := map[string]string{}
	dup, err := rawjson.Fields(raw, func(k, v []byte) error {
		switch t := rawjson.Type(v); t {
		case "string":
			labels[string(k)] = rawjson.Unquote(v)
		case "null":
			// As the API server decodes it: a null value is the empty string.
			labels[string(k)] = ""
		default:
			return &ObjectError{r.where(segs) + "[" + quoteTrunc(string(k), 100) + "]", "label values must be strings, got " + t}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if dup != "" {
		return nil, &ObjectError{r.where(segs), "duplicate label " + quoteTrunc(dup, 100)}
	}
	pl.Labels, pl.Present, pl.Depth = labels, true, len(segs)
	return pl, nil
}

func (r *reader) str(m map[string][]byte, segs []string, dst *string) error {
	raw, ok := m[segs[len(segs)-1]]
	if !ok || isNull(raw) {
		return nil
	}
	if t := rawjson.Type(raw); t != "string" {
		return &ObjectError{r.where(segs), "must be a string, got " + t}
	}
	*dst = rawjson.Unquote(raw)
	return nil
}

func isNull(raw []byte) bool { return rawjson.IsAbsent(raw) }

// beingDeleted reports whether raw is a JSON object whose
// metadata.deletionTimestamp is set, reading nothing else: an object being
// deleted is let through even when its label places are unreadable.
func beingDeleted(raw []byte) bool {
	if rawjson.Validate(raw) != nil || rawjson.Type(raw) != "object" {
		return false
	}
	var meta []byte
	_, _ = rawjson.Fields(raw, func(k, v []byte) error {
		if string(k) == "metadata" {
			meta = v
		}
		return nil
	})
	if rawjson.Type(meta) != "object" {
		return false
	}
	deleting := false
	_, _ = rawjson.Fields(meta, func(k, v []byte) error {
		if string(k) == "deletionTimestamp" && !rawjson.IsAbsent(v) {
			deleting = true
		}
		return nil
	})
	return deleting
}

// quoteTrunc quotes user content for a message, cut to max bytes.
func quoteTrunc(s string, max int) string { return rawjson.Quote(s, max) }

func (o *Object) label(place, key string) (string, bool) {
	pl := o.Places[place]
	if pl == nil || pl.Labels == nil {
		return "", false
	}
	v, ok := pl.Labels[key]
	return v, ok
}
