package plan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/miekg/dns"
)

// freshLab starts a lab of the test's own, taken down at cleanup: a
// migration changes the lab for good.
func freshLab(t testing.TB, prefix string) *lab.Lab {
	t.Helper()
	labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_ = lab.Down(ctx, lab.Config{Prefix: prefix})
	l, err := lab.Up(ctx, lab.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	return l
}

// writeSpec writes the lab migration spec (OLD to NEW, signed) for l.
func writeSpec(t testing.TB, l *lab.Lab, dnssec string, gateTimeout time.Duration) string {
	t.Helper()
	zone := lab.Zone
	if dnssec == "unsigned" {
		zone = lab.UnsignedZone
	}
	spec := fmt.Sprintf(`version: 1
zone: %s
kind: nameservers
dnssec: %s
from: {provider: old, nameservers: [%s, %s]}
to:   {provider: new, nameservers: [%s, %s]}
registrar:
  type: rfc2136
  server: %s
  tsig: {name: %s, algorithm: hmac-sha256, secret_file: %s}
providers:
  old: {type: rfc2136, server: %s, tsig: {name: %s, algorithm: hmac-sha256, secret_file: %s}}
  new: {type: rfc2136, server: %s, tsig: {name: %s, algorithm: hmac-sha256, secret_file: %s}}
ttl: {lower_to: 10s, restore: true}
safety_margin: 10%%
verify:
  root: %s
  trust_anchor: %s
  resolvers: [%s, %s]
  gate_timeout: %s
output: {dir: %s}
`, zone, dnssec, lab.OldNS[0], lab.OldNS[1], lab.NewNS[0], lab.NewNS[1],
		l.Addr(lab.RoleTLD), l.Keys[lab.KeyRegistrar].Name, l.Keys[lab.KeyRegistrar].File,
		l.Addr(lab.RoleOld1), l.Keys[lab.KeyOld].Name, l.Keys[lab.KeyOld].File,
		l.Addr(lab.RoleNew1), l.Keys[lab.KeyNew].Name, l.Keys[lab.KeyNew].File,
		l.Addr(lab.RoleRoot), l.TrustAnchor, l.Addr(lab.RoleValidating), l.Addr(lab.RolePlain),
		gateTimeout, filepath.Join(t.TempDir(), "migrations"))
	p := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// prober is independent of the tool's watchdog: every 100 ms it asks both
// resolvers for the apex A, www A, MX and TXT and checks each answer.
type prober struct {
	queries, servfail, nxdomain, wrong, timeouts, other atomic.Int64
	mu                                                  sync.Mutex
	firstBad                                            []string
}

var expected = map[uint16]string{
	dns.TypeA:   "192.0.2.80",
	dns.TypeMX:  "10 mail.",
	dns.TypeTXT: `"v=spf1 mx -all"`,
}

func (p *prober) run(ctx context.Context, zone string, resolvers []string) {
	c := &dns.Client{Timeout: 2 * time.Second}
	qs := []struct {
		name string
		t    uint16
	}{{zone, dns.TypeA}, {"www." + zone, dns.TypeA}, {zone, dns.TypeMX}, {zone, dns.TypeTXT}}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var wg sync.WaitGroup
		for _, r := range resolvers {
			for _, q := range qs {
				wg.Go(func() { p.one(ctx, c, r, q.name, q.t) })
			}
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *prober) one(ctx context.Context, c *dns.Client, server, name string, t uint16) {
	m := new(dns.Msg)
	m.SetQuestion(name, t)
	m.SetEdns0(1232, true)
	resp, _, err := c.ExchangeContext(ctx, m, server)
	if ctx.Err() != nil {
		return
	}
	p.queries.Add(1)
	bad := ""
	switch {
	case err != nil:
		p.timeouts.Add(1)
		bad = err.Error()
	case resp.Rcode == dns.RcodeServerFailure:
		p.servfail.Add(1)
		bad = "SERVFAIL"
	case resp.Rcode == dns.RcodeNameError:
		p.nxdomain.Add(1)
		bad = "NXDOMAIN"
	case resp.Rcode != dns.RcodeSuccess:
		p.other.Add(1)
		bad = dns.RcodeToString[resp.Rcode]
	default:
		ok := false
		for _, rr := range resp.Answer {
			if rr.Header().Rrtype == t && strings.Contains(rr.String(), expected[t]) {
				ok = true
			}
		}
		if !ok {
			p.wrong.Add(1)
			bad = fmt.Sprintf("wrong answer %v", resp.Answer)
		}
	}
	if bad != "" {
		p.mu.Lock()
		if len(p.firstBad) < 5 {
			p.firstBad = append(p.firstBad, fmt.Sprintf("%s %s %s %s: %s", time.Now().Format("15:04:05.000"), server, name, dns.TypeToString[t], bad))
		}
		p.mu.Unlock()
	}
}

func (p *prober) failures() int64 {
	return p.servfail.Load() + p.nxdomain.Load() + p.wrong.Load() + p.timeouts.Load() + p.other.Load()
}

func (p *prober) String() string {
	return fmt.Sprintf("%d queries: %d SERVFAIL, %d NXDOMAIN, %d wrong, %d timeouts, %d other; first: %v",
		p.queries.Load(), p.servfail.Load(), p.nxdomain.Load(), p.wrong.Load(), p.timeouts.Load(), p.other.Load(), p.firstBad)
}

// migrate applies spec in-process while a prober watches, from before the
// first change until after. When apply returns, the old provider is
// decommissioned (both its servers stopped), as operators do once a move
// is done: only resolvers still sent to it by their caches can fail then.
func migrate(t testing.TB, l *lab.Lab, spec string, scale float64, after time.Duration) (*plan.ChangeLog, *prober, time.Duration, error) {
	t.Helper()
	p := &prober{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	zone := lab.Zone
	go func() { p.run(ctx, zone, []string{l.Addr(lab.RoleValidating), l.Addr(lab.RolePlain)}); close(done) }()
	time.Sleep(300 * time.Millisecond) // the prober is answering before anything changes
	start := time.Now()
	cl, _, err := plan.Apply(context.Background(), plan.ApplyOptions{
		SpecFile: spec, Env: os.Getenv, Out: &tlog{t: t}, WaitScale: scale, Poll: 200 * time.Millisecond,
		NewEnv: func(ctx context.Context, s *plan.Spec) (plan.Env, error) {
			return plan.NewEnv(ctx, s, &tlog{t: t}, time.Second)
		},
	})
	wall := time.Since(start)
	for _, r := range []lab.Role{lab.RoleOld1, lab.RoleOld2} {
		if serr := l.Stop(context.Background(), r); serr != nil {
			t.Error(serr)
		}
	}
	time.Sleep(after)
	stop()
	<-done
	return cl, p, wall, err
}

type tlog struct{ t testing.TB }

func (w *tlog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
