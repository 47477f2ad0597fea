package providers_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/providers/hosttest"
	"github.com/dnsmigrate/dnsmigrate/providers/registrartest"
)

var shared = labtest.New("127.64.0.0/24")

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

func key(l *lab.Lab, name string) providers.TSIG {
	k := l.Keys[name]
	return providers.TSIG{Name: k.Name, Algorithm: k.Algorithm, Secret: k.Secret}
}

// TestLibdnsSetRecordsLosesCNAMEOnKnot documents why the rfc2136 host
// changes TTLs itself: libdns's SetRecords ("delete RRset, add") makes
// Knot DNS drop a CNAME of a signed zone. If Knot ever stops doing so,
// this test fails and SetTTLs may go back to SetRecords.
func TestLibdnsSetRecordsLosesCNAMEOnKnot(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	h := providers.NewRFC2136Host(l.Addr(lab.RoleNew1), key(l, lab.KeyNew))
	cname := libdns.RR{Name: "blog", TTL: 9 * time.Second, Type: "CNAME", Data: "www.example.lab."}
	t.Cleanup(func() {
		if _, err := h.AppendRecords(ctx, lab.Zone, []libdns.Record{libdns.RR{Name: "blog", TTL: 30 * time.Second, Type: "CNAME", Data: "www.example.lab."}}); err != nil {
			t.Error(err)
		}
	})
	if _, err := h.SetRecords(ctx, lab.Zone, []libdns.Record{cname}); err != nil {
		t.Fatal(err)
	}
	if m := ask(t, l, lab.RoleNew1, "blog."+lab.Zone, dns.TypeCNAME); len(m.Answer) != 0 {
		t.Fatalf("Knot kept the CNAME (%v): libdns SetRecords may be safe again; revisit RFC2136Host.SetTTLs", m.Answer)
	}
}

func hosts(l *lab.Lab) map[string]providers.Host {
	return map[string]providers.Host{
		"old": providers.NewRFC2136Host(l.Addr(lab.RoleOld1), key(l, lab.KeyOld)),
		"new": providers.NewRFC2136Host(l.Addr(lab.RoleNew1), key(l, lab.KeyNew)),
	}
}

func keys(rrs []dns.RR, skip func(dns.RR) bool) []string {
	var out []string
	for _, rr := range rrs {
		if !skip(rr) {
			out = append(out, providers.RRKey(rr))
		}
	}
	return out
}

