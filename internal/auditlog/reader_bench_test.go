package auditlog

import (
	"io"
	"os"
	"testing"
)

// BenchmarkReader reads the file BOUNCER_AUDIT_BENCH_LOG names, for the
// throughput `make bench` compares with jq's.
func BenchmarkReader(b *testing.B) {
	path := os.Getenv("BOUNCER_AUDIT_BENCH_LOG")
	if path == "" {
		b.Skip("BOUNCER_AUDIT_BENCH_LOG names an audit log to read")
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	for b.Loop() {
		r, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
	}
}
