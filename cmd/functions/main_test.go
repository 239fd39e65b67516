package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the local run: with BOUNCER_RUN_MAIN set it runs
// main(), so the tests exercise the real Functions Framework start-up.
func TestMain(m *testing.M) {
	if os.Getenv("BOUNCER_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// start runs the local run with env and waits until it answers.
func start(t *testing.T, env ...string) string {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append(env, "BOUNCER_RUN_MAIN=1", "PORT="+port, "LOCAL_ONLY=true")...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://127.0.0.1:" + port
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			return base
		}
	}
	t.Fatalf("the local run did not listen within 20s:\n%s", out.String())
	return ""
}

func review(t *testing.T, url string) (int, string) {
	t.Helper()
	body, err := os.ReadFile("../../testdata/reviews/pod-without-owner.json")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWithoutFunctionTargetEveryFunctionHasItsPath(t *testing.T) {
	base := start(t, "FUNCTION_TARGET=")
	if code, body := review(t, base+"/validate"); code != 200 || !strings.Contains(body, `"allowed":false`) || !strings.Contains(body, `"code":403`) {
		t.Errorf("/validate: %d %s", code, body)
	}
	if code, body := review(t, base+"/mutate"); code != 200 || !strings.Contains(body, `"patchType":"JSONPatch"`) {
		t.Errorf("/mutate: %d %s", code, body)
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz: %v %v", resp, err)
	}
}

func TestFunctionTargetServesThatFunctionAlone(t *testing.T) {
	base := start(t, "FUNCTION_TARGET=validate")
	for _, path := range []string{"/", "/validate", "/mutate"} {
		code, body := review(t, base+path)
		if code != 200 || !strings.Contains(body, `"code":403`) || strings.Contains(body, "patch") {
			t.Errorf("%s answered %d %s; want validate's denial at every path", path, code, body)
		}
	}
}

func TestABadPolicyStopsTheLocalRunNamingTheField(t *testing.T) {
	f := t.TempDir() + "/policy.yaml"
	_ = os.WriteFile(f, []byte("apiVersion: bouncer.dev/v1\nkind: Policy\nrules: [{name: a, kinds: [Pod], action: block, require: [{key: owner}]}]\n"), 0o644)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BOUNCER_RUN_MAIN=1", "PORT="+freePort(t), "BOUNCER_POLICY="+f)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `rules[0].action: unknown action "block"`) {
		t.Errorf("err=%v output=%s; want a failed start naming rules[0].action", err, out)
	}
}
