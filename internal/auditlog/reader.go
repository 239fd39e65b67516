package auditlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"

	"bouncer.dev/bouncer/internal/rawjson"
)

// MaxLine is the longest line the Reader takes. The API server caps a
// request body at 3 MiB, and an event carries at most a request and a
// response object, so a real event is far shorter; the bound keeps one
// corrupt or foreign file from growing the buffer without end. The buffer
// grows to the longest line read and no further: memory stays flat however
// long the log.
const MaxLine = 16 << 20

// LineError says which line of which file is not an audit event.
type LineError struct {
	File string // "" for a Reader made by NewReader
	Line int    // 1-based
	Err  error
}

func (e *LineError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("%s: line %d: %v", e.File, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// Reader streams the log backend's format: JSON lines, one audit.k8s.io/v1
// Event each (--audit-log-format=json, the default). It holds one line at a
// time.
type Reader struct {
	paths []string // the files Open was given that are still to be read
	src   io.Reader
	close func() error

	name string // the current file, as errors name it
	sc   *bufio.Scanner
	line int
	err  error // what ended the reading
}

// NewReader reads the events of r, plain or gzip-compressed.
func NewReader(r io.Reader) *Reader { return &Reader{src: r} }

// Open reads the files in order, each plain or gzip-compressed, as the log
// backend leaves them after rotation (audit-2026-01-02T03-04-05.000.log,
// gzipped by logrotate or --audit-log-compress). "-" is the standard input.
// Every file must exist when Open is called, so that a typo is found before
// a long read; each is opened only when its turn comes, so that a long list
// of rotated files holds one descriptor. Close releases the open one.
func Open(paths ...string) (*Reader, error) {
	if len(paths) == 0 {
		return nil, errors.New("no audit log to read")
	}
	stdin := 0
	for _, p := range paths {
		if p == "-" {
			if stdin++; stdin > 1 {
				return nil, errors.New(`the standard input ("-") can be read only once`)
			}
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		if st.IsDir() {
			return nil, fmt.Errorf("audit log %s: is a directory; name its files", p)
		}
	}
	return &Reader{paths: paths}, nil
}

// Next returns the next event, and io.EOF after the last. Blank lines hold
// nothing and are passed over; any other line that is not an audit event is
// a *LineError that names it, and Next may be called again to go on past
// it. Any other error ends the reading: a file that cannot be read, broken
// gzip, or a line longer than MaxLine.
func (r *Reader) Next() (*Event, error) {
	for r.err == nil {
		if r.sc == nil {
			if r.err = r.nextSource(); r.err != nil {
				break
			}
		}
		if !r.sc.Scan() {
			err := r.sc.Err()
			if errors.Is(err, bufio.ErrTooLong) {
				r.err = &LineError{r.name, r.line + 1, fmt.Errorf("longer than %d MiB, more than any audit event (is this an audit log?)", MaxLine>>20)}
				break
			}
			if err != nil {
				// A read error or broken gzip: a file cut short by a crash
				// or a rotation still being written.
				r.err = r.named(fmt.Errorf("after line %d: %w", r.line, err))
				break
			}
			if r.err = r.closeSource(); r.err != nil {
				break
			}
			continue
		}
		r.line++
		line := r.sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e, err := parseLine(line)
		if err != nil {
			return nil, &LineError{r.name, r.line, err}
		}
		return e, nil
	}
	return nil, r.err
}

// Position returns the file and line of the event Next returned last.
func (r *Reader) Position() (file string, line int) { return r.name, r.line }

// Close releases the file being read. A Reader made by NewReader leaves its
// io.Reader to the caller.
func (r *Reader) Close() error {
	r.paths = nil
	if r.err == nil {
		r.err = errors.New("the audit log reader is closed")
	}
	return r.closeSource()
}

func (r *Reader) named(err error) error {
	if r.name == "" {
		return err
	}
	return fmt.Errorf("%s: %w", r.name, err)
}

// nextSource opens the next file (or takes NewReader's reader), io.EOF when
// none is left.
func (r *Reader) nextSource() error {
	src := r.src
	r.src = nil
	if src == nil {
		if len(r.paths) == 0 {
			return io.EOF
		}
		path := r.paths[0]
		r.paths = r.paths[1:]
		r.name = path
		if path == "-" {
			r.name = "stdin"
			src = os.Stdin
		} else {
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("audit log: %w", err)
			}
			src, r.close = f, f.Close
		}
	}
	r.line = 0
	in, err := decompress(src)
	if err != nil {
		_ = r.closeSource()
		return r.named(err)
	}
	r.sc = bufio.NewScanner(in)
	r.sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	return nil
}

func (r *Reader) closeSource() error {
	r.sc = nil
	if r.close == nil {
		return nil
	}
	c := r.close
	r.close = nil
	if err := c(); err != nil {
		return r.named(err)
	}
	return nil
}

// gzipMagic opens every gzip member (RFC 1952).
var gzipMagic = []byte{0x1f, 0x8b}

// decompress tells gzip by its magic bytes, not by the file's name: a
// rotated file keeps whatever name the rotation gave it, and the standard
// input has none.
func decompress(src io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(src, 64<<10)
	magic, err := br.Peek(len(gzipMagic))
	if err != nil && err != io.EOF {
		return nil, err
	}
	if !bytes.Equal(magic, gzipMagic) {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return zr, nil
}

// parseLine reads one line of the log backend: a JSON object that says it
// is an audit.k8s.io/v1 Event.
func parseLine(line []byte) (*Event, error) {
	if t := bytes.TrimSpace(line); t[0] != '{' {
		return nil, errors.New("not a JSON audit event (the log backend writes JSON lines with --audit-log-format=json; the legacy text format cannot be read)")
	}
	v, err := rawjson.Parse(line)
	if err != nil {
		return nil, err
	}
	e := &Event{}
	if err := decodeEvent(v, e, true); err != nil {
		return nil, err
	}
	return e, nil
}
