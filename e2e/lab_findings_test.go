package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/miekg/dns"
)

// restore runs f at cleanup and fails the test if it fails: every lab
// test leaves the lab as it found it.
func restore(t *testing.T, f func(ctx context.Context) error) {
	t.Cleanup(func() {
		ctx := context.Background()
		if err := f(ctx); err != nil {
			t.Errorf("restore lab: %v", err)
		}
		if err := shared.Get(t).WaitInSync(ctx); err != nil {
			t.Errorf("restore lab: %v", err)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func rr(t *testing.T, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	must(t, err)
	return r
}

func TestLabNSMismatch(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	// RFC 2136 never deletes a whole apex NS RRset: add and remove one.
	extra := rr(t, "example.lab. 30 IN NS ns3.elsewhere.lab.")
	must(t, l.AddRR(ctx, lab.RoleOld1, lab.Zone, lab.KeyOld, extra))
	restore(t, func(ctx context.Context) error {
		return l.DeleteRR(ctx, lab.RoleOld1, lab.Zone, lab.KeyOld, extra)
	})
	must(t, l.WaitInSync(ctx))
	rep := check(t, l, lab.Zone)
	if !rep.Has(checks.NSMismatch) {
		t.Fatalf("no ns-mismatch; got %v", ids(rep))
	}
	if got := rep.ChildServers[0].NS; len(got) != 3 {
		t.Errorf("child NS = %v, want 3 names", got)
	}
}

func TestLabMissingGlue(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	glue := []dns.RR{rr(t, lab.OldNS[1]+" 10 IN A "+l.Addrs[lab.RoleOld2].String())}
	must(t, l.Update(ctx, lab.RoleTLD, lab.TLD, lab.KeyRegistrar, lab.OldNS[1], dns.TypeA, nil))
	restore(t, func(ctx context.Context) error {
		return l.Update(ctx, lab.RoleTLD, lab.TLD, lab.KeyRegistrar, lab.OldNS[1], dns.TypeA, glue)
	})
	must(t, l.WaitInSync(ctx))
	rep := check(t, l, lab.Zone)
	got := rep.Find(checks.MissingGlue)
	if got == nil {
		t.Fatalf("no missing-glue; got %v", ids(rep))
	}
	if got.Severity != checks.Critical || len(got.Evidence) != 2 {
		t.Errorf("missing-glue = %s with %d evidence, want critical from both parent servers", got.Severity, len(got.Evidence))
	}
}

func TestLabParentServersDisagree(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	old, err := l.LiveDS(ctx, lab.RoleOld1, lab.Zone)
	must(t, err)
	next, err := l.LiveDS(ctx, lab.RoleNew1, lab.Zone)
	must(t, err)
	must(t, l.HoldTransfers(ctx, lab.RoleTLD, true))
	restore(t, func(ctx context.Context) error {
		if err := l.SetDS(ctx, lab.Zone, old); err != nil {
			return err
		}
		return l.HoldTransfers(ctx, lab.RoleTLD, false)
	})
	// A pre-published second DS, seen by one parent server only.
	must(t, l.SetDS(ctx, lab.Zone, append(old, next...)))
	rep := check(t, l, lab.Zone)
	if !rep.Has(checks.ParentServersDisagree) {
		t.Fatalf("no parent-servers-disagree; got %v", ids(rep))
	}
	if a, b := len(rep.ParentServers[0].DS), len(rep.ParentServers[1].DS); a == b {
		t.Errorf("both parent servers report %d DS", a)
	}
	if rep.Status != checks.Secure {
		t.Errorf("status = %s, want secure: both DS sets hold a matching DS", rep.Status)
	}
}

func TestLabDSOrphan(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	// The registrar publishes a DS although the zone is served unsigned.
	ds := dns.Copy(wrongDS(t, l)[0])
	ds.Header().Name = lab.UnsignedZone
	must(t, l.SetDS(ctx, lab.UnsignedZone, []dns.RR{ds}))
	restore(t, func(ctx context.Context) error {
		if err := l.SetDS(ctx, lab.UnsignedZone, nil); err != nil {
			return err
		}
		return l.FlushResolvers(ctx)
	})
	must(t, l.WaitInSync(ctx))
	mustFlush(t, l)
	rep := check(t, l, lab.UnsignedZone)
	if rep.Status != checks.Bogus || !rep.Has(checks.DSOrphan) || !rep.Has(checks.ValidationFailure) {
		t.Fatalf("status %s findings %v, want bogus with ds-orphan and validation-failure", rep.Status, ids(rep))
	}
}

func TestLabDNSKEYInconsistent(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	// Another signer's ZSK, published on OLD's primary only.
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: lab.Zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 20}, Flags: dns.ZONE, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	if _, err := key.Generate(256); err != nil {
		t.Fatal(err)
	}
	must(t, l.HoldTransfers(ctx, lab.RoleOld1, true))
	restore(t, func(ctx context.Context) error {
		if err := l.DeleteRR(ctx, lab.RoleOld1, lab.Zone, lab.KeyOld, key); err != nil {
			return err
		}
		return l.HoldTransfers(ctx, lab.RoleOld1, false)
	})
	must(t, l.AddRR(ctx, lab.RoleOld1, lab.Zone, lab.KeyOld, key))
	rep := check(t, l, lab.Zone)
	if !rep.Has(checks.DNSKEYInconsistent) {
		t.Fatalf("no dnskey-inconsistent; got %v", ids(rep))
	}
	if a, b := len(rep.ChildServers[0].DNSKEY), len(rep.ChildServers[1].DNSKEY); a == b {
		t.Errorf("both servers report %d keys", a)
	}
}

// TestLabSignatureExpiry moves the checker's clock, not the servers': the
// child's real signatures are read first, and the clock is put where they
// are close to expiry, then past it, while the ancestors' still hold.
func TestLabSignatureExpiry(t *testing.T) {
	l := shared.Get(t)
	rep := check(t, l, lab.Zone)
	if rep.Status != checks.Secure {
		t.Fatalf("lab not secure at the start: %v", ids(rep))
	}
	first, last := sigWindow(t, l, lab.RoleOld1, lab.Zone)
	ancestors, _ := sigWindow(t, l, lab.RoleTLD, lab.TLD)
	if !last.Add(time.Hour).Before(ancestors) {
		t.Fatalf("lab child signatures (to %s) do not expire before the TLD's (%s)", last, ancestors)
	}
	tests := []struct {
		name   string
		now    time.Time
		want   string
		status checks.Status
	}{
		{"expiring", first.Add(-24 * time.Hour), checks.RRSIGExpiring, checks.Secure},
		{"expired", last.Add(time.Hour), checks.RRSIGExpired, checks.Bogus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := checker(t, l, func() time.Time { return tt.now }).Check(context.Background(), lab.Zone)
			must(t, err)
			if !rep.Has(tt.want) || rep.Status != tt.status {
				t.Errorf("at %s: status %s findings %v, want %s and %s", tt.now, rep.Status, ids(rep), tt.status, tt.want)
			}
			if tt.want != checks.RRSIGExpired {
				return
			}
			// One finding for the zone, naming every server and RRset.
			var expired []checks.Finding
			for _, f := range rep.Findings {
				if f.ID == checks.RRSIGExpired {
					expired = append(expired, f)
				}
			}
			if len(expired) != 1 || len(expired[0].Evidence) < 2 ||
				!strings.Contains(expired[0].Summary, l.Addr(lab.RoleOld1)) || !strings.Contains(expired[0].Summary, l.Addr(lab.RoleOld2)) {
				t.Errorf("rrsig-expired findings %+v, want one naming both servers", expired)
			}
		})
	}
}

// sigWindow returns the earliest and latest expiry of the signatures over
// a zone's apex SOA, NS and DNSKEY at one server.
func sigWindow(t *testing.T, l *lab.Lab, r lab.Role, zone string) (first, last time.Time) {
	t.Helper()
	c := checks.NewClient(time.Second, 4)
	for _, qt := range []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeDNSKEY} {
		reply := c.Ask(context.Background(), checks.Question{Server: l.Addr(r), Name: zone, Type: qt})
		if !reply.OK() {
			t.Fatal(reply.Err)
		}
		for _, x := range reply.Msg.Answer {
			if s, ok := x.(*dns.RRSIG); ok {
				exp := time.Unix(int64(s.Expiration), 0)
				if first.IsZero() || exp.Before(first) {
					first = exp
				}
				if exp.After(last) {
					last = exp
				}
			}
		}
	}
	if first.IsZero() {
		t.Fatalf("%s serves no signatures for %s", r, zone)
	}
	return first, last
}

// Both providers take TSIG-signed RFC 2136 updates, sign the change and
// pass it to their secondary: what a migration's record changes rely on.
func TestLabProvidersTakeUpdates(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	tests := []struct {
		name               string
		primary, secondary lab.Role
		key                string
	}{
		{"OLD (BIND)", lab.RoleOld1, lab.RoleOld2, lab.KeyOld},
		{"NEW (Knot)", lab.RoleNew1, lab.RoleNew2, lab.KeyNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owner := "update-test." + lab.Zone
			txt := rr(t, owner+` 30 IN TXT "via rfc2136"`)
			must(t, l.Update(ctx, tt.primary, lab.Zone, tt.key, owner, dns.TypeTXT, []dns.RR{txt}))
			restore(t, func(ctx context.Context) error {
				return l.Update(ctx, tt.primary, lab.Zone, tt.key, owner, dns.TypeTXT, nil)
			})
			must(t, l.WaitInSync(ctx))
			c := checks.NewClient(time.Second, 2)
			for _, r := range []lab.Role{tt.primary, tt.secondary} {
				reply := c.Ask(ctx, checks.Question{Server: l.Addr(r), Name: owner, Type: dns.TypeTXT})
				if !reply.OK() {
					t.Fatal(reply.Err)
				}
				var txts, sigs int
				for _, x := range reply.Msg.Answer {
					switch x.(type) {
					case *dns.TXT:
						txts++
					case *dns.RRSIG:
						sigs++
					}
				}
				if !reply.Msg.Authoritative || txts != 1 || sigs == 0 {
					t.Errorf("%s serves %d TXT with %d RRSIG (aa=%v), want 1 signed", r, txts, sigs, reply.Msg.Authoritative)
				}
			}
		})
	}
	// A wrong key is refused, and nothing changes.
	err := l.Update(ctx, lab.RoleNew1, lab.Zone, lab.KeyOld, "wrong-key."+lab.Zone, dns.TypeTXT, []dns.RR{rr(t, `wrong-key.example.lab. 30 IN TXT "no"`)})
	if err == nil {
		t.Fatal("NEW accepted an update signed with OLD's key")
	}
}

