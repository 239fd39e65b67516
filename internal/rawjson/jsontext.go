//go:build jsontext

// This file is the same API on the Go team's JSON v2 tokenizer,
// github.com/go-json-experiment/json/jsontext, so that `make bench` can time
// whole reviews with it in rawjson's place (go test -tags jsontext). It is
// never in the bouncer binary; docs/benchmarks.md records the figures and
// the choice they decided.

package rawjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// MaxDepth is jsontext's own bound on nesting.
const MaxDepth = 10000

var decoders = sync.Pool{New: func() any {
	return jsontext.NewDecoder(bytes.NewReader(nil), jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
}}

func decoder(b []byte) *jsontext.Decoder {
	d := decoders.Get().(*jsontext.Decoder)
	d.Reset(bytes.NewReader(b), jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	return d
}

// Parse checks that data is exactly one JSON value.
func Parse(data []byte) (Value, error) {
	d := decoder(data)
	defer decoders.Put(d)
	if err := d.SkipValue(); err != nil {
		return Value{}, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := d.ReadToken(); !errors.Is(err, io.EOF) {
		return Value{}, fmt.Errorf("not valid JSON at byte %d: data after the top-level value", d.InputOffset())
	}
	return Value{bytes.TrimSpace(data)}, nil
}

// Fields is native.go's Fields, on jsontext's tokenizer.
func (v Value) Fields(fn func(key []byte, val Value) error) (ok bool, err error) {
	if v.Kind() != Object {
		return false, nil
	}
	d := decoder(v.b)
	defer decoders.Put(d)
	if _, err := d.ReadToken(); err != nil {
		return true, err
	}
	seen := map[string]struct{}{}
	for d.PeekKind() != '}' {
		tok, err := d.ReadToken()
		if err != nil {
			return true, err
		}
		key := tok.String()
		if !utf8.ValidString(key) {
			key = string(bytes.ToValidUTF8([]byte(key), []byte("\uFFFD")))
		}
		if _, dup := seen[key]; dup {
			return true, &DuplicateKeyError{key}
		}
		seen[key] = struct{}{}
		start := d.InputOffset()
		if err := d.SkipValue(); err != nil {
			return true, err
		}
		val := bytes.TrimLeft(v.b[start:d.InputOffset()], " \t\r\n:")
		if err := fn([]byte(key), Value{val}); err != nil {
			return true, err
		}
	}
	return true, nil
}

// Elements is native.go's Elements, on jsontext's tokenizer.
func (v Value) Elements(fn func(i int, val Value) error) (ok bool, err error) {
	if v.Kind() != Array {
		return false, nil
	}
	d := decoder(v.b)
	defer decoders.Put(d)
	if _, err := d.ReadToken(); err != nil {
		return true, err
	}
	for n := 0; d.PeekKind() != ']'; n++ {
		start := d.InputOffset()
		if err := d.SkipValue(); err != nil {
			return true, err
		}
		val := bytes.TrimLeft(v.b[start:d.InputOffset()], " \t\r\n,")
		if err := fn(n, Value{val}); err != nil {
			return true, err
		}
	}
	return true, nil
}
