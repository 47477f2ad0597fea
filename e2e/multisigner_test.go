package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// writeMultiSignerSpec writes the spec of a keep-secure move of the lab
// zone between Knot (provider NEW, which keeps a DNSKEY added by RFC 2136)
// and PowerDNS (through its HTTP API): from knot to pdns, or back.
func writeMultiSignerSpec(t testing.TB, l *lab.Lab, toKnot bool) string {
	t.Helper()
	from, to := "knot", "pdns"
	fromNS, toNS := lab.NewNS, lab.PDNSNS
	if toKnot {
		from, to, fromNS, toNS = to, from, toNS, fromNS
	}
	text := fmt.Sprintf(`version: 1
zone: %s
kind: nameservers
dnssec: multi-signer
from: {provider: %s, nameservers: [%s, %s]}
to:   {provider: %s, nameservers: [%s, %s]}
registrar:
  type: rfc2136
  server: %s
  tsig: {name: %s, algorithm: hmac-sha256, secret_file: %s}
providers:
  knot: {type: rfc2136, server: %s, dnskey_import: true, tsig: {name: %s, algorithm: hmac-sha256, secret_file: %s}}
  pdns: {type: powerdns, endpoint: %s, token_file: %s}
ttl: {lower_to: 10s, restore: true}
safety_margin: 10%%
verify:
  root: %s
  trust_anchor: %s
  resolvers: [%s]
  gate_timeout: 2m
output: {dir: &out %s, state_dir: *out}
`, lab.Zone, from, fromNS[0], fromNS[1], to, toNS[0], toNS[1],
		l.Addr(lab.RoleTLD), l.Keys[lab.KeyRegistrar].Name, l.Keys[lab.KeyRegistrar].File,
		l.Addr(lab.RoleNew1), l.Keys[lab.KeyNew].Name, l.Keys[lab.KeyNew].File,
		l.PDNSAPI(), l.Keys[lab.KeyPDNSAPI].File,
		l.Addr(lab.RoleRoot), l.TrustAnchor, strings.Join(honestResolvers(l), ", "),
		filepath.Join(t.TempDir(), "migrations"))
	p := filepath.Join(t.TempDir(), "spec.yaml")
	must(t.(*testing.T), os.WriteFile(p, []byte(text), 0o644))
	return p
}

// A keep-secure move while a prober asks every honest resolver every 100
// ms: every answer of every validating resolver carries AD from before
// the first step to after the last, with no error; the parent ends with
// exactly the new host's DS and the new host publishes only its own
// keys; the old host is then switched off with the prober still seeing
// AD. Both ways: Knot -> PowerDNS and PowerDNS -> Knot.
func TestMultiSignerMove(t *testing.T) {
	labtest.Require(t)
	for _, tc := range []struct {
		name, prefix string
		toKnot       bool
	}{{"knot to powerdns", "127.86.0.0/24", false}, {"powerdns to knot", "127.87.0.0/24", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, cl, p, err := moveMultiSigner(t, tc.prefix, tc.toKnot, 1, 20*time.Second)
			if err != nil {
				t.Fatalf("apply: %v\nprober: %s", err, p)
			}
			if p.failures() != 0 {
				t.Errorf("a validating resolver lost AD or an answer failed during the keep-secure move: %s", p)
			}
			var steps []string
			for _, s := range cl.Steps {
				steps = append(steps, s.ID)
			}
			for _, want := range []string{plan.StepImportZSK, plan.StepAddDS, plan.StepSwitchNS, plan.StepRemoveOldDS, plan.StepRemoveOldZSK} {
				if !slices.Contains(steps, want) {
					t.Errorf("change log lacks %s: %v", want, steps)
				}
			}
			newRole, newNS := lab.RolePDNS1, lab.PDNSNS
			if tc.toKnot {
				newRole, newNS = lab.RoleNew1, lab.NewNS
			}
			signerEndState(t, l, newRole, newNS, newRole) // the old host is off
		})
	}
}

// The same move with every wait cut to nothing, Knot switched off at the
// end and 40 s more probed: validating resolvers fail (all four
// implementations answered SERVFAIL, the plain resolver never did: the
// failures are validation failures, which the waits prevent).
func TestMultiSignerTooShortWaitsFail(t *testing.T) {
	labtest.Require(t)
	t.Parallel()
	_, _, p, err := moveMultiSigner(t, "127.88.0.0/24", false, 0.0001, 40*time.Second)
	t.Logf("apply with waits cut: %v; prober: %s", err, p)
	if p.failures() == 0 {
		t.Errorf("no failure seen with waits cut short: the prober cannot see what the waits prevent (%s)", p)
	}
}

// moveMultiSigner starts a lab delegated to the move's old host, applies
// the keep-secure move with its waits scaled while a prober requires AD,
// switches the old host off at its retire time and probes for after more.
func moveMultiSigner(t *testing.T, prefix string, toKnot bool, scale float64, after time.Duration) (*lab.Lab, *apply.ChangeLog, *prober, error) {
	t.Helper()
	ctx := context.Background()
	delegate, oldRoles := lab.DelegateNew, []lab.Role{lab.RoleNew1, lab.RoleNew2}
	if toKnot {
		delegate, oldRoles = lab.DelegatePDNS, []lab.Role{lab.RolePDNS1, lab.RolePDNS2}
	}
	l := labDelegatedTo(t, prefix, delegate)
	specFile := writeMultiSignerSpec(t, l, toKnot)

	p, stop := watchResolvers(l)
	time.Sleep(300 * time.Millisecond)
	p.requireAD()
	start := time.Now()
	cl, _, err := apply.Apply(ctx, apply.ApplyOptions{SpecFile: specFile, Env: os.Getenv, Out: &tlog{t: t}, Poll: 200 * time.Millisecond, WaitScale: scale,
		NewEnv: func(ctx context.Context, s *spec.Spec) (plan.Env, error) {
			return plan.NewEnv(ctx, s, &tlog{t: t}, time.Second)
		}})
	wall := time.Since(start)
	if cl != nil && cl.RetireOld != nil {
		if d := time.Until(time.Time(*cl.RetireOld)); d > 0 && scale == 1 {
			time.Sleep(d)
		}
	}
	for _, r := range oldRoles {
		must(t, l.Stop(ctx, r))
	}
	time.Sleep(after)
	stop()
	t.Logf("multi-signer move in %s; prober: %s", wall.Round(time.Second), p)
	return l, cl, p, err
}

