package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
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

// A figure that moved, and how the figure it is judged against moved in
// the same two runs.
type change struct {
	k        cellKey
	from, to float64
	// base is the baseline's own change (to/from); 0 when the figure has no
	// baseline or is one.
	base float64
	// isBase says other figures are judged against this one.
	isBase bool
}

// rel is the figure's change relative to its baseline's: 1 when the two
// moved alike, which is what a faster or slower machine does.
func (c change) rel() float64 {
	if c.base == 0 {
		return c.to / c.from
	}
	return c.to / c.from / c.base
}

// baseline names the cell a figure is judged against within its own run:
// the floor's row for a server's (the same TLS, concurrency or payload), the
// no-policy setup's for a control-plane setup's, and controller-runtime's
// column for bouncer's in-process figures. ok is false when the figure is
// itself a baseline or has none.
func baseline(k cellKey) (cellKey, bool) {
	parts := strings.Split(k.row, " / ")
	for i, p := range parts {
		for _, server := range []string{"bouncer serve", "functions framework", "controller-runtime"} {
			if p == server || strings.HasPrefix(p, server+" at ") {
				parts[i] = "floor"
				return cellKey{k.section, strings.Join(parts, " / "), k.column}, true
			}
		}
	}
	if strings.HasPrefix(k.section, "Through a real control plane") && !strings.HasPrefix(k.row, "no admission policy") && !strings.HasPrefix(k.column, "added") {
		return cellKey{k.section, "no admission policy", k.column}, true
	}
	if strings.HasPrefix(k.section, "In process") && strings.HasPrefix(k.column, "bouncer ") {
		return cellKey{k.section, k.row, "controller-runtime " + strings.TrimPrefix(k.column, "bouncer ")}, true
	}
	if strings.HasPrefix(k.section, "bouncer check beside kyverno apply") {
		if k.row == "bouncer check" {
			return cellKey{k.section, "kyverno apply", k.column}, true
		}
		// The unpinned row, against Kyverno's on as many cores.
		if how, ok := strings.CutPrefix(k.row, "bouncer check, "); ok {
			return cellKey{k.section, "kyverno apply, " + how, k.column}, true
		}
	}
	return cellKey{}, false
}

// lookup finds k in cs, or the one row that starts with k's row: the
// Kyverno row names its version and binary size.
func lookup(cs map[cellKey]float64, k cellKey) (float64, bool) {
	if v, ok := cs[k]; ok {
		return v, true
	}
	for c, v := range cs {
		if c.section == k.section && c.column == k.column && strings.HasPrefix(c.row, k.row+" ") {
			return v, true
		}
	}
	return 0, false
}

// moved lists the figures that moved by more than 10% from the previous
// report to this one, each with its baseline's change, those that moved
// against their baseline first and then by size.
func moved(previous, current string) []change {
	old, cur := cells(previous), cells(current)
	bases := map[cellKey]bool{}
	for k := range cur {
		if bk, ok := baseline(k); ok {
			for c := range cur {
				if c.section == bk.section && c.column == bk.column && (c.row == bk.row || strings.HasPrefix(c.row, bk.row+" ")) {
					bases[c] = true
				}
			}
		}
	}
	var cs []change
	for k, to := range cur {
		from, ok := old[k]
		if !ok || from == 0 || math.Abs(to-from)/math.Abs(from) <= 0.10 {
			continue
		}
		c := change{k: k, from: from, to: to, isBase: bases[k]}
		if bk, ok := baseline(k); ok {
			bf, okf := lookup(old, bk)
			bt, okt := lookup(cur, bk)
			if okf && okt && bf != 0 && bt != 0 {
				c.base = bt / bf
			}
		}
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool {
		ai, aj := against(cs[i]), against(cs[j])
		if ai != aj {
			return ai
		}
		ri, rj := math.Abs(math.Log(cs[i].rel())), math.Abs(math.Log(cs[j].rel()))
		if ri != rj {
			return ri > rj
		}
		return fmt.Sprint(cs[i].k) < fmt.Sprint(cs[j].k)
	})
	return cs
}

// against reports whether a figure moved by more than 10% relative to its
// baseline, or has none to explain it; the rest moved with the machine.
func against(c change) bool {
	return !c.isBase && (c.base == 0 || math.Abs(c.rel()-1) > 0.10)
}

func (c change) row() string {
	base, rel := "", ""
	if c.base != 0 {
		base, rel = pct(c.base), pct(c.rel())
	}
	return fmt.Sprintf("| %s | %s | %s | %.4g | %.4g | %s | %s | %s |", c.k.section, c.k.row, c.k.column, c.from, c.to, pct(c.to/c.from), base, rel)
}

func pct(ratio float64) string { return fmt.Sprintf("%+.0f%%", 100*(ratio-1)) }

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
	cs := moved(prev, current)
	if len(cs) == 0 {
		w("No figure moved by more than 10%% from the report this one replaces.")
		return b.String()
	}
	var bases, with, apart []change
	for _, c := range cs {
		switch {
		case c.isBase:
			bases = append(bases, c)
		case against(c):
			apart = append(apart, c)
		default:
			with = append(with, c)
		}
	}
	w("%d figures moved by more than 10%% from the report this one replaces (the same table, row and", len(cs))
	w("column; times in µs). Each is set beside its baseline in the same run: the floor's figure for a")
	w("server's, the no-policy setup's for a control-plane setup's, controller-runtime's for bouncer's in")
	w("process, kyverno apply's for bouncer check's. %d are baselines themselves, which is the machine;", len(bases))
	w("%d moved with their baseline, within 10%%; %d moved against it or have none. Why, as far as a", len(with), len(apart))
	w("change explains it, follows from `bench/changes.md`:")
	w("")
	if notes, err := os.ReadFile(notesPath); err == nil {
		w("%s", strings.TrimSpace(string(notes)))
		w("")
	}
	table := func(summary string, rows []change) {
		if len(rows) == 0 {
			return
		}
		w("<details><summary>%s</summary>", summary)
		w("")
		w("| section | row | column | previous | now | change | baseline's change | relative to baseline |")
		w("|---|---|---|---|---|---|---|---|")
		for _, c := range rows {
			w("%s", c.row())
		}
		w("")
		w("</details>")
		w("")
	}
	table(fmt.Sprintf("%d figures that moved against their baseline, or have none", len(apart)), apart)
	table(fmt.Sprintf("%d figures that moved with their baseline", len(with)), with)
	table(fmt.Sprintf("%d baselines", len(bases)), bases)
	return b.String()
}
