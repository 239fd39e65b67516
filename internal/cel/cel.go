// Package cel builds the CEL of bouncer's in-process admission: the
// policies internal/admissionpolicy emits and internal/guard's namespace guard. Each
// builder is one fragment, named for what it means over the variables the
// API server binds (object, oldObject, request, variables), and renders
// exactly its text; testdata/compiled pins what they add up to.
//
// Builders take CEL expressions and return one; those that take a key, a
// group, a kind, an operation or a pattern quote it themselves. One that
// returns an operator expression leaves it bare: where its caller composes
// it, the caller wraps it with Paren or Not. The list builders (ListIf,
// ListUnless, ItemIf) return a parenthesized operand, ready to concatenate.
package cel

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Quote is the CEL string literal of s.
func Quote(s string) string { return strconv.Quote(s) }

// Paren is x in parentheses, to compose an operator expression.
func Paren(x string) string { return "(" + x + ")" }

// Not is the negation of x, parenthesized: !(x).
func Not(x string) string { return "!(" + x + ")" }

// And is true when every x is: x1 && x2 && …
func And(xs ...string) string { return strings.Join(xs, " && ") }

// Or is true when any x is: x1 || x2 || …; "" when there is none.
func Or(xs ...string) string { return strings.Join(xs, " || ") }

// Eq is true when a equals b.
func Eq(a, b string) string { return a + " == " + b }

// If is cond ? then : els.
func If(cond, then, els string) string { return cond + " ? " + then + " : " + els }

// In is true when x is an element of a list, or a key of a map.
func In(x, collection string) string { return x + " in " + collection }

// Concat joins strings, or lists, with +.
func Concat(xs ...string) string { return strings.Join(xs, " + ") }

// Lists is the concatenation of lists, [] when there is none.
func Lists(lists []string) string {
	if len(lists) == 0 {
		return "[]"
	}
	return Concat(lists...)
}

// ListIf is list when cond holds, else the empty list.
func ListIf(cond, list string) string { return Paren(If(cond, list, "[]")) }

// ListUnless is the empty list when cond holds, else list.
func ListUnless(cond, list string) string { return Paren(If(cond, "[]", list)) }

// ItemIf is the list of item alone when cond holds, else the empty list:
// one entry of a list of messages.
func ItemIf(cond, item string) string { return ListIf(cond, "["+item+"]") }

// Map is a map literal of entries made by Entry.
func Map(entries ...string) string { return "{" + strings.Join(entries, ", ") + "}" }

// Entry is one entry of a map literal.
func Entry(key, value string) string { return key + ": " + value }

// Dyn lets x stand where values of another type stand too, as in a map
// literal whose values differ in type.
func Dyn(x string) string { return "dyn(" + x + ")" }

var ident = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reserved are CEL's reserved words; Kubernetes escapes such a field name
// as __name__.
var reserved = map[string]bool{"as": true, "break": true, "const": true, "continue": true, "else": true, "false": true,
	"for": true, "function": true, "if": true, "import": true, "in": true, "let": true, "loop": true, "package": true,
	"namespace": true, "null": true, "return": true, "true": true, "var": true, "void": true, "while": true}

// Selectable says whether a field selection can name field: an identifier
// without "__", which Kubernetes' escaping of other names would need.
func Selectable(field string) bool { return ident.MatchString(field) && !strings.Contains(field, "__") }

func escape(field string) string {
	if reserved[field] {
		return "__" + field + "__"
	}
	return field
}

// Field is root.a.b: the field at path, which must be there.
func Field(root string, path []string) string { return selection(root, ".", path) }

// OptField is root.?a.?b: the field at path as an optional, none when any
// field on the way is absent.
func OptField(root string, path []string) string { return selection(root, ".?", path) }

func selection(root, op string, path []string) string {
	var b strings.Builder
	b.WriteString(root)
	for _, f := range path {
		b.WriteString(op + escape(f))
	}
	return b.String()
}

// HasField is true when the field at path is set.
func HasField(root string, path []string) string { return "has(" + Field(root, path) + ")" }

// LabelMap is the label map at path under root, empty when it or any field
// on the way is absent.
func LabelMap(root string, path []string) string { return OptField(root, path) + ".orValue({})" }

// HasKey is true when the label map m has key.
func HasKey(m, key string) string { return In(Quote(key), m) }

// Get is the value of key in the label map m, which must have it.
func Get(m, key string) string { return m + "[" + Quote(key) + "]" }

// Mismatches is true when the string x does not match pattern in full, as
// the policy's anchored Go regexp does not.
func Mismatches(x, pattern string) string {
	return "!" + x + ".matches(" + Quote("^(?:"+pattern+")$") + ")"
}

// Shortened is the string x cut to n characters with an ellipsis when it is
// longer, as the messages quote a value.
func Shortened(x string, n int) string {
	return If(x+".size() > "+strconv.Itoa(n), Concat(x+".substring(0, "+strconv.Itoa(n)+")", Quote("…")), x)
}

