package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

var curlLine = regexp.MustCompile(`^\$ curl -s -H 'Content-Type: application/json' --data @(\S+) localhost:8080(/\S+)$`)

// TestTheREADMEsCurlExamplesGiveTheDocumentedAnswers replays every `$ curl`
// line of README.md against the real local run and compares the answer with
// the lines the README prints under it.
func TestTheREADMEsCurlExamplesGiveTheDocumentedAnswers(t *testing.T) {
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	base := start(t, "FUNCTION_TARGET=")
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "$ curl") {
			continue
		}
		m := curlLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("README has a curl line this test cannot replay: %s", line)
			continue
		}
		var want []string
		for sc.Scan() && sc.Text() != "```" {
			want = append(want, sc.Text())
		}
		body, err := os.ReadFile("../../" + m[1])
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(base+m[2], "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimRight(string(got), "\n") != strings.Join(want, "\n") {
			t.Errorf("%s\nanswered:\n%s\nthe README says:\n%s", line, got, strings.Join(want, "\n"))
		}
		n++
	}
	if n < 5 {
		t.Errorf("replayed %d curl examples; the README should show at least 5", n)
	}
	t.Logf("replayed %d README curl examples", n)
}
