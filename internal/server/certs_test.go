package server

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bouncer.dev/bouncer/internal/testpki"
	"go.uber.org/zap"
)

// testCA issues serving certificates for 127.0.0.1 and "bouncer".
type testCA struct {
	*testpki.CA
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	ca, err := testpki.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{ca, ca.Pool}
}

// leaf returns a PEM certificate and key with the given serial.
func (ca *testCA) leaf(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(&x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "bouncer"},
		DNSNames: []string{"bouncer"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

// secretVolume lays files out as the kubelet does for a Secret volume
// (pkg/volume/util/atomic_writer.go): each version in its own timestamped
// directory, a ..data symlink to the current one, and the visible names as
// symlinks through ..data. An update is one rename of a new ..data link.
type secretVolume struct {
	dir     string
	version int
}

func (v *secretVolume) write(t *testing.T, files map[string][]byte) {
	t.Helper()
	v.version++
	ts := filepath.Join(v.dir, fmt.Sprintf("..2026_12_01_00_00_%02d.%09d", v.version, v.version))
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(ts, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := os.Readlink(filepath.Join(v.dir, "..data"))
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(v.dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	if old != "" {
		_ = os.RemoveAll(filepath.Join(v.dir, old))
	}
}

// TestARotationThroughTheSecretVolumeIsServedWithoutAFailedHandshake serves
// TLS from a kubelet-style Secret volume, rotates the certificate through
// ..data swaps while clients handshake without pause, and counts: no
// handshake may fail, and each new certificate must be served within the
// poll interval (bounded generously for a shared machine).
func TestARotationThroughTheSecretVolumeIsServedWithoutAFailedHandshake(t *testing.T) {
	ca := newTestCA(t)
	vol := &secretVolume{dir: t.TempDir()}
	cert, key := ca.leaf(t, 100)
	vol.write(t, map[string][]byte{"tls.crt": cert, "tls.key": key})

	const interval = 200 * time.Millisecond
	s, err := New(Config{Addr: "127.0.0.1:0", TLSCert: filepath.Join(vol.dir, "tls.crt"), TLSKey: filepath.Join(vol.dir, "tls.key"), CertPollInterval: interval},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	addr, stopServer := serve(t, s, time.Second, zap.NewNop())

	var ok, failed atomic.Int64
	var latest atomic.Int64 // the serial the last handshake saw
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// A new connection each time: every request is a full handshake.
				c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool, ServerName: "bouncer"})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				latest.Store(c.ConnectionState().PeerCertificates[0].SerialNumber.Int64())
				ok.Add(1)
				c.Close()
			}
		}()
	}

	const rotations = 6
	var worst time.Duration
	for i := 1; i <= rotations; i++ {
		time.Sleep(300 * time.Millisecond)
		serial := int64(100 + i)
		cert, key := ca.leaf(t, serial)
		rotated := time.Now()
		vol.write(t, map[string][]byte{"tls.crt": cert, "tls.key": key})
		for latest.Load() != serial {
			if time.Since(rotated) > 10*interval+5*time.Second {
				t.Fatalf("rotation %d: serial %d not served %v after the swap", i, serial, time.Since(rotated))
			}
			time.Sleep(5 * time.Millisecond)
		}
		if took := time.Since(rotated); took > worst {
			worst = took
		}
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err := stopServer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE certificate rotation: %d rotations through ..data swaps, %d handshakes, %d failed; the new certificate served at most %v after the swap (poll interval %v)",
		rotations, ok.Load(), failed.Load(), worst.Round(time.Millisecond), interval)
	if failed.Load() != 0 {
		t.Errorf("%d handshakes failed during rotation; first: %v", failed.Load(), firstErr.Load())
	}
	if ok.Load() < 100 {
		t.Errorf("only %d handshakes: the load did not run", ok.Load())
	}
}

// TestAMismatchedPairIsNeverServed writes a new certificate without its key,
// as a poll can see in the middle of a non-atomic update: the old pair stays
// in service until the key arrives.
func TestAMismatchedPairIsNeverServed(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c1, k1 := ca.leaf(t, 1)
	c2, k2 := ca.leaf(t, 2)
	write := func(path string, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(certFile, c1)
	write(keyFile, k1)
	s, err := newCertSource(certFile, keyFile, time.Hour, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	serial := func() int64 { p, _ := s.get(nil); return p.Leaf.SerialNumber.Int64() }
	write(certFile, c2)
	if changed, err := s.poll(); changed || err == nil || serial() != 1 {
		t.Fatalf("a certificate without its key: changed=%v err=%v serial=%d; want the old pair kept and an error", changed, err, serial())
	}
	write(keyFile, k2)
	if changed, err := s.poll(); !changed || err != nil || serial() != 2 {
		t.Fatalf("the completed pair: changed=%v err=%v serial=%d; want it served", changed, err, serial())
	}
	if changed, err := s.poll(); changed || err != nil {
		t.Fatalf("unchanged files: changed=%v err=%v; want nothing done", changed, err)
	}
}
