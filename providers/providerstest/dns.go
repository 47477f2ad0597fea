package providerstest

import (
	"crypto"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// DNS is the DNS side of a fake API, so that a migration's gates can run
// against what the fake holds: a root server that delegates the zone to
// the name servers the fake lists for it (and answers those names with
// the zone's address), the zone's name servers, answering from the fake's
// state at that moment (as the real host answers: a name with weighted
// sets with one set, chosen by weight; a proxied name with edge
// addresses), and a resolver that answers recursive questions from the
// same state without caching. The zone is unsigned, the root signed.
// Addresses are loopback only.
type DNS struct {
	Root, Auth, Resolver string // host:port
	// TrustAnchor is a file holding the root's key: the root is signed
	// (the hosted zones are not), so that a validating check finds the
	// delegations insecure rather than the root broken.
	TrustAnchor string
}

// rootSigner signs the fake root's answers with one key.
type rootSigner struct {
	key  *dns.DNSKEY
	priv crypto.Signer
}

func newRootSigner() (*rootSigner, error) {
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 86400}, Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := k.Generate(256)
	if err != nil {
		return nil, err
	}
	return &rootSigner{key: k, priv: priv.(crypto.Signer)}, nil
}

// sign returns rrs with an RRSIG over them (one RRset).
func (r *rootSigner) sign(rrs ...dns.RR) []dns.RR {
	if len(rrs) == 0 {
		return nil
	}
	h := rrs[0].Header()
	now := time.Now()
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: h.Ttl},
		TypeCovered: h.Rrtype, Algorithm: r.key.Algorithm, Labels: uint8(dns.CountLabel(h.Name)), OrigTtl: h.Ttl,
		Expiration: uint32(now.Add(24 * time.Hour).Unix()), Inception: uint32(now.Add(-time.Hour).Unix()), KeyTag: r.key.KeyTag(), SignerName: "."}
	if err := sig.Sign(r.priv, rrs); err != nil {
		panic(err)
	}
	return append(rrs, sig)
}

// zoneView is what a fake serves over DNS, read under its lock.
type zoneView interface {
	lock() func()
	// zone is the served zone's name, its name servers and SOA.
	zone() (name string, ns []string, soa dns.RR)
	// answer is the records for a question, and whether the name exists.
	answer(qname string, qtype uint16) (rrs []dns.RR, exists bool)
}

// ServeDNS starts the Route 53 fake's DNS side (example.com) on three
// loopback IPv4 addresses (port 53), stopped when the test ends.
func (f *Route53) ServeDNS(t testing.TB, root, auth, resolver string) DNS {
	return serveDNS(t, route53View{f}, root, auth, resolver)
}

func serveDNS(t testing.TB, v zoneView, root, auth, resolver string) DNS {
	t.Helper()
	d := DNS{Root: net.JoinHostPort(root, "53"), Auth: net.JoinHostPort(auth, "53"), Resolver: net.JoinHostPort(resolver, "53")}
	signer, err := newRootSigner()
	if err != nil {
		t.Fatal(err)
	}
	d.TrustAnchor = filepath.Join(t.TempDir(), "root.key")
	if err := os.WriteFile(d.TrustAnchor, []byte(signer.key.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	serve := func(addr string, h dns.HandlerFunc) {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatalf("route53 fake DNS: %v", err)
		}
		srv := &dns.Server{PacketConn: pc, Handler: h}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("route53 fake DNS: %v", err)
		}
		tsrv := &dns.Server{Listener: ln, Handler: h}
		go func() { _ = srv.ActivateAndServe() }()
		go func() { _ = tsrv.ActivateAndServe() }()
		t.Cleanup(func() { _ = srv.Shutdown(); _ = tsrv.Shutdown() })
	}
	serve(d.Root, func(w dns.ResponseWriter, r *dns.Msg) { _ = w.WriteMsg(answerRoot(v, r, auth, signer)) })
	serve(d.Auth, func(w dns.ResponseWriter, r *dns.Msg) { _ = w.WriteMsg(answerZone(v, r, false)) })
	serve(d.Resolver, func(w dns.ResponseWriter, r *dns.Msg) { _ = w.WriteMsg(answerZone(v, r, true)) })
	return d
}

func rr(s string) dns.RR {
	r, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return r
}

