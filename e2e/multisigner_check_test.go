package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
	"github.com/dnsmigrate/dnsmigrate/providers"
)

// zskOf is the ZSK a server serves for the lab zone.
func zskOf(t *testing.T, l *lab.Lab, r lab.Role) *dns.DNSKEY {
	t.Helper()
	reply := checks.NewClient(0, 1).Ask(context.Background(), checks.Question{Server: l.Addr(r), Name: lab.Zone, Type: dns.TypeDNSKEY})
	if !reply.OK() {
		t.Fatal(reply.Err)
	}
	for _, rr := range reply.Msg.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok && k.Flags&dns.SEP == 0 {
			return k
		}
	}
	t.Fatalf("%s serves no ZSK", r)
	return nil
}

// The lab zone served by two signers, Knot and PowerDNS, as RFC 8901
// model 2 has it mid-move: each imports the other's ZSK, both hosts'
// servers are delegated to and serve one apex NS set, the parent holds a
// DS for each KSK. migrate check calls it secure with no critical
// finding (the DNSKEY sets differ by design), and DNSViz agrees; a ZSK
// removed from one host is multi-signer-incomplete naming it; a signer's
// DS missing is ds-incomplete.
func TestCheckUnderstandsTwoSigners(t *testing.T) {
	labtest.Require(t, "dnsviz")
	ctx := context.Background()
	l := labDelegatedTo(t, "127.85.0.0/24", lab.DelegateNew)

	knotZSK, pdnsZSK := zskOf(t, l, lab.RoleNew1), zskOf(t, l, lab.RolePDNS1)
	pdns, err := providers.NewPowerDNSHost(providers.PowerDNSOptions{Endpoint: l.PDNSAPI(), APIKey: l.Keys[lab.KeyPDNSAPI].Secret})
	must(t, err)
	must(t, pdns.SetForeignDNSKEYs(ctx, lab.Zone, []string{checks.RRData(knotZSK)}, 20))
	imported := dns.Copy(pdnsZSK).(*dns.DNSKEY)
	imported.Hdr.Ttl = 20
	must(t, l.AddRR(ctx, lab.RoleNew1, lab.Zone, lab.KeyNew, imported))
	// One apex NS set at both hosts and at the parent: all four servers.
	all := append(lab.NewNS[:], lab.PDNSNS[:]...)
	var nsRRs []dns.RR
	for _, n := range all {
		nsRRs = append(nsRRs, &dns.NS{Hdr: dns.RR_Header{Name: lab.Zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 10}, Ns: n})
	}
	for _, n := range lab.PDNSNS {
		must(t, l.AddRR(ctx, lab.RoleNew1, lab.Zone, lab.KeyNew, &dns.NS{Hdr: dns.RR_Header{Name: lab.Zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 40}, Ns: n}))
	}
	must(t, pdns.Replace(ctx, lab.Zone, []providers.Replacement{{Name: lab.Zone, Type: "NS", TTL: 40, To: all}}))
	must(t, l.Update(ctx, lab.RoleTLD, lab.TLD, lab.KeyRegistrar, lab.Zone, dns.TypeNS, nsRRs))
	knotDS, err := l.LiveDS(ctx, lab.RoleNew1, lab.Zone)
	must(t, err)
	pdnsDS, err := l.LiveDS(ctx, lab.RolePDNS1, lab.Zone)
	must(t, err)
	must(t, l.SetDS(ctx, lab.Zone, append(slices.Clone(knotDS), pdnsDS...)))
	must(t, l.WaitInSync(ctx))
	must(t, l.FlushResolvers(ctx))

	rep := check(t, l, lab.Zone)
	t.Logf("two signers: %s %v", rep.Status, ids(rep))
	if rep.Status != checks.Secure || slices.ContainsFunc(rep.Findings, func(f checks.Finding) bool {
		return f.Severity == checks.Critical || f.ID == checks.DNSKEYInconsistent
	}) || !slices.ContainsFunc(rep.Findings, func(f checks.Finding) bool { return f.ID == checks.MultiSigner }) {
		t.Errorf("two signers, complete: %s %v", rep.Status, ids(rep))
	}
	var grok []string
	if out, _ := exec.Command("dnsviz", "grok", "-h").CombinedOutput(); strings.Contains(string(out), "--allow-multisigner") {
		grok = append(grok, "--allow-multisigner")
	}
	if theirs := dnsvizStatus(t, l, lab.Zone, grok...); theirs != "secure" {
		t.Errorf("DNSViz (grok %v) says %s of the two signers", grok, theirs)
	}

	t.Run("a signer's DS missing", func(t *testing.T) {
		must(t, l.SetDS(ctx, lab.Zone, knotDS))
		t.Cleanup(func() { must(t, l.SetDS(ctx, lab.Zone, append(slices.Clone(knotDS), pdnsDS...))) })
		rep := check(t, l, lab.Zone)
		f := findingOf(rep, checks.DSIncomplete)
		if rep.Status != checks.Bogus || f == nil || f.Severity != checks.Critical || !strings.Contains(f.Summary, l.Addr(lab.RolePDNS1)) {
			t.Errorf("PowerDNS's DS missing: %s %v %+v", rep.Status, ids(rep), f)
		}
	})
	t.Run("a ZSK missing from one host", func(t *testing.T) {
		must(t, l.DeleteRR(ctx, lab.RoleNew1, lab.Zone, lab.KeyNew, imported))
		must(t, l.WaitInSync(ctx))
		rep := check(t, l, lab.Zone)
		f := findingOf(rep, checks.MultiSignerIncomplete)
		t.Logf("%v: %+v", ids(rep), f)
		if f == nil || f.Severity != checks.Critical || !strings.Contains(f.Summary, l.Addr(lab.RoleNew1)) || !strings.Contains(f.Summary, keyName(pdnsZSK)) {
			t.Errorf("PowerDNS's ZSK gone from Knot: %v %+v", ids(rep), f)
		}
	})
}

// keyName is a key as findings name it: "tag/algorithm".
func keyName(k *dns.DNSKEY) string { return fmt.Sprintf("%d/%d", k.KeyTag(), k.Algorithm) }

func findingOf(r *checks.Report, id string) *checks.Finding {
	for i := range r.Findings {
		if r.Findings[i].ID == id {
			return &r.Findings[i]
		}
	}
	return nil
}