// A change in the lab, watched as it propagates: the authoritative servers
// have it at once, honest resolvers show the old answer until their cached
// copy expires (pending) and then the new one (updated); the sticky
// resolver, which keeps answers an hour, is stale after the deadline.
func TestLabPropagation(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	www := "www." + lab.Zone
	resolvers := []string{l.Addr(lab.RoleValidating), l.Addr(lab.RolePlain), l.Addr(lab.RoleSticky)}
	old := []dns.RR{rr(t, www+" 15 IN A 192.0.2.80")}
	c := checker(t, l, nil)
	// Prime every cache with the old answer.
	for _, r := range resolvers {
		if reply := c.Client().Ask(ctx, checks.Question{Server: r, Name: www, Type: dns.TypeA, RD: true}); !reply.OK() {
			t.Fatal(reply.Err)
		}
	}
	since := time.Now()
	must(t, l.Update(ctx, lab.RoleOld1, lab.Zone, lab.KeyOld, www, dns.TypeA, []dns.RR{rr(t, www+" 15 IN A 198.51.100.80")}))
	restore(t, func(ctx context.Context) error {
		if err := l.Update(ctx, lab.RoleOld1, lab.Zone, lab.KeyOld, www, dns.TypeA, old); err != nil {
			return err
		}
		return l.FlushResolvers(ctx)
	})
	must(t, l.WaitInSync(ctx))
	change, err := checks.NewChange(www, "A", []string{"198.51.100.80"}, []string{"192.0.2.80"}, since)
	must(t, err)
	verdicts := func(at time.Time) map[string]checks.Verdict {
		seen, err := c.Propagation(ctx, []checks.Change{change}, resolvers, at)
		must(t, err)
		out := map[string]checks.Verdict{}
		for _, s := range seen {
			out[s.Server] = s.Verdict
		}
		return out
	}
	now := verdicts(time.Now())
	want := map[string]checks.Verdict{
		l.Addr(lab.RoleOld1): checks.Updated, l.Addr(lab.RoleOld2): checks.Updated,
		l.Addr(lab.RoleValidating): checks.Pending, l.Addr(lab.RolePlain): checks.Pending, l.Addr(lab.RoleSticky): checks.Pending,
	}
	for s, v := range want {
		if now[s] != v {
			t.Errorf("just after the change, %s is %s, want %s (%v)", s, now[s], v, now)
		}
	}
	time.Sleep(time.Until(since.Add(16 * time.Second)))
	later := verdicts(time.Now())
	want[l.Addr(lab.RoleValidating)], want[l.Addr(lab.RolePlain)], want[l.Addr(lab.RoleSticky)] = checks.Updated, checks.Updated, checks.Stale
	for s, v := range want {
		if later[s] != v {
			t.Errorf("after the deadline, %s is %s, want %s (%v)", s, later[s], v, later)
		}
	}
}

