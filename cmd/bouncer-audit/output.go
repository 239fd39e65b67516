package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"bouncer.dev/bouncer/internal/check"
	"sigs.k8s.io/yaml"
)

// output prints the audit as it goes: results are streamed, never held.
type output interface {
	enforcement(*enforcement) error
	// result is called for every object with something to report, and for
	// the rest too: a format prints those only when asked (-v).
	result(*check.Live) error
	report(report) error
	wantsReports() bool
	finish(summary, *enforcement) error
}

func newOutput(format string, w io.Writer, verbose bool) (output, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case "text":
		return &textOut{w: bw, verbose: verbose}, nil
	case "json":
		return &jsonOut{w: bw}, nil
	case "report":
		return &reportOut{w: bw}, nil
	}
	return nil, fmt.Errorf("-o %q: want text, json or report", format)
}

// textOut prints one line per finding, as `bouncer check` does, with when
// the object was created against when enforcement began.
type textOut struct {
	w       *bufio.Writer
	verbose bool
	since   time.Time
}

func (t *textOut) enforcement(e *enforcement) error {
	t.since = e.Since
	for _, f := range e.Findings {
		obj := "enforcement"
		if f.Kind != "" {
			obj = f.Kind + " " + f.Name
		}
		fmt.Fprintf(t.w, "%s: %s\n", obj, f.Problem)
	}
	return nil
}

func (t *textOut) result(l *check.Live) error {
	obj := l.Kind + " " + l.Name
	if l.Namespace != "" {
		obj = l.Kind + " " + l.Namespace + "/" + l.Name
	}
	if !l.Reported() {
		if !t.verbose {
			return nil
		}
		switch {
		case l.Skip != "":
			fmt.Fprintf(t.w, "%s: skipped: %s\n", obj, l.Skip)
		case l.Through != nil:
			fmt.Fprintf(t.w, "%s: reported through %s %s\n", obj, l.Through.Kind, l.Through.Name)
		}
		return nil
	}
	when := t.when(l.Created)
	for _, f := range l.Findings {
		if f.Rule == "" {
			fmt.Fprintf(t.w, "%s: %s: %s (%s)\n", obj, f.Action, f.Message, when)
			continue
		}
		fmt.Fprintf(t.w, "%s: %s %s: %s (%s)\n", obj, f.Action, f.Rule, f.Message, when)
	}
	for _, a := range l.Adds {
		fmt.Fprintf(t.w, "%s: mutate %s: would add %s=%s at %s (%s)\n", obj, a.Rule, a.Key, a.Value, a.Place, when)
	}
	return nil
}

// when words an object's creation against enforcement.
func (t *textOut) when(created time.Time) string {
	c := created.UTC().Format(time.RFC3339)
	switch era(created, t.since) {
	case "before-enforcement":
		return "created " + c + ", before enforcement began"
	case "after-enforcement":
		return "created " + c + ", after enforcement began: it got in unjudged or exempt, or changed since"
	}
	return "created " + c + "; nothing enforces the policy"
}

func (t *textOut) report(report) error { return nil }
func (t *textOut) wantsReports() bool  { return false }

func (t *textOut) finish(s summary, e *enforcement) error {
	line := fmt.Sprintf("audited %s of %s in %s: %d violate", plural(s.Objects, "object", "objects"),
		plural(s.Kinds, "kind", "kinds"), plural(s.Namespaces, "namespace", "namespaces"), s.Violating)
	if !e.Since.IsZero() {
		line += fmt.Sprintf(" (%d created before enforcement began at %s, %d after)", s.Before, e.Since.UTC().Format(time.RFC3339), s.After)
	}
	line += fmt.Sprintf(", %s, %s, %d reported through their parent, %d skipped",
		plural(s.Warnings, "warning", "warnings"), plural(s.Adds, "label to add", "labels to add"), s.Through, s.Skipped)
	if !t.verbose && s.Skipped+s.Through > 0 {
		line += " (-v names them)"
	}
	if len(s.NotServed) > 0 {
		line += "; not served (no objects): " + strings.Join(s.NotServed, ", ")
	}
	line += fmt.Sprintf("; validation by %s, mutation by %s", e.Validation, e.Mutation)
	if !s.Enforced {
		line += fmt.Sprintf("; ENFORCEMENT IS NOT AS THE POLICY RENDERS: %s above", plural(len(e.Findings), "finding", "findings"))
	}
	if s.Applied+s.Unchanged+s.Deleted > 0 {
		line += fmt.Sprintf("; reports: %d applied, %d unchanged, %d deleted", s.Applied, s.Unchanged, s.Deleted)
	}
	fmt.Fprintln(t.w, line)
	return t.w.Flush()
}

// jsonOut prints one JSON document, its results streamed into it.
type jsonOut struct {
	w     *bufio.Writer
	n     int
	since time.Time
}

// liveJSON is a result with when it was created against enforcement:
// before-enforcement, after-enforcement, or unknown.
type liveJSON struct {
	*check.Live
	Era string `json:"era"`
}

func (j *jsonOut) enforcement(e *enforcement) error {
	j.since = e.Since
	if e.Findings == nil {
		e.Findings = []Finding{}
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	fmt.Fprintf(j.w, "{\"enforcement\": %s,\n\"results\": [", data)
	return nil
}

func (j *jsonOut) result(l *check.Live) error {
	if !l.Reported() {
		return nil
	}
	data, err := json.Marshal(liveJSON{l, era(l.Created, j.since)})
	if err != nil {
		return err
	}
	if j.n > 0 {
		j.w.WriteByte(',')
	}
	j.n++
	j.w.WriteString("\n  ")
	j.w.Write(data)
	return nil
}

func (j *jsonOut) report(report) error { return nil }
func (j *jsonOut) wantsReports() bool  { return false }

func (j *jsonOut) finish(s summary, _ *enforcement) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	fmt.Fprintf(j.w, "\n],\n\"summary\": %s}\n", data)
	return j.w.Flush()
}

// reportOut prints the OpenReports objects as a YAML stream, which
// `kubectl apply -f -` takes.
type reportOut struct {
	w *bufio.Writer
	n int
}

func (r *reportOut) enforcement(*enforcement) error { return nil }
func (r *reportOut) result(*check.Live) error       { return nil }
func (r *reportOut) wantsReports() bool             { return true }

func (r *reportOut) report(rep report) error {
	data, err := yaml.Marshal(rep.obj)
	if err != nil {
		return err
	}
	if r.n > 0 {
		r.w.WriteString("---\n")
	}
	r.n++
	r.w.Write(data)
	return nil
}

func (r *reportOut) finish(summary, *enforcement) error { return r.w.Flush() }

// progress is a line on a terminal, rewritten in place, for large clusters:
// kinds done and objects read. On a pipe or a file it prints nothing.
type progress struct {
	w            io.Writer // nil: not a terminal
	total, kinds int
	objects      int
	last         time.Time
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	if !ok {
		return &progress{}
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return &progress{}
	}
	return &progress{w: w}
}

func (p *progress) read(n int) {
	p.objects += n
	p.show(false)
}

func (p *progress) kindDone() {
	p.kinds++
	p.show(true)
}

func (p *progress) show(force bool) {
	if p.w == nil || (!force && time.Since(p.last) < 100*time.Millisecond) {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r\033[Kbouncer audit: %d/%d kinds, %d objects read", p.kinds, p.total, p.objects)
}

func (p *progress) done() {
	if p.w != nil {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// plural is "1 file", "2 files", "0 files".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
