package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var curlLine = regexp.MustCompile(`^\$ curl -s -H 'Content-Type: application/json' --data @(\S+) localhost:8080(/\S+)$`)

// checkExamplesLine is the one `bouncer check` run the docs print with its
// output. cmd/bouncer's TestCheckOverTheExamplesMatchesTheGoldenText holds
// that output, byte for byte, to checkExamplesGolden.
const (
	checkExamplesLine   = "$ make build && bin/bouncer check examples/"
	checkExamplesGolden = "../../testdata/check/examples.txt"
)

// docPages is every page that may show a command with its output: the
// README and the pages under docs/.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"../../README.md"}, pages...)
}

// example is a `$ ` line of a page and the lines printed under it, up to
// the end of its code block.
type example struct {
	page, line string
	want       []string
}

func examples(t *testing.T) []example {
	t.Helper()
	var out []example
	for _, page := range docPages(t) {
		f, err := os.Open(page)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if !strings.HasPrefix(sc.Text(), "$ ") {
				continue
			}
			ex := example{page: strings.TrimPrefix(page, "../../"), line: sc.Text()}
			for sc.Scan() && sc.Text() != "```" {
				ex.want = append(ex.want, sc.Text())
			}
			out = append(out, ex)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", page, err)
		}
	}
	return out
}

// TestTheDocsCurlExamplesGiveTheDocumentedAnswers replays every `$ curl`
// line of README.md and docs/*.md against the real local run and compares
// the answer with the lines the page prints under it.
func TestTheDocsCurlExamplesGiveTheDocumentedAnswers(t *testing.T) {
	base := start(t, "FUNCTION_TARGET=")
	n := 0
	for _, ex := range examples(t) {
		if !strings.HasPrefix(ex.line, "$ curl") {
			continue
		}
		m := curlLine.FindStringSubmatch(ex.line)
		if m == nil {
			t.Errorf("%s has a curl line this test cannot replay: %s", ex.page, ex.line)
			continue
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
		if strings.TrimRight(string(got), "\n") != strings.Join(ex.want, "\n") {
			t.Errorf("%s: %s\nanswered:\n%s\nthe page says:\n%s", ex.page, ex.line, got, strings.Join(ex.want, "\n"))
		}
		n++
	}
	if n < 5 {
		t.Errorf("replayed %d curl examples; the README should show at least 5", n)
	}
	t.Logf("replayed %d curl examples", n)
}

// TestEveryCommandTheDocsPrintWithOutputIsChecked: a `$ ` line that is not
// a curl is the `bouncer check` run over examples/, whose printed lines
// must all be lines of the golden output, in its order ("..." stands for
// lines left out). Any other command with output would go unchecked, so it
// fails here.
func TestEveryCommandTheDocsPrintWithOutputIsChecked(t *testing.T) {
	golden, err := os.ReadFile(checkExamplesGolden)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(golden), "\n"), "\n")
	n := 0
	for _, ex := range examples(t) {
		switch {
		case ex.line == checkExamplesLine:
			if missing := notInOrder(ex.want, lines); missing != "" {
				t.Errorf("%s: %s prints a line that %s does not have, or not in that order: %s", ex.page, ex.line, checkExamplesGolden, missing)
			}
			n++
		case !strings.HasPrefix(ex.line, "$ curl"):
			t.Errorf("%s shows a command with output that no test checks: %s", ex.page, ex.line)
		}
	}
	if n == 0 {
		t.Errorf("no page shows %q; drop this test's case for it", checkExamplesLine)
	}
}

// notInOrder returns the first line of want, other than "...", that is not
// in lines after the previous one; "" when there is none.
func notInOrder(want, lines []string) string {
	i := 0
	for _, w := range want {
		if w == "..." {
			continue
		}
		for i < len(lines) && lines[i] != w {
			i++
		}
		if i == len(lines) {
			return w
		}
		i++
	}
	return ""
}
