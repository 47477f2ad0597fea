package providers_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/providers/hosttest"
)

func pdnsHost(t *testing.T, l *lab.Lab, apiKey string) *providers.PowerDNSHost {
	t.Helper()
	h, err := providers.NewPowerDNSHost(providers.PowerDNSOptions{Endpoint: l.PDNSAPI(), APIKey: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The host contract at the lab's real PowerDNS, through its HTTP API and
// through RFC 2136 with the provider's TSIG key.
func TestPowerDNSHostContract(t *testing.T) {
	l := shared.Get(t)
	t.Run("api", func(t *testing.T) {
		hosttest.Run(t, hosttest.Target{Name: "pdns", Host: pdnsHost(t, l, l.Keys[lab.KeyPDNSAPI].Secret), Zone: lab.Zone})
	})
	t.Run("rfc2136", func(t *testing.T) {
		hosttest.Run(t, hosttest.Target{Name: "pdns-rfc2136", Host: providers.NewRFC2136Host(l.Addr(lab.RolePDNS1), key(l, lab.KeyPDNS)), Zone: lab.Zone})
	})
}

// Another signer's DNSKEY added through the API is served by both
// PowerDNS servers beside PowerDNS's own keys, in a DNSKEY RRset its KSK
// signs, and goes when removed; the API's own keys are listed apart.
func TestPowerDNSForeignDNSKEY(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	h := pdnsHost(t, l, l.Keys[lab.KeyPDNSAPI].Secret)
	own, foreign, err := h.DNSKEYs(ctx, lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	if len(own) != 2 || len(foreign) != 0 {
		t.Fatalf("PowerDNS keys: own %v, foreign %v; want a KSK and a ZSK of its own and no other", own, foreign)
	}
	// The ZSK of the lab's Knot (provider NEW) is the foreign key.
	m, err := exchange(l, lab.RoleNew1, lab.Zone, dns.TypeDNSKEY)
	if err != nil {
		t.Fatal(err)
	}
	var zsk string
	for _, rr := range m.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok && k.Flags&dns.SEP == 0 {
			zsk = checks.RRData(k)
		}
	}
	if zsk == "" {
		t.Fatalf("Knot serves no ZSK: %v", m.Answer)
	}
	t.Cleanup(func() {
		if err := h.SetForeignDNSKEYs(ctx, lab.Zone, nil, 0); err != nil {
			t.Error(err)
		}
	})
	served := func(r lab.Role) (keys []string, signed bool) {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(lab.Zone, dns.TypeDNSKEY)
		m.SetEdns0(1232, true)
		in, err := dns.Exchange(m, l.Addr(r))
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range in.Answer {
			switch v := rr.(type) {
			case *dns.DNSKEY:
				keys = append(keys, checks.RRData(v))
			case *dns.RRSIG:
				signed = true
			}
		}
		slices.Sort(keys)
		return keys, signed
	}
	if err := h.SetForeignDNSKEYs(ctx, lab.Zone, []string{zsk}, 5); err != nil {
		t.Fatal(err)
	}
	if _, foreign, err := h.DNSKEYs(ctx, lab.Zone); err != nil || !slices.Equal(foreign, []string{zsk}) {
		t.Errorf("foreign keys listed: %v, %v; want [%s]", foreign, err, zsk)
	}
	want := slices.Sorted(slices.Values(append(slices.Clone(own), zsk)))
	for _, r := range []lab.Role{lab.RolePDNS1, lab.RolePDNS2} {
		if keys, signed := served(r); !slices.Equal(keys, want) || !signed {
			t.Errorf("%s serves DNSKEY %v (signed %t), want %v signed", r, keys, signed, want)
		}
	}
	if err := h.SetForeignDNSKEYs(ctx, lab.Zone, nil, 0); err != nil {
		t.Fatal(err)
	}
	for _, r := range []lab.Role{lab.RolePDNS1, lab.RolePDNS2} {
		if keys, _ := served(r); !slices.Equal(keys, own) {
			t.Errorf("%s serves DNSKEY %v after removal, want its own %v", r, keys, own)
		}
	}
}

// Errors carry the API's own words: a wrong key, a zone it does not have.
func TestPowerDNSErrors(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"wrong key", func() error { return pdnsHost(t, l, "wrong").CheckAccess(ctx, lab.Zone) }, "Unauthorized (HTTP 401)"},
		{"unknown zone", func() error {
			return pdnsHost(t, l, l.Keys[lab.KeyPDNSAPI].Secret).CheckAccess(ctx, "nowhere.lab.")
		}, "read zone nowhere.lab.: Not Found (HTTP 404)"},
		{"data that is not of its type", func() error {
			return pdnsHost(t, l, l.Keys[lab.KeyPDNSAPI].Secret).Replace(ctx, lab.Zone, []providers.Replacement{{Name: "hosttest-bad." + lab.Zone, Type: "A", TTL: 60, To: []string{"not-an-address"}}})
		}, "Parsing record content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), l.PDNSAPI()) {
				t.Errorf("%v; want the API's words %q and its address", err, tc.want)
			}
		})
	}
}
