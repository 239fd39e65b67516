package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"bouncer.dev/bouncer/internal/text"
	"sigs.k8s.io/yaml"
)

// Read reads one file's documents into objects, or says where it stops
// being readable: nothing after a break is silently dropped. It follows
// kubectl's reading: YAML documents split on "---" lines (a separator line
// holds nothing but a comment), and back-to-back JSON values.
func Read(file string, data []byte) ([]Object, error) {
	docs, err := splitDocuments(file, data)
	if err != nil {
		return nil, err
	}
	var out []Object
	for i, doc := range docs {
		objs, err := document(file, i+1, doc)
		out = append(out, objs...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Empty reports whether data holds no document at all: nothing, or only
// white space, comments and "---" lines. An empty List is a document.
func Empty(data []byte) bool {
	docs, err := splitDocuments("", data)
	return err == nil && len(docs) == 0
}

type rawDoc struct {
	text []byte
	line int
}

// splitDocuments splits a YAML stream on "---" lines, remembering where each
// document starts so that errors can name the file's line. Blank documents
// (only comments or white space) are dropped, and the rest numbered from 1.
// Content on a separator line is refused, as kubectl refuses it
// (k8s.io/apimachinery's YAMLReader): it would otherwise read as nothing.
func splitDocuments(file string, data []byte) ([]rawDoc, error) {
	var docs []rawDoc
	cur := rawDoc{line: 1}
	flush := func() {
		if !isBlank(cur.text) {
			docs = append(docs, cur)
		}
	}
	for i, l := range bytes.Split(data, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(l, []byte("---")); ok {
			if t := bytes.TrimSpace(rest); len(t) > 0 && t[0] != '#' {
				n := len(docs) + 1 // the document this line would start
				if !isBlank(cur.text) {
					n++
				}
				return nil, &ParseError{file, n, i + 1, "invalid YAML document separator: " + text.Quote(string(t), 40) + ": put the document on the next line"}
			}
			flush()
			cur = rawDoc{line: i + 2}
			continue
		}
		cur.text = append(append(cur.text, l...), '\n')
	}
	flush()
	return docs, nil
}

func isBlank(doc []byte) bool {
	for _, l := range bytes.Split(doc, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if len(l) > 0 && l[0] != '#' {
			return false
		}
	}
	return true
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func document(file string, n int, doc rawDoc) ([]Object, error) {
	if trimmed := bytes.TrimSpace(doc.text); len(trimmed) > 0 && trimmed[0] == '{' {
		// A JSON stream may hold several objects back to back, as kubectl
		// accepts; YAML would silently read only the first.
		vals, err := jsonStream(trimmed)
		switch {
		case err == nil:
			var out []Object
			for _, v := range vals {
				objs, err := objects(file, n, doc.line, v)
				out = append(out, objs...)
				if err != nil {
					return out, err
				}
			}
			return out, nil
		case len(vals) > 0:
			// It was JSON and broke part of the way through.
			return nil, &ParseError{file, n, doc.line, err.Error()}
		}
		// Not JSON from the start: flow-style YAML, read below.
	}
	js, err := yaml.YAMLToJSON(doc.text)
	if err != nil {
		// The YAML parser counts lines from the document's start; report
		// the file's line.
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			l, _ := strconv.Atoi(m[1])
			msg = yamlLine.ReplaceAllString(msg, "line "+strconv.Itoa(doc.line+l-1))
		}
		return nil, &ParseError{file, n, doc.line, "not valid YAML: " + strings.TrimPrefix(msg, "error converting YAML to JSON: ")}
	}
	return objects(file, n, doc.line, js)
}

// jsonStream reads back-to-back JSON values. On a break it returns the
// values read so far and an error naming the byte offset.
func jsonStream(data []byte) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var out []json.RawMessage
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			var se *json.SyntaxError
			switch {
			case errors.As(err, &se):
				return out, fmt.Errorf("not valid JSON at byte %d: %v", se.Offset, se)
			case errors.Is(err, io.ErrUnexpectedEOF):
				return out, fmt.Errorf("not valid JSON at byte %d: unexpected end of JSON input", len(data))
			}
			return out, fmt.Errorf("not valid JSON after byte %d: %v", dec.InputOffset(), err)
		}
		out = append(out, v)
	}
}
