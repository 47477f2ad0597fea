package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// freshLab starts a lab of the test's own, taken down at cleanup: a
// migration changes the lab for good.
func freshLab(t testing.TB, prefix string) *lab.Lab {
	t.Helper()
	return freshLabOf(t, lab.Config{Prefix: prefix})
}

// freshLabOf is freshLab with more of the lab's configuration.
func freshLabOf(t testing.TB, cfg lab.Config) *lab.Lab {
	t.Helper()
	labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_ = lab.Down(ctx, cfg)
	l, err := lab.Up(ctx, cfg)
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
	text := fmt.Sprintf(`version: 1
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
  resolvers: [%s]
  gate_timeout: %s
output: {dir: &out %s, state_dir: *out}
`, zone, dnssec, lab.OldNS[0], lab.OldNS[1], lab.NewNS[0], lab.NewNS[1],
		l.Addr(lab.RoleTLD), l.Keys[lab.KeyRegistrar].Name, l.Keys[lab.KeyRegistrar].File,
		l.Addr(lab.RoleOld1), l.Keys[lab.KeyOld].Name, l.Keys[lab.KeyOld].File,
		l.Addr(lab.RoleNew1), l.Keys[lab.KeyNew].Name, l.Keys[lab.KeyNew].File,
		l.Addr(lab.RoleRoot), l.TrustAnchor, strings.Join(honestResolvers(l), ", "),
		gateTimeout, filepath.Join(t.TempDir(), "migrations"))
	p := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// honestResolvers are the lab's four validating implementations and its
// plain resolver (not the sticky one, which breaks the TTL contract).
func honestResolvers(l *lab.Lab) []string {
	var out []string
	for _, r := range append(slices.Clone(lab.ValidatingResolvers), lab.RolePlain) {
		out = append(out, l.Addr(r))
	}
	return out
}

// prober is independent of the tool's watchdog: every 100 ms it asks each
// resolver for the apex A, www A, MX and TXT, and each validating one also
// for the zone's DNSKEY (so that resolvers do cache the old keys during
// the move), and checks each answer. Once adFrom is set, an answer from a
// validating resolver without AD counts as a failure too.
type prober struct {
	queries, servfail, nxdomain, wrong, timeouts, other, noAD atomic.Int64
	validating                                                map[string]lab.Role
	mu                                                        sync.Mutex
	firstBad                                                  []string
	perServer                                                 map[string]*serverCount
	adFrom                                                    atomic.Pointer[time.Time]
	// tolerate names failures that are counted apart (tolerated) and not
	// as failures: a known behaviour of one implementation, reported.
	tolerate  func(server string, qtype uint16, bad string) bool
	tolerated atomic.Int64
}

type serverCount struct{ queries, bad, ad int64 }

var expected = map[uint16]string{
	dns.TypeA:      "192.0.2.80",
	dns.TypeMX:     "10 mail.",
	dns.TypeTXT:    `"v=spf1 mx -all"`,
	dns.TypeDNSKEY: "DNSKEY",
}

// newProber watches every honest resolver of the lab.
func newProber(l *lab.Lab) (*prober, []string) {
	p := &prober{validating: map[string]lab.Role{}, perServer: map[string]*serverCount{}}
	for _, r := range lab.ValidatingResolvers {
		p.validating[l.Addr(r)] = r
	}
	rs := honestResolvers(l)
	for _, r := range rs {
		p.perServer[r] = &serverCount{}
	}
	return p, rs
}

// watchResolvers starts a prober of the lab zone at every honest
// resolver; stop ends it and returns once it has.
func watchResolvers(l *lab.Lab) (p *prober, stop func()) {
	p, resolvers := newProber(l)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.run(ctx, lab.Zone, resolvers); close(done) }()
	return p, func() { cancel(); <-done }
}

// requireAD makes every later validating answer without AD a failure.
func (p *prober) requireAD() {
	now := time.Now()
	p.adFrom.Store(&now)
}