// answerRoot: authoritative for ".", with a referral for the zone and
// its name servers' names answered directly.
func answerRoot(v zoneView, q *dns.Msg, auth string, signer *rootSigner) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	if len(q.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	qn, qt := strings.ToLower(q.Question[0].Name), q.Question[0].Qtype
	soa := rr(". 86400 IN SOA a.root.fake. hostmaster.root.fake. 1 1800 900 604800 86400")
	unlock := v.lock()
	zone, servers, _ := v.zone()
	unlock()
	if dns.IsSubDomain(zone, qn) {
		for _, n := range servers {
			m.Ns = append(m.Ns, rr(fmt.Sprintf("%s 172800 IN NS %s", zone, n)))
		}
		// No DS: the NSEC at the delegation proves it (RFC 4035 3.1.4).
		nsec := &dns.NSEC{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 86400}, NextDomain: "\\000." + zone, TypeBitMap: []uint16{dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC}}
		if qn == zone && qt == dns.TypeDS {
			m.Authoritative, m.Ns = true, append(signer.sign(soa), signer.sign(nsec)...)
			return m
		}
		m.Ns = append(m.Ns, signer.sign(nsec)...)
		return m
	}
	m.Authoritative = true
	switch {
	case qn == "." && qt == dns.TypeSOA:
		m.Answer = signer.sign(soa)
	case qn == "." && qt == dns.TypeNS:
		m.Answer = signer.sign(rr(". 518400 IN NS a.root.fake."))
	case qn == "." && qt == dns.TypeDNSKEY:
		m.Answer = signer.sign(signer.key)
	case qt == dns.TypeA && slices.Contains(servers, qn):
		m.Answer = signer.sign(rr(fmt.Sprintf("%s 172800 IN A %s", qn, auth)))
	case slices.Contains(servers, qn) || qn == ".":
		m.Ns = signer.sign(soa)
	default:
		m.Rcode = dns.RcodeNameError
		m.Ns = signer.sign(soa)
	}
	return m
}

// answerZone answers from the fake's state.
func answerZone(v zoneView, q *dns.Msg, recursive bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = recursive
	if len(q.Question) != 1 || recursive && !q.RecursionDesired {
		m.Rcode = dns.RcodeRefused
		return m
	}
	qn, qt := strings.ToLower(q.Question[0].Name), q.Question[0].Qtype
	unlock := v.lock()
	defer unlock()
	zone, _, soa := v.zone()
	if !dns.IsSubDomain(zone, qn) {
		m.Rcode = dns.RcodeRefused
		return m
	}
	m.Authoritative = !recursive
	answers, exists := v.answer(qn, qt)
	m.Answer = answers
	if len(m.Answer) == 0 {
		if !exists {
			m.Rcode = dns.RcodeNameError
		}
		m.Ns = append(m.Ns, soa)
	}
	return m
}

// route53View serves the default hosted zone, example.com.
type route53View struct{ f *Route53 }

func (v route53View) lock() func() { v.f.mu.Lock(); return v.f.mu.Unlock }

func (v route53View) zone() (string, []string, dns.RR) {
	var ns []string
	var soa dns.RR
	for _, s := range v.f.sets["Z0EXAMPLE"] {
		switch {
		case s.Name == "example.com." && s.Type == "NS":
			ns = s.vals()
		case s.Name == "example.com." && s.Type == "SOA":
			soa = rr(fmt.Sprintf("%s %d IN SOA %s", s.Name, derefI(s.TTL), s.vals()[0]))
		}
	}
	return "example.com.", ns, soa
}

func (v route53View) answer(qn string, qt uint16) ([]dns.RR, bool) {
	exists := false
	var plain, weighted []Route53Set
	for _, s := range v.f.sets["Z0EXAMPLE"] {
		if s.Name == qn || dns.IsSubDomain(qn, s.Name) {
			exists = true
		}
		if s.Name != qn || s.Alias != nil || (s.Type != dns.TypeToString[qt] && s.Type != "CNAME") {
			continue
		}
		if s.Weight != nil {
			weighted = append(weighted, s)
		} else {
			plain = append(plain, s)
		}
	}
	if len(weighted) > 0 {
		plain = append(plain, pick(weighted))
	}
	var out []dns.RR
	for _, s := range plain {
		for _, val := range s.vals() {
			out = append(out, rr(fmt.Sprintf("%s %d IN %s %s", s.Name, derefI(s.TTL), s.Type, val)))
		}
	}
	return out, exists
}

// pick chooses one weighted set with probability weight/sum, or any one
// when every weight is 0 (developer guide, weighted routing).
func pick(sets []Route53Set) Route53Set {
	var sum int64
	for _, s := range sets {
		sum += derefI(s.Weight)
	}
	if sum == 0 {
		return sets[rand.IntN(len(sets))]
	}
	n := rand.Int64N(sum)
	for _, s := range sets {
		if n < derefI(s.Weight) {
			return s
		}
		n -= derefI(s.Weight)
	}
	return sets[len(sets)-1]
}
