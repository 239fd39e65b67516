package spec

import (
	"strings"
	"testing"
)

func TestReadRefusesWhatItCannotReadNamingWhere(t *testing.T) {
	const head = "apiVersion: bouncer.dev/v1\nkind: Policy\n"
	const rule = "rules: [{name: a, kinds: [Pod], require: [{key: owner}]}]\n"
	tests := []struct {
		name, doc, want string
	}{
		{"an unknown top-level field is named", head + "rulez: []\n" + rule, `unknown field "rulez"`},
		{"an unknown field inside a rule is named with its path", head + "rules: [{name: a, kinds: [Pod], require: [{key: owner}], acton: deny}]\n", `unknown field "rules[0].acton"`},
		{"a duplicate YAML key is refused", head + "rules: []\nrules: []\n", `not valid YAML`},
		{"a numeric default value is named by its path", head + "rules: [{name: a, kinds: [Pod], defaults: {owner: 5}}]\n", `rules[0].defaults.owner: must be a string, got number`},
		{"a string where a list belongs is named by its path", head + "rules: [{name: a, kinds: Pod, require: [{key: x}]}]\n", `rules[0].kinds: must be a list of strings, got string`},
		{"a wrong type deep in a later rule is named by its index", head + "rules: [{name: a, kinds: [Pod], require: [{key: x}]}, {name: b, kinds: [Pod], require: [{key: 7}]}]\n", `rules[1].require[0].key: must be a string, got number`},
		{"a boolean setting given a string is named", head + "allowExistingViolations: \"yes\"\n" + rule, `allowExistingViolations: must be true or false, got string`},
		{"a second YAML document is refused with the count", head + rule + "---\n" + head + rule, `2 YAML documents: a policy file holds exactly one`},
		{"a document that is a list, not an object, is named as the document", "- a\n- b\n", `the document: must be an object, got array`},
		{"three documents are counted", head + rule + "---\n" + head + rule + "---\n" + head + rule, `3 YAML documents`},
		{"a JSON policy with a wrong type is named the same way", `{"apiVersion":"bouncer.dev/v1","kind":"Policy","rules":[{"name":"a","kinds":["Pod"],"defaults":{"env":true}}]}`, `rules[0].defaults.env: must be a string, got bool`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read([]byte(tt.doc))
			if err == nil {
				t.Fatalf("read without error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestReadAcceptsOneDocumentWithSeparatorsAndComments(t *testing.T) {
	doc := "# bouncer policy\n---\napiVersion: bouncer.dev/v1\nkind: Policy\nrules: [{name: a, kinds: [Pod], require: [{key: owner}]}]\n---\n# nothing after\n"
	p, err := Read([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rules) != 1 || p.Rules[0].Name != "a" {
		t.Errorf("read %+v", p)
	}
}
