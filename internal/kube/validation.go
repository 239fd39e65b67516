package kube

import (
	"fmt"
	"strings"
)

// The name rules of k8s.io/apimachinery/pkg/util/validation, written as byte
// loops: that package compiles its regular expressions at init, on every
// start. Each returns the problems it finds, none when the value is valid.

const (
	labelValueMax = 63
	dns1123Max    = 253
)

// IsQualifiedName checks a label key: an optional DNS subdomain prefix and
// a slash, then a name of at most 63 characters.
func IsQualifiedName(value string) []string {
	var msgs []string
	name := value
	if prefix, rest, ok := strings.Cut(value, "/"); ok {
		if strings.Contains(rest, "/") {
			return []string{"a qualified name has at most one '/', between an optional DNS subdomain prefix and the name"}
		}
		name = rest
		if prefix == "" {
			msgs = append(msgs, "prefix part must be non-empty")
		} else {
			for _, m := range IsDNS1123Subdomain(prefix) {
				msgs = append(msgs, "prefix part "+m)
			}
		}
	}
	switch {
	case name == "":
		msgs = append(msgs, "name part must be non-empty")
	case len(name) > labelValueMax:
		msgs = append(msgs, fmt.Sprintf("name part must be no more than %d characters", labelValueMax))
	case !isLabelChars(name):
		msgs = append(msgs, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
	}
	return msgs
}

// IsValidLabelValue checks a label value: empty, or at most 63 characters
// of the same alphabet as a name.
func IsValidLabelValue(value string) []string {
	var msgs []string
	if len(value) > labelValueMax {
		msgs = append(msgs, fmt.Sprintf("must be no more than %d characters", labelValueMax))
	}
	if value != "" && !isLabelChars(value) {
		msgs = append(msgs, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
	}
	return msgs
}

// IsDNS1123Label checks a namespace or resource name.
func IsDNS1123Label(value string) []string {
	var msgs []string
	if len(value) > labelValueMax {
		msgs = append(msgs, fmt.Sprintf("must be no more than %d characters", labelValueMax))
	}
	if !isDNSLabel(value) {
		msgs = append(msgs, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character")
	}
	return msgs
}

// IsDNS1123Subdomain checks an API group or a label key's prefix.
func IsDNS1123Subdomain(value string) []string {
	var msgs []string
	if len(value) > dns1123Max {
		msgs = append(msgs, fmt.Sprintf("must be no more than %d characters", dns1123Max))
	}
	ok := value != ""
	for _, part := range strings.Split(value, ".") {
		ok = ok && isDNSLabel(part)
	}
	if !ok {
		msgs = append(msgs, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")
	}
	return msgs
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isLabelChars is ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], non-empty.
func isLabelChars(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isDNSLabel is [a-z0-9]([-a-z0-9]*[a-z0-9])?, without the length limit.
func isDNSLabel(s string) bool {
	lowerAlnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	if s == "" || !lowerAlnum(s[0]) || !lowerAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !lowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}
