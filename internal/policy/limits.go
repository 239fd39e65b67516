package policy

import (
	"fmt"
	"strings"
	"unicode"
)

// The API server drops a webhook's warning longer than 256 bytes or holding
// control characters, and stops at 4096 bytes in all.
const (
	maxWarning      = 256
	maxWarningTotal = 4096
	maxAuditValue   = 1024
)

// LimitWarnings makes warnings the API server will pass on: control
// characters replaced, each cut to 256 bytes, and the list cut to 4096 bytes
// with a last line saying how many were left out.
func LimitWarnings(ws []string) []string {
	if len(ws) == 0 {
		return nil
	}
	const summaryRoom = 64
	out := make([]string, 0, len(ws))
	total := 0
	for i, w := range ws {
		w = truncate(strings.Map(printable, w), maxWarning)
		room := maxWarningTotal - summaryRoom
		if i == len(ws)-1 {
			room = maxWarningTotal
		}
		if total+len(w) > room {
			return append(out, fmt.Sprintf("bouncer: %d more warnings left out", len(ws)-i))
		}
		total += len(w)
		out = append(out, w)
	}
	return out
}

func printable(r rune) rune {
	if unicode.IsControl(r) {
		return ' '
	}
	return r
}

// truncate cuts s to at most max bytes on a rune boundary, marking the cut.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const mark = "…"
	cut := max - len(mark)
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + mark
}
