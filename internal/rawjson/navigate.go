package rawjson

import (
	"bytes"
	"unicode/utf8"
)

// Parse checks that data is exactly one JSON value, in one pass, and returns
// it as a Value.
func Parse(data []byte) (Value, error) {
	if err := validate(data); err != nil {
		return Value{}, err
	}
	return Value{bytes.TrimSpace(data)}, nil
}

// Fields calls fn for each member of an object, in order, with its key
// (decoded, as a slice of the document when it has no escapes) and value.
// It stops at fn's first error and returns it. A key given twice stops it
// with a *DuplicateKeyError before the second is visited: two parsers must
// never disagree on which one counts. ok is false when v is not an object.
func (v Value) Fields(fn func(key []byte, val Value) error) (ok bool, err error) {
	if v.Kind() != Object {
		return false, nil
	}
	d := v.b
	i := skipWS(d, 1)
	var seenBuf [16][]byte // on the stack: objects of up to 16 keys allocate nothing
	seen := seenBuf[:0]
	var seenMap map[string]struct{}
	for d[i] != '}' {
		kEnd := skip(d, i)
		key := d[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			key = []byte(unquote(d[i:kEnd]))
		}
		if seenMap != nil {
			if _, ok := seenMap[string(key)]; ok {
				return true, &DuplicateKeyError{string(key)}
			}
			seenMap[string(key)] = struct{}{}
		} else {
			for _, s := range seen {
				if bytes.Equal(s, key) {
					return true, &DuplicateKeyError{string(key)}
				}
			}
			if len(seen) == len(seenBuf) {
				// Large objects (label maps) switch to a set.
				seenMap = make(map[string]struct{}, 64)
				for _, s := range seen {
					seenMap[string(s)] = struct{}{}
				}
				seenMap[string(key)] = struct{}{}
			} else {
				seen = append(seen, key)
			}
		}
		i = skipWS(d, skipWS(d, kEnd)+1) // past ':'
		vEnd := skip(d, i)
		if err := fn(key, Value{d[i:vEnd]}); err != nil {
			return true, err
		}
		if i = skipWS(d, vEnd); d[i] == ',' {
			i = skipWS(d, i+1)
		}
	}
	return true, nil
}

// Elements calls fn for each element of an array, in order, and stops at
// fn's first error. ok is false when v is not an array.
func (v Value) Elements(fn func(i int, val Value) error) (ok bool, err error) {
	if v.Kind() != Array {
		return false, nil
	}
	d := v.b
	i := skipWS(d, 1)
	for n := 0; d[i] != ']'; n++ {
		end := skip(d, i)
		if err := fn(n, Value{d[i:end]}); err != nil {
			return true, err
		}
		if i = skipWS(d, end); d[i] == ',' {
			i = skipWS(d, i+1)
		}
	}
	return true, nil
}
