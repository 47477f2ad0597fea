package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

const names = 20

func svc(i int) string   { return fmt.Sprintf("svc%02d.%s", i, lab.Zone) }
func oldIP(i int) string { return fmt.Sprintf("192.0.2.%d", 100+i) }
func newIP(i int) string { return fmt.Sprintf("198.51.100.%d", 100+i) }

// addServices gives the lab zone 20 service names on their old addresses.
func addServices(t *testing.T, l *lab.Lab) {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= names; i++ {
		rr, _ := dns.NewRR(fmt.Sprintf("%s 15 IN A %s", svc(i), oldIP(i)))
		if err := l.Update(ctx, lab.RoleOld1, lab.Zone, lab.KeyOld, svc(i), dns.TypeA, []dns.RR{rr}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WaitInSync(ctx); err != nil {
		t.Fatal(err)
	}
}

func recordsSpec(t *testing.T, l *lab.Lab, health string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nkind: records\nzone: %s\nprovider: old\nchanges:\n", lab.Zone)
	for i := names; i >= 1; i-- { // out of order: the plan sorts
		fmt.Fprintf(&b, "  - {name: svc%02d, type: A, from: %s, to: [%s]}\n", i, oldIP(i), newIP(i))
	}
	k := l.Keys[lab.KeyOld]
	fmt.Fprintf(&b, `phases: [10, 50, 100]
hold: 3s
health:
%srollback: auto
providers:
  old: {type: rfc2136, server: %s, tsig: {name: %s, algorithm: hmac-sha256, secret_file: %s}}
ttl: {lower_to: 5s}
verify: {root: %s, trust_anchor: %s, resolvers: [%s, %s], gate_timeout: 60s}
output: {dir: &out %s, state_dir: *out}
`, health, l.Addr(lab.RoleOld1), k.Name, k.File, l.Addr(lab.RoleRoot), l.TrustAnchor,
		l.Addr(lab.RoleValidating), l.Addr(lab.RolePlain), filepath.Join(t.TempDir(), "migrations"))
	p := filepath.Join(t.TempDir(), "records.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// cutoverProber asks both resolvers for every service name every 100 ms:
// each answer must be the name's old or new address, never anything else.
type cutoverProber struct {
	queries, bad atomic.Int64
	mu           sync.Mutex
	first        []string
}

func (p *cutoverProber) run(ctx context.Context, resolvers []string) {
	c := &dns.Client{Timeout: 2 * time.Second}
	for {
		var wg sync.WaitGroup
		for _, r := range resolvers {
			for i := 1; i <= names; i++ {
				wg.Go(func() {
					m := new(dns.Msg)
					m.SetQuestion(svc(i), dns.TypeA)
					resp, _, err := c.ExchangeContext(ctx, m, r)
					if ctx.Err() != nil {
						return
					}
					p.queries.Add(1)
					ok := err == nil && resp.Rcode == dns.RcodeSuccess && len(resp.Answer) == 1
					if ok {
						a := resp.Answer[0].(*dns.A).A.String()
						ok = a == oldIP(i) || a == newIP(i)
					}
					if !ok {
						p.bad.Add(1)
						p.mu.Lock()
						if len(p.first) < 5 {
							p.first = append(p.first, fmt.Sprintf("%s %s: %v %v", r, svc(i), err, resp))
						}
						p.mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// answers returns what the lab's OLD primary serves for each service name.
func answers(t *testing.T, l *lab.Lab) map[int]string {
	t.Helper()
	out := map[int]string{}
	for i := 1; i <= names; i++ {
		m := new(dns.Msg)
		m.SetQuestion(svc(i), dns.TypeA)
		resp, _, err := (&dns.Client{Net: "tcp"}).Exchange(m, l.Addr(lab.RoleOld2))
		if err != nil || len(resp.Answer) == 0 {
			t.Fatalf("%s: %v %v", svc(i), err, resp)
		}
		for _, rr := range resp.Answer {
			if a, ok := rr.(*dns.A); ok {
				out[i] = a.A.String()
			}
		}
	}
	return out
}

// healthTarget is a local HTTP service the cutover's health checks watch.
func healthTarget(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	return srv, fmt.Sprintf("  - {type: http, url: %q, expect_status: 200, interval: 1s, failures_allowed: 1}\n  - {type: tcp, address: %q, interval: 1s}\n", srv.URL+"/healthz", host)
}

func cutover(t *testing.T, l *lab.Lab, specFile string, out *stopAt) (*apply.ChangeLog, *cutoverProber, error) {
	t.Helper()
	p := &cutoverProber{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.run(ctx, honestResolvers(l)); close(done) }()
	var w interface{ Write([]byte) (int, error) } = &tlog{t: t}
	if out != nil {
		w = out
	}
	cl, _, err := apply.Apply(context.Background(), apply.ApplyOptions{SpecFile: specFile, Env: os.Getenv, Out: w, Poll: 200 * time.Millisecond, Force: true,
		NewEnv: func(ctx context.Context, s *spec.Spec) (plan.Env, error) {
			return plan.NewEnv(ctx, s, w, time.Second)
		}})
	time.Sleep(2 * time.Second)
	stop()
	<-done
	return cl, p, err
}

// TestRecordsCutover moves 20 names in phases 10/50/100 with health gates
// while both resolvers are probed: every answer is the old or the new
// value; the change log holds each phase's propagation verdicts.
func TestRecordsCutover(t *testing.T) {
	t.Parallel()
	l := freshLab(t, "127.72.0.0/24")
	addServices(t, l)
	_, health := healthTarget(t)
	specFile := recordsSpec(t, l, health)

	// Without --force, changing 20 of the zone's records is refused.
	s, err := spec.Load(specFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	env, err := plan.NewEnv(context.Background(), s, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := plan.Observe(context.Background(), env, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Build(s, obs, time.Now()); !plan.IsNotSafe(err) || !strings.Contains(err.Error(), "more than 30%") {
		t.Fatalf("plan without --force: %v", err)
	}

	cl, p, err := cutover(t, l, specFile, nil)
	if err != nil {
		t.Fatalf("cutover: %v", err)
	}
	t.Logf("prober: %d queries, %d bad %v", p.queries.Load(), p.bad.Load(), p.first)
	if p.bad.Load() != 0 || p.queries.Load() < 1000 {
		t.Errorf("prober: %d queries, %d neither old nor new: %v", p.queries.Load(), p.bad.Load(), p.first)
	}
	var ids []string
	verdicts := 0
	for _, s := range cl.Steps {
		ids = append(ids, s.ID)
		if strings.HasPrefix(s.ID, "verify-phase-") {
			for _, e := range s.Evidence {
				if strings.HasPrefix(e.Note, "updated") {
					verdicts++
				}
			}
		}
	}
	if got := strings.Join(ids, " "); got != "lower-ttl wait-ttl health-check phase-1 verify-phase-1 hold-phase-1 phase-2 verify-phase-2 hold-phase-2 phase-3 verify-phase-3 hold-phase-3 restore-ttl final-verify" {
		t.Errorf("steps: %s", got)
	}
	// Phases move 2, then 8 more, then 10 more names; each verified at 2 resolvers.
	if verdicts != 2*(2+10+20) {
		t.Errorf("%d updated verdicts in the change log, want %d", verdicts, 2*(2+10+20))
	}
	for i, a := range answers(t, l) {
		if a != newIP(i) {
			t.Errorf("%s ends on %s, want %s", svc(i), a, newIP(i))
		}
	}
}

// TestRecordsCutoverRollsBack: the health target goes down in phase 2; the
// cutover rolls back by itself and every name ends on its old value.
func TestRecordsCutoverRollsBack(t *testing.T) {
	t.Parallel()
	l := freshLab(t, "127.73.0.0/24")
	addServices(t, l)
	srv, health := healthTarget(t)
	specFile := recordsSpec(t, l, health)
	out := &stopAt{t: t, line: "phase-2: move", cancel: func() { srv.Close() }}
	cl, p, err := cutover(t, l, specFile, out)
	if err == nil || !strings.Contains(err.Error(), "rolled back automatically") {
		t.Fatalf("cutover with a dead health target: %v", err)
	}
	if p.bad.Load() != 0 {
		t.Errorf("prober: %d answers neither old nor new: %v", p.bad.Load(), p.first)
	}
	if cl.Result != "failed" || !strings.Contains(cl.RolledBack, "svc01") {
		t.Errorf("change log: result %s, rolled back %q", cl.Result, cl.RolledBack)
	}
	for i, a := range answers(t, l) {
		if a != oldIP(i) {
			t.Errorf("%s ends on %s after the rollback, want %s", svc(i), a, oldIP(i))
		}
	}
}
