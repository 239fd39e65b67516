package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// sampleReport is a minimal report with one HTTP table, one in-process table and
// the Kyverno comparison, in the shapes report.go writes them.
func sampleReport(floorRPS, bouncerRPS, crNs, bouncerNs, kyverno, check string) string {
	return "## HTTP on loopback, typical Pod (validate)\n\n" +
		"| server | TLS | concurrency | req/s |\n|---|---|---|---|\n" +
		"| floor | false | 64 | " + floorRPS + " |\n" +
		"| bouncer serve | false | 64 | " + bouncerRPS + " |\n\n" +
		"## In process: one whole review (decode, decide, encode)\n\n" +
		"| payload | bouncer ns/op | controller-runtime ns/op |\n|---|---|---|\n" +
		"| typical-pod | " + bouncerNs + " | " + crNs + " |\n\n" +
		"## bouncer check beside kyverno apply\n\n" +
		"| CLI | median |\n|---|---|\n" +
		"| bouncer check | " + check + " s |\n" +
		"| kyverno apply " + kyverno + " |\n"
}

func TestMovedSetsEachFigureBesideItsBaseline(t *testing.T) {
	prev := sampleReport("10000", "7000", "200000", "40000", "v1.19.1 (binary 401 MB) | 20 s", "2 s")
	tests := []struct {
		name        string
		current     string
		row         string
		column      string
		wantBase    float64 // the baseline's change, 0 for none
		wantIsBase  bool
		wantAgainst bool
	}{
		{"a server that sped up with the floor moved with the machine",
			sampleReport("20000", "14000", "200000", "40000", "v1.19.1 (binary 401 MB) | 20 s", "2 s"),
			"bouncer serve / false / 64", "req/s", 2, false, false},
		{"a server that fell behind a faster floor moved against it",
			sampleReport("20000", "8000", "200000", "40000", "v1.19.1 (binary 401 MB) | 20 s", "2 s"),
			"bouncer serve / false / 64", "req/s", 2, false, true},
		{"the floor itself is a baseline, the machine's own change",
			sampleReport("20000", "14000", "200000", "40000", "v1.19.1 (binary 401 MB) | 20 s", "2 s"),
			"floor / false / 64", "req/s", 0, true, false},
		{"bouncer in process is judged against controller-runtime in the same row",
			sampleReport("10000", "7000", "100000", "30000", "v1.19.1 (binary 401 MB) | 20 s", "2 s"),
			"typical-pod", "bouncer ns/op", 0.5, false, true},
		{"bouncer check is judged against kyverno apply whatever its version says",
			sampleReport("10000", "7000", "200000", "40000", "v1.20.0 (binary 410 MB) | 10 s", "1 s"),
			"bouncer check", "median", 0.5, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *change
			for _, c := range moved(prev, tt.current) {
				if c.k.row == tt.row && c.k.column == tt.column {
					c := c
					got = &c
				}
			}
			if got == nil {
				t.Fatalf("%s / %s is not among the moved figures", tt.row, tt.column)
			}
			if math.Abs(got.base-tt.wantBase) > 1e-9 || got.isBase != tt.wantIsBase || against(*got) != tt.wantAgainst {
				t.Errorf("got baseline change %v, is a baseline %v, against %v; want %v, %v, %v",
					got.base, got.isBase, against(*got), tt.wantBase, tt.wantIsBase, tt.wantAgainst)
			}
		})
	}
}

func TestMovedIgnoresFiguresWithinTenPercent(t *testing.T) {
	prev := sampleReport("10000", "7000", "200000", "40000", "v1.19.1 (binary 401 MB) | 20 s", "2 s")
	cur := sampleReport("10900", "6400", "190000", "43000", "v1.19.1 (binary 401 MB) | 21 s", "2.1 s")
	if cs := moved(prev, cur); len(cs) != 0 {
		t.Errorf("want no moved figures, got %v", cs)
	}
}

func TestTheUnpinnedBouncerCheckIsJudgedAgainstTheUnpinnedKyvernoApply(t *testing.T) {
	// The check section as writeCheck writes it, from the medians of one run each.
	section := func(b, k, ba, ka time.Duration) string {
		r := report{check: checkResult{files: 10, bouncer: []time.Duration{b}, kyverno: []time.Duration{k},
			bouncerAll: []time.Duration{ba}, kyvernoAll: []time.Duration{ka}, cpus: "0-3", cores: 4,
			kyvernoVersion: "v1.19.1", kyvernoSize: 401e6}}
		var sb strings.Builder
		r.writeCheck(func(format string, a ...any) { fmt.Fprintf(&sb, format+"\n", a...) })
		return sb.String()
	}
	prev := section(2*time.Second, 20*time.Second, time.Second, 10*time.Second)
	tests := []struct {
		name        string
		current     string
		row         string
		wantBase    float64
		wantAgainst bool
	}{
		{"an unpinned bouncer check that slowed alone moved against its Kyverno",
			section(2*time.Second, 20*time.Second, 2*time.Second, 10*time.Second),
			"bouncer check, unpinned (all 4 cores)", 1, true},
		{"an unpinned bouncer check that slowed with its Kyverno moved with the machine",
			section(2*time.Second, 20*time.Second, 2*time.Second, 20*time.Second),
			"bouncer check, unpinned (all 4 cores)", 2, false},
		{"the pinned bouncer check is still judged against the pinned Kyverno only",
			section(4*time.Second, 20*time.Second, time.Second, 40*time.Second),
			"bouncer check", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *change
			for _, c := range moved(prev, tt.current) {
				if c.k.row == tt.row && c.k.column == "median" {
					got = &c
				}
			}
			if got == nil {
				t.Fatalf("%s / median is not among the moved figures of\n%s", tt.row, tt.current)
			}
			if math.Abs(got.base-tt.wantBase) > 1e-9 || got.isBase || against(*got) != tt.wantAgainst {
				t.Errorf("got baseline change %v, is a baseline %v, against %v; want %v, false, %v",
					got.base, got.isBase, against(*got), tt.wantBase, tt.wantAgainst)
			}
		})
	}
}
