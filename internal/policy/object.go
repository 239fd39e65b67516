package policy

import (
	"encoding/json"
	"sort"
	"strings"

	"bouncer.dev/bouncer/internal/rawjson"
	kjson "sigs.k8s.io/json"
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
	r := reader{cache: map[string]map[string]json.RawMessage{}, field: field}
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
	cache map[string]map[string]json.RawMessage
	field string
}

func (r *reader) where(segs []string) string {
	if len(segs) == 0 {
		return r.field
	}
	return r.field + "." + strings.Join(segs, ".")
}

// object decodes raw as a JSON object. It returns nil for null.
func (r *reader) object(segs []string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	if t := rawjson.Type(raw); t != "object" {
		return nil, &ObjectError{r.where(segs), "must be a JSON object, got " + t}
	}
	var m map[string]json.RawMessage
	strict, err := kjson.UnmarshalStrict(raw, &m, kjson.DisallowDuplicateFields)
	if err != nil {
		return nil, &ObjectError{r.where(segs), "not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	if len(strict) > 0 {
		return nil, &ObjectError{r.where(segs), "duplicate field " + quoteTrunc(dupField(strict[0]), 100)}
	}
	return m, nil
}

// walk returns the object at segs, or nil when it or a parent is absent or null.
func (r *reader) walk(segs []string) (map[string]json.RawMessage, error) {
	key := strings.Join(segs, ".")
	if m, ok := r.cache[key]; ok {
		return m, nil
	}
	parent, err := r.walk(segs[:len(segs)-1])
	if err != nil || parent == nil {
		return nil, err
	}
	raw, ok := parent[segs[len(segs)-1]]
	var m map[string]json.RawMessage
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
	strict, err := kjson.UnmarshalStrict(raw, &labels, kjson.DisallowDuplicateFields)
	if err != nil {
		return nil, r.labelError(segs, raw)
	}
	if len(strict) > 0 {
		return nil, &ObjectError{r.where(segs), "duplicate label " + quoteTrunc(dupField(strict[0]), 100)}
	}
	pl.Labels, pl.Present, pl.Depth = labels, true, len(segs)
	return pl, nil
}

// labelError finds the value that is not a string, on the error path only.
func (r *reader) labelError(segs []string, raw json.RawMessage) error {
	var m map[string]json.RawMessage
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &m); err != nil {
		return &ObjectError{r.where(segs), "not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	for _, k := range sortedRawKeys(m) {
		if t := rawjson.Type(m[k]); t != "string" {
			return &ObjectError{r.where(segs) + "[" + quoteTrunc(k, 100) + "]", "label values must be strings, got " + t}
		}
	}
	return &ObjectError{r.where(segs), "must be a map of strings"}
}

func (r *reader) str(m map[string]json.RawMessage, segs []string, dst *string) error {
	raw, ok := m[segs[len(segs)-1]]
	if !ok || isNull(raw) {
		return nil
	}
	if t := rawjson.Type(raw); t != "string" {
		return &ObjectError{r.where(segs), "must be a string, got " + t}
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return &ObjectError{r.where(segs), "not a valid JSON string"}
	}
	return nil
}

func isNull(raw []byte) bool { return rawjson.IsAbsent(raw) }

func sortedRawKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// dupField extracts the field name from a sigs.k8s.io/json strict error.
func dupField(err error) string {
	if fe, ok := err.(kjson.FieldError); ok {
		return fe.FieldPath()
	}
	return err.Error()
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