func (p *prober) run(ctx context.Context, zone string, resolvers []string) {
	c := &dns.Client{Timeout: 2 * time.Second}
	type q struct {
		name string
		t    uint16
	}
	qs := []q{{zone, dns.TypeA}, {"www." + zone, dns.TypeA}, {zone, dns.TypeMX}, {zone, dns.TypeTXT}}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var wg sync.WaitGroup
		for _, r := range resolvers {
			rq := qs
			if _, ok := p.validating[r]; ok {
				rq = append(slices.Clone(qs), q{zone, dns.TypeDNSKEY})
			}
			for _, q := range rq {
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
			bad = fmt.Sprintf("wrong answer %v%s", resp.Answer, authorityOf(resp))
		}
	}
	if bad != "" && p.tolerate != nil && p.tolerate(server, t, bad) {
		p.tolerated.Add(1)
		p.undo(bad)
		bad = ""
	}
	_, validating := p.validating[server]
	if from := p.adFrom.Load(); bad == "" && validating && from != nil && time.Now().After(*from) && !resp.AuthenticatedData {
		p.noAD.Add(1)
		bad = "no AD after the move finished"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if sc := p.perServer[server]; sc != nil {
		sc.queries++
		if bad != "" {
			sc.bad++
		}
		if resp != nil && resp.AuthenticatedData {
			sc.ad++
		}
	}
	if bad != "" && len(p.firstBad) < 5 {
		p.firstBad = append(p.firstBad, fmt.Sprintf("%s %s %s %s: %s", time.Now().Format("15:04:05.000"), server, name, dns.TypeToString[t], bad))
	}
}

// authorityOf says what a reply without the expected answer had in its
// authority section (each record's owner and type; an NSEC's type bitmap,
// an RRSIG's signer), so that a resolver's empty answer shows what it
// was built from.
func authorityOf(resp *dns.Msg) string {
	if len(resp.Ns) == 0 {
		return ""
	}
	var parts []string
	for _, rr := range resp.Ns {
		part := rr.Header().Name + " " + dns.TypeToString[rr.Header().Rrtype]
		switch rr := rr.(type) {
		case *dns.NSEC:
			var types []string
			for _, t := range rr.TypeBitMap {
				types = append(types, dns.TypeToString[t])
			}
			part += " [" + strings.Join(types, " ") + "]"
		case *dns.RRSIG:
			part += " by " + rr.SignerName
		}
		parts = append(parts, part)
	}
	return fmt.Sprintf(" (rcode %s, AD %t, authority: %s)", dns.RcodeToString[resp.Rcode], resp.AuthenticatedData, strings.Join(parts, "; "))
}

// undo takes back the count of a failure that is tolerated.
func (p *prober) undo(bad string) {
	switch bad {
	case "SERVFAIL":
		p.servfail.Add(-1)
	case "NXDOMAIN":
		p.nxdomain.Add(-1)
	}
}

func (p *prober) failures() int64 {
	return p.servfail.Load() + p.nxdomain.Load() + p.wrong.Load() + p.timeouts.Load() + p.other.Load() + p.noAD.Load()
}

// byServer counts queries, bad answers and AD answers per resolver.
func (p *prober) byServer() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(p.perServer)) {
		c := p.perServer[s]
		name := string(p.validating[s])
		if name == "" {
			name = "plain"
		}
		parts = append(parts, fmt.Sprintf("%s (%s): %d queries, %d bad, %d with AD", name, s, c.queries, c.bad, c.ad))
	}
	return strings.Join(parts, "; ")
}

func (p *prober) String() string {
	return fmt.Sprintf("%d queries: %d SERVFAIL, %d NXDOMAIN, %d wrong, %d timeouts, %d other, %d without AD after the move, %d tolerated; per resolver: %s; first: %v",
		p.queries.Load(), p.servfail.Load(), p.nxdomain.Load(), p.wrong.Load(), p.timeouts.Load(), p.other.Load(), p.noAD.Load(), p.tolerated.Load(), p.byServer(), p.firstBad)
}

// pollFor is how often a run's gates ask again at most: a benchmark
// measures apply as `migrate apply` runs it (its default, 0 here), a test
// asks every 200 ms to be done sooner.
func pollFor(t testing.TB) time.Duration {
	if _, bench := t.(*testing.B); bench {
		return 0
	}
	return 200 * time.Millisecond
}

// migrate applies spec in-process while a prober watches, from before the
// first change until after. When apply returns, the old provider is
// decommissioned (both its servers stopped), as operators do once a move
// is done: only resolvers still sent to it by their caches can fail then.
func migrate(t testing.TB, l *lab.Lab, specFile string, scale float64, after time.Duration) (*apply.ChangeLog, *prober, time.Duration, error) {
	t.Helper()
	p, resolvers := newProber(l)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	zone := lab.Zone
	go func() { p.run(ctx, zone, resolvers); close(done) }()
	time.Sleep(300 * time.Millisecond) // the prober is answering before anything changes
	start := time.Now()
	cl, _, err := apply.Apply(context.Background(), apply.ApplyOptions{
		SpecFile: specFile, Env: os.Getenv, Out: &tlog{t: t}, WaitScale: scale, Poll: pollFor(t),
		NewEnv: func(ctx context.Context, s *spec.Spec) (plan.Env, error) {
			return plan.NewEnv(ctx, s, &tlog{t: t}, time.Second)
		},
	})
	wall := time.Since(start)
	if err == nil && scale == 1 {
		p.requireAD()
	}
	// The old host is switched off at its retire-old time (at once if
	// that has passed), as an operator would once the move is done.
	if cl != nil && cl.RetireOld != nil {
		if d := time.Until(time.Time(*cl.RetireOld)); d > 0 {
			time.Sleep(d)
		}
		t.Logf("old host switched off at %s; retire-old was %s", time.Now().UTC().Format("15:04:05.000"), time.Time(*cl.RetireOld).Format("15:04:05.000"))
	}
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
