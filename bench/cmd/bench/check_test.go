package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestOnlineCPUsCountsTheMachineFromAPinnedHarness runs onlineCPUs in a copy
// of this test pinned to CPU 0, as make bench pins the harness: it must
// still find every CPU the unpinned runs get.
func TestOnlineCPUsCountsTheMachineFromAPinnedHarness(t *testing.T) {
	if os.Getenv("BENCH_ONLINE_CPUS") == "print" {
		_, cores, err := onlineCPUs()
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("cores=" + strconv.Itoa(cores) + "\n")
		return
	}
	_, want, err := onlineCPUs()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("taskset", "-c", "0", os.Args[0], "-test.run", "^TestOnlineCPUsCountsTheMachineFromAPinnedHarness$")
	cmd.Env = append(os.Environ(), "BENCH_ONLINE_CPUS=print")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the pinned copy: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "cores="+strconv.Itoa(want)+"\n") {
		t.Errorf("pinned to CPU 0, onlineCPUs found other than %d cores:\n%s", want, out)
	}
}
