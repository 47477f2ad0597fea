// Package hosttest is the behaviour every DNS host adapter must show, in
// the spirit of libdns's own libdnstest: one suite of tests that each host
// runs (rfc2136 against the lab's BIND and Knot, Cloudflare and Route 53
// against their fakes). It adds, changes and removes names under
// "hosttest-" only, and leaves the zone as it found it.
package hosttest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/providers"
)

// Target is one host under test: its name in messages, the host and a zone
// it serves.
type Target struct {
	Name string
	Host providers.Host
	Zone string
	// MinTTL is the shortest TTL the host accepts (Cloudflare: 60).
	MinTTL uint32
}

// Run runs the contract against t.
func Run(t *testing.T, tg Target) {
	ctx := context.Background()
	zone := dns.Fqdn(tg.Zone)
	ttl := max(tg.MinTTL, 120)
	name := func(label string) string { return "hosttest-" + label + "." + zone }
	read := func(t *testing.T) map[string]providers.RRset {
		t.Helper()
		sets, err := providers.ReadRRsets(ctx, tg.Name, tg.Host, zone)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]providers.RRset{}
		for _, s := range sets {
			out[strings.ToLower(s.Name)+" "+s.Type] = s
		}
		return out
	}
	replace := func(t *testing.T, reps ...providers.Replacement) {
		t.Helper()
		if err := providers.Replace(ctx, tg.Name, tg.Host, zone, reps); err != nil {
			t.Fatal(err)
		}
	}
	// want says the host holds the RRset exactly, or (nil data) not at all.
	want := func(t *testing.T, owner, rtype string, ttl uint32, data ...string) {
		t.Helper()
		s, ok := read(t)[owner+" "+rtype]
		switch {
		case len(data) == 0 && ok:
			t.Errorf("%s %s still there: %v", owner, rtype, s.Data)
		case len(data) > 0 && !ok:
			t.Errorf("%s %s missing, want %v ttl %d", owner, rtype, data, ttl)
		case len(data) > 0 && (!slices.Equal(s.Data, data) || s.TTL != ttl):
			t.Errorf("%s %s is %v ttl %d, want %v ttl %d", owner, rtype, s.Data, s.TTL, data, ttl)
		}
	}

	t.Run("read", func(t *testing.T) {
		sets := read(t)
		if len(sets) == 0 {
			t.Fatalf("%s lists no records of %s", tg.Name, zone)
		}
		for _, s := range sets {
			if providers.IsSigning(dns.StringToType[s.Type]) {
				t.Errorf("a signer's record is listed: %s %s", s.Name, s.Type)
			}
			if !slices.IsSorted(s.Data) {
				t.Errorf("%s %s data not sorted: %v", s.Name, s.Type, s.Data)
			}
		}
	})

	t.Run("replace", func(t *testing.T) {
		a := name("a")
		replace(t, providers.Replacement{Name: a, Type: "A", TTL: ttl, To: []string{"192.0.2.1", "192.0.2.2"}})
		want(t, a, "A", ttl, "192.0.2.1", "192.0.2.2")
		replace(t, providers.Replacement{Name: a, Type: "A", TTL: ttl, From: []string{"192.0.2.1", "192.0.2.2"}, To: []string{"192.0.2.2", "192.0.2.3"}})
		want(t, a, "A", ttl, "192.0.2.2", "192.0.2.3")
		replace(t, providers.Replacement{Name: a, Type: "A", TTL: ttl, From: []string{"192.0.2.2", "192.0.2.3"}})
		want(t, a, "A", ttl)
	})

	t.Run("ttl change keeps every value", func(t *testing.T) {
		txt := name("txt")
		values := []string{`"one"`, `"two"`}
		replace(t, providers.Replacement{Name: txt, Type: "TXT", TTL: ttl, To: values})
		t.Cleanup(func() {
			_ = providers.Replace(ctx, tg.Name, tg.Host, zone, []providers.Replacement{{Name: txt, Type: "TXT", TTL: ttl, From: values}})
		})
		set := read(t)[txt+" TXT"]
		if err := providers.SetTTLs(ctx, tg.Name, tg.Host, zone, []providers.RRset{set}, []uint32{ttl * 2}); err != nil {
			t.Fatal(err)
		}
		want(t, txt, "TXT", ttl*2, values...)
	})

	t.Run("cname survives a ttl change", func(t *testing.T) {
		cname := name("cname")
		target := []string{"www.example.net."}
		replace(t, providers.Replacement{Name: cname, Type: "CNAME", TTL: ttl, To: target})
		t.Cleanup(func() {
			_ = providers.Replace(ctx, tg.Name, tg.Host, zone, []providers.Replacement{{Name: cname, Type: "CNAME", TTL: ttl * 2, From: target}})
		})
		set := read(t)[cname+" CNAME"]
		if err := providers.SetTTLs(ctx, tg.Name, tg.Host, zone, []providers.RRset{set}, []uint32{ttl * 2}); err != nil {
			t.Fatal(err)
		}
		want(t, cname, "CNAME", ttl*2, target...)
	})

	t.Run("errors name the provider", func(t *testing.T) {
		err := providers.Replace(ctx, tg.Name, tg.Host, zone, []providers.Replacement{{Name: name("bad"), Type: "A", TTL: ttl, To: []string{"not-an-address"}}})
		if err == nil || !strings.Contains(err.Error(), tg.Name) {
			t.Errorf("a change with bad data: %v, want an error naming %q", err, tg.Name)
		}
		want(t, name("bad"), "A", ttl)
	})
}
