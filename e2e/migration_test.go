package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// endState checks the lab after a migration: every parent server
// delegates to NEW with a DS of NEW's KSK, and the validating resolver
// answers with AD.
func endState(t *testing.T, l *lab.Lab) {
	t.Helper()
	a, err := checks.LoadAnchors(l.TrustAnchor)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := checks.New(checks.Options{Roots: []string{l.Addr(lab.RoleRoot)}, Anchors: &a,
		Resolvers: []string{l.Addr(lab.RoleValidating)}, Timeout: time.Second}).Check(context.Background(), lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	newDS, err := l.LiveDS(context.Background(), lab.RoleNew1, lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(checks.RRData(newDS[0]))[3]
	for _, p := range rep.ParentServers {
		if !slices.Equal(p.NS, lab.NewNS[:]) || len(p.DS) != 1 || !strings.Contains(p.DS[0], want) {
			t.Errorf("parent %s serves NS %v DS %v; want %v and the DS of NEW's KSK", p.Server, p.NS, p.DS, lab.NewNS)
		}
	}
	if rep.Status != checks.Secure || len(rep.Resolvers) != 1 || !rep.Resolvers[0].AD {
		t.Errorf("end state: %s, resolvers %+v", rep.Status, rep.Resolvers)
	}
}

// sentOnce checks the servers' own change history after a whole signed
// migration: each change was received once. The registry: 1 update at lab
// start and 3 (remove DS, switch NS, add DS); OLD 5 (the marker, lower
// TTLs, hand its apex NS over, restore TTLs, no marker); NEW 4 (the
// marker, lower and restore TTLs, no marker).
func sentOnce(t *testing.T, l *lab.Lab) {
	t.Helper()
	for _, c := range []struct {
		role lab.Role
		zone string
		want int
	}{{lab.RoleTLD, lab.TLD, 4}, {lab.RoleOld1, lab.Zone, 5}, {lab.RoleNew1, lab.Zone, 4}} {
		if n, err := l.UpdateMessages(c.role, c.zone); err != nil || n != c.want {
			t.Errorf("%s took %d update messages for %s (err %v), want %d", c.role, n, c.zone, err, c.want)
		}
	}
}

// TestMigrationNoOutage is the acceptance test: OLD (BIND) to NEW (Knot),
// signed on both sides, while an independent prober asks both resolvers
// every 100 ms: no SERVFAIL, NXDOMAIN, wrong answer or timeout, neither
// during the move nor after OLD is switched off at its end.
func TestMigrationNoOutage(t *testing.T) {
	t.Parallel()
	l := freshLab(t, "127.65.0.0/24")
	cl, p, wall, err := migrate(t, l, writeSpec(t, l, "insecure-window", time.Minute), 1, 15*time.Second)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Logf("prober: %s; wall %s", p, wall)
	if p.queries.Load() < 1000 {
		t.Errorf("the prober asked only %d questions", p.queries.Load())
	}
	if p.failures() != 0 {
		t.Errorf("outage seen by the prober: %s", p)
	}
	if cl.Result != "completed" || cl.Watchdog == nil || cl.Watchdog.Queries == 0 || len(cl.Watchdog.Failures) != 0 {
		t.Errorf("change log: result %s, watchdog %+v", cl.Result, cl.Watchdog)
	}
	for _, s := range cl.Steps {
		if s.State != "done" || time.Duration(s.WaitTaken) < time.Duration(s.WaitPlanned) {
			t.Errorf("step %s: %s, wait taken %s of %s planned", s.ID, s.State, s.WaitTaken, s.WaitPlanned)
		}
	}
	endState(t, l)
	sentOnce(t, l)
}

// TestMigrationTooShortWaitsCauseOutage proves the prober can see an
// outage: the same migration with every wait cut to nothing. Unbound
// heals validation failures by fetching DS and DNSKEY again while OLD still
// serves, so the outage shows when OLD is switched off at the end, while
// resolvers' caches still send them there.
func TestMigrationTooShortWaitsCauseOutage(t *testing.T) {
	t.Parallel()
	l := freshLab(t, "127.66.0.0/24")
	_, p, _, err := migrate(t, l, writeSpec(t, l, "insecure-window", 90*time.Second), 0.0001, 40*time.Second)
	t.Logf("apply with waits cut: %v; prober: %s", err, p)
	if p.servfail.Load()+p.wrong.Load()+p.nxdomain.Load() == 0 {
		t.Errorf("no failure seen with waits cut short: the prober cannot see an outage (%s)", p)
	}
}

// The plan is refused, with reasons, when the new provider lacks a record.
func TestPlanRefusesWithoutParity(t *testing.T) {
	t.Parallel()
	l := freshLab(t, "127.68.0.0/24")
	ctx := context.Background()
	if err := l.Update(ctx, lab.RoleNew1, lab.Zone, lab.KeyNew, "mail."+lab.Zone, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitInSync(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := spec.Load(writeSpec(t, l, "insecure-window", time.Minute), nil)
	if err != nil {
		t.Fatal(err)
	}
	env, err := plan.NewEnv(context.Background(), s, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := plan.Observe(ctx, env, s)
	if err != nil {
		t.Fatal(err)
	}
	_, err = plan.Build(s, obs, time.Now())
	if !plan.IsNotSafe(err) || !strings.Contains(err.Error(), "zone parity: the new provider has no mail.example.lab. A") || !strings.Contains(err.Error(), l.Addr(lab.RoleNew2)) {
		t.Errorf("plan without parity: %v", err)
	}
}
