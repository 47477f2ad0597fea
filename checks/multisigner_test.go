package checks

import (
	"crypto"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testSigner is one DNS host's keys for the multi-signer tests.
type testSigner struct{ ksk, zsk testKey }

func newSigner(t *testing.T, alg uint8) testSigner {
	t.Helper()
	key := func(flags uint16) testKey {
		k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 20}, Flags: flags, Protocol: 3, Algorithm: alg}
		p, err := k.Generate(256)
		if err != nil {
			t.Fatal(err)
		}
		return testKey{k, p.(crypto.Signer)}
	}
	return testSigner{key(257), key(256)}
}

// server is one server of signer s publishing the DNSKEYs of s and the
// extra (imported) ZSKs, its SOA signed by s's ZSK.
func (s testSigner) server(t *testing.T, addr string, extra ...testKey) ChildServer {
	t.Helper()
	reply := func(qtype uint16, rrs []dns.RR, signer testKey) Reply {
		m := new(dns.Msg)
		m.SetQuestion("example.test.", qtype)
		m.Response, m.Authoritative = true, true
		m.Answer = append(rrs, sign(t, signer, rrs, now.Add(-time.Hour), now.Add(240*time.Hour)))
		return Reply{Question: Question{Server: addr, Name: "example.test.", Type: qtype}, Msg: m}
	}
	keys := []dns.RR{s.ksk.key, s.zsk.key}
	var info []KeyInfo
	for _, k := range extra {
		keys = append(keys, k.key)
	}
	for _, rr := range keys {
		k := rr.(*dns.DNSKEY)
		info = append(info, KeyInfo{Tag: k.KeyTag(), Algorithm: k.Algorithm, Flags: k.Flags, KSK: k.Flags&dns.SEP != 0})
	}
	soa := mustRR(t, "example.test. 20 IN SOA ns1.example.test. h.example.test. 1 30 10 3600 5")
	return ChildServer{Server: addr, Answered: true, Authoritative: true, Serial: 1, DNSKEY: info, Keys: ofType[*dns.DNSKEY](keys),
		soa: reply(dns.TypeSOA, []dns.RR{soa}, s.zsk), dnskey: reply(dns.TypeDNSKEY, keys, s.ksk)}
}

func TestMultiSignerFindings(t *testing.T) {
	a, b := newSigner(t, dns.ECDSAP256SHA256), newSigner(t, dns.ECDSAP256SHA256)
	ed := newSigner(t, dns.ED25519)
	tag := func(k testKey) string { return fmt.Sprintf("%d/%d", k.key.KeyTag(), k.key.Algorithm) }
	tests := []struct {
		name    string
		servers []ChildServer
		want    []string // finding ids/severity, sorted
		mention string   // in the first critical finding's summary
	}{
		{"each imports the other's ZSK", []ChildServer{a.server(t, "192.0.2.1:53", b.zsk), a.server(t, "192.0.2.2:53", b.zsk), b.server(t, "192.0.2.3:53", a.zsk)},
			[]string{"multi-signer/info"}, ""},
		{"a lacks b's ZSK", []ChildServer{a.server(t, "192.0.2.1:53"), b.server(t, "192.0.2.3:53", a.zsk)},
			[]string{"multi-signer-incomplete/critical", "multi-signer/info"}, "192.0.2.1:53 (KSK " + tag(a.ksk) + ") cannot validate the answers of 192.0.2.3:53: their ZSK " + tag(b.zsk)},
		{"two algorithms", []ChildServer{a.server(t, "192.0.2.1:53", ed.zsk), ed.server(t, "192.0.2.3:53", a.zsk)},
			[]string{"multi-signer-algorithm-mismatch/critical", "multi-signer/info"}, "algorithm 13 (ECDSAP256SHA256) at 192.0.2.1:53, algorithm 15 (ED25519) at 192.0.2.3:53"},
		{"a server left with other keys, nothing imported", []ChildServer{a.server(t, "192.0.2.1:53"), b.server(t, "192.0.2.3:53")},
			[]string{"dnskey-inconsistent/warning"}, ""},
		{"one signer's servers disagree", []ChildServer{a.server(t, "192.0.2.1:53", b.zsk), a.server(t, "192.0.2.2:53"), b.server(t, "192.0.2.3:53", a.zsk)},
			[]string{"dnskey-inconsistent/warning", "multi-signer-incomplete/critical", "multi-signer/info"}, "192.0.2.2:53"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			an := &analysis{rep: &Report{ChildServers: tt.servers}, zone: "example.test.", now: now}
			an.childFindings()
			var got []string
			var critical []string
			for _, f := range an.rep.Findings {
				got = append(got, f.ID+"/"+f.Severity.String())
				if f.Severity == Critical {
					critical = append(critical, f.Summary)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings %v, want %v", got, tt.want)
			}
			if tt.mention != "" && (len(critical) == 0 || !strings.Contains(critical[0], tt.mention)) {
				t.Errorf("critical findings %q lack %q", critical, tt.mention)
			}
		})
	}
}
