package checks

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func FuzzParseAnchors(f *testing.F) {
	f.Add(ianaRoot)
	f.Add(". 20 IN DNSKEY 257 3 13 hwySws08o2ZI30be0xpttRYWlcV38lVvFbx7DKYbj4r92n54ugPb2qrIhNlgxty/0OYbtGUMtrB7/48Fp1Wt8w==\n")
	f.Add("$ORIGIN lab.\n@ 10 IN DS 1 13 2 AA\n")
	f.Fuzz(func(t *testing.T, text string) {
		a, err := ParseAnchors(strings.NewReader(text), "fuzz")
		if err == nil && (a.Zone == "" || len(a.DS)+len(a.DNSKEY) == 0) {
			t.Fatalf("accepted an anchor without records: %+v", a)
		}
	})
}

// FuzzReply feeds arbitrary DNS messages, as a broken or hostile server
// might send, through everything that reads a reply.
func FuzzReply(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("example.lab.", dns.TypeNS)
	m.Ns = append(m.Ns, &dns.NS{Hdr: dns.RR_Header{Name: "example.lab.", Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 10}, Ns: "ns1.example.lab."})
	m.Extra = append(m.Extra, &dns.A{Hdr: dns.RR_Header{Name: "ns1.example.lab.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 10}, A: []byte{127, 0, 0, 1}})
	seed, err := m.Pack()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		m := new(dns.Msg)
		if m.Unpack(b) != nil {
			return
		}
		_, _ = referral(m, "lab.")
		_ = glueOf(m)
		_ = denialOfDS(m, "example.lab.", nil, time.Now())
		e := EvidenceOf(Reply{Question: Question{Server: "fuzz", Name: "example.lab.", Type: dns.TypeNS}, Msg: m}, dns.TypeNS, dns.TypeA)
		if e.RCODE == "" {
			t.Fatal("evidence of a reply without an RCODE")
		}
	})
}
