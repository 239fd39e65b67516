// Package kube holds the few Kubernetes API shapes bouncer writes and reads:
// label selectors, the webhook configurations and the admission policies.
//
// They mirror k8s.io/api and k8s.io/apimachinery field for field, JSON name
// for JSON name, for one measured reason: importing those packages runs
// about 2 ms of package init (scheme registration, regular expressions, the
// CBOR and json-iterator set-up) in every start of the one bouncer binary,
// serve included, where a cold start decides whether a request is enforced
// (docs/benchmarks.md). The tests prove the mirror: everything generated
// here decodes strictly into the real types and back to the same JSON, and
// the selectors and validators agree with apimachinery's on every case.
package kube
