package auditlog

import (
	"fmt"

	"bouncer.dev/bouncer/internal/rawjson"
)

// ReadEventList reads what the audit webhook backend posts: one
// audit.k8s.io/v1 EventList, whose items are the batch's events. It takes the
// body whole or not at all, and says what is wrong and where
// ("items[3].objectRef: must be an object, got string"): the function
// answers 200 only for a batch it read whole, so the backend re-sends any
// other, and a 400's message is what the API server logs.
func ReadEventList(body []byte) ([]Event, error) {
	v, err := rawjson.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("not an EventList: %w", err)
	}
	var kind, apiVersion string
	var items rawjson.Value
	ok, err := v.Fields(func(key []byte, val rawjson.Value) error {
		var err error
		switch string(key) {
		case "kind":
			kind, err = str("kind", val)
		case "apiVersion":
			apiVersion, err = str("apiVersion", val)
		case "items":
			items = val
		}
		return err
	})
	switch {
	case !ok:
		return nil, fmt.Errorf("not an EventList: a JSON %s", v.Kind())
	case err != nil:
		return nil, fieldError("", err)
	case kind != ListKind || apiVersion != APIVersion:
		return nil, fmt.Errorf("not an EventList: kind %q, apiVersion %q; want kind %s, apiVersion %s", kind, apiVersion, ListKind, APIVersion)
	case items.IsAbsent():
		// The API server writes items: null for an empty batch, which it
		// never sends; nothing is lost by taking it.
		return nil, nil
	}
	var out []Event
	ok, err = items.Elements(func(i int, item rawjson.Value) error {
		out = append(out, Event{})
		if err := decodeEvent(item, &out[len(out)-1], false); err != nil {
			return under(fmt.Sprintf("items[%d]", i), err)
		}
		return nil
	})
	if !ok {
		return nil, wrongKind("items", "an array", items)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
