package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers/providerstest"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// The seeds' case, end to end against the Route 53 fake and its DNS side:
// backend CNAME is two weighted sets of the user's (weights 10/10, each
// with a health check) toward two load balancers. A records cutover moves
// it to a third in phases 10/50/100, every gate asking the fake's name
// servers and resolver; a rollback brings the user's own sets back as
// they were. At every phase the sets, weights and health checks are
// exactly as planned.
func TestRoute53WeightedCutoverAndRollback(t *testing.T) {
	f, specFile := r53Cutover(t, "127.75.0", "")
	before := f.State("backend.example.com.", "CNAME")
	for _, reverse := range []bool{false, true} {
		if cl, err := r53Apply(t, specFile, reverse, &tlog{t: t}); err != nil || cl.Result != "completed" {
			t.Fatalf("apply (reverse %t): %v", reverse, err)
		}
	}
	want := []string{
		// forward: lower-ttl keeps the user's sets, identifiers, weights and health checks
		"lb-a=10 hc hc-a [lb-a.example.net.] ttl 60 | lb-b=10 hc hc-b [lb-b.example.net.] ttl 60",
		"dnsmigrate-new=10 [lb-c.example.net.] ttl 60 | lb-a=45 hc hc-a [lb-a.example.net.] ttl 60 | lb-b=45 hc hc-b [lb-b.example.net.] ttl 60",
		"dnsmigrate-new=50 [lb-c.example.net.] ttl 60 | lb-a=25 hc hc-a [lb-a.example.net.] ttl 60 | lb-b=25 hc hc-b [lb-b.example.net.] ttl 60",
		"plain [lb-c.example.net.] ttl 60",
		"plain [lb-c.example.net.] ttl 300", // restore-ttl
		// rollback
		"plain [lb-c.example.net.] ttl 60",
		"dnsmigrate-old=90 [lb-c.example.net.] ttl 60 | lb-a=5 hc hc-a [lb-a.example.net.] ttl 60 | lb-b=5 hc hc-b [lb-b.example.net.] ttl 60",
		"dnsmigrate-old=50 [lb-c.example.net.] ttl 60 | lb-a=25 hc hc-a [lb-a.example.net.] ttl 60 | lb-b=25 hc hc-b [lb-b.example.net.] ttl 60",
		"lb-a=10 hc hc-a [lb-a.example.net.] ttl 60 | lb-b=10 hc hc-b [lb-b.example.net.] ttl 60",
		"lb-a=10 hc hc-a [lb-a.example.net.] ttl 300 | lb-b=10 hc hc-b [lb-b.example.net.] ttl 300",
	}
	if got := f.History("backend.example.com.", "CNAME"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("backend CNAME after each change batch:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if after := f.State("backend.example.com.", "CNAME"); strings.Join(after, "|") != strings.Join(before, "|") {
		t.Errorf("after the rollback: %v, want the user's own sets %v", after, before)
	}
	if got := f.State("www.example.com.", "A"); len(got) != 1 || got[0] != "plain [192.0.2.1 192.0.2.2] ttl 300" {
		t.Errorf("an unrelated name changed: %v", got)
	}
}

// The health target goes down during phase 2: the automatic rollback puts
// the user's own weighted sets back, identifiers, weights and health
// checks as they were (at the lowered TTL, as every automatic rollback
// leaves it).
func TestRoute53WeightedAutoRollback(t *testing.T) {
	srv, health := healthTarget(t)
	f, specFile := r53Cutover(t, "127.75.1", health)
	out := &stopAt{t: t, line: "phase-2: answer", cancel: func() { srv.Close() }}
	_, err := r53Apply(t, specFile, false, out)
	if err == nil || !strings.Contains(err.Error(), "rolled back automatically") {
		t.Fatalf("cutover with a dead health target: %v", err)
	}
	got := f.History("backend.example.com.", "CNAME")
	want := "lb-a=10 hc hc-a [lb-a.example.net.] ttl 60 | lb-b=10 hc hc-b [lb-b.example.net.] ttl 60"
	if len(got) < 3 || got[len(got)-1] != want {
		t.Errorf("backend CNAME after each change batch:\n%s\nwant it to end on\n%s", strings.Join(got, "\n"), want)
	}
}

// r53Cutover starts the Route 53 fake, its DNS side on three addresses of
// prefix, and writes the seeds' records spec.
func r53Cutover(t *testing.T, prefix, health string, change ...string) (*providerstest.Route53, string) {
	t.Helper()
	f := providerstest.NewRoute53(t,
		providerstest.Weighted("backend.example.com.", "CNAME", "lb-a", 10, 300, "hc-a", "lb-a.example.net."),
		providerstest.Weighted("backend.example.com.", "CNAME", "lb-b", 10, 300, "hc-b", "lb-b.example.net."),
		providerstest.Plain("example.com.", "A", 300, "192.0.2.1"),
		providerstest.Plain("www.example.com.", "A", 300, "192.0.2.1", "192.0.2.2"),
		providerstest.Plain("example.com.", "MX", 3600, "10 mx1.example.com.", "20 mx2.example.com."),
		providerstest.Plain("example.com.", "TXT", 3600, `"v=spf1 -all"`),
	)
	d := f.ServeDNS(t, prefix+".1", prefix+".2", prefix+".3")
	dir := t.TempDir()
	specFile := filepath.Join(dir, "records.yaml")
	if len(change) == 0 {
		change = []string{"{name: backend, type: CNAME, from: [lb-a.example.net., lb-b.example.net.], to: lb-c.example.net.}"}
	}
	hold := "0s"
	if health != "" {
		hold, health = "2s", "health:\n"+health
	}
	if err := os.WriteFile(specFile, fmt.Appendf(nil, `version: 1
kind: records
zone: example.com.
provider: r53
changes:
  - %s
phases: [10, 50, 100]
hold: %s
%srollback: auto
providers:
  r53: {type: route53}
ttl: {lower_to: 60s}
verify: {root: %s, trust_anchor: %s, resolvers: [%s], gate_timeout: 30s}
output: {dir: &out %s, state_dir: *out}
`, change[0], hold, health, d.Root, d.TrustAnchor, d.Resolver, filepath.Join(dir, "migrations")), 0o644); err != nil {
		t.Fatal(err)
	}
	return f, specFile
}

func r53Apply(t *testing.T, specFile string, reverse bool, w io.Writer) (*apply.ChangeLog, error) {
	t.Helper()
	cl, _, err := apply.Apply(context.Background(), apply.ApplyOptions{SpecFile: specFile, Env: os.Getenv, Out: w, Poll: 50 * time.Millisecond, WaitScale: 0.001, Reverse: reverse, NoWatch: true, Force: true,
		NewEnv: func(ctx context.Context, s *spec.Spec) (plan.Env, error) {
			return plan.NewEnv(ctx, s, w, time.Second)
		}})
	return cl, err
}

// A records spec that would change a name Route 53 answers by an alias is
// refused at plan time, naming the alias; so is one on a weighted name
// whose from values are not its sets'.
func TestRoute53RecordsRefuseRules(t *testing.T) {
	f, specFile := r53Cutover(t, "127.75.3", "", "{name: '@', type: AAAA, from: '2001:db8::1', to: '2001:db8::2'}")
	f.Put(providerstest.Route53Set{Name: "example.com.", Type: "AAAA", Alias: &providerstest.Route53Alias{HostedZoneID: "Z35SXDOTRQ7X7K", DNSName: "dualstack.lb-1.eu-west-1.elb.amazonaws.com."}})
	_, err := r53Apply(t, specFile, false, &tlog{t: t})
	if err == nil || !strings.Contains(err.Error(), "example.com. AAAA is answered at r53 by a rule dnsmigrate does not change (alias to dualstack.lb-1.eu-west-1.elb.amazonaws.com.") {
		t.Errorf("a change of an alias: %v", err)
	}
	if n := f.Changes(); n != 0 {
		t.Errorf("%d change batches sent by a refused plan", n)
	}
	f, specFile = r53Cutover(t, "127.75.4", "", "{name: backend, type: CNAME, from: lb-a.example.net., to: lb-c.example.net.}")
	_, err = r53Apply(t, specFile, false, &tlog{t: t})
	if err == nil || !strings.Contains(err.Error(), "backend.example.com. CNAME is [lb-a.example.net. lb-b.example.net.] at r53, neither from") {
		t.Errorf("from values that are not the weighted sets': %v", err)
	}
	if n := f.Changes(); n != 0 {
		t.Errorf("%d change batches sent by a refused plan", n)
	}
}

// Route 53 throttling every request from the middle of a cutover (once
// lower-ttl starts) stops apply after the SDK's retries, naming the step
// and the API's error, the record set untouched; once the API answers
// again, apply finishes the cutover.
func TestRoute53ThrottledMidStepThenResume(t *testing.T) {
	f, specFile := r53Cutover(t, "127.75.8", "", "{name: www, type: A, from: [192.0.2.1, 192.0.2.2], to: 198.51.100.1}")
	_, err := r53Apply(t, specFile, false, &onLine{t: t, mark: "lower-ttl: ", act: func() { f.Throttle(1000) }})
	if err == nil || !strings.Contains(err.Error(), "lower-ttl") || !strings.Contains(err.Error(), "Throttling") {
		t.Fatalf("apply with Route 53 throttling: %v", err)
	}
	if got := strings.Join(f.State("www.example.com.", "A"), "|"); !strings.Contains(got, "300") || strings.Contains(got, "198.51.100.1") {
		t.Errorf("www A after the stop: %s, want it untouched (TTL 300, old values)", got)
	}
	f.Throttle(0)
	cl, err := r53Apply(t, specFile, false, &tlog{t: t})
	if err != nil || cl.Result != "completed" {
		t.Fatalf("apply again: %v", err)
	}
	if got := strings.Join(f.State("www.example.com.", "A"), "|"); !strings.Contains(got, "198.51.100.1") || strings.Contains(got, "192.0.2.1") {
		t.Errorf("www A after apply again: %s", got)
	}
}
