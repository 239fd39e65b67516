package cel

import "testing"

// The compiled goldens (testdata/compiled) pin what the builders add up to;
// these pin the few that decide on their input.
func TestBuilders(t *testing.T) {
	for _, c := range []struct{ name, got, want string }{
		{"a reserved word is escaped as Kubernetes escapes it", Field("object", []string{"spec", "namespace", "labels"}), "object.spec.__namespace__.labels"},
		{"an optional selection escapes too", OptField("object", []string{"spec", "in"}), "object.?spec.?__in__"},
		{"a label map is empty when any field on the way is absent", LabelMap("oldObject", []string{"metadata", "labels"}), "oldObject.?metadata.?labels.orValue({})"},
		{"no lists concatenate into the empty list", Lists(nil), "[]"},
		{"lists concatenate with +", Lists([]string{"[1]", "[2]"}), "[1] + [2]"},
		{"no alternatives are no expression", Or(), ""},
		{"a key is quoted", HasKey("m", `a"b`), `"a\"b" in m`},
		{"a pattern must match in full", Mismatches("x", "a|b"), `!x.matches("^(?:a|b)$")`},
		{"a core kind's ownerReference has no group in its apiVersion", RefIs("", "Node"), `r.kind == "Node" && !r.apiVersion.contains("/")`},
		{"another kind's ownerReference names its group", RefIs("apps", "ReplicaSet"), `r.kind == "ReplicaSet" && r.apiVersion.startsWith("apps/")`},
		{"an item if a condition holds is a parenthesized list operand", ItemIf("c", `"m"`), `(c ? ["m"] : [])`},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, c.got, c.want)
		}
	}
	for field, want := range map[string]bool{"labels": true, "_x": true, "my-template": false, "a__b": false, "1a": false} {
		if Selectable(field) != want {
			t.Errorf("Selectable(%q) = %v, want %v", field, !want, want)
		}
	}
}
