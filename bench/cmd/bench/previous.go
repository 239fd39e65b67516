package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// previousBouncer builds bouncer as of the commit that wrote the report this
// run replaces, so that its cold start is measured beside this one's in the
// same run: a figure that moved is then explained by measurement, not by a
// comparison across runs on a shared machine. It returns no binary when the
// report has no history.
func previousBouncer(root, outPath, work string) (rev, bin string, err error) {
	rel, err := filepath.Rel(root, outPath)
	if err != nil {
		return "", "", err
	}
	out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%h", "--", filepath.ToSlash(rel)).Output()
	if rev = strings.TrimSpace(string(out)); err != nil || rev == "" {
		return "", "", nil
	}
	// A worktree of that commit, outside the checkout; removed again, so the
	// repository keeps no record of it.
	dir := filepath.Join(work, "previous")
	if o, err := sh(root, nil, "git", "worktree", "add", "--detach", dir, rev); err != nil {
		return rev, "", fmt.Errorf("git worktree add %s: %v\n%s", rev, err, o)
	}
	defer func() { _, _ = sh(root, nil, "git", "worktree", "remove", "--force", dir) }()
	bin = filepath.Join(work, "bouncer-previous")
	if o, err := sh(dir, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/bouncer"); err != nil {
		return rev, "", fmt.Errorf("building bouncer at %s: %v\n%s", rev, err, o)
	}
	return rev, bin, nil
}

// previousImpl is bouncer serve as of rev.
func previousImpl(rev, bin string) impl {
	return bouncerBuild("bouncer serve at "+rev+" (the previous report's)", bin)
}
