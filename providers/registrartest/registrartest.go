// Package registrartest is the behaviour every registrar adapter that
// changes the delegation itself must show, as hosttest is for hosts: one
// suite that each registrar runs (rfc2136 against the lab's parent
// server, Route 53 Domains against its fake). A manual registrar, which
// prints instructions for a person, has tests of its own.
package registrartest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/providers"
)

// Target is one registrar under test.
type Target struct {
	Name      string
	Registrar providers.Registrar
	Zone      string
	// Delegation reads what the parent publishes now: NS names (fully
	// qualified, lower case) and DS digests.
	Delegation func(ctx context.Context) (ns, digests []string, err error)
	// Refusing is the same registrar as the far end refuses it (a wrong
	// key, an injected error); Where is what its errors must name.
	Refusing providers.Registrar
	Where    string
}

// Run runs the contract against tg. It changes the delegation; the caller
// puts it back (t.Cleanup) when it runs against a shared parent.
func Run(t *testing.T, tg Target) {
	ctx := context.Background()
	zone := dns.Fqdn(tg.Zone)
	ttl := 10 * time.Second
	read := func(t *testing.T) (ns, ds []string) {
		t.Helper()
		ns, ds, err := tg.Delegation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ds {
			ds[i] = strings.ToUpper(ds[i])
		}
		slices.Sort(ns)
		slices.Sort(ds)
		return ns, ds
	}
	digests := func(signers ...providers.DelegationSigner) []string {
		var out []string
		for _, s := range signers {
			out = append(out, strings.ToUpper(s.DS.Digest))
		}
		slices.Sort(out)
		return out
	}

	t.Run("capabilities", func(t *testing.T) {
		if c := tg.Registrar.Capabilities(); !c.Automatic || !c.DS || !c.Glue {
			t.Errorf("%s: capabilities %+v; the contract is for a registrar that sets NS, glue and DS itself", tg.Name, c)
		}
	})
	t.Run("set NS", func(t *testing.T) {
		want := []string{"ns1.contract.example.org.", "ns2.contract.example.org."}
		if err := tg.Registrar.SetNS(ctx, zone, want, nil, ttl); err != nil {
			t.Fatal(err)
		}
		if ns, _ := read(t); !slices.Equal(ns, want) {
			t.Errorf("the parent delegates to %v, want %v", ns, want)
		}
	})
	t.Run("in-zone NS without glue refused, nothing changed", func(t *testing.T) {
		before, _ := read(t)
		err := tg.Registrar.SetNS(ctx, zone, []string{"ns1." + zone}, nil, ttl)
		if err == nil || !strings.Contains(err.Error(), "glue") {
			t.Errorf("in-zone name server without glue: %v", err)
		}
		if ns, _ := read(t); !slices.Equal(ns, before) {
			t.Errorf("the delegation changed to %v after a refusal", ns)
		}
	})
	t.Run("replace DS", func(t *testing.T) {
		a, b := NewKSK(t, zone), NewKSK(t, zone)
		for _, set := range [][]providers.DelegationSigner{{a, b}, {b}, {b}, nil, {a}} {
			if err := tg.Registrar.SetDS(ctx, zone, set, ttl); err != nil {
				t.Fatalf("set DS to %v: %v", digests(set...), err)
			}
			if _, ds := read(t); !slices.Equal(ds, digests(set...)) {
				t.Errorf("after setting %v the parent publishes DS %v", digests(set...), ds)
			}
		}
	})
	t.Run("errors name the registrar", func(t *testing.T) {
		_, before := read(t)
		err := tg.Refusing.SetDS(ctx, zone, nil, ttl)
		if err == nil || !strings.Contains(err.Error(), tg.Where) {
			t.Errorf("a refused change: %v; want an error naming %s", err, tg.Where)
		}
		if _, ds := read(t); !slices.Equal(ds, before) {
			t.Errorf("DS %v after a refused change, want %v", ds, before)
		}
	})
}

// NewKSK makes a new KSK of zone and its SHA-256 DS.
func NewKSK(t *testing.T, zone string) providers.DelegationSigner {
	t.Helper()
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: dns.Fqdn(zone), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600}, Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	if _, err := k.Generate(256); err != nil {
		t.Fatal(err)
	}
	return providers.DelegationSigner{DS: k.ToDS(dns.SHA256), Key: k}
}
