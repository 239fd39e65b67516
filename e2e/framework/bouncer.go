package framework

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Bouncer is a `bouncer serve` process with TLS on loopback.
type Bouncer struct {
	Proc *Proc
	URL  string
	args []string
	bin  string
	dir  string
	name string
}

// StartBouncer serves bouncer over TLS with a certificate from ca.
func StartBouncer(bin, dir, name string, ca *CA, policyFile string) (*Bouncer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	return StartBouncerAt(bin, dir, name, ca, policyFile, port)
}

// StartBouncerAt serves bouncer on port, with more flags.
func StartBouncerAt(bin, dir, name string, ca *CA, policyFile string, port int, more ...string) (*Bouncer, error) {
	cert, key, err := ca.Serving(dir, name)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	b := &Bouncer{URL: "https://" + addr, bin: bin, dir: dir, name: name,
		args: []string{"serve", "--addr", addr, "--tls-cert", cert, "--tls-key", key}}
	if policyFile != "" {
		b.args = append(b.args, "--policy", policyFile)
	}
	b.args = append(b.args, more...)
	return b, b.Start()
}

// Start (re)starts the process on the same address.
func (b *Bouncer) Start() error {
	p, err := Start(b.name, b.dir, b.bin, nil, b.args...)
	if err != nil {
		return err
	}
	b.Proc = p
	addr := b.URL[len("https://"):]
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if p.Exited() {
			return fmt.Errorf("bouncer exited:\n%s", p.Tail(2000))
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
	}
	return fmt.Errorf("bouncer did not listen on %s", addr)
}
