// Command bench measures bouncer side by side with a controller-runtime
// webhook, the floor and the in-tree policy engine, in one run on one
// machine, and writes docs/benchmarks.md. `make bench` runs it under
// `taskset -c 0`, so the load generator has core 0 and each server core 1.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"bouncer.dev/bouncer/bench/payloads"
	"bouncer.dev/bouncer/e2e/framework"
)

func main() {
	root := flag.String("root", "../", "the repository root")
	out := flag.String("out", "docs/benchmarks.md", "the report, relative to the root")
	reps := flag.Int("reps", 3, "repetitions of each HTTP run (the median is reported)")
	dur := flag.Duration("duration", 2*time.Second, "length of each HTTP run")
	// A start takes a few milliseconds, so on a shared machine the median of
	// 20 moved by a third between runs of the same code; 80 costs seconds.
	starts := flag.Int("starts", 80, "cold starts per server")
	rounds := flag.Int("rounds", 5, "rounds through the control plane; each interleaves every setup create by create")
	creates := flag.Int("creates", 400, "Pod creates per setup and round")
	count := flag.Int("count", 6, "go test -bench -count for the in-process benchmark")
	checkFiles := flag.Int("check-files", 10000, "manifests for the bouncer check / kyverno apply comparison")
	notesOnly := flag.Bool("notes-only", false, "measure nothing: rewrite the report's \"Since the previous report\" section from bench/changes.md")
	flag.Parse()
	if *notesOnly {
		if err := renotes(*root, *out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*root, *out, *reps, *dur, *starts, *rounds, *creates, *count, *checkFiles); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func sh(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

func run(root, outPath string, reps int, dur time.Duration, starts, rounds, creates, count, checkFiles int) error {
	root, _ = filepath.Abs(root)
	work, err := os.MkdirTemp("", "bouncer-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var rep report
	rep.commands = []string{"make bench    # = cd bench && taskset -c 0 go run ./cmd/bench"}

	framework.Progress("building the servers")
	b := binaries{filepath.Join(work, "bouncer"), filepath.Join(work, "functions"), filepath.Join(work, "benchserver"), filepath.Join(work, "floor")}
	for _, x := range []struct{ dir, out, pkg string }{{root, b.bouncer, "./cmd/bouncer"}, {root, b.functions, "./cmd/functions"},
		{filepath.Join(root, "bench"), b.benchserver, "./cmd/benchserver"}, {filepath.Join(root, "bench"), b.floor, "./cmd/floor"}} {
		if o, err := sh(x.dir, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", x.out, x.pkg); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", x.pkg, err, o)
		}
	}
	encodingJSONBin := filepath.Join(work, "bouncer-encodingjson")
	if o, err := sh(root, []string{"CGO_ENABLED=0"}, "go", "build", "-tags", "encodingjson", "-trimpath", "-ldflags", "-s -w", "-o", encodingJSONBin, "./cmd/bouncer"); err != nil {
		return fmt.Errorf("go build -tags encodingjson ./cmd/bouncer: %v\n%s", err, o)
	}
	ca, err := framework.NewCA(work)
	if err != nil {
		return err
	}
	all, err := payloads.All(root)
	if err != nil {
		return err
	}
	servers := impls(b)
	if !filepath.IsAbs(outPath) {
		outPath = filepath.Join(root, outPath)
	}
	prevRev, prevBin, err := previousBouncer(root, outPath, work)
	if err != nil {
		return err
	}
	// The typical-Pod HTTP points and the cold starts also run the previous
	// report's bouncer, in the same rotation as the others.
	withPrevious := servers
	if prevBin != "" {
		withPrevious = append(slices.Clone(servers), previousImpl(prevRev, prevBin))
	}

	// 1. Correctness before any timing.
	framework.Progress("checking every server's answers on every payload")
	wrong := map[string]bool{}
	for _, im := range servers {
		if im.name == "floor" {
			continue // not a policy
		}
		s, _, err := start(im, "1", ca, work, false)
		if err != nil {
			return err
		}
		c := client(ca, 1)
		if _, err := waitReady(c, s.base+"/validate", all[0].Body, 20*time.Second); err != nil {
			s.stop()
			return err
		}
		for _, p := range all {
			want, _ := reference(p)
			code, ans, err := post(c, s.base+"/"+p.Function, p.Body)
			got, ierr := interpret(p, ans)
			if err != nil || code != 200 || ierr != nil || got != want {
				wrong[im.name+"/"+p.Name] = true
				diff := "a different verdict"
				if got.allowed == want.allowed {
					diff = "the same verdict but a different object after its patch (a typed round trip drops fields its Go types do not know)"
				}
				rep.wrong = append(rep.wrong, fmt.Sprintf("%s on %s: %s", im.name, p.Name, diff))
			}
		}
		s.stop()
	}

	// 2. In process, with benchstat.
	framework.Progress("in-process benchmark (go test -bench -count %d)", count)
	benchOut, err := sh(filepath.Join(root, "bench"), nil, "go", "test", "-run", "^$", "-bench", "^BenchmarkReview$", "-benchmem", "-count", strconv.Itoa(count), ".")
	if err != nil {
		return fmt.Errorf("go test -bench: %v\n%s", err, benchOut)
	}
	rawFile := filepath.Join(work, "bench.txt")
	_ = os.WriteFile(rawFile, []byte(benchOut), 0o644)
	stat, err := sh(filepath.Join(root, "bench"), nil, "go", "tool", "benchstat", "-col", "/impl", rawFile)
	if err != nil {
		// benchstat names the sub-benchmark path parts; fall back to the plain table.
		stat, _ = sh(filepath.Join(root, "bench"), nil, "go", "tool", "benchstat", rawFile)
	}
	rep.benchstat = stat
	// Where bouncer's review spends its CPU: the evidence for the HTTP
	// ratio, which that CPU bounds.
	prof := filepath.Join(work, "review.prof")
	if o, err := sh(filepath.Join(root, "bench"), nil, "go", "test", "-run", "^$", "-bench", "^BenchmarkReview$/^typical-pod$/^bouncer$", "-benchtime", "2s", "-cpuprofile", prof, "."); err != nil {
		return fmt.Errorf("go test -cpuprofile: %v\n%s", err, o)
	}
	if top, err := sh(filepath.Join(root, "bench"), nil, "go", "tool", "pprof", "-top", "-nodecount", "12", prof); err == nil {
		rep.profile = top
	}
	rep.inproc = parseBench(benchOut)
	rep.commands = append(rep.commands, "cd bench && go test -run '^$' -bench '^BenchmarkReview$' -benchmem -count 6 . | tee new.txt && go tool benchstat new.txt",
		"cd bench && go test -run '^$' -bench '^BenchmarkReview$/^typical-pod$/^bouncer$' -benchtime 2s -cpuprofile review.prof . && go tool pprof -top -nodecount 12 review.prof")

	// 2b. Choices decided by measurement: rawjson against the Go team's
	// jsontext in its place (the same API behind a build tag), on whole
	// reviews, alternating run by run; and the answer written with
	// encoding/json over admission/v1's types against the hand-written
	// encoder that serves (their cold starts are under 4.).
	framework.Progress("in-process: rawjson against jsontext, %d alternating runs", count)
	var nativeOut, jsontextOut strings.Builder
	for i := 0; i < count; i++ {
		for _, tags := range []string{"", "jsontext"} {
			out, err := sh(filepath.Join(root, "bench"), nil, "go", "test", "-tags", tags, "-run", "^$", "-bench", "^BenchmarkReview$/.*/^bouncer$", "-benchmem", "-count", "1", ".")
			if err != nil {
				return fmt.Errorf("go test -bench -tags %q: %v\n%s", tags, err, out)
			}
			if tags == "" {
				nativeOut.WriteString(out)
			} else {
				jsontextOut.WriteString(out)
			}
		}
	}
	rep.scanner = [2]map[string]map[string][3]float64{parseBench(nativeOut.String()), parseBench(jsontextOut.String())}
	encOut, err := sh(root, nil, "go", "test", "-run", "^$", "-bench", "^BenchmarkEncode$", "-benchmem", "-count", strconv.Itoa(count), "./internal/admission")
	if err != nil {
		return fmt.Errorf("go test -bench BenchmarkEncode: %v\n%s", err, encOut)
	}
	rep.encode = parseEncode(encOut)
	rep.commands = append(rep.commands,
		"cd bench && go test [-tags jsontext] -run '^$' -bench '^BenchmarkReview$/.*/^bouncer$' -benchmem -count 1 .   # alternating, count times",
		"go test -run '^$' -bench '^BenchmarkEncode$' -benchmem -count 6 ./internal/admission")

	// 3. HTTP on loopback.
	framework.Progress("HTTP on loopback: %d reps of %v per point", reps, dur)
	typical := all[1]
	// Each point runs every server once per repetition, in a rotating
	// order, so that drift on this shared machine reaches all of them alike
	// instead of whichever server happened to run during it.
	for _, useTLS := range []bool{false, true} {
		for _, conc := range []int{1, 8, 64} {
			rs := make([][]loadResult, len(withPrevious))
			rss := make([]int, len(withPrevious))
			for i := 0; i < reps; i++ {
				for k := range withPrevious {
					j := (k + i) % len(withPrevious)
					im := withPrevious[j]
					if useTLS && !im.tls {
						continue
					}
					s, _, err := start(im, "1", ca, work, useTLS)
					if err != nil {
						return err
					}
					c := client(ca, conc)
					if _, err := waitReady(c, s.base+"/validate", typical.Body, 20*time.Second); err != nil {
						s.stop()
						return err
					}
					rs[j] = append(rs[j], load(c, s.base+"/validate", typical.Body, conc, 300*time.Millisecond, dur))
					if r := s.rssKiB(); r > rss[j] {
						rss[j] = r
					}
					s.stop()
				}
			}
			for j, im := range withPrevious {
				if len(rs[j]) == 0 {
					continue
				}
				m := medianLoad(rs[j])
				rep.http = append(rep.http, httpRow{im.name, typical.Name, useTLS, conc, m, rss[j]})
				framework.Progress("%-20s tls=%-5v c=%-2d %8.0f req/s p50 %v p99 %v errors %d", im.name, useTLS, conc, m.rps, m.p50, m.p99, m.errors)
			}
		}
	}
	for _, p := range all {
		if p.Name == typical.Name {
			continue
		}
		for _, im := range servers {
			if wrong[im.name+"/"+p.Name] {
				continue
			}
			var rs []loadResult
			for i := 0; i < reps; i++ {
				s, _, err := start(im, "1", ca, work, false)
				if err != nil {
					return err
				}
				c := client(ca, 64)
				if _, err := waitReady(c, s.base+"/"+p.Function, p.Body, 20*time.Second); err != nil {
					s.stop()
					return err
				}
				rs = append(rs, load(c, s.base+"/"+p.Function, p.Body, 64, 300*time.Millisecond, dur))
				s.stop()
			}
			rep.http = append(rep.http, httpRow{im.name, p.Name, false, 64, medianLoad(rs), 0})
		}
	}

	// 4. Cold start: exec to the first correct answer. The encodingjson
	// build runs here only: its answers differ from the default build's in
	// the first one's cost, not in throughput (BenchmarkEncode).
	coldServers := append(slices.Clone(withPrevious), bouncerBuild(encodingJSONServer, encodingJSONBin))
	framework.Progress("cold starts: %d per server", starts)
	ds := make([][]time.Duration, len(coldServers))
	idle := make([]int, len(coldServers))
	for i := 0; i < starts; i++ {
		for k := range coldServers {
			j := (k + i) % len(coldServers)
			s, t0, err := start(coldServers[j], "1", ca, work, false)
			if err != nil {
				return err
			}
			t1, err := waitReady(client(ca, 1), s.base+"/validate", typical.Body, 20*time.Second)
			if err != nil {
				s.stop()
				return err
			}
			ds[j] = append(ds[j], t1.Sub(t0))
			if i == 0 {
				time.Sleep(200 * time.Millisecond)
				idle[j] = s.rssKiB()
			}
			s.stop()
		}
	}
	for j, im := range coldServers {
		q := quartiles(ds[j])
		rep.cold = append(rep.cold, coldRow{im.name, q[1], q[0], q[2], idle[j]})
	}
	// One trace is at the mercy of a preemption; the median of 11 is not.
	var traces []string
	for i := 0; i < 11; i++ {
		if o, err := sh(root, []string{"GODEBUG=inittrace=1"}, "taskset", "-c", "1", b.bouncer, "version"); err == nil {
			traces = append(traces, o)
		}
	}
	if len(traces) > 0 {
		rep.inittrace = topInits(traces, 6)
	}

	// 4b. The container image under an OCI runtime.
	imgTar := filepath.Join(work, "image.tar")
	imgOut, imgErr := sh(filepath.Join(root, "deploy"), nil, "go", "run", "./image", "--binary", b.bouncer, "--tarball", imgTar)
	if imgErr != nil {
		return fmt.Errorf("building the image: %v\n%s", imgErr, imgOut)
	}
	framework.Progress("container cold starts under runc: %d", starts)
	rep.runc = runcColdStarts(imgTar, work, starts, typical.Body)
	rep.commands = append(rep.commands, "make image && runc run --detach --bundle BUNDLE ID   # the image unpacked, its config as the OCI spec (bench/cmd/bench/runc.go)")

	// 5. Footprint.
	for _, x := range []struct{ name, path string }{{"bouncer", b.bouncer}, {"functions framework local run", b.functions}, {"controller-runtime server", b.benchserver}, {"floor", b.floor}} {
		if st, err := os.Stat(x.path); err == nil {
			rep.sizes = append(rep.sizes, fmt.Sprintf("%s binary: %.1f MB", x.name, float64(st.Size())/1e6))
		}
	}
	if st, err := os.Stat(imgTar); err == nil {
		rep.sizes = append(rep.sizes, fmt.Sprintf("bouncer image (offline build, one layer): %.1f MB as a tarball (%s)", float64(st.Size())/1e6, strings.TrimSpace(imgOut)))
	}

	// 6. bouncer check and kyverno apply over the same 10,000 manifests.
	framework.Progress("bouncer check and kyverno apply over %d manifests", checkFiles)
	manifests := filepath.Join(work, "manifests")
	if err := writeCorpus(manifests, checkFiles); err != nil {
		return err
	}
	kyvernoPolicy := filepath.Join(root, "bench", "kyverno", "policy.yaml")
	if rep.check, err = runCheckBench(b.bouncer, os.Getenv("BOUNCER_KYVERNO"), kyvernoPolicy, manifests, work, checkFiles, 3); err != nil {
		return err
	}
	rep.commands = append(rep.commands,
		fmt.Sprintf("taskset -c 0,1 bin/bouncer check DIR   # %d generated manifests, one a file", checkFiles),
		"taskset -c 0,1 .cache/kyverno/v1.19.1/kyverno apply bench/kyverno/policy.yaml --resource DIR",
		fmt.Sprintf("taskset -c %s bin/bouncer check DIR   # unpinned: every online CPU, %d cores", rep.check.cpus, rep.check.cores),
		fmt.Sprintf("taskset -c %s .cache/kyverno/v1.19.1/kyverno apply bench/kyverno/policy.yaml --resource DIR", rep.check.cpus))

	// 7. Through a real control plane.
	binDir := os.Getenv("BOUNCER_CONTROLPLANE")
	if binDir == "" {
		binDir = filepath.Join(root, ".cache", "controlplane", "v1.37.2", "bin")
	}
	framework.Progress("through the control plane: %d rounds of %d creates per setup", rounds, creates)
	if rep.cp, err = controlPlane(b, binDir, filepath.Join(work, "cp"), rounds, creates); err != nil {
		return err
	}
	rep.rounds, rep.creates = rounds, creates
	rep.reps, rep.dur = reps, dur

	rep.machine = machine()
	text := rep.markdown()
	fmt.Println(rep.summary())
	prev, err := previousReport(root, outPath)
	if err != nil {
		return err
	}
	text += changesSection(prev, text, filepath.Join(root, "bench", "changes.md"))
	return os.WriteFile(outPath, []byte(text), 0o644)
}

// encodeLine matches a BenchmarkEncode result.
var encodeLine = regexp.MustCompile(`^BenchmarkEncode/([a-z]+)/([a-z-]+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)

// parseEncode takes the median ns/op per answer and encoder.
func parseEncode(out string) map[string]map[string]float64 {
	vals := map[string]map[string][]float64{}
	for _, line := range strings.Split(out, "\n") {
		m := encodeLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(m[3], 64)
		if vals[m[1]] == nil {
			vals[m[1]] = map[string][]float64{}
		}
		vals[m[1]][m[2]] = append(vals[m[1]][m[2]], ns)
	}
	res := map[string]map[string]float64{}
	for a, byEnc := range vals {
		res[a] = map[string]float64{}
		for e, v := range byEnc {
			sort.Float64s(v)
			res[a][e] = v[len(v)/2]
		}
	}
	return res
}

// benchLine matches a result; the -N GOMAXPROCS suffix is absent with one CPU.
var benchLine = regexp.MustCompile(`^BenchmarkReview/([^/]+)/([a-z]+(?:-[a-z]+)*)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op.*?(\d+) B/op\s+(\d+) allocs/op`)

// parseBench takes the median ns/op, B/op and allocs/op per payload and impl.
func parseBench(out string) map[string]map[string][3]float64 {
	vals := map[string]map[string][][3]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(m[3], 64)
		by, _ := strconv.ParseFloat(m[4], 64)
		al, _ := strconv.ParseFloat(m[5], 64)
		if vals[m[1]] == nil {
			vals[m[1]] = map[string][][3]float64{}
		}
		vals[m[1]][m[2]] = append(vals[m[1]][m[2]], [3]float64{ns, by, al})
	}
	res := map[string]map[string][3]float64{}
	for p, byImpl := range vals {
		res[p] = map[string][3]float64{}
		for im, xs := range byImpl {
			var med [3]float64
			for k := 0; k < 3; k++ {
				col := make([]float64, len(xs))
				for i := range xs {
					col[i] = xs[i][k]
				}
				sort.Float64s(col)
				med[k] = col[len(col)/2]
			}
			res[p][im] = med
		}
	}
	return res
}

var initLine = regexp.MustCompile(`^init (\S+) @[\d.]+ ms, ([\d.]+) ms clock, (\d+) bytes, (\d+) allocs`)

// topInits lists the package inits that cost most, each the median of its
// clock over the traces, and the median total.
func topInits(outs []string, n int) []string {
	type in struct {
		pkg   string
		clock float64
	}
	clocks := map[string][]float64{}
	var totals []float64
	count := 0
	for _, out := range outs {
		total, pkgs := 0.0, 0
		for _, l := range strings.Split(out, "\n") {
			if m := initLine.FindStringSubmatch(l); m != nil {
				c, _ := strconv.ParseFloat(m[2], 64)
				clocks[m[1]] = append(clocks[m[1]], c)
				total += c
				pkgs++
			}
		}
		totals = append(totals, total)
		count = pkgs
	}
	med := func(xs []float64) float64 {
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	var ins []in
	for p, cs := range clocks {
		ins = append(ins, in{p, med(cs)})
	}
	sort.Slice(ins, func(i, j int) bool { return ins[i].clock > ins[j].clock })
	res := []string{fmt.Sprintf("all package init: %.2f ms clock over %d packages (medians of %d traces)", med(totals), count, len(outs))}
	for i := 0; i < n && i < len(ins); i++ {
		res = append(res, fmt.Sprintf("%s: %.3f ms", ins[i].pkg, ins[i].clock))
	}
	return res
}

func machine() string {
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	kernel, _ := sh("/", nil, "uname", "-r")
	cores, _ := sh("/", nil, "nproc", "--all")
	return fmt.Sprintf("%s cores (%s), Linux %s, %s, on %s", strings.TrimSpace(cores), cpu, strings.TrimSpace(kernel), runtime.Version(), time.Now().UTC().Format("2006-01-02"))
}
