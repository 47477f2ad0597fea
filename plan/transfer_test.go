package plan

import (
	"context"
	"strings"
	"testing"
	"time"

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
