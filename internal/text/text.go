// Package text shortens user content for messages and logs. Every cut in
// bouncer goes through Clip, so none splits a UTF-8 character: the API server
// drops a warning that is not valid UTF-8, and log readers choke on one.
package text

import "strconv"

// ellipsis marks a cut.
const ellipsis = "…"

// Clip returns s cut to at most max bytes, ellipsis included, on a rune
// boundary. s is returned unchanged when it fits.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return cut(s, max-len(ellipsis)) + ellipsis
}

// Quote quotes s as Go does (control characters and invalid UTF-8 escaped),
// with the content first cut to at most max bytes on a rune boundary and the
// cut marked after the closing quote.
func Quote(s string, max int) string {
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return strconv.Quote(cut(s, max)) + ellipsis
}

// cut returns the longest prefix of s of at most n bytes that does not end
// inside a UTF-8 sequence.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if n >= len(s) {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
