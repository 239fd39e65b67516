package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// cluster is the API server, reached as kubectl reaches it. client-go
// supplies what is hard to get right (kubeconfig merging, contexts, exec
// credential plugins, the in-cluster service account); the requests
// themselves are plain HTTP, so that a page of a list is read as bytes and
// judged without being decoded into unstructured maps first.
type cluster struct {
	host   string
	client *http.Client
}

// connect loads the client configuration: --kubeconfig, else $KUBECONFIG,
// else ~/.kube/config, else the in-cluster service account, with --context.
func connect(kubeconfig, context string) (*cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the client configuration: %w", err)
	}
	cfg.UserAgent = "bouncer-audit"
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the API client: %w", err)
	}
	host, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("the API server's address: %w", err)
	}
	return &cluster{host: strings.TrimSuffix(host.String(), "/"), client: hc}, nil
}

// apiError is an answer other than success, with the API server's message.
type apiError struct {
	Method, Path string
	Code         int
	Reason       string
	Message      string
	// Causes are the types of the status details' causes, such as
	// NamespaceTerminating.
	Causes []string
}

func (e *apiError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Code, e.Reason, msg)
}

// notFound reports whether err is the API server's 404.
func notFound(err error) bool {
	ae, ok := err.(*apiError)
	return ok && ae.Code == http.StatusNotFound
}

// namespaceTerminating reports whether err refused a create because the
// namespace is being deleted.
func namespaceTerminating(err error) bool {
	ae, ok := err.(*apiError)
	return ok && ae.Code == http.StatusForbidden && slices.Contains(ae.Causes, "NamespaceTerminating")
}

// maxRetries bounds the retries of a request the API server asked to be
// sent again (429 with Retry-After), as client-go bounds them.
const maxRetries = 10

// do sends one request and returns the body of a 2xx answer. A 429 with
// Retry-After, which the API server answers while a resource's cache starts
// (a CRD just created) or under its priority and fairness limits, is sent
// again after the time it asks for: every request here is idempotent.
func (c *cluster) do(ctx context.Context, method, path string, query url.Values, contentType string, body []byte) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		data, wait, err := c.once(ctx, method, path, query, contentType, body)
		if wait == 0 || attempt == maxRetries {
			return data, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s %s: %w (after: %v)", method, path, ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// once sends a request once; wait is how long the API server asked to wait
// before sending it again, 0 when it did not.
func (c *cluster) once(ctx context.Context, method, path string, query url.Values, contentType string, body []byte) (data []byte, wait time.Duration, err error) {
	u := c.host + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return data, 0, nil
	}
	e := &apiError{Method: method, Path: path, Code: resp.StatusCode}
	var st struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
		Details struct {
			Causes []struct {
				Type string `json:"reason"`
			} `json:"causes"`
		} `json:"details"`
	}
	if json.Unmarshal(data, &st) == nil {
		e.Reason, e.Message = st.Reason, st.Message
		for _, c := range st.Details.Causes {
			e.Causes = append(e.Causes, c.Type)
		}
	}
	if e.Reason == "" {
		e.Reason = http.StatusText(resp.StatusCode)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		wait = time.Second
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			wait = time.Duration(min(n, 10)) * time.Second
		}
	}
	return nil, wait, e
}

// get reads one object; nil, nil when it does not exist.
func (c *cluster) get(ctx context.Context, path string) ([]byte, error) {
	data, err := c.do(ctx, http.MethodGet, path, nil, "", nil)
	if notFound(err) {
		return nil, nil
	}
	return data, err
}

// page is one page of a list: its items as raw JSON, and where to go on.
type page struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

// list calls f with each page of the collection at path, limit objects at
// a time, until the API server says there are no more. A page is dropped
// before the next is read, so memory holds one page.
func (c *cluster) list(ctx context.Context, path string, limit int, selector string, f func(*page) error) error {
	q := url.Values{"limit": {fmt.Sprint(limit)}}
	if selector != "" {
		q.Set("labelSelector", selector)
	}
	for {
		data, err := c.do(ctx, http.MethodGet, path, q, "", nil)
		if err != nil {
			return err
		}
		var p page
		if err := json.Unmarshal(data, &p); err != nil {
			return fmt.Errorf("GET %s: the list does not read: %v", path, err)
		}
		if err := f(&p); err != nil {
			return err
		}
		if p.Metadata.Continue == "" {
			return nil
		}
		q.Set("continue", p.Metadata.Continue)
	}
}

// apply server-side applies obj (JSON is YAML) at path, as field manager
// bouncer. force takes over fields another manager set: the reports are
// bouncer's alone.
func (c *cluster) apply(ctx context.Context, path string, obj []byte) error {
	_, err := c.do(ctx, http.MethodPatch, path, url.Values{"fieldManager": {"bouncer"}, "force": {"true"}},
		"application/apply-patch+yaml", obj)
	return err
}

// remove deletes the object at path; one already gone is no error.
func (c *cluster) remove(ctx context.Context, path string) error {
	_, err := c.do(ctx, http.MethodDelete, path, nil, "", nil)
	if notFound(err) {
		return nil
	}
	return err
}

// resourcePath is the URL path of a collection, or of one object in it
// when name is set.
func resourcePath(group, version, resource, namespace, name string) string {
	p := "/api/" + version
	if group != "" {
		p = "/apis/" + group + "/" + version
	}
	if namespace != "" {
		p += "/namespaces/" + namespace
	}
	p += "/" + resource
	if name != "" {
		p += "/" + name
	}
	return p
}
