package apply

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/plan"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/providers/providerstest"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// A TTL gate reads a server that hands out its zone by one transfer per
// poll (none once everything there is proven), judges each RRset from it,
// names the RRset that is not there yet, and asks a server that refuses
// the transfer question by question.
func TestGateProvesByTransfer(t *testing.T) {
	refusing, asked, _ := udpAnswers(t, map[string]uint32{"a.example.com.": 60, "b.example.com.": 60, "c.example.com.": 60})
	const axfr = "127.0.0.1:1" // never dialled: the host transfers from its table
	host := providerstest.NewTransferHost(refusing)
	host.Set(axfr, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.1", "c.example.com. 300 IN A 192.0.2.1")
	st := lowerABC()
	p := &plan.Plan{Spec: &spec.Spec{Zone: "example.com."}, Observed: &plan.Observed{Old: plan.HostState{Provider: "old", Servers: []string{axfr, refusing}}}}
	env := plan.Env{Checker: checks.New(checks.Options{Roots: []string{refusing}, Timeout: time.Second}), Hosts: map[string]providers.Host{"old": host}}
	memo := newGateMemo()
	ctx := context.Background()

	r := evalGate(ctx, env, p, st, nil, memo)
	if r.OK || r.Summary != "5 of 6 RRset answers serve the new TTL with unchanged data" {
		t.Fatalf("first poll: %+v", r)
	}
	if len(r.Evidence) == 0 || r.Evidence[0].Server != axfr || r.Evidence[0].Question != "c.example.com. A" || !strings.Contains(r.Evidence[0].Note, "zone transfer; want ttl 60") {
		t.Errorf("first poll's evidence does not name c at %s from the transfer: %+v", axfr, r.Evidence)
	}
	host.Set(axfr, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.1", "c.example.com. 60 IN A 192.0.2.1")
	r = evalGate(ctx, env, p, st, nil, memo)
	if !r.OK || r.Summary != "6 of 6 RRset answers serve the new TTL with unchanged data" || len(r.Evidence) != 2 {
		t.Fatalf("second poll: %+v", r)
	}
	if r = evalGate(ctx, env, p, st, nil, memo); !r.OK {
		t.Fatalf("third poll: %+v", r)
	}
	if n := host.Count(axfr); n != 2 {
		t.Errorf("%d transfers from %s over three polls, want 2 (none once all was proven)", n, axfr)
	}
	if n := host.Count(refusing); n != 1 {
		t.Errorf("%d transfers tried at the refusing server, want 1 (then questions)", n)
	}
	for _, n := range []string{"a.example.com.", "b.example.com.", "c.example.com."} {
		if asked(n) != 1 {
			t.Errorf("%s asked %d times at the refusing server, want once", n, asked(n))
		}
	}
}

// A server still at the serial of its last transfer is not transferred
// again: its RRsets still to prove stay so, said once for the server.
func TestGateSkipsTransferAtSameSerial(t *testing.T) {
	srv, _, setSerial := udpAnswers(t, map[string]uint32{"example.com.": 1})
	host := providerstest.NewTransferHost()
	host.Set(srv, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.1", "c.example.com. 300 IN A 192.0.2.1")
	st := lowerABC()
	p := &plan.Plan{Spec: &spec.Spec{Zone: "example.com."}, Observed: &plan.Observed{Old: plan.HostState{Provider: "old", Servers: []string{srv}}}}
	env := plan.Env{Checker: checks.New(checks.Options{Roots: []string{srv}, Timeout: time.Second}), Hosts: map[string]providers.Host{"old": host}}
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
	if n := host.Count(srv); n != 1 {
		t.Errorf("%d transfers over two polls at one serial, want 1", n)
	}
	host.Set(srv, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.1", "c.example.com. 60 IN A 192.0.2.1")
	setSerial("example.com.", 2)
	if r := evalGate(ctx, env, p, st, nil, memo); !r.OK {
		t.Fatalf("poll at serial 2: %+v", r)
	}
	if n := host.Count(srv); n != 2 {
		t.Errorf("%d transfers, want 2 (the new serial transferred)", n)
	}
}

// A server whose serial is behind another of its host's servers (a
// secondary not yet told of the last update) is not transferred until it
// catches up, and in no more than behindPolls polls of the gate: a host
// whose servers keep serials of their own still gets each one judged.
func TestGateHoldsTransferOfServerBehind(t *testing.T) {
	primary, _, _ := udpAnswers(t, map[string]uint32{"example.com.": 2})
	secondary, _, setSerial := udpAnswers(t, map[string]uint32{"example.com.": 1})
	host := providerstest.NewTransferHost()
	lowered := []string{"a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.1", "c.example.com. 60 IN A 192.0.2.1"}
	host.Set(primary, lowered...)
	host.Set(secondary, "a.example.com. 300 IN A 192.0.2.1", "b.example.com. 300 IN A 192.0.2.1", "c.example.com. 300 IN A 192.0.2.1")
	p := &plan.Plan{Spec: &spec.Spec{Zone: "example.com."}, Observed: &plan.Observed{Old: plan.HostState{Provider: "old", Servers: []string{primary, secondary}}}}
	env := plan.Env{Checker: checks.New(checks.Options{Roots: []string{primary}, Timeout: time.Second}), Hosts: map[string]providers.Host{"old": host}}
	ctx := context.Background()

	memo := newGateMemo()
	r := evalGate(ctx, env, p, lowerABC(), nil, memo)
	if r.OK || !strings.HasPrefix(r.Summary, "3 of 6") || len(r.Evidence) == 0 || !strings.Contains(r.Evidence[0].Note, "at serial 1, behind 2 at another of the host's servers") {
		t.Fatalf("first poll, secondary behind: %+v", r)
	}
	if n, m := host.Count(primary), host.Count(secondary); n != 1 || m != 0 {
		t.Errorf("transfers: primary %d, secondary %d; want 1 and 0", n, m)
	}
	host.Set(secondary, lowered...)
	setSerial("example.com.", 2)
	if r := evalGate(ctx, env, p, lowerABC(), nil, memo); !r.OK {
		t.Fatalf("secondary caught up: %+v", r)
	}
	if n, m := host.Count(primary), host.Count(secondary); n != 1 || m != 1 {
		t.Errorf("transfers after it caught up: primary %d, secondary %d; want 1 and 1", n, m)
	}

	// A server that stays behind is held behindPolls polls, then read.
	setSerial("example.com.", 1)
	memo = newGateMemo()
	for poll := 1; poll <= behindPolls+1; poll++ {
		before := host.Count(secondary)
		evalGate(ctx, env, p, lowerABC(), nil, memo)
		read := host.Count(secondary) - before
		if want := map[bool]int{true: 1, false: 0}[poll > behindPolls]; read != want {
			t.Fatalf("poll %d: secondary transferred %d times, want %d", poll, read, want)
		}
	}
}

// Addresses not asked (verify.ipv6: auto, no route) are in every gate's
// evidence.
func TestSkippedAddressesAreSaid(t *testing.T) {
	o := observed(3600, 86400, 3600, 172800, 86400, 900)
	o.Skipped = []string{"[2001:db8::53]:53"}
	p, err := plan.Build(testSpec("insecure-window"), o, t0)
	if err != nil {
		t.Fatal(err)
	}
	ev := skippedEvidence(p)
	if len(ev) != 1 || ev[0].Server != "[2001:db8::53]:53" || !strings.Contains(ev[0].Note, "not asked") {
		t.Errorf("gate evidence for skipped addresses = %+v", ev)
	}
}

// A change of a small share of a large zone is asked question by
// question even where the host hands out its zone: a transfer would read
// every RRset to judge a few. From a tenth of the host's RRsets, and in a
// zone that small, it is read by transfer.
func TestGateAsksASmallChangeOfALargeZone(t *testing.T) {
	for _, c := range []struct {
		zone      int // the host's RRsets when planned
		transfers int
	}{{31, 0}, {30, 1}, {3, 1}} {
		srv, asked, _ := udpAnswers(t, map[string]uint32{"a.example.com.": 60, "b.example.com.": 60, "c.example.com.": 60})
		host := providerstest.NewTransferHost()
		host.Set(srv, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.1", "c.example.com. 60 IN A 192.0.2.1")
		p := &plan.Plan{Spec: &spec.Spec{Zone: "example.com."}, Observed: &plan.Observed{Old: plan.HostState{Provider: "old", Servers: []string{srv}, RRsets: make([]providers.RRset, c.zone)}}}
		env := plan.Env{Checker: checks.New(checks.Options{Roots: []string{srv}, Timeout: time.Second}), Hosts: map[string]providers.Host{"old": host}}
		r := evalGate(context.Background(), env, p, lowerABC(), nil, newGateMemo())
		if !r.OK {
			t.Fatalf("zone of %d: %+v", c.zone, r)
		}
		questions := 0
		for _, n := range []string{"a.example.com.", "b.example.com.", "c.example.com."} {
			questions += asked(n)
		}
		if n := host.Count(srv); n != c.transfers || questions != 3*(1-c.transfers) {
			t.Errorf("3 RRsets changed in a zone of %d: %d transfers and %d questions, want %d transfers", c.zone, n, questions, c.transfers)
		}
	}
}
