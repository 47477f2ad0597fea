package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
)

// BenchmarkCheckLab measures a whole `migrate check` of the lab's signed
// zone: iteration from the root, every parent and zone server, validation
// and two resolvers. It reports how many DNS messages one check sends.
func BenchmarkCheckLab(b *testing.B) {
	l := shared.Get(b)
	c := checker(b, l, nil)
	ctx := context.Background()
	before := c.Client().Sent()
	for b.Loop() {
		rep, err := c.Check(ctx, lab.Zone)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Status != checks.Secure {
			b.Fatalf("status %s", rep.Status)
		}
	}
	b.ReportMetric(float64(c.Client().Sent()-before)/float64(b.N), "queries/op")
}

// BenchmarkPropagation judges 300 changes (the lab zone's names, over and
// over) at their 2 authoritative servers and 3 resolvers at once: 1,500
// questions a run, 64 in flight. It reports questions per second; run
// with -benchmem for memory.
func BenchmarkPropagation(b *testing.B) {
	l := shared.Get(b)
	a, err := checks.LoadAnchors(l.TrustAnchor)
	if err != nil {
		b.Fatal(err)
	}
	c := checks.New(checks.Options{Roots: []string{l.Addr(lab.RoleRoot)}, Anchors: &a, Parallel: 64, ResolverRate: -1}) // the engine unpaced
	names := []string{"", "www.", "mail.", "sip.", "ns1.", "ns2."}
	var changes []checks.Change
	for i := 0; i < 300; i++ {
		ch, err := checks.NewChange(names[i%len(names)]+lab.Zone, "A", []string{"192.0.2.80"}, nil, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		changes = append(changes, ch)
	}
	resolvers := []string{l.Addr(lab.RoleValidating), l.Addr(lab.RolePlain), l.Addr(lab.RoleSticky)}
	ctx := context.Background()
	sent := c.Client().Sent()
	start := time.Now()
	for b.Loop() {
		seen, err := c.Propagation(ctx, changes, resolvers, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if len(seen) != 1500 {
			b.Fatalf("%d verdicts, want 1500", len(seen))
		}
	}
	b.ReportMetric(float64(c.Client().Sent()-sent)/time.Since(start).Seconds(), "queries/s")
}

// BenchmarkCheckLatency measures `migrate check` of the lab's signed zone
// when the servers it is given are far away: the root and both resolvers
// are asked through links that add 50 ms to every round trip (the zone's
// parent and own servers, reached by the addresses the delegation names,
// stay on loopback). It reports the check's wall against the slowest
// single round trip, one SOA question through the slowest link: a check
// that asks a far server's questions at once waits for it about once.
func BenchmarkCheckLatency(b *testing.B) {
	const delay = 50 * time.Millisecond
	l := shared.Get(b)
	a, err := checks.LoadAnchors(l.TrustAnchor)
	if err != nil {
		b.Fatal(err)
	}
	root := newSlowLink(b, l.Addr(lab.RoleRoot), delay)
	validating := newSlowLink(b, l.Addr(lab.RoleValidating), delay)
	plain := newSlowLink(b, l.Addr(lab.RolePlain), delay)
	ctx := context.Background()
	var slowest time.Duration
	for _, s := range []struct {
		link *slowLink
		zone string
	}{{root, "."}, {validating, lab.Zone}, {plain, lab.Zone}} {
		rtt, err := roundTrip(ctx, s.link.Addr, s.zone)
		if err != nil {
			b.Fatalf("round trip through %s: %v", s.link.Addr, err)
		}
		if rtt < delay {
			b.Fatalf("round trip through %s took %s, less than the link's %s", s.link.Addr, rtt, delay)
		}
		slowest = max(slowest, rtt)
	}
	c := checks.New(checks.Options{Roots: []string{root.Addr}, Anchors: &a,
		Resolvers: []string{validating.Addr, plain.Addr}, Timeout: time.Second})
	if rep, err := c.Check(ctx, lab.Zone); err != nil || rep.Status != checks.Secure { // resolvers' caches warm
		b.Fatalf("check: %v", err)
	}
	var wall time.Duration
	for b.Loop() {
		start := time.Now()
		rep, err := c.Check(ctx, lab.Zone)
		wall += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Status != checks.Secure {
			b.Fatalf("status %s", rep.Status)
		}
	}
	perCheck := wall / time.Duration(b.N)
	b.ReportMetric(perCheck.Seconds()/slowest.Seconds(), "check-vs-slowest-rtt-ratio")
	b.ReportMetric(float64(perCheck.Milliseconds()), "check-ms")
	b.ReportMetric(float64(slowest.Milliseconds()), "slowest-rtt-ms")
}