// BIND and Knot, read through libdns, hold the same zone but for the SOA
// and each provider's apex NS set; signer records are left out.
func TestHostsReadTheSameZone(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	h := hosts(l)
	old, err := providers.Records(ctx, "old", h["old"], lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	nw, err := providers.Records(ctx, "new", h["new"], lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	skip := func(rr dns.RR) bool {
		t := rr.Header().Rrtype
		return t == dns.TypeSOA || (t == dns.TypeNS && rr.Header().Name == lab.Zone)
	}
	if a, b := keys(old, skip), keys(nw, skip); !slices.Equal(a, b) || len(a) < 12 {
		t.Errorf("providers differ or are too small:\nold %v\nnew %v", a, b)
	}
	for _, rr := range append(old, nw...) {
		if providers.IsSigning(rr.Header().Rrtype) {
			t.Errorf("signer record returned: %s", rr)
		}
	}
	// ReadRRsets reads what Records does, grouped as Group groups it.
	for name, rrs := range map[string][]dns.RR{"old": old, "new": nw} {
		sets, err := providers.ReadRRsets(ctx, name, h[name], lab.Zone)
		if err != nil {
			t.Fatal(err)
		}
		if want := providers.Group(rrs); !reflect.DeepEqual(sets, want) {
			t.Errorf("%s: ReadRRsets gave %d RRsets, Group(Records) %d:\n%v\n%v", name, len(sets), len(want), sets, want)
		}
	}
}

func TestSetTTLsRoundTrip(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	for name, h := range hosts(l) {
		t.Run(name, func(t *testing.T) {
			rrs, err := providers.Records(ctx, name, h, lab.Zone)
			if err != nil {
				t.Fatal(err)
			}
			var sets []providers.RRset
			var before, lowered []uint32
			for _, s := range providers.Group(rrs) {
				if s.Type == "SOA" {
					continue
				}
				sets = append(sets, s)
				before = append(before, s.TTL)
				lowered = append(lowered, 7)
			}
			if err := providers.SetTTLs(ctx, name, h, lab.Zone, sets, lowered); err != nil {
				t.Fatal(err)
			}
			got := ttls(t, ctx, name, h)
			for _, s := range sets {
				if got[s.Name+" "+s.Type] != 7 {
					t.Errorf("%s %s has TTL %d after lowering, want 7", s.Name, s.Type, got[s.Name+" "+s.Type])
				}
			}
			if err := providers.SetTTLs(ctx, name, h, lab.Zone, sets, before); err != nil {
				t.Fatal(err)
			}
			got = ttls(t, ctx, name, h)
			for i, s := range sets {
				if got[s.Name+" "+s.Type] != before[i] {
					t.Errorf("%s %s has TTL %d after restoring, want %d", s.Name, s.Type, got[s.Name+" "+s.Type], before[i])
				}
			}
		})
	}
}

func ttls(t *testing.T, ctx context.Context, name string, h providers.Host) map[string]uint32 {
	t.Helper()
	rrs, err := providers.Records(ctx, name, h, lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint32{}
	for _, s := range providers.Group(rrs) {
		out[s.Name+" "+s.Type] = s.TTL
	}
	return out
}

func ask(t *testing.T, l *lab.Lab, r lab.Role, name string, qtype uint16) *dns.Msg {
	t.Helper()
	resp, err := exchange(l, r, name, qtype)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// exchange asks the lab's server r over TCP, without recursion.
func exchange(l *lab.Lab, r lab.Role, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	resp, _, err := (&dns.Client{Net: "tcp"}).Exchange(m, l.Addr(r))
	return resp, err
}

func TestRFC2136Registrar(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	reg := providers.NewRFC2136Registrar(l.Addr(lab.RoleTLD), lab.TLD, key(l, lab.KeyRegistrar))
	oldGlue := map[string][]netip.Addr{lab.OldNS[0]: {l.Addrs[lab.RoleOld1]}, lab.OldNS[1]: {l.Addrs[lab.RoleOld2]}}
	liveDS, err := l.LiveDS(ctx, lab.RoleOld1, lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := reg.SetNS(ctx, lab.Zone, lab.OldNS[:], oldGlue, 10*time.Second); err != nil {
			t.Error(err)
		}
		if err := l.SetDS(ctx, lab.Zone, liveDS); err != nil {
			t.Error(err)
		}
	})

	if err := reg.SetNS(ctx, lab.Zone, lab.NewNS[:], nil, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, rr := range ask(t, l, lab.RoleTLD, lab.Zone, dns.TypeNS).Ns {
		if n, ok := rr.(*dns.NS); ok {
			ns = append(ns, n.Ns)
		}
	}
	slices.Sort(ns)
	if !slices.Equal(ns, lab.NewNS[:]) {
		t.Errorf("parent serves NS %v, want %v", ns, lab.NewNS)
	}

	if err := reg.SetDS(ctx, lab.Zone, nil, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if m := ask(t, l, lab.RoleTLD, lab.Zone, dns.TypeDS); len(m.Answer) != 0 {
		t.Errorf("DS still served after removal: %v", m.Answer)
	}
	newDS, err := l.LiveDS(ctx, lab.RoleNew1, lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.SetDS(ctx, lab.Zone, []providers.DelegationSigner{{DS: newDS[0].(*dns.DS)}}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	m := ask(t, l, lab.RoleTLD, lab.Zone, dns.TypeDS)
	var served []string
	for _, rr := range m.Answer {
		if d, ok := rr.(*dns.DS); ok {
			served = append(served, d.Digest)
		}
	}
	if want := newDS[0].(*dns.DS).Digest; len(served) != 1 || !strings.EqualFold(served[0], want) {
		t.Errorf("parent serves DS digests %v, want [%s]", served, want)
	}

	// In-zone names need glue; without it nothing is sent.
	if err := reg.SetNS(ctx, lab.Zone, lab.OldNS[:], nil, 10*time.Second); err == nil || !strings.Contains(err.Error(), "needs glue") {
		t.Errorf("SetNS without glue: %v", err)
	}
	// A wrong key is refused, and the error names the server.
	bad := providers.NewRFC2136Registrar(l.Addr(lab.RoleTLD), lab.TLD, key(l, lab.KeyOld))
	if err := bad.SetDS(ctx, lab.Zone, nil, 10*time.Second); err == nil || !strings.Contains(err.Error(), l.Addr(lab.RoleTLD)) {
		t.Errorf("wrong key: %v", err)
	}
}

// The registrar contract against the lab's parent server (BIND): what it
// publishes is read from it; a wrong key is refused with the server named.
func TestRFC2136RegistrarContract(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	liveDS, err := l.LiveDS(ctx, lab.RoleOld1, lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	reg := providers.NewRFC2136Registrar(l.Addr(lab.RoleTLD), lab.TLD, key(l, lab.KeyRegistrar))
	t.Cleanup(func() {
		oldGlue := map[string][]netip.Addr{lab.OldNS[0]: {l.Addrs[lab.RoleOld1]}, lab.OldNS[1]: {l.Addrs[lab.RoleOld2]}}
		if err := reg.SetNS(ctx, lab.Zone, lab.OldNS[:], oldGlue, 10*time.Second); err != nil {
			t.Error(err)
		}
		if err := l.SetDS(ctx, lab.Zone, liveDS); err != nil {
			t.Error(err)
		}
	})
	registrartest.Run(t, registrartest.Target{Name: "rfc2136", Registrar: reg, Zone: lab.Zone,
		Delegation: func(context.Context) (ns, ds []string, err error) {
			nsm, err := exchange(l, lab.RoleTLD, lab.Zone, dns.TypeNS)
			if err != nil {
				return nil, nil, err
			}
			dsm, err := exchange(l, lab.RoleTLD, lab.Zone, dns.TypeDS)
			if err != nil {
				return nil, nil, err
			}
			for _, rr := range nsm.Ns {
				if n, ok := rr.(*dns.NS); ok {
					ns = append(ns, strings.ToLower(n.Ns))
				}
			}
			for _, rr := range dsm.Answer {
				if d, ok := rr.(*dns.DS); ok {
					ds = append(ds, d.Digest)
				}
			}
			return ns, ds, nil
		},
		Refusing: providers.NewRFC2136Registrar(l.Addr(lab.RoleTLD), lab.TLD, key(l, lab.KeyOld)), Where: l.Addr(lab.RoleTLD)})
}

func TestManualRegistrar(t *testing.T) {
	var b bytes.Buffer
	m := providers.NewManualRegistrar(&b)
	ds := &dns.DS{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeDS, Class: dns.ClassINET}, KeyTag: 12345, Algorithm: dns.ECDSAP256SHA256, DigestType: dns.SHA256, Digest: "ABCDEF0123"}
	if err := m.SetDS(context.Background(), "example.com", []providers.DelegationSigner{{DS: ds}}, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.SetDS(context.Background(), "example.com", nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.SetNS(context.Background(), "example.com", []string{"ns1.example.com.", "ns2.new.example.org."}, map[string][]netip.Addr{"ns1.example.com.": {netip.MustParseAddr("192.0.2.1")}}, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"key tag 12345, algorithm 13 (ECDSAP256SHA256), digest type 2 (SHA256), digest ABCDEF0123",
		"remove every DS record (DNSSEC key) of example.com.",
		"    ns1.example.com\n        glue (host record) address: 192.0.2.1\n    ns2.new.example.org\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("instructions lack %q:\n%s", want, b.String())
		}
	}
	if c := m.Capabilities(); c.Automatic || !c.DS {
		t.Errorf("capabilities %+v", c)
	}
}

// Every server of each host hands its zone out by AXFR to the host's key,
// secondaries included, with the signer's records (which gates read for
// the TTL a record is signed with); Records reads the primary's, the SOA
// once. A wrong key is refused with the server named.
func TestTransferFromEveryServer(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	for _, c := range []struct {
		host        string
		key         string
		primary     lab.Role
		secondaries []lab.Role
	}{{"old", lab.KeyOld, lab.RoleOld1, []lab.Role{lab.RoleOld2}}, {"new", lab.KeyNew, lab.RoleNew1, []lab.Role{lab.RoleNew2}}} {
		h := providers.NewRFC2136Host(l.Addr(c.primary), key(l, c.key))
		recs, err := providers.Records(ctx, c.host, h, lab.Zone)
		if err != nil {
			t.Fatal(err)
		}
		soas := 0
		for _, rr := range recs {
			if rr.Header().Rrtype == dns.TypeSOA {
				soas++
			}
		}
		if soas != 1 {
			t.Errorf("%s: Records holds %d SOA records, want 1", c.host, soas)
		}
		for _, role := range append([]lab.Role{c.primary}, c.secondaries...) {
			var all []dns.RR
			sigs := 0
			if err := h.Transfer(ctx, l.Addr(role), lab.Zone, func(rr dns.RR) {
				if rr.Header().Rrtype == dns.TypeRRSIG {
					sigs++
				}
				all = append(all, rr)
			}); err != nil {
				t.Fatalf("%s: transfer from %s: %v", c.host, role, err)
			}
			noSigner := func(rr dns.RR) bool {
				return providers.IsSigning(rr.Header().Rrtype) || rr.Header().Rrtype == dns.TypeSOA
			}
			if a, b := slices.Sorted(slices.Values(keys(all, noSigner))), keys(recs, noSigner); !slices.Equal(a, b) || sigs == 0 {
				t.Errorf("%s: %s hands out %v with %d signatures, Records read %v", c.host, role, a, sigs, b)
			}
		}
		bad := key(l, c.key)
		bad.Secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
		err = providers.NewRFC2136Host(l.Addr(c.primary), bad).Transfer(ctx, "", lab.Zone, func(dns.RR) {})
		if err == nil || !strings.Contains(err.Error(), l.Addr(c.primary)) {
			t.Errorf("%s: a wrong key's transfer: %v, want an error naming %s", c.host, err, l.Addr(c.primary))
		}
	}
}

// The rfc2136 host keeps the host contract at the lab's BIND (old) and
// Knot (new), signed zones both.
func TestRFC2136HostContract(t *testing.T) {
	l := shared.Get(t)
	for name, h := range hosts(l) {
		t.Run(name, func(t *testing.T) {
			hosttest.Run(t, hosttest.Target{Name: name, Host: h, Zone: lab.Zone})
		})
	}
}
