package main

import (
	"context"
	"encoding/json"
	"fmt"

	reports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
)

// applier writes the reports with server-side apply and removes the live
// audit's reports that no longer describe the cluster, so that the reports
// always show the cluster as it is now. A report that says what it said
// before is not written again: an hourly audit of a steady cluster writes
// nothing to etcd.
type applier struct {
	c        *cluster
	existing map[reportKey]string // the live audit's reports in the cluster, by digest
	seen     map[reportKey]bool
	// What it did, for the summary.
	Applied, Unchanged, Deleted int
	// Terminating counts reports not written because their namespace is
	// being deleted.
	Terminating int
}

type reportKey struct{ namespace, name string }

var reportsGroup = reports.SchemeGroupVersion

// newApplier reads the live audit's reports that exist already, by label:
// never the escapes reader's, never anyone else's.
func newApplier(ctx context.Context, c *cluster, pageSize int) (*applier, error) {
	a := &applier{c: c, existing: map[reportKey]string{}, seen: map[reportKey]bool{}}
	sel := reportLabel + "=" + reportLabelLive + "," + managedByLabel + "=bouncer"
	for _, res := range []string{"reports", "clusterreports"} {
		path := resourcePath(reportsGroup.Group, reportsGroup.Version, res, "", "")
		err := c.list(ctx, path, pageSize, sel, func(p *page) error {
			for _, item := range p.Items {
				name, ns, dig, err := existingDigest(item)
				if err != nil {
					return fmt.Errorf("a listed %s does not read: %v", res, err)
				}
				a.existing[reportKey{ns, name}] = dig
			}
			return nil
		})
		if notFound(err) {
			return nil, fmt.Errorf("listing %s.%s: the API server does not serve it: install the OpenReports CRDs (deploy/kubernetes/audit/openreports.io_*.yaml, or make deploy-audit) before --apply", res, reportsGroup.Group)
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s.%s: %w", res, reportsGroup.Group, err)
		}
	}
	return a, nil
}

// put writes one report unless the cluster holds the same already.
func (a *applier) put(ctx context.Context, r report) error {
	k := reportKey{r.namespace, r.name}
	a.seen[k] = true
	if a.existing[k] == r.digest {
		a.Unchanged++
		return nil
	}
	body, err := json.Marshal(r.obj)
	if err != nil {
		return err
	}
	err = a.c.apply(ctx, reportPath(k), body)
	if namespaceTerminating(err) {
		// The namespace is being deleted, with the object and any report
		// in it: there is nothing left to report on.
		a.Terminating++
		return nil
	}
	if err != nil {
		return fmt.Errorf("applying report %s: %w", r.name, err)
	}
	a.Applied++
	return nil
}

// prune deletes the live audit's reports that this run did not write: their
// resource became compliant, or is gone. Call it only after a whole read: a
// half-read cluster must not look clean.
func (a *applier) prune(ctx context.Context) error {
	for k := range a.existing {
		if a.seen[k] {
			continue
		}
		if err := a.c.remove(ctx, reportPath(k)); err != nil {
			return fmt.Errorf("deleting report %s: %w", k.name, err)
		}
		a.Deleted++
	}
	return nil
}

func reportPath(k reportKey) string {
	if k.namespace == "" {
		return resourcePath(reportsGroup.Group, reportsGroup.Version, "clusterreports", "", k.name)
	}
	return resourcePath(reportsGroup.Group, reportsGroup.Version, "reports", k.namespace, k.name)
}
