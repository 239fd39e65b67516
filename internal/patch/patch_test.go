package patch

import (
	"encoding/json"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

func TestEscapeFollowsRFC6901(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"a plain key is unchanged", "environment", "environment"},
		{"a slash becomes ~1", "app.kubernetes.io/name", "app.kubernetes.io~1name"},
		{"a tilde becomes ~0", "a~b", "a~0b"},
		{"a tilde before a 1 is escaped first, so it does not read back as a slash", "a~1/b", "a~01~1b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAddLabelsAppliesWithTheAPIServersLibrary(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		depth int
		want  string
	}{
		{"keys with a slash and a tilde land under their own names", `{"metadata":{"labels":{"x":"y"}}}`, 2,
			`{"metadata":{"labels":{"x":"y","a~1/b":"v","app.kubernetes.io/name":"v"}}}`},
		{"a missing labels map is added whole", `{"metadata":{"name":"n"}}`, 1,
			`{"metadata":{"name":"n","labels":{"a~1/b":"v","app.kubernetes.io/name":"v"}}}`},
		{"a missing metadata is added whole", `{"kind":"Pod"}`, 0,
			`{"kind":"Pod","metadata":{"labels":{"a~1/b":"v","app.kubernetes.io/name":"v"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops := AddLabels([]string{"metadata", "labels"}, tt.depth, []Label{{"a~1/b", "v"}, {"app.kubernetes.io/name", "v"}})
			raw, _ := json.Marshal(ops)
			p, err := jsonpatch.DecodePatch(raw)
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.Apply([]byte(tt.doc))
			if err != nil {
				t.Fatalf("apply %s: %v", raw, err)
			}
			var got, want any
			_ = json.Unmarshal(out, &got)
			_ = json.Unmarshal([]byte(tt.want), &want)
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if string(g) != string(w) {
				t.Errorf("got %s\nwant %s", g, w)
			}
		})
	}
}

func TestAddLabelsWithNothingMissingIsNoPatch(t *testing.T) {
	if ops := AddLabels([]string{"metadata", "labels"}, 2, nil); ops != nil {
		t.Errorf("got %v, want nil", ops)
	}
}
