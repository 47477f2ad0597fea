package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/miekg/dns"
)

// labSpec writes a spec moving the shared lab's example.lab. to NEW.
func labSpec(t *testing.T, l *lab.Lab) (string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "migrations")
	key := func(n string) string {
		return fmt.Sprintf("{name: %s, algorithm: hmac-sha256, secret_file: %s}", l.Keys[n].Name, l.Keys[n].File)
	}
	spec := fmt.Sprintf(`version: 1
zone: example.lab.
kind: nameservers
dnssec: insecure-window
from: {provider: old, nameservers: [%s, %s]}
to: {provider: new, nameservers: [%s, %s]}
registrar: {type: rfc2136, server: %s, tsig: %s}
providers:
  old: {type: rfc2136, server: %s, tsig: %s}
  new: {type: rfc2136, server: %s, tsig: %s}
ttl: {lower_to: 10s}
verify: {root: %s, trust_anchor: %s, resolvers: [%s, %s], gate_timeout: 30s}
output: {dir: &out %s, state_dir: *out}
`, lab.OldNS[0], lab.OldNS[1], lab.NewNS[0], lab.NewNS[1], l.Addr(lab.RoleTLD), key(lab.KeyRegistrar),
		l.Addr(lab.RoleOld1), key(lab.KeyOld), l.Addr(lab.RoleNew1), key(lab.KeyNew),
		l.Addr(lab.RoleRoot), l.TrustAnchor, l.Addr(lab.RoleValidating), l.Addr(lab.RolePlain), out)
	p := filepath.Join(t.TempDir(), "spec.yaml")
	must(t, os.WriteFile(p, []byte(spec), 0o644))
	return p, filepath.Join(out, "example.lab")
}

