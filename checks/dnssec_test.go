package checks

import (
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

type testKey struct {
	key  *dns.DNSKEY
	priv crypto.Signer
}

func newKey(t *testing.T, zone string, flags uint16) testKey {
	t.Helper()
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 20}, Flags: flags, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	p, err := k.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{k, p.(crypto.Signer)}
}

func sign(t *testing.T, k testKey, rrset []dns.RR, inception, expiration time.Time) *dns.RRSIG {
	t.Helper()
	s := &dns.RRSIG{
		Hdr:        dns.RR_Header{Name: rrset[0].Header().Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: rrset[0].Header().Ttl},
		KeyTag:     k.key.KeyTag(),
		SignerName: k.key.Hdr.Name,
		Algorithm:  k.key.Algorithm,
		Inception:  uint32(inception.Unix()),
		Expiration: uint32(expiration.Unix()),
	}
	if err := s.Sign(k.priv, rrset); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func TestVerify(t *testing.T) {
	ksk := newKey(t, "example.test.", dns.ZONE|dns.SEP)
	other := newKey(t, "example.test.", dns.ZONE)
	set := []dns.RR{mustRR(t, "example.test. 30 IN A 192.0.2.1"), mustRR(t, "example.test. 30 IN A 192.0.2.2")}
	day := 24 * time.Hour
	good := sign(t, ksk, set, now.Add(-day), now.Add(10*day))
	tampered := []dns.RR{mustRR(t, "example.test. 30 IN A 192.0.2.1"), mustRR(t, "example.test. 30 IN A 192.0.2.99")}

	tests := []struct {
		name    string
		set     []dns.RR
		sigs    []*dns.RRSIG
		keys    []*dns.DNSKEY
		ok      bool
		expired bool
		future  bool
		problem string
	}{
		{name: "valid", set: set, sigs: []*dns.RRSIG{good}, keys: []*dns.DNSKEY{ksk.key}, ok: true},
		{name: "valid among other keys", set: set, sigs: []*dns.RRSIG{good}, keys: []*dns.DNSKEY{other.key, ksk.key}, ok: true},
		{name: "expired", set: set, sigs: []*dns.RRSIG{sign(t, ksk, set, now.Add(-20*day), now.Add(-day))}, keys: []*dns.DNSKEY{ksk.key}, expired: true, problem: "expired at"},
		{name: "not yet valid", set: set, sigs: []*dns.RRSIG{sign(t, ksk, set, now.Add(day), now.Add(10*day))}, keys: []*dns.DNSKEY{ksk.key}, future: true, problem: "valid only from"},
		{name: "signed by an untrusted key", set: set, sigs: []*dns.RRSIG{good}, keys: []*dns.DNSKEY{other.key}, problem: "made by a trusted key"},
		{name: "data changed after signing", set: tampered, sigs: []*dns.RRSIG{good}, keys: []*dns.DNSKEY{ksk.key}, problem: "does not verify"},
		{name: "unsigned", set: set, keys: []*dns.DNSKEY{ksk.key}, problem: "no RRSIG covers"},
		{name: "no records", keys: []*dns.DNSKEY{ksk.key}, problem: "no records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := verify(tt.set, tt.sigs, tt.keys, now)
			if c.OK != tt.ok || c.Expired != tt.expired || c.Future != tt.future {
				t.Errorf("verify = ok %v expired %v future %v (%s), want %v %v %v", c.OK, c.Expired, c.Future, c.Problem, tt.ok, tt.expired, tt.future)
			}
			if !strings.Contains(c.Problem, tt.problem) {
				t.Errorf("problem = %q, want it to mention %q", c.Problem, tt.problem)
			}
			if tt.ok && !c.Expires.Equal(now.Add(10*day)) {
				t.Errorf("expires = %s, want %s", c.Expires, now.Add(10*day))
			}
		})
	}
}

func TestMatchDS(t *testing.T) {
	ksk := newKey(t, "example.test.", dns.ZONE|dns.SEP)
	zsk := newKey(t, "example.test.", dns.ZONE)
	ds256 := ksk.key.ToDS(dns.SHA256)
	ds384 := ksk.key.ToDS(dns.SHA384)
	wrong := *ds256
	wrong.Digest = strings.Repeat("AB", 32)
	otherTag := *ds256
	otherTag.KeyTag++
	lower := *ds256
	lower.Digest = strings.ToLower(ds256.Digest)
	unknown := *ds256
	unknown.DigestType = 200

	tests := []struct {
		name string
		ds   []*dns.DS
		want int
	}{
		{"SHA-256", []*dns.DS{ds256}, 1},
		{"SHA-384", []*dns.DS{ds384}, 1},
		{"digest in lower case", []*dns.DS{&lower}, 1},
		{"wrong digest", []*dns.DS{&wrong}, 0},
		{"wrong key tag", []*dns.DS{&otherTag}, 0},
		{"unknown digest type", []*dns.DS{&unknown}, 0},
		{"one good among bad", []*dns.DS{&wrong, ds256}, 1},
		{"none", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := matchDS(tt.ds, []*dns.DNSKEY{zsk.key, ksk.key})
			if len(got) != tt.want {
				t.Fatalf("matched %d keys, want %d", len(got), tt.want)
			}
			if tt.want == 1 && got[0] != ksk.key {
				t.Errorf("matched the ZSK, want the KSK")
			}
		})
	}
}