// NoOldObject is true when the request has no old object (CREATE).
const NoOldObject = "oldObject == null"

// HasOldObject is true when the request has an old object.
const HasOldObject = "oldObject != null"

// OperationIs is true when the request's operation is op.
func OperationIs(op string) string { return Eq("request.operation", Quote(op)) }

// OperationIsNot is true when the request's operation is not op.
func OperationIsNot(op string) string { return "request.operation != " + Quote(op) }

// Unchanged is true when the request is an UPDATE that left key exactly as
// it was: absent from both label maps, labels (new) and old, or present in
// both with one value.
func Unchanged(labels, old, key string) string {
	return And(OperationIs("UPDATE"), HasOldObject,
		Paren(Eq(Paren(HasKey(labels, key)), Paren(HasKey(old, key)))),
		Paren(Or(Not(HasKey(labels, key)), Eq(Get(labels, key), Get(old, key)))))
}

// RequestKind is true when the request is for the kind of group.
func RequestKind(group, kind string) string {
	return And(Eq("request.kind.group", Quote(group)), Eq("request.kind.kind", Quote(kind)))
}

// UserIs is true when the requesting user's name is the string name.
func UserIs(name string) string { return Eq("request.userInfo.username", name) }

// UserIn is true when the requesting user's name is in the list users.
func UserIn(users string) string { return In("request.userInfo.username", users) }

// InGroup is true when the requesting user is in group.
func InGroup(group string) string { return In(Quote(group), "request.userInfo.groups") }

// InNoGroup is true when the requesting user is in none of the list groups.
func InNoGroup(groups string) string {
	return "!request.userInfo.groups.exists(g, " + In("g", groups) + ")"
}

// ControllerRefs is the list of the object's ownerReferences that are its
// controller: one at most in a valid object.
const ControllerRefs = `object.metadata.?ownerReferences.orValue([]).filter(r, r.?controller.orValue(false))`

// ControlledBy is true when the object has exactly one controller and it
// passes test, over the ownerReference r. Two controllers name none, as in
// the functions.
func ControlledBy(test string) string {
	return And(ControllerRefs+".size() == 1", ControllerRefs+".exists(r, "+test+")")
}

// RefIs is true when the ownerReference r is to the kind of group, in any
// version of it.
func RefIs(group, kind string) string {
	api := "r.apiVersion.startsWith(" + Quote(group+"/") + ")"
	if group == "" {
		api = `!r.apiVersion.contains("/")`
	}
	return And(Eq("r.kind", Quote(kind)), api)
}

// SelectorNames is true when the label selector selector, an optional,
// names key: in matchLabels, or in one of its matchExpressions.
func SelectorNames(selector, key string) string {
	return Or(HasKey(selector+".?matchLabels.orValue({})", key),
		selector+".?matchExpressions.orValue([]).exists(e, e.key == "+Quote(key)+")")
}

// AddPatch is a list of one JSON Patch operation, which adds value (an
// expression) at the JSON Pointer pointer.
func AddPatch(pointer, value string) string {
	return `[JSONPatch{op: "add", path: ` + Quote(pointer) + `, value: ` + value + `}]`
}

// Strings is the CEL list of the strings ss, each quoted.
func Strings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Requirements flattens a label selector: matchLabels as In requirements,
// in key order, followed by the matchExpressions.
func Requirements(s *metav1.LabelSelector) []metav1.LabelSelectorRequirement {
	var out []metav1.LabelSelectorRequirement
	for _, k := range slices.Sorted(maps.Keys(s.MatchLabels)) {
		out = append(out, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{s.MatchLabels[k]}})
	}
	return append(out, s.MatchExpressions...)
}

// Selects is true when the label selector requirements select obj's own
// labels, with the API server's meaning of each operator (an absent key is
// NotIn any set, and DoesNotExist).
func Selects(obj string, reqs []metav1.LabelSelectorRequirement) string {
	labels := obj + ".metadata.labels"
	has := "has(" + obj + ".metadata.labels)"
	var parts []string
	for _, r := range reqs {
		key := Quote(r.Key)
		switch r.Operator {
		case metav1.LabelSelectorOpIn:
			parts = append(parts, fmt.Sprintf("(%s && %s in %s && %s[%s] in %s)", has, key, labels, labels, key, Strings(r.Values)))
		case metav1.LabelSelectorOpNotIn:
			parts = append(parts, fmt.Sprintf("!(%s && %s in %s && %s[%s] in %s)", has, key, labels, labels, key, Strings(r.Values)))
		case metav1.LabelSelectorOpExists:
			parts = append(parts, fmt.Sprintf("(%s && %s in %s)", has, key, labels))
		case metav1.LabelSelectorOpDoesNotExist:
			parts = append(parts, fmt.Sprintf("!(%s && %s in %s)", has, key, labels))
		}
	}
	return strings.Join(parts, " && ")
}