// liveKSK is the KSK OLD's primary serves for the lab zone.
func liveKSK(t *testing.T, l *lab.Lab) *dns.DNSKEY {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(lab.Zone, dns.TypeDNSKEY)
	resp, _, err := (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).Exchange(m, l.Addr(lab.RoleOld1))
	must(t, err)
	for _, rr := range resp.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok && k.Flags&dns.SEP != 0 {
			return k
		}
	}
	t.Fatal("OLD serves no KSK")
	return nil
}

// TestLabDSVerdicts checks the verdicts RFC 4035 5.2 (and RFC 6840 5.2,
// RFC 8624) ask for, against real servers and a real validating resolver:
// a DS set a validator cannot use makes the zone insecure, not bogus; the
// leftovers a migration leaves beside a good DS are warnings; no server
// answering is indeterminate.
func TestLabDSVerdicts(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	ksk := liveKSK(t, l)
	good := ksk.ToDS(dns.SHA256)
	withTTL := func(ds *dns.DS) dns.RR {
		ds.Hdr.Ttl = 10
		return ds
	}
	unknownDigest := dns.Copy(good).(*dns.DS)
	unknownDigest.DigestType = 99
	foreignAlg := &dns.DS{Hdr: dns.RR_Header{Name: lab.Zone, Rrtype: dns.TypeDS, Class: dns.ClassINET}, KeyTag: 12345, Algorithm: dns.RSASHA256, DigestType: dns.SHA256, Digest: strings.Repeat("AB", 32)}
	stale := dns.Copy(good).(*dns.DS)
	stale.KeyTag++
	stale.Digest = strings.Repeat("CD", 32)
	tests := []struct {
		name      string
		ds        []dns.RR
		stop      bool
		status    checks.Status
		want      string
		validated bool // the validating resolver answers with AD
	}{
		{name: "only an unsupported digest type", ds: []dns.RR{withTTL(unknownDigest)}, status: checks.Insecure, want: checks.DSUnsupported},
		{name: "a SHA-1 DS beside SHA-256", ds: []dns.RR{withTTL(good), withTTL(ksk.ToDS(dns.SHA1))}, status: checks.Secure, want: checks.DSDigestSHA1, validated: true},
		{name: "a stale DS beside a good one", ds: []dns.RR{withTTL(good), withTTL(stale)}, status: checks.Secure, want: checks.DSStale, validated: true},
		{name: "a DS of an algorithm the zone does not sign with", ds: []dns.RR{withTTL(good), withTTL(foreignAlg)}, status: checks.Secure, want: checks.DSAlgorithmUnsigned, validated: true},
		{name: "no delegated server answers", stop: true, status: checks.Indeterminate, want: checks.LameDelegation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			restore(t, l.Repair)
			if tt.ds != nil {
				must(t, l.SetDS(ctx, lab.Zone, tt.ds))
				must(t, l.WaitInSync(ctx))
			}
			if tt.stop {
				must(t, l.Stop(ctx, lab.RoleOld1))
				must(t, l.Stop(ctx, lab.RoleOld2))
			}
			mustFlush(t, l)
			rep := check(t, l, lab.Zone)
			if rep.Status != tt.status || !rep.Has(tt.want) {
				t.Fatalf("status %s findings %v, want %s with %s", rep.Status, ids(rep), tt.status, tt.want)
			}
			if tt.stop {
				return
			}
			if n := rep.Count(checks.Critical); n != 0 {
				t.Errorf("%d critical findings %v, want none", n, ids(rep))
			}
			v := rep.Resolvers[0]
			if v.RCODE != "NOERROR" || v.AD != tt.validated {
				t.Errorf("validating resolver: %+v, want NOERROR with AD %v", v, tt.validated)
			}
		})
	}
}