// A keep-secure move stopped once the delegation is on PowerDNS (both DS
// published, each host holding the other's ZSK) and rolled back: the
// rollback is a multi-signer move back to Knot, every validating answer
// keeps AD throughout, and the zone ends on Knot with only Knot's DS and
// keys.
func TestMultiSignerRollback(t *testing.T) {
	labtest.Require(t)
	t.Parallel()
	ctx := context.Background()
	l := labDelegatedTo(t, "127.89.0.0/24", lab.DelegateNew)
	specFile := writeMultiSignerSpec(t, l, false)
	newEnv := func(ctx context.Context, s *spec.Spec) (plan.Env, error) {
		return plan.NewEnv(ctx, s, &tlog{t: t}, time.Second)
	}
	p, stop := watchResolvers(l)
	time.Sleep(300 * time.Millisecond)
	p.requireAD()

	fctx, cancel := context.WithCancel(ctx)
	out := &stopAt{t: t, line: "wait-ns: waiting until", cancel: cancel}
	if _, _, err := apply.Apply(fctx, apply.ApplyOptions{SpecFile: specFile, Env: os.Getenv, Out: out, Poll: 200 * time.Millisecond, NewEnv: newEnv}); err == nil {
		t.Fatal("the forward move was not stopped")
	}
	// Mid-move (both DS published, the delegation on PowerDNS, each host
	// holding the other's ZSK), migrate check finds the zone secure.
	if rep := check(t, l, lab.Zone); rep.Status != checks.Secure || slices.ContainsFunc(rep.Findings, func(f checks.Finding) bool { return f.Severity == checks.Critical }) {
		t.Errorf("check mid-move: %s %v", rep.Status, ids(rep))
	}
	cl, _, err := apply.Apply(ctx, apply.ApplyOptions{SpecFile: specFile, Env: os.Getenv, Out: &tlog{t: t}, Poll: 200 * time.Millisecond, NewEnv: newEnv, Reverse: true})
	if err != nil {
		stop()
		t.Fatalf("rollback: %v\nprober: %s", err, p)
	}
	time.Sleep(10 * time.Second)
	stop()
	t.Logf("prober: %s", p)
	if p.failures() != 0 {
		t.Errorf("a validating resolver lost AD or an answer failed during the stop and the rollback: %s", p)
	}
	var steps []string
	for _, s := range cl.Steps {
		steps = append(steps, s.ID)
	}
	if !slices.Contains(steps, plan.StepRemoveOldDS) || !slices.Contains(steps, plan.StepRemoveOldZSK) {
		t.Errorf("the rollback was not a multi-signer move back: %v", steps)
	}
	signerEndState(t, l, lab.RoleNew1, lab.NewNS, lab.RoleNew1, lab.RolePDNS1)
}

// labDelegatedTo starts a fresh lab at prefix with the zone delegated to
// the provider to (lab.DelegateNew, lab.DelegatePDNS), down at cleanup.
func labDelegatedTo(t *testing.T, prefix, to string) *lab.Lab {
	t.Helper()
	ctx := context.Background()
	cfg := lab.Config{Prefix: prefix, DelegateTo: to}
	_ = lab.Down(ctx, cfg)
	l, err := lab.Up(ctx, cfg)
	must(t, err)
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	return l
}

// signerEndState checks the zone ended on one signer: secure, the parent
// delegating to ns with only the DS of the KSK role serves, and each of
// the hosts (their first servers; the ones still running) publishing its
// own two keys only.
func signerEndState(t *testing.T, l *lab.Lab, role lab.Role, ns [2]string, hosts ...lab.Role) {
	t.Helper()
	ctx := context.Background()
	ds, err := l.LiveDS(ctx, role, lab.Zone)
	must(t, err)
	a, _ := checks.LoadAnchors(l.TrustAnchor)
	rep, err := checks.New(checks.Options{Roots: []string{l.Addr(lab.RoleRoot)}, Anchors: &a, Resolvers: []string{l.Addr(lab.RoleValidating)}, Timeout: time.Second}).Check(ctx, lab.Zone)
	must(t, err)
	if rep.Status != checks.Secure {
		t.Errorf("end state: %s %v", rep.Status, ids(rep))
	}
	for _, ps := range rep.ParentServers {
		if !slices.Equal(ps.NS, ns[:]) || len(ps.DS) != 1 || !strings.EqualFold(ps.DS[0], checks.RRData(ds[0])) {
			t.Errorf("parent %s: NS %v DS %v, want %v and only the DS of %s's KSK", ps.Server, ps.NS, ps.DS, ns, role)
		}
	}
	for _, r := range hosts {
		reply := checks.NewClient(0, 1).Ask(ctx, checks.Question{Server: l.Addr(r), Name: lab.Zone, Type: dns.TypeDNSKEY})
		if keys, _ := checks.RRsetOf(reply, lab.Zone, dns.TypeDNSKEY); len(keys) != 2 {
			t.Errorf("%s serves %d DNSKEYs, want its own two: %v", r, len(keys), keys)
		}
	}
}
