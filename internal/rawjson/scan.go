package rawjson

import (
	"fmt"
	"strconv"
)

// maxDepth bounds nesting, as encoding/json does, so that a hostile body
// cannot exhaust the stack.
const maxDepth = 10000

// SyntaxError says where a body stops being JSON.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("not valid JSON at byte %d: %s", e.Offset, e.Msg)
}

// validate checks that data is exactly one JSON value, in one pass.
func validate(data []byte) error {
	i := skipWS(data, 0)
	if i == len(data) {
		return &SyntaxError{i, "unexpected end of JSON input"}
	}
	end, err := value(data, i, 0)
	if err != nil {
		return err
	}
	if end = skipWS(data, end); end != len(data) {
		return &SyntaxError{end + 1, fmt.Sprintf("invalid character %s after top-level value", quoteChar(data[end]))}
	}
	return nil
}

func skipWS(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

func eof(d []byte) error { return &SyntaxError{len(d), "unexpected end of JSON input"} }

func unexpected(d []byte, i int, context string) error {
	if i >= len(d) {
		return eof(d)
	}
	return &SyntaxError{i + 1, fmt.Sprintf("invalid character %s %s", quoteChar(d[i]), context)}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(c))
	return "'" + s[1:len(s)-1] + "'"
}

// value validates the value at d[i] and returns the index after it.
func value(d []byte, i, depth int) (int, error) {
	if i >= len(d) {
		return 0, eof(d)
	}
	switch c := d[i]; {
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return 0, &SyntaxError{i + 1, fmt.Sprintf("invalid character %s exceeded max depth", quoteChar(c))}
		}
		if c == '{' {
			return object(d, i, depth+1)
		}
		return array(d, i, depth+1)
	case c == '"':
		return str(d, i)
	case c == '-' || (c >= '0' && c <= '9'):
		return number(d, i)
	case c == 't':
		return literal(d, i, "true")
	case c == 'f':
		return literal(d, i, "false")
	case c == 'n':
		return literal(d, i, "null")
	default:
		return 0, unexpected(d, i, "looking for beginning of value")
	}
}

func object(d []byte, i, depth int) (int, error) {
	i = skipWS(d, i+1)
	if i < len(d) && d[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return 0, unexpected(d, i, "looking for beginning of object key string")
		}
		var err error
		if i, err = str(d, i); err != nil {
			return 0, err
		}
		i = skipWS(d, i)
		if i >= len(d) || d[i] != ':' {
			return 0, unexpected(d, i, "after object key")
		}
		if i, err = value(d, skipWS(d, i+1), depth); err != nil {
			return 0, err
		}
		i = skipWS(d, i)
		if i >= len(d) {
			return 0, eof(d)
		}
		switch d[i] {
		case ',':
			i = skipWS(d, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, unexpected(d, i, "after object key:value pair")
		}
	}
}

func array(d []byte, i, depth int) (int, error) {
	i = skipWS(d, i+1)
	if i < len(d) && d[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = value(d, i, depth); err != nil {
			return 0, err
		}
		i = skipWS(d, i)
		if i >= len(d) {
			return 0, eof(d)
		}
		switch d[i] {
		case ',':
			i = skipWS(d, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, unexpected(d, i, "after array element")
		}
	}
}

func str(d []byte, i int) (int, error) {
	for i++; i < len(d); i++ {
		switch c := d[i]; {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return 0, unexpected(d, i, "in string literal")
		case c == '\\':
			i++
			if i >= len(d) {
				return 0, eof(d)
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(d) {
						return 0, eof(d)
					}
					if !isHex(d[i+k]) {
						return 0, unexpected(d, i+k, "in \\u hexadecimal character escape")
					}
				}
				i += 4
			default:
				return 0, unexpected(d, i, "in string escape code")
			}
		}
	}
	return 0, eof(d)
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func number(d []byte, i int) (int, error) {
	if d[i] == '-' {
		i++
	}
	if i >= len(d) {
		return 0, eof(d)
	}
	switch {
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return 0, unexpected(d, i, "in numeric literal")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return 0, unexpected(d, i, "after decimal point in numeric literal")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return 0, unexpected(d, i, "in exponent of numeric literal")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	return i, nil
}

func literal(d []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(d) {
			return 0, eof(d)
		}
		if d[i+k] != lit[k] {
			return 0, unexpected(d, i+k, "in literal "+lit+" (expecting "+quoteChar(lit[k])+")")
		}
	}
	return i + len(lit), nil
}

// skip returns the index after the value at d[i]. It does no bounds checks:
// d must be valid JSON, which only a Value guarantees.
func skip(d []byte, i int) int {
	switch d[i] {
	case '"':
		for i++; ; i++ {
			switch d[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch d[i] {
			case '"':
				i = skip(d, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
	default:
		for i < len(d) {
			switch d[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}
