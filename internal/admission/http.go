package admission

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"bouncer.dev/bouncer/internal/metrics"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/verdict"
	"go.uber.org/zap"
)

// defaultMaxBodyBytes bounds a review body. The API server accepts request
// bodies up to 3 MiB, and a review of an UPDATE carries the object twice
// (object and oldObject) plus the envelope, so 8 MiB admits its worst case.
const defaultMaxBodyBytes = 8 << 20

// Handler serves one of bouncer's admission functions, validate or mutate,
// over HTTP.
type Handler struct {
	Stage        policy.Stage
	Decide       func(*policy.Request) policy.Decision
	Log          *zap.Logger
	MaxBodyBytes int64
	// Metrics counts decisions and times requests; nil counts nothing.
	Metrics *metrics.Metrics
}

// New returns the HTTP handler of one of a policy's functions.
func New(p *policy.Policy, fn policy.Stage, log *zap.Logger, opts ...Option) *Handler {
	f := &Handler{Stage: fn, Decide: p.Validate, Log: log, MaxBodyBytes: defaultMaxBodyBytes}
	if fn == policy.Mutation {
		f.Decide = p.Mutate
	}
	for _, o := range opts {
		o(f)
	}
	return f
}

// ServeHTTP answers every readable review with an AdmissionReview, and
// everything else with a 4xx status and a message saying what was wrong.
func (f *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var uid string
	written := false
	defer func() {
		if v := recover(); v != nil {
			// A bug must not take the process down. With the uid known the
			// answer is a refusal, which does not admit the object; without
			// it only an HTTP 500 is possible.
			f.Log.Error("panic while deciding", zap.Stringer("function", f.Stage), zap.String("uid", uid), zap.String("panic", fmt.Sprint(v)))
			switch {
			case written: // the answer is out; only logging failed
			case uid == "":
				f.fail(w, http.StatusInternalServerError, "internal error")
			default:
				a := verdict.Refuse(verdict.CodeInternal, "bouncer: internal error")
				f.write(w, uid, &a)
				f.Metrics.Decision(f.Stage.String(), "", metrics.Error)
			}
		}
		// The answer is flushed when ServeHTTP returns, so this is its latency.
		if f.Metrics != nil {
			f.Metrics.Observe(f.Stage.String(), time.Since(start))
		}
	}()

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		f.fail(w, http.StatusMethodNotAllowed, "method "+quote(r.Method)+" not allowed: send the AdmissionReview with POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		f.fail(w, http.StatusUnsupportedMediaType, "Content-Type "+quote(r.Header.Get("Content-Type"))+" not supported: send application/json")
		return
	}
	limit := f.MaxBodyBytes
	if r.ContentLength > limit {
		f.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes is over the limit of %d bytes", r.ContentLength, limit))
		return
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			f.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is over the limit of %d bytes", limit))
			return
		}
		f.fail(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}

	req, err := decodeReview(body)
	var d policy.Decision
	var a verdict.Answer
	switch e := err.(type) {
	case nil:
		uid = req.UID
		d = f.Decide(req)
		a = verdict.For(&d)
	case *requestError:
		// The uid is readable, so answer in the protocol. Under failurePolicy
		// Ignore an HTTP error would admit the object; a refusal does not.
		uid = req.UID
		d = policy.Decision{Stage: f.Stage, Unreadable: &policy.ReviewError{Msg: e.msg}}
		a = verdict.For(&d)
	case *httpError:
		f.fail(w, e.status, e.msg)
		return
	default:
		f.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	f.write(w, uid, &a)
	written = true
	latency := time.Since(start)
	f.countDecision(&d)
	f.logDecision(req, &d, &a, latency)
}

func (f *Handler) write(w http.ResponseWriter, uid string, a *verdict.Answer) {
	out, err := encode(uid, a, f.Stage)
	if err != nil {
		f.fail(w, http.StatusInternalServerError, "encoding the response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// readBody reads the body into one buffer of the declared size when there
// is one, so a review costs one allocation, not a series of doublings.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength <= 0 {
		return io.ReadAll(body)
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// fail answers without an AdmissionReview, for requests that have no uid to
// answer to. The API server then applies the webhook's failurePolicy.
func (f *Handler) fail(w http.ResponseWriter, status int, msg string) {
	f.Metrics.Decision(f.Stage.String(), "", metrics.Error)
	f.Log.Warn("bad request", zap.Stringer("function", f.Stage), zap.Int("status", status), zap.String("error", msg))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "bouncer: "+msg+"\n")
}

// Healthz answers probes. It does no work, so a probe never competes with
// admission for the CPU.
func Healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

// Mux serves /validate, /mutate and /healthz, the paths of every way bouncer runs.
func Mux(p *policy.Policy, log *zap.Logger, opts ...Option) *http.ServeMux {
	m := http.NewServeMux()
	m.Handle("/validate", New(p, policy.Validation, log, opts...))
	m.Handle("/mutate", New(p, policy.Mutation, log, opts...))
	m.HandleFunc("/healthz", Healthz)
	return m
}
