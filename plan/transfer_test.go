package plan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// transferHost hands out zones by transfer from a table of records per
// server (as zone-file lines), refusing the servers in refuse, and counts
// the transfers.
type transferHost struct {
	providers.Host
	serial    uint32 // of the zone handed out; 0 means 1
	mu        sync.Mutex
	zone      map[string][]string
	refuse    map[string]bool
	transfers map[string]int
}

func (h *transferHost) Transfer(_ context.Context, server, zone string, each func(dns.RR)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.transfers[server]++
	if h.refuse[server] {
		return errors.New("axfr " + zone + " from " + server + ": bad xfr rcode: 5")
	}
	soa, _ := dns.NewRR(fmt.Sprintf("%s 3600 IN SOA ns1.%s h.%s %d 7200 3600 1209600 300", zone, zone, zone, max(h.serial, 1)))
	each(soa)
	for _, line := range h.zone[server] {
		rr, err := dns.NewRR(line)
		if err != nil {
			return err
		}
		each(rr)
	}
	each(soa)
	return nil
}

func (h *transferHost) set(server string, lines ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.zone[server] = lines
	h.serial++
}

func (h *transferHost) count(server string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.transfers[server]
}

// A TTL gate reads a server that hands out its zone by one transfer per
// poll (none once everything there is proven), judges each RRset from it,
// names the RRset that is not there yet, and asks a server that refuses
// the transfer question by question.
func TestGateProvesByTransfer(t *testing.T) {
	refusing, asked, _ := udpAnswers(t, map[string]uint32{"a.example.com.": 60, "b.example.com.": 60, "c.example.com.": 60})
	const axfr = "127.0.0.1:1" // never dialled: the host transfers from its table
	host := &transferHost{zone: map[string][]string{}, refuse: map[string]bool{refusing: true}, transfers: map[string]int{}}
	host.set(axfr, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.1", "c.example.com. 300 IN A 192.0.2.1")
	st := lowerABC()
	p := &Plan{Spec: &spec.Spec{Zone: "example.com."}, Observed: &Observed{Old: HostState{Provider: "old", Servers: []string{axfr, refusing}}}}
	env := Env{Checker: checks.New(checks.Options{Roots: []string{refusing}, Timeout: time.Second}), Hosts: map[string]providers.Host{"old": host}}
	memo := newGateMemo()
	ctx := context.Background()

	r := evalGate(ctx, env, p, st, nil, memo)
	if r.OK || r.Summary != "5 of 6 RRset answers serve the new TTL with unchanged data" {
		t.Fatalf("first poll: %+v", r)
	}
	if len(r.Evidence) == 0 || r.Evidence[0].Server != axfr || r.Evidence[0].Question != "c.example.com. A" || !strings.Contains(r.Evidence[0].Note, "zone transfer; want ttl 60") {
		t.Errorf("first poll's evidence does not name c at %s from the transfer: %+v", axfr, r.Evidence)
	}
	host.set(axfr, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.1", "c.example.com. 60 IN A 192.0.2.1")
	r = evalGate(ctx, env, p, st, nil, memo)
	if !r.OK || r.Summary != "6 of 6 RRset answers serve the new TTL with unchanged data" || len(r.Evidence) != 2 {
		t.Fatalf("second poll: %+v", r)
	}
	if r = evalGate(ctx, env, p, st, nil, memo); !r.OK {
		t.Fatalf("third poll: %+v", r)
	}
	if n := host.count(axfr); n != 2 {
		t.Errorf("%d transfers from %s over three polls, want 2 (none once all was proven)", n, axfr)
	}
	if n := host.count(refusing); n != 1 {
		t.Errorf("%d transfers tried at the refusing server, want 1 (then questions)", n)
	}
	for _, n := range []string{"a.example.com.", "b.example.com.", "c.example.com."} {
		if asked(n) != 1 {
			t.Errorf("%s asked %d times at the refusing server, want once", n, asked(n))
		}
	}
}

// Parity by transfer: an old server's signature with a longer original
// TTL is the TTL that RRset is served with, and a new server that lacks an
// RRset or serves other data is named.
func TestParityByTransfer(t *testing.T) {
	const oldSrv, newSrv = "127.0.0.1:1", "127.0.0.1:2"
	oldHost := &transferHost{zone: map[string][]string{}, transfers: map[string]int{}}
	oldHost.set(oldSrv,
		"a.example.com. 60 IN A 192.0.2.1",
		"a.example.com. 60 IN RRSIG A 13 3 600 20300101000000 20200101000000 1 example.com. AAAA",
		"b.example.com. 60 IN A 192.0.2.2",
		"c.example.com. 60 IN TXT \"x\"")
	newHost := &transferHost{zone: map[string][]string{}, transfers: map[string]int{}}
	newHost.set(newSrv, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.9")
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

// A server still at the serial of its last transfer is not transferred
// again: its RRsets still to prove stay so, said once for the server.
func TestGateSkipsTransferAtSameSerial(t *testing.T) {
	srv, _, setSerial := udpAnswers(t, map[string]uint32{"example.com.": 1})
	host := &transferHost{zone: map[string][]string{}, transfers: map[string]int{}}
	host.set(srv, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.1", "c.example.com. 300 IN A 192.0.2.1")
	st := lowerABC()
	p := &Plan{Spec: &spec.Spec{Zone: "example.com."}, Observed: &Observed{Old: HostState{Provider: "old", Servers: []string{srv}}}}
	env := Env{Checker: checks.New(checks.Options{Roots: []string{srv}, Timeout: time.Second}), Hosts: map[string]providers.Host{"old": host}}
	memo := newGateMemo()
	ctx := context.Background()
	for poll, want := range []string{"2 of 3", "2 of 3"} {
		r := evalGate(ctx, env, p, st, nil, memo)
		if r.OK || !strings.HasPrefix(r.Summary, want) {
			t.Fatalf("poll %d: %+v", poll+1, r)
		}
		if poll == 1 && (len(r.Evidence) == 0 || !strings.Contains(r.Evidence[0].Note, "still at serial 1, transferred before: 1 RRsets")) {
			t.Errorf("poll 2's evidence: %+v", r.Evidence)
		}
	}
	if n := host.count(srv); n != 1 {
		t.Errorf("%d transfers over two polls at one serial, want 1", n)
	}
	host.set(srv, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.1", "c.example.com. 60 IN A 192.0.2.1")
	setSerial("example.com.", 2)
	if r := evalGate(ctx, env, p, st, nil, memo); !r.OK {
		t.Fatalf("poll at serial 2: %+v", r)
	}
	if n := host.count(srv); n != 2 {
		t.Errorf("%d transfers, want 2 (the new serial transferred)", n)
	}
}
