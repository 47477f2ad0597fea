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
// zone from Knot (provider NEW, which keeps a DNSKEY added by RFC 2136) to
// PowerDNS (through its HTTP API).
func writeMultiSignerSpec(t testing.TB, l *lab.Lab) string {
	t.Helper()
	text := fmt.Sprintf(`version: 1
zone: %s
kind: nameservers
dnssec: multi-signer
from: {provider: knot, nameservers: [%s, %s]}
to:   {provider: pdns, nameservers: [%s, %s]}
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
`, lab.Zone, lab.NewNS[0], lab.NewNS[1], lab.PDNSNS[0], lab.PDNSNS[1],
		l.Addr(lab.RoleTLD), l.Keys[lab.KeyRegistrar].Name, l.Keys[lab.KeyRegistrar].File,
		l.Addr(lab.RoleNew1), l.Keys[lab.KeyNew].Name, l.Keys[lab.KeyNew].File,
		l.PDNSAPI(), l.Keys[lab.KeyPDNSAPI].File,
		l.Addr(lab.RoleRoot), l.TrustAnchor, strings.Join(honestResolvers(l), ", "),
		filepath.Join(t.TempDir(), "migrations"))
	p := filepath.Join(t.TempDir(), "spec.yaml")
	must(t.(*testing.T), os.WriteFile(p, []byte(text), 0o644))
	return p
}

// Knot -> PowerDNS with dnssec: multi-signer while a prober asks every
// honest resolver every 100 ms: every answer of every validating resolver
// carries AD from before the first step to after the last, with no error;
// the parent ends with exactly PowerDNS's DS; Knot is then switched off
// with the prober still seeing AD.
func TestMultiSignerKnotToPowerDNS(t *testing.T) {
	labtest.Require(t)
	t.Parallel()
	ctx := context.Background()
	cfg := lab.Config{Prefix: "127.86.0.0/24", DelegateTo: lab.DelegateNew}
	_ = lab.Down(ctx, cfg)
	l, err := lab.Up(ctx, cfg)
	must(t, err)
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	specFile := writeMultiSignerSpec(t, l)

	p, stop := watchResolvers(l)
	time.Sleep(300 * time.Millisecond)
	p.requireAD()
	start := time.Now()
	cl, _, err := apply.Apply(ctx, apply.ApplyOptions{SpecFile: specFile, Env: os.Getenv, Out: &tlog{t: t}, Poll: 200 * time.Millisecond,
		NewEnv: func(ctx context.Context, s *spec.Spec) (plan.Env, error) {
			return plan.NewEnv(ctx, s, &tlog{t: t}, time.Second)
		}})
	wall := time.Since(start)
	if err != nil {
		stop()
		t.Fatalf("apply: %v\nprober: %s", err, p)
	}
	if cl.RetireOld != nil {
		if d := time.Until(time.Time(*cl.RetireOld)); d > 0 {
			time.Sleep(d)
		}
	}
	for _, r := range []lab.Role{lab.RoleNew1, lab.RoleNew2} {
		must(t, l.Stop(ctx, r))
	}
	time.Sleep(5 * time.Second)
	stop()
	t.Logf("multi-signer move in %s; prober: %s", wall.Round(time.Second), p)
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
	pdnsDS, err := l.LiveDS(ctx, lab.RolePDNS1, lab.Zone)
	must(t, err)
	a, _ := checks.LoadAnchors(l.TrustAnchor)
	rep, err := checks.New(checks.Options{Roots: []string{l.Addr(lab.RoleRoot)}, Anchors: &a, Resolvers: []string{l.Addr(lab.RoleValidating)}, Timeout: time.Second}).Check(ctx, lab.Zone)
	must(t, err)
	for _, ps := range rep.ParentServers {
		if !slices.Equal(ps.NS, lab.PDNSNS[:]) || len(ps.DS) != 1 || !strings.EqualFold(ps.DS[0], checks.RRData(pdnsDS[0])) {
			t.Errorf("parent %s after the move: NS %v DS %v, want %v and PowerDNS's DS only", ps.Server, ps.NS, ps.DS, lab.PDNSNS)
		}
	}
	// PowerDNS no longer publishes Knot's ZSK.
	reply := checks.NewClient(0, 1).Ask(ctx, checks.Question{Server: l.Addr(lab.RolePDNS1), Name: lab.Zone, Type: dns.TypeDNSKEY})
	keys, _ := checks.RRsetOf(reply, lab.Zone, dns.TypeDNSKEY)
	if len(keys) != 2 {
		t.Errorf("PowerDNS serves %d DNSKEYs after the move, want its own KSK and ZSK: %v", len(keys), keys)
	}
}
