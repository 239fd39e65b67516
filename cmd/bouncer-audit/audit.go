package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"bouncer.dev/bouncer/internal/check"
	"bouncer.dev/bouncer/internal/policy"
)

// auditor reads the whole cluster once: enforcement first, then the
// Namespaces, then every kind the policy covers, parents first, a page at a
// time. Each object is judged as it is read and handed to the output; the
// only state that grows with the cluster is the stream's uid index.
type auditor struct {
	c        *cluster
	p        *policy.Policy
	pageSize int
	now      time.Time
	out      output
	apply    *applier
	progress *progress
	// lastEnforcement is what run read, for the summary.
	lastEnforcement *enforcement
}

// summary is what the last line and -o json's summary say.
type summary struct {
	Kinds      int      `json:"kinds"`
	Namespaces int      `json:"namespaces"`
	Objects    int      `json:"objects"`
	Violating  int      `json:"violating"`
	Before     int      `json:"createdBeforeEnforcement"`
	After      int      `json:"createdAfterEnforcement"`
	Warnings   int      `json:"warnings"`
	Adds       int      `json:"labelsToAdd"`
	Through    int      `json:"reportedThroughParent"`
	Skipped    int      `json:"skipped"`
	NotServed  []string `json:"notServed,omitempty"`
	// Enforced is false when something that enforces the policy is
	// missing, drifted or trusts no certificate.
	Enforced bool `json:"enforced"`
	// Reports counts --apply's writes.
	Applied   int `json:"reportsApplied"`
	Unchanged int `json:"reportsUnchanged"`
	Deleted   int `json:"reportsDeleted"`
}

// run audits; an error means the cluster was not read whole, and nothing
// may be concluded from what was.
func (a *auditor) run(ctx context.Context) (summary, error) {
	var s summary
	enf, err := readEnforcement(ctx, a.c, a.p, a.now)
	if err != nil {
		return s, err
	}
	a.lastEnforcement = enf
	s.Enforced = len(enf.Findings) == 0
	if err := a.out.enforcement(enf); err != nil {
		return s, err
	}
	stream := (&check.Checker{Policy: a.p}).NewStream()
	kinds := check.KindOrder(a.p)
	a.progress.total = len(kinds) + 1
	err = a.c.list(ctx, resourcePath("", "v1", "namespaces", "", ""), a.pageSize, "", func(pg *page) error {
		for _, item := range pg.Items {
			if err := stream.Namespace(item); err != nil {
				return err
			}
			s.Namespaces++
		}
		a.progress.read(len(pg.Items))
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("listing namespaces (v1): %w", err)
	}
	a.progress.kindDone()
	for _, k := range kinds {
		path := resourcePath(k.Group, k.Version, k.Resource, "", "")
		err := a.c.list(ctx, path, a.pageSize, "", func(pg *page) error {
			for _, item := range pg.Items {
				l, err := stream.Judge(item, pg.itemAPIVersion(), k.Kind)
				if err != nil {
					return err
				}
				s.Objects++
				a.count(&s, &l, enf.Since)
				if err := a.out.result(&l); err != nil {
					return err
				}
				if !l.Reported() {
					continue
				}
				if a.apply != nil || a.out.wantsReports() {
					r := resourceReport(a.p, &l, enf.Since, a.now)
					if err := a.out.report(r); err != nil {
						return err
					}
					if a.apply != nil {
						if err := a.apply.put(ctx, r); err != nil {
							return err
						}
					}
				}
			}
			a.progress.read(len(pg.Items))
			return nil
		})
		switch {
		case notFound(err) && !a.groupServed(ctx, k.Group):
			// A custom kind whose CRD is not installed has no objects.
			s.NotServed = append(s.NotServed, kindName(k))
		case err != nil:
			return s, fmt.Errorf("listing %s (%s): %w", kindName(k), k.Version, err)
		}
		s.Kinds++
		a.progress.kindDone()
	}
	a.progress.done()
	if er := enforcementReportFor(enf, a.now); er != nil {
		if err := a.out.report(*er); err != nil {
			return s, err
		}
		if a.apply != nil {
			if err := a.apply.put(ctx, *er); err != nil {
				return s, err
			}
		}
	}
	if a.apply != nil {
		if err := a.apply.prune(ctx); err != nil {
			return s, err
		}
		s.Applied, s.Unchanged, s.Deleted = a.apply.Applied, a.apply.Unchanged, a.apply.Deleted
	}
	return s, nil
}

// count adds one judged object to the summary.
func (a *auditor) count(s *summary, l *check.Live, since time.Time) {
	switch {
	case l.Skip != "":
		s.Skipped++
		return
	case l.Through != nil:
		s.Through++
		return
	}
	if l.Denied {
		s.Violating++
		switch era(l.Created, since) {
		case "before-enforcement":
			s.Before++
		case "after-enforcement":
			s.After++
		}
	}
	for _, f := range l.Findings {
		if f.Action == string(policy.Warn) {
			s.Warnings++
		}
	}
	s.Adds += len(l.Adds)
}

// groupServed reports whether the API server serves the group at all; a
// 404 on a list of a served group means the policy names a version or
// resource the server does not have, which is an error, not an absence.
func (a *auditor) groupServed(ctx context.Context, group string) bool {
	path := "/apis/" + group
	if group == "" {
		path = "/api"
	}
	data, err := a.c.get(ctx, path)
	return err != nil || data != nil
}

// itemAPIVersion is the apiVersion of a list's items: the list's own,
// which the API server gives as the group and version listed.
func (p *page) itemAPIVersion() string { return p.APIVersion }

func kindName(k *policy.Kind) string {
	if k.Group == "" {
		return strings.ToLower(k.Resource)
	}
	return k.Resource + "." + k.Group
}