// A registry host object left at an address the zone no longer uses (here
// another live server of the same host, so nothing is lame) is reported as
// glue-mismatch with both addresses in evidence.
func TestLabGlueMismatch(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	good := []dns.RR{rr(t, lab.OldNS[1]+" 10 IN A "+l.Addrs[lab.RoleOld2].String())}
	stale := []dns.RR{rr(t, lab.OldNS[1]+" 10 IN A "+l.Addrs[lab.RoleOld1].String())}
	must(t, l.Update(ctx, lab.RoleTLD, lab.TLD, lab.KeyRegistrar, lab.OldNS[1], dns.TypeA, stale))
	restore(t, func(ctx context.Context) error {
		return l.Update(ctx, lab.RoleTLD, lab.TLD, lab.KeyRegistrar, lab.OldNS[1], dns.TypeA, good)
	})
	must(t, l.WaitInSync(ctx))
	rep := check(t, l, lab.Zone)
	got := rep.Find(checks.GlueMismatch)
	if got == nil {
		t.Fatalf("no glue-mismatch; got %v", ids(rep))
	}
	text := got.Summary
	for _, e := range got.Evidence {
		text += " " + e.Note
	}
	if got.Severity != checks.Warning || !strings.Contains(text, l.Addrs[lab.RoleOld1].String()) || !strings.Contains(text, l.Addrs[lab.RoleOld2].String()) {
		t.Errorf("glue-mismatch = %+v, want a warning naming both %s and %s", got, l.Addrs[lab.RoleOld1], l.Addrs[lab.RoleOld2])
	}
	if rep.Has(checks.LameDelegation) {
		t.Errorf("the stale glue points at a live server: no lame-delegation expected, got %v", ids(rep))
	}
}

