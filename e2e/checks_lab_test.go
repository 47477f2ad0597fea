package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
)

// The lab the checks tests share; other tests start labs of their own,
// each on its own prefix.
var shared = labtest.New("127.61.0.0/24")

// checker returns a Checker aimed at the lab only: its root, its trust
// anchor, its two resolvers.
func checker(t testing.TB, l *lab.Lab, now func() time.Time) *checks.Checker {
	t.Helper()
	a, err := checks.LoadAnchors(l.TrustAnchor)
	if err != nil {
		t.Fatal(err)
	}
	return checks.New(checks.Options{
		Roots:     []string{l.Addr(lab.RoleRoot)},
		Anchors:   &a,
		Resolvers: []string{l.Addr(lab.RoleValidating), l.Addr(lab.RolePlain)},
		Timeout:   time.Second,
		Now:       now,
	})
}

func check(t *testing.T, l *lab.Lab, zone string) *checks.Report {
	t.Helper()
	rep, err := checker(t, l, nil).Check(context.Background(), zone)
	if err != nil {
		t.Fatalf("check %s: %v", zone, err)
	}
	return rep
}

func ids(r *checks.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.ID+"/"+f.Severity.String())
	}
	return out
}

// mustFlush empties the resolvers' caches after the lab was changed.
func mustFlush(t *testing.T, l *lab.Lab) {
	t.Helper()
	if err := l.FlushResolvers(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestLabHealthy(t *testing.T) {
	l := shared.Get(t)
	tests := []struct {
		zone   string
		status checks.Status
	}{
		{lab.Zone, checks.Secure},
		{lab.UnsignedZone, checks.Insecure},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			rep := check(t, l, tt.zone)
			if rep.Status != tt.status {
				t.Errorf("status = %s, want %s", rep.Status, tt.status)
			}
			if len(rep.Findings) != 0 {
				t.Errorf("findings on a healthy lab: %v", ids(rep))
			}
			if got := len(rep.ParentServers); got != 2 {
				t.Errorf("asked %d parent server addresses, want 2", got)
			}
			if got := len(rep.ChildServers); got != 2 {
				t.Errorf("asked %d zone server addresses, want 2", got)
			}
			for _, p := range rep.ParentServers {
				if !p.Answered || p.NSTTL != 10 || len(p.NS) != 2 {
					t.Errorf("parent %s: answered=%v NS=%v ttl=%d, want 2 NS with ttl 10", p.Server, p.Answered, p.NS, p.NSTTL)
				}
				if tt.status == checks.Secure && (len(p.DS) != 1 || p.DSTTL != 10 || p.DSOrigTTL != 10) {
					t.Errorf("parent %s: DS %v ttl %d orig %d, want one DS with ttl 10", p.Server, p.DS, p.DSTTL, p.DSOrigTTL)
				}
				if tt.status == checks.Insecure && (len(p.DS) != 0 || p.NegTTL != 5) {
					t.Errorf("parent %s: DS %v negative ttl %d, want none and 5", p.Server, p.DS, p.NegTTL)
				}
			}
			want := []checks.ResolverResult{
				{Server: l.Addr(lab.RoleValidating), Validating: true, RCODE: "NOERROR", AD: tt.status == checks.Secure, RCODECD: "NOERROR"},
				{Server: l.Addr(lab.RolePlain), Validating: false, RCODE: "NOERROR", RCODECD: "NOERROR"},
			}
			if !slices.Equal(rep.Resolvers, want) {
				t.Errorf("resolvers = %+v, want %+v", rep.Resolvers, want)
			}
		})
	}
}

