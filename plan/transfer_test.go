package plan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/providers/providerstest"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// Parity by transfer: an old server's signature with a longer original
// TTL is the TTL that RRset is served with, and a new server that lacks an
// RRset or serves other data is named.
func TestParityByTransfer(t *testing.T) {
	const oldSrv, newSrv = "127.0.0.1:1", "127.0.0.1:2"
	oldHost := providerstest.NewTransferHost()
	oldHost.Set(oldSrv,
		"a.example.com. 60 IN A 192.0.2.1",
		"a.example.com. 60 IN RRSIG A 13 3 600 20300101000000 20200101000000 1 example.com. AAAA",
		"b.example.com. 60 IN A 192.0.2.2",
		"c.example.com. 60 IN TXT \"x\"")
	newHost := providerstest.NewTransferHost()
	newHost.Set(newSrv, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.9")
	sets := []providers.RRset{
		{Name: "a.example.com.", Type: "A", TTL: 60, Data: []string{"192.0.2.1"}},
		{Name: "b.example.com.", Type: "A", TTL: 60, Data: []string{"192.0.2.2"}},
		{Name: "c.example.com.", Type: "TXT", TTL: 60, Data: []string{`"x"`}},
	}
	o := &Observed{
		Old: HostState{Provider: "old", Servers: []string{oldSrv}, RRsets: sets},
		New: HostState{Provider: "new", Servers: []string{newSrv}, RRsets: sets},
	}
	env := Env{Checker: checks.New(checks.Options{Roots: []string{oldSrv}, Timeout: time.Second}), Hosts: map[string]providers.Host{"old": oldHost, "new": newHost}}
	out := parity(context.Background(), env, &spec.Spec{Zone: "example.com."}, o)
	if got := o.Old.ServedAbove["a.example.com. A"]; got != 600 {
		t.Errorf("a's TTL as signed at the old server: %d, want 600 (ServedAbove %v)", got, o.Old.ServedAbove)
	}
	text := strings.Join(out, "\n")
	for _, want := range []string{
		"new server 127.0.0.1:2 serves b.example.com. A as [192.0.2.9] (zone transfer), old provider has [192.0.2.2]",
		"new server 127.0.0.1:2 serves c.example.com. TXT as [] (zone transfer)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("parity problems lack %q:\n%s", want, text)
		}
	}
	if len(out) != 2 {
		t.Errorf("%d parity problems, want 2:\n%s", len(out), text)
	}
}

// A transfer keeps the RRsets of the keys: their data, TTL and the
// original TTL of their signatures, passing over types no key names (the
// NSEC chain) but not a type miekg/dns has no name for (an RRset of it
// is keyed with an empty type, as providers.Group keys it).
func TestByTransferKeepsTheKeys(t *testing.T) {
	const srv = "127.0.0.1:1"
	unknown, err := dns.NewRR("b.example.com. 30 IN TYPE65534 \\# 1 01")
	if err != nil {
		t.Fatal(err)
	}
	host := providerstest.NewTransferHost()
	host.Set(srv,
		"a.example.com. 60 IN A 192.0.2.1",
		"a.example.com. 60 IN A 192.0.2.1",
		"A.example.com. 60 IN A 192.0.2.2",
		"a.example.com. 60 IN RRSIG A 13 3 600 20300101000000 20200101000000 1 example.com. AAAA",
		"a.example.com. 60 IN NSEC b.example.com. A RRSIG NSEC",
		"a.example.com. 60 IN RRSIG NSEC 13 3 60 20300101000000 20200101000000 1 example.com. AAAA",
		"b.example.com. 30 IN TYPE65534 \\# 1 01",
		"c.example.com. 90 IN TXT \"x\"")
	for _, tc := range []struct {
		keys map[string]int
		want map[int]Served // by key index; absent: not served
	}{
		{map[string]int{"a.example.com. A": 0, "a.example.com. NSEC": 1, "z.example.com. A": 2},
			map[int]Served{0: {Data: []string{"192.0.2.1", "192.0.2.2"}, TTL: 60, SigTTL: 600}, 1: {Data: []string{"b.example.com. A RRSIG NSEC"}, TTL: 60, SigTTL: 60}}},
		{map[string]int{"a.example.com. A": 0, "c.example.com. TXT": 1},
			map[int]Served{0: {Data: []string{"192.0.2.1", "192.0.2.2"}, TTL: 60, SigTTL: 600}, 1: {Data: []string{`"x"`}, TTL: 90}}},
		{map[string]int{"b.example.com. ": 0, "c.example.com. TXT": 1},
			map[int]Served{0: {Data: []string{checks.RRData(unknown)}, TTL: 30}, 1: {Data: []string{`"x"`}, TTL: 90}}},
	} {
		var got ServedSets
		ask := ByTransfer(context.Background(), host, "example.com.", []string{srv}, func(int) bool { return false }, tc.keys, func(_ int, _ uint32, g ServedSets) { got = g })
		if len(ask) != 0 || len(got) != len(tc.keys) {
			t.Fatalf("keys %v: ask %v, %d RRsets kept", tc.keys, ask, len(got))
		}
		for i := range got {
			want, served := tc.want[i]
			g := got.At(i)
			if !served {
				if g != nil {
					t.Errorf("keys %v: RRset %d served as %+v, want none", tc.keys, i, *g)
				}
				continue
			}
			if g == nil || strings.Join(g.Data, "|") != strings.Join(want.Data, "|") || g.TTL != want.TTL || g.SigTTL != want.SigTTL {
				t.Errorf("keys %v: RRset %d served as %+v, want %+v", tc.keys, i, g, want)
			}
		}
	}
}