func TestPlanAndDryRun(t *testing.T) {
	l := shared.Get(t)
	spec, ws := labSpec(t, l)
	saved := filepath.Join(t.TempDir(), "plan.json")

	code, out, errs := migrate(t, "plan", "-f", spec, "--detailed-exitcode", "--out", saved)
	if code != exitChanges {
		t.Fatalf("plan --detailed-exitcode: exit %d, want 2\n%s%s", code, out, errs)
	}
	for _, want := range []string{"lower-ttl", "wait-ds-gone", "final-verify", "```mermaid", "DS TTL at lab. 10s + old DNSKEY TTL as served at old 30s = 40s, + margin 10% = 44s",
		"max(parent NS TTL 10s, old apex NS TTL as served after lowering 10s) + old DNSKEY TTL as served at old 30s = 40s, + margin 10% = 44s", "handover-ns", "retire-old: old may be switched off"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q", want)
		}
	}
	if code, _, _ := migrate(t, "plan", "-f", spec); code != exitOK {
		t.Errorf("plan without --detailed-exitcode: exit %d, want 0", code)
	}
	code, out, _ = migrate(t, "plan", "-f", spec, "--json")
	var p plan.Plan
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || len(p.Steps) != 13 || p.Steps[0].ID != plan.StepMark || p.Steps[5].ID != plan.StepSwitchNS || p.Steps[11].ID != plan.StepUnmark {
		t.Errorf("plan --json: exit %d, %d steps", code, len(p.Steps))
	}
	for _, k := range l.Keys {
		if strings.Contains(out, k.Secret) {
			t.Fatalf("plan prints the secret of %s", k.Name)
		}
	}

	// A dry run of the saved plan changes nothing and writes its change log.
	code, out, errs = migrate(t, "apply", saved, "--dry-run")
	if code != 0 || !strings.Contains(out, "result: dry-run") {
		t.Fatalf("apply --dry-run: exit %d\n%s%s", code, out, errs)
	}
	md, err := os.ReadFile(filepath.Join(ws, "dry-run-changelog.md"))
	if err != nil || !strings.Contains(string(md), "# Dry run (nothing was changed)") || !strings.Contains(string(md), "dry run: would remove the DS") {
		t.Errorf("dry-run change log: %v\n%s", err, md)
	}
	if _, err := os.Stat(filepath.Join(ws, "journal.jsonl")); !os.IsNotExist(err) {
		t.Errorf("a dry run wrote a journal: %v", err)
	}
	rep := check(t, l)
	if !strings.Contains(rep, "ns1.example.lab. ns2.example.lab.") {
		t.Errorf("the delegation changed in a dry run:\n%s", rep)
	}

	// A saved plan edited into danger is refused, naming the step.
	b, err := os.ReadFile(saved)
	must(t, err)
	edited := filepath.Join(t.TempDir(), "edited.json")
	must(t, os.WriteFile(edited, []byte(strings.ReplaceAll(string(b), `"wait": "44s"`, `"wait": "0s"`)), 0o644))
	code, _, errs = migrate(t, "apply", edited, "--dry-run")
	if code != exitError || !strings.Contains(errs, "saved plan does not match its own inputs") || !strings.Contains(errs, "] wait-ds-gone") || !strings.Contains(errs, "changed after it was planned") {
		t.Errorf("apply of an edited plan: exit %d %q", code, errs)
	}

	// A plan signed with MIGRATE_PLAN_KEY is applied with that key only.
	signed := filepath.Join(t.TempDir(), "signed.json")
	t.Setenv(plan.PlanKeyVar, "ci-key-0123456789abcdef")
	if code, _, errs := migrate(t, "plan", "-f", spec, "--out", signed); code != exitOK || !strings.Contains(errs, "signed with MIGRATE_PLAN_KEY") {
		t.Fatalf("signed plan: exit %d %q", code, errs)
	}
	if code, out, errs := migrate(t, "apply", signed, "--dry-run"); code != exitOK {
		t.Errorf("apply --dry-run of a signed plan with its key: exit %d\n%s%s", code, out, errs)
	}
	t.Setenv(plan.PlanKeyVar, "another-key-0123456789")
	if code, _, errs := migrate(t, "apply", signed, "--dry-run"); code != exitError || !strings.Contains(errs, "was not made with this MIGRATE_PLAN_KEY") {
		t.Errorf("apply of a signed plan with another key: exit %d %q", code, errs)
	}
	if code, _, errs := migrate(t, "apply", saved, "--dry-run"); code != exitError || !strings.Contains(errs, "the plan is not signed") {
		t.Errorf("apply of an unsigned plan with a key set: exit %d %q", code, errs)
	}
	t.Setenv(plan.PlanKeyVar, "")

	// apply PLAN keeps its run where MIGRATE_OUTPUT_DIR says.
	elsewhere := t.TempDir()
	t.Setenv("MIGRATE_OUTPUT_DIR", elsewhere)
	if code, out, errs := migrate(t, "apply", saved, "--dry-run"); code != exitOK {
		t.Errorf("apply --dry-run with MIGRATE_OUTPUT_DIR: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "example.lab", "dry-run-changelog.md")); err != nil {
		t.Errorf("apply PLAN ignored MIGRATE_OUTPUT_DIR: %v", err)
	}
	t.Setenv("MIGRATE_OUTPUT_DIR", "")

	// Not interactive and no --yes: refused before anything happens.
	if code, _, errs := migrate(t, "apply", "-f", spec); code != exitError || !strings.Contains(errs, "--yes") {
		t.Errorf("apply without --yes: exit %d %q", code, errs)
	}

	// A saved plan is refused once the live state drifts.
	ctx := context.Background()
	txt, _ := dns.NewRR(`example.lab. 60 IN TXT "v=spf1 mx -all"`)
	must(t, l.Update(ctx, lab.RoleOld1, lab.Zone, lab.KeyOld, lab.Zone, dns.TypeTXT, []dns.RR{txt}))
	t.Cleanup(func() {
		txt.Header().Ttl = 15
		must(t, l.Update(ctx, lab.RoleOld1, lab.Zone, lab.KeyOld, lab.Zone, dns.TypeTXT, []dns.RR{txt}))
		must(t, l.WaitInSync(ctx))
	})
	must(t, l.WaitInSync(ctx))
	code, _, errs = migrate(t, "apply", saved, "--yes")
	if code != exitError || !strings.Contains(errs, "saved plan is stale") {
		t.Errorf("apply of a stale plan: exit %d %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(ws, "journal.jsonl")); !os.IsNotExist(err) {
		t.Errorf("a refused plan started a journal: %v", err)
	}
}

func check(t *testing.T, l *lab.Lab) string {
	t.Helper()
	_, out, _ := migrate(t, append([]string{"check"}, append(labArgs(l), lab.Zone)...)...)
	return out
}

// A second apply on the same zone is refused while one holds the lock.
func TestApplyLocked(t *testing.T) {
	l := shared.Get(t)
	spec, ws := labSpec(t, l)
	must(t, os.MkdirAll(ws, 0o755))
	lock, err := apply.TakeLock(filepath.Join(ws, "lock"))
	must(t, err)
	defer lock.Release()
	start := time.Now()
	code, _, errs := migrate(t, "apply", "-f", spec, "--yes")
	if code != exitError || !strings.Contains(errs, "another migrate apply is running") {
		t.Errorf("second apply: exit %d %q", code, errs)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("a locked apply waited %s instead of refusing", time.Since(start))
	}
}

// With the DS removed by hand before planning, no DS TTL can be observed:
// wait-ds-gone takes the parent's delegation NS TTL as a stated stand-in,
// plus the old DNSKEY TTL as served, never 0 s.
func TestPlanStandsInForARemovedDS(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	good, err := l.LiveDS(ctx, lab.RoleOld1, lab.Zone)
	must(t, err)
	must(t, l.SetDS(ctx, lab.Zone, nil))
	t.Cleanup(func() {
		if err := l.SetDS(context.Background(), lab.Zone, good); err != nil {
			t.Errorf("restore DS: %v", err)
		}
		if err := l.WaitInSync(context.Background()); err != nil {
			t.Errorf("restore DS: %v", err)
		}
	})
	must(t, l.WaitInSync(ctx))
	spec, _ := labSpec(t, l)
	code, out, errs := migrate(t, "plan", "-f", spec)
	if code != exitOK {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	// Delegation NS TTL 10 s stands in for the DS TTL; OLD's DNSKEY 30 s.
	want := "wait 44s: no DS served now; stand-in: the delegation NS TTL at lab. 10s (a parent's DS TTL is typically at most its NS TTL) + old DNSKEY TTL as served at old 30s = 40s, + margin 10% = 44s"
	if !strings.Contains(out, want) {
		t.Errorf("plan with the DS removed by hand lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "DS TTL at lab. 0s") {
		t.Errorf("plan counts an unobserved DS TTL as 0:\n%s", out)
	}
}

// A wrong registrar secret is found by plan, and by apply of a plan made
// with the right one (in CI, say) before anything changes.
func TestWrongRegistrarKeyRefusedBeforeAnyChange(t *testing.T) {
	l := shared.Get(t)
	specFile, ws := labSpec(t, l)
	text, err := os.ReadFile(specFile)
	must(t, err)
	reg := l.Keys[lab.KeyRegistrar]
	must(t, os.WriteFile(specFile, []byte(strings.Replace(string(text), "secret_file: "+reg.File, "secret_env: TEST_REGISTRAR_SECRET", 1)), 0o644))
	const wrong = "d3Jvbmcgc2VjcmV0IG9mIDMyIGJ5dGVzIGxvbmcgISE="

	t.Setenv("TEST_REGISTRAR_SECRET", wrong)
	code, _, errs := migrate(t, "plan", "-f", specFile)
	if code != exitError || !strings.Contains(errs, "registrar (rfc2136): its credentials were refused") || !strings.Contains(errs, l.Addr(lab.RoleTLD)) {
		t.Errorf("plan with a wrong registrar key: exit %d %q", code, errs)
	}

	t.Setenv("TEST_REGISTRAR_SECRET", reg.Secret)
	saved := filepath.Join(t.TempDir(), "plan.json")
	if code, out, errs := migrate(t, "plan", "-f", specFile, "--out", saved); code != exitOK {
		t.Fatalf("plan with the right key: exit %d\n%s%s", code, out, errs)
	}
	t.Setenv("TEST_REGISTRAR_SECRET", wrong)
	code, _, errs = migrate(t, "apply", saved, "--yes")
	if code != exitError || !strings.Contains(errs, "credentials refused before any change") || !strings.Contains(errs, "registrar (rfc2136)") {
		t.Errorf("apply of a saved plan with a wrong registrar key: exit %d %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(ws, "journal.jsonl")); !os.IsNotExist(err) {
		t.Errorf("a refused apply started a journal: %v", err)
	}
}
