package spec_test

import (
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/spec"
)

// BenchmarkDefault times the two ways to the compiled default policy:
// decoding default.yaml, and the Go value default_gen.go builds. It times a
// warm process; the first decode in a fresh one costs more (about 0.7 ms
// from exec to the first answer), and that is why default_gen.go exists.
func BenchmarkDefault(b *testing.B) {
	for _, src := range []struct {
		name string
		read func() (*spec.Policy, error)
	}{
		{"default.yaml", func() (*spec.Policy, error) { return spec.Read(spec.DefaultYAML()) }},
		{"default_gen.go", func() (*spec.Policy, error) { return spec.Default(), nil }},
	} {
		b.Run(src.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, err := src.read()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := policy.Compile(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
