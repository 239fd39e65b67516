package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// A report's tables, cell by cell: section heading, the row's first cell
// and the column's header name a cell, so two reports can be compared.
type cellKey struct{ section, row, column string }

// identityColumns name what a row measured rather than a figure of it.
var identityColumns = map[string]bool{"server": true, "TLS": true, "concurrency": true, "payload": true}

var number = regexp.MustCompile(`^[+-]?([0-9][0-9,]*(?:\.[0-9]+)?)`)

// cells reads every numeric cell of a report's markdown tables.
func cells(md string) map[cellKey]float64 {
	out := map[cellKey]float64{}
	section := ""
	var header []string
	for _, line := range strings.Split(md, "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
			section, header = strings.TrimSpace(strings.TrimLeft(line, "#")), nil
		case strings.HasPrefix(line, "|") && strings.Contains(line, "---"):
		case strings.HasPrefix(line, "|"):
			row := strings.Split(strings.Trim(line, "|"), "|")
			for i := range row {
				row[i] = strings.TrimSpace(row[i])
			}
			if header == nil {
				header = row
				continue
			}
			// The leading columns that name what was measured (a server, its
			// TLS and concurrency) key the row together.
			n := 1
			for n < len(row) && n < len(header) && identityColumns[header[n]] {
				n++
			}
			key := strings.Join(row[:n], " / ")
			for i := n; i < len(row) && i < len(header); i++ {
				m := number.FindStringSubmatch(row[i])
				if m == nil {
					continue
				}
				v, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
				if err != nil {
					continue
				}
				out[cellKey{section, key, header[i]}] = v * unit(row[i][len(m[0]):])
			}
		default:
			if strings.TrimSpace(line) == "" {
				header = nil
			}
		}
	}
	return out
}

// unit scales a figure to a common unit, so that 1.2ms and 1200µs compare.
func unit(rest string) float64 {
	rest = strings.TrimSpace(rest)
	switch {
	case strings.HasPrefix(rest, "ms"):
		return 1e3
	case strings.HasPrefix(rest, "µs"):
		return 1
	case strings.HasPrefix(rest, "ns"):
		return 1e-3
	case strings.HasPrefix(rest, "s"):
		return 1e6
	}
	return 1
}

// moved lists the figures that moved by more than 10% from the previous
// report to this one, largest first, for the section that explains them.
func moved(previous, current string) []string {
	old, cur := cells(previous), cells(current)
	type change struct {
		k        cellKey
		from, to float64
	}
	var cs []change
	for k, to := range cur {
		from, ok := old[k]
		if !ok || from == 0 {
			continue
		}
		if math.Abs(to-from)/math.Abs(from) > 0.10 {
			cs = append(cs, change{k, from, to})
		}
	}
	sortChanges := func(i, j int) bool {
		ri, rj := math.Abs(math.Log(cs[i].to/cs[i].from)), math.Abs(math.Log(cs[j].to/cs[j].from))
		return ri > rj
	}
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			if sortChanges(j, i) {
				cs[i], cs[j] = cs[j], cs[i]
			}
		}
	}
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("| %s | %s | %s | %.4g | %.4g | %+.0f%% |", c.k.section, c.k.row, c.k.column, c.from, c.to, 100*(c.to-c.from)/c.from))
	}
	return out
}

const changesHeading = "## Since the previous report"

// previousReport is the report this run replaces: the committed one, so that
// runs repeated before a commit all compare with the same report; the file
// as it stands when there is no git history; "" when there is neither.
func previousReport(root, outPath string) (string, error) {
	rel, err := filepath.Rel(root, outPath)
	if err != nil {
		return "", err
	}
	if out, err := exec.Command("git", "-C", root, "show", "HEAD:"+filepath.ToSlash(rel)).Output(); err == nil {
		return string(out), nil
	}
	b, err := os.ReadFile(outPath)
	if os.IsNotExist(err) {
		return "", nil
	}
	return string(b), err
}

// renotes rewrites the changes section of the report at out, after
// bench/changes.md was edited, without measuring anything again.
func renotes(root, out string) error {
	root, _ = filepath.Abs(root)
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	cur, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	text, _, _ := strings.Cut(string(cur), changesHeading)
	prev, err := previousReport(root, out)
	if err != nil {
		return err
	}
	text += changesSection(prev, text, filepath.Join(root, "bench", "changes.md"))
	return os.WriteFile(out, []byte(text), 0o644)
}

// changesSection compares with the report being replaced and adds the
// explanations kept by hand in bench/changes.md.
func changesSection(prev, current, notesPath string) string {
	if prev == "" {
		return ""
	}
	// The previous report's own changes section is no figure of its run.
	prev, _, _ = strings.Cut(prev, changesHeading)
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("%s", changesHeading)
	w("")
	rows := moved(prev, current)
	if len(rows) == 0 {
		w("No figure moved by more than 10%% from the report this one replaces.")
		return b.String()
	}
	w("Figures that moved by more than 10%% from the report this one replaces (the same table, row and")
	w("column; times in µs). Why, as far as a change explains it, follows from `bench/changes.md`:")
	w("")
	if notes, err := os.ReadFile(notesPath); err == nil {
		w("%s", strings.TrimSpace(string(notes)))
		w("")
	}
	w("<details><summary>%d figures</summary>", len(rows))
	w("")
	w("| section | row | column | previous | now | change |")
	w("|---|---|---|---|---|---|")
	for _, r := range rows {
		w("%s", r)
	}
	w("")
	w("</details>")
	w("")
	return b.String()
}