func TestSigTime(t *testing.T) {
	tests := []struct {
		name string
		now  time.Time
		sig  uint32
		want time.Time
	}{
		{"same era", now, uint32(now.Add(time.Hour).Unix()), now.Add(time.Hour)},
		{"past", now, uint32(now.Add(-time.Hour).Unix()), now.Add(-time.Hour)},
		// After 2106 the 32-bit field wraps; serial arithmetic keeps the
		// nearest time.
		{"across the wrap", time.Unix(1<<32-60, 0).UTC(), 60, time.Unix(1<<32+60, 0).UTC()},
		{"back across the wrap", time.Unix(1<<32+60, 0).UTC(), 1<<32 - 60, time.Unix(1<<32-60, 0).UTC()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sigTime(tt.sig, tt.now); !got.Equal(tt.want) {
				t.Errorf("sigTime = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDenialOfDS(t *testing.T) {
	parent := newKey(t, "test.", dns.ZONE|dns.SEP)
	stranger := newKey(t, "test.", dns.ZONE|dns.SEP)
	nsec := func(types ...uint16) []dns.RR {
		n := &dns.NSEC{Hdr: dns.RR_Header{Name: "child.test.", Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 5}, NextDomain: "zz.test.", TypeBitMap: types}
		return []dns.RR{n}
	}
	nsec3 := func(name string, flags uint8, types ...uint16) []dns.RR {
		hash := dns.HashName(name, dns.SHA1, 0, "")
		n := &dns.NSEC3{Hdr: dns.RR_Header{Name: strings.ToLower(hash) + ".test.", Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: 5},
			Hash: dns.SHA1, Flags: flags, Iterations: 0, SaltLength: 0, Salt: "", HashLength: 20, NextDomain: "VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV", TypeBitMap: types}
		return []dns.RR{n}
	}
	msg := func(set []dns.RR, by *testKey) *dns.Msg {
		m := new(dns.Msg)
		m.Ns = append(m.Ns, set...)
		if by != nil {
			m.Ns = append(m.Ns, sign(t, *by, set, now.Add(-time.Hour), now.Add(time.Hour)))
		}
		return m
	}
	tests := []struct {
		name string
		m    *dns.Msg
		want string
	}{
		{"NSEC without DS", msg(nsec(dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC), &parent), ""},
		{"NSEC listing DS", msg(nsec(dns.TypeNS, dns.TypeDS, dns.TypeRRSIG, dns.TypeNSEC), &parent), "lists DS"},
		{"NSEC signed by a stranger", msg(nsec(dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC), &stranger), "does not validate"},
		{"NSEC unsigned", msg(nsec(dns.TypeNS), nil), "does not validate"},
		{"NSEC3 matching without DS", msg(nsec3("child.test.", 0, dns.TypeNS), &parent), ""},
		{"NSEC3 matching with DS", msg(nsec3("child.test.", 0, dns.TypeNS, dns.TypeDS), &parent), "lists DS"},
		{"NSEC3 for another name", msg(nsec3("other.test.", 0, dns.TypeNS), &parent), "no NSEC or NSEC3"},
		{"nothing", new(dns.Msg), "no NSEC or NSEC3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := denialOfDS(tt.m, "child.test.", []*dns.DNSKEY{parent.key}, now)
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("denialOfDS = %q, want %q", got, tt.want)
			}
		})
	}
}

// RFC 4035 5.2: a DS can only authenticate a zone key (Zone flag) of
// protocol 3, whatever its digest says.
func TestMatchDSWantsAZoneKeyOfProtocol3(t *testing.T) {
	for _, tt := range []struct {
		name  string
		edit  func(*dns.DNSKEY)
		match bool
	}{
		{"zone key, protocol 3", func(*dns.DNSKEY) {}, true},
		{"no Zone flag", func(k *dns.DNSKEY) { k.Flags &^= dns.ZONE }, false},
		{"protocol 2", func(k *dns.DNSKEY) { k.Protocol = 2 }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := newKey(t, "example.test.", dns.ZONE|dns.SEP).key
			tt.edit(k)
			ds := k.ToDS(dns.SHA256) // the digest covers flags and protocol
			if got := len(matchDS([]*dns.DS{ds}, []*dns.DNSKEY{k})) == 1; got != tt.match {
				t.Errorf("matched %v, want %v", got, tt.match)
			}
		})
	}
}

// Only DS records of a digest type and algorithm a validator supports
// count; with none left the zone is insecure (RFC 4035 5.2).
func TestSupportedDS(t *testing.T) {
	ds := func(alg, digest uint8) *dns.DS { return &dns.DS{Algorithm: alg, DigestType: digest} }
	for _, tt := range []struct {
		name string
		in   []*dns.DS
		want int
	}{
		{"SHA-256, ECDSA P-256", []*dns.DS{ds(dns.ECDSAP256SHA256, dns.SHA256)}, 1},
		{"SHA-1 still counts (a warning, not insecure)", []*dns.DS{ds(dns.RSASHA256, dns.SHA1)}, 1},
		{"GOST digest", []*dns.DS{ds(dns.ECDSAP256SHA256, dns.GOST94)}, 0},
		{"unknown digest 99", []*dns.DS{ds(dns.ECDSAP256SHA256, 99)}, 0},
		{"DSA algorithm", []*dns.DS{ds(dns.DSA, dns.SHA256)}, 0},
		{"ED448 algorithm", []*dns.DS{ds(dns.ED448, dns.SHA256)}, 0},
		{"one usable among unusable", []*dns.DS{ds(dns.ED448, dns.SHA256), ds(dns.ED25519, dns.SHA384)}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(supportedDS(tt.in)); got != tt.want {
				t.Errorf("%d usable, want %d", got, tt.want)
			}
		})
	}
}
