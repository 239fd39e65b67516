package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	tests := []struct {
		name string
		s    string
		max  int
		want string
	}{
		{"a string that fits is returned unchanged", "web", 10, "web"},
		{"a string of exactly max bytes is returned unchanged", "abcde", 5, "abcde"},
		{"a long ASCII string is cut with the ellipsis inside the limit", "abcdefghij", 6, "abc…"},
		{"a cut never splits a multi-byte character", "aé€é€é€", 8, "aé…"},
		{"a limit smaller than the ellipsis gives the ellipsis alone", "abcdef", 2, "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clip(tt.s, tt.max)
			if got != tt.want {
				t.Errorf("Clip(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Clip(%q, %d) = %q is not valid UTF-8", tt.s, tt.max, got)
			}
			if tt.max >= len(ellipsis) && len(got) > tt.max {
				t.Errorf("Clip(%q, %d) is %d bytes, over the limit", tt.s, tt.max, len(got))
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		name string
		s    string
		max  int
		want string
	}{
		{"a short value is quoted whole", "team-a", 63, `"team-a"`},
		{"control characters are escaped", "a\nb", 63, `"a\nb"`},
		{"a long value is cut before quoting and the cut is marked", strings.Repeat("x", 70), 63, `"` + strings.Repeat("x", 63) + `"…`},
		{"the cut keeps a multi-byte character whole", "ab€", 3, `"ab"…`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quote(tt.s, tt.max); got != tt.want {
				t.Errorf("Quote(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
			}
		})
	}
}

// FuzzClip checks the two promises on any input: the result fits and is
// valid UTF-8 whenever the input is.
func FuzzClip(f *testing.F) {
	f.Add("aé€é€é€", 8)
	f.Add(strings.Repeat("€", 100), 256)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < len(ellipsis) || max > 1<<20 {
			return
		}
		got := Clip(s, max)
		if len(got) > max {
			t.Fatalf("Clip(%q, %d) = %q: %d bytes", s, max, got, len(got))
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Clip(%q, %d) = %q: invalid UTF-8", s, max, got)
		}
		if len(s) <= max && got != s {
			t.Fatalf("Clip changed a string that fits")
		}
	})
}