// When only some delegated servers serve keys no DS matches, the fix
// names those servers, not a key: replacing the DS with one made from
// every key seen would break the healthy servers.
func TestLabDSMismatchAtOneServer(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	// The registry delegates to one OLD and one NEW server; the DS is
	// OLD's, and NEW signs with keys of its own.
	mixed := []dns.RR{rr(t, lab.Zone+" 10 IN NS "+lab.OldNS[0]), rr(t, lab.Zone+" 10 IN NS "+lab.NewNS[0])}
	old := []dns.RR{rr(t, lab.Zone+" 10 IN NS "+lab.OldNS[0]), rr(t, lab.Zone+" 10 IN NS "+lab.OldNS[1])}
	must(t, l.Update(ctx, lab.RoleTLD, lab.TLD, lab.KeyRegistrar, lab.Zone, dns.TypeNS, mixed))
	restore(t, func(ctx context.Context) error {
		if err := l.Update(ctx, lab.RoleTLD, lab.TLD, lab.KeyRegistrar, lab.Zone, dns.TypeNS, old); err != nil {
			return err
		}
		return l.FlushResolvers(ctx)
	})
	must(t, l.WaitInSync(ctx))
	rep := check(t, l, lab.Zone)
	got := rep.Find(checks.DSMismatch)
	if got == nil {
		t.Fatalf("no ds-mismatch; got %v", ids(rep))
	}
	if !strings.Contains(got.Fix, l.Addr(lab.RoleNew1)) || strings.Contains(got.Fix, l.Addr(lab.RoleOld1)) || strings.Contains(got.Fix, "key tag") {
		t.Errorf("ds-mismatch fix %q: want it to name the odd server %s only, and no key", got.Fix, l.Addr(lab.RoleNew1))
	}
}
