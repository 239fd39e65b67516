// Package version reports what was built. The Makefile sets Version and
// Commit with -ldflags; otherwise they come from the Go build information.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time: -X bouncer.dev/bouncer/internal/version.Version=v1.2.3
var (
	Version = ""
	Commit  = ""
)

// String is the one-line version: version, commit and Go version.
func String() string {
	v, c := Version, Commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("bouncer %s (commit %s, %s, %s/%s)", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