// wrongDS is a DS with the live key's tag and algorithm but another
// digest: the classic "registrar still has the old host's DS".
func wrongDS(t *testing.T, l *lab.Lab) []dns.RR {
	t.Helper()
	live, err := l.LiveDS(context.Background(), lab.RoleOld1, lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	bad := dns.Copy(live[0]).(*dns.DS)
	bad.Digest = "00000000000000000000000000000000000000000000000000000000000000AA"
	return []dns.RR{bad}
}

func TestLabDSMismatch(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	good, err := l.LiveDS(ctx, lab.RoleOld1, lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetDS(ctx, lab.Zone, wrongDS(t, l)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.SetDS(ctx, lab.Zone, good); err != nil {
			t.Error(err)
		}
		if err := l.WaitInSync(ctx); err != nil {
			t.Error(err)
		}
		mustFlush(t, l)
	})
	if err := l.WaitInSync(ctx); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, l)

	rep := check(t, l, lab.Zone)
	if rep.Status != checks.Bogus {
		t.Errorf("status = %s, want bogus", rep.Status)
	}
	for _, id := range []string{checks.DSMismatch, checks.ValidationFailure} {
		if !rep.Has(id) {
			t.Errorf("no %s finding; got %v", id, ids(rep))
		}
	}
	if rep.Count(checks.Critical) < 2 {
		t.Errorf("want at least 2 critical findings, got %v", ids(rep))
	}
	if rep.Findings[0].Severity != checks.Critical {
		t.Errorf("findings not sorted most severe first: %v", ids(rep))
	}
	// The evidence names the parent servers and what they served.
	for _, f := range rep.Findings {
		if f.ID != checks.DSMismatch {
			continue
		}
		if len(f.Evidence) < 2 || f.Evidence[0].RCODE != "NOERROR" || f.Evidence[0].TTL == nil || *f.Evidence[0].TTL != 10 {
			t.Errorf("ds-mismatch evidence = %+v", f.Evidence)
		}
	}

	// Repaired, it is secure again.
	if err := l.SetDS(ctx, lab.Zone, good); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitInSync(ctx); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, l)
	if rep := check(t, l, lab.Zone); rep.Status != checks.Secure || rep.Count(checks.Critical) != 0 {
		t.Errorf("after repair: %s %v", rep.Status, ids(rep))
	}
}

func TestLabLameDelegation(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	if err := l.Stop(ctx, lab.RoleOld2); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Start(ctx, lab.RoleOld2); err != nil {
			t.Error(err)
		}
		if err := l.WaitInSync(ctx); err != nil {
			t.Error(err)
		}
	})
	rep := check(t, l, lab.Zone)
	if !rep.Has(checks.LameDelegation) {
		t.Fatalf("no lame-delegation with %s stopped; got %v", l.Addr(lab.RoleOld2), ids(rep))
	}
	for _, f := range rep.Findings {
		if f.ID == checks.LameDelegation {
			if f.Severity != checks.Warning {
				t.Errorf("one server of two down is a warning, got %s", f.Severity)
			}
			if len(f.Evidence) != 1 || f.Evidence[0].Server != l.Addr(lab.RoleOld2) || f.Evidence[0].Error == "" {
				t.Errorf("evidence = %+v, want the stopped server with its error", f.Evidence)
			}
		}
	}
	if rep.Status != checks.Secure {
		t.Errorf("status = %s, want secure (the other server validates)", rep.Status)
	}
}

func TestLabSerialDrift(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	if err := l.HoldTransfers(ctx, lab.RoleOld1, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.HoldTransfers(ctx, lab.RoleOld1, false); err != nil {
			t.Error(err)
		}
	})
	txt, _ := dns.NewRR(`drift.example.lab. 30 IN TXT "only on the primary"`)
	if err := l.Update(ctx, lab.RoleOld1, lab.Zone, lab.KeyOld, "drift."+lab.Zone, dns.TypeTXT, []dns.RR{txt}); err != nil {
		t.Fatal(err)
	}
	rep := check(t, l, lab.Zone)
	if !rep.Has(checks.SerialDrift) {
		t.Fatalf("no serial-drift; got %v", ids(rep))
	}
	if a, b := rep.ChildServers[0].Serial, rep.ChildServers[1].Serial; a == b {
		t.Errorf("report shows equal serials %d and %d", a, b)
	}
}
