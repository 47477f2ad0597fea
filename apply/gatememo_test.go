package apply

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// A gate's next poll asks only what its earlier polls did not prove, and
// its evidence still holds one proof per server.
func TestGateAsksOnlyWhatIsNotProven(t *testing.T) {
	addr, asked, setTTL := udpAnswers(t, map[string]uint32{"a.example.com.": 60, "b.example.com.": 60, "c.example.com.": 300})

	st := lowerABC()
	p := &plan.Plan{Spec: &spec.Spec{Zone: "example.com."}, Observed: &plan.Observed{Old: plan.HostState{Provider: "old", Servers: []string{addr}}}}
	env := plan.Env{Checker: checks.New(checks.Options{Roots: []string{addr}, Timeout: time.Second})}
	memo := newGateMemo()
	if r := evalGate(context.Background(), env, p, st, nil, memo); r.OK || r.Summary != "2 of 3 RRset answers serve the new TTL with unchanged data" {
		t.Fatalf("first poll: %+v", r)
	}
	setTTL("c.example.com.", 60)
	r := evalGate(context.Background(), env, p, st, nil, memo)
	if !r.OK || r.Summary != "3 of 3 RRset answers serve the new TTL with unchanged data" || len(r.Evidence) != 1 || r.Evidence[0].Server != addr {
		t.Fatalf("second poll: %+v", r)
	}
	if asked("a.example.com.") != 1 || asked("b.example.com.") != 1 || asked("c.example.com.") != 2 {
		t.Errorf("questions per name over two polls: a %d, b %d, c %d, want a and b once, c twice", asked("a.example.com."), asked("b.example.com."), asked("c.example.com."))
	}
}

// A restarted run's read-back of a change polls like a gate: what one
// poll proved is not asked again in the next.
func TestReadBackAsksOnlyWhatIsNotProven(t *testing.T) {
	addr, asked, setTTL := udpAnswers(t, map[string]uint32{"a.example.com.": 60, "b.example.com.": 60, "c.example.com.": 300})
	st := lowerABC()
	st.Gate.Timeout = plan.Duration(time.Minute)
	p := &plan.Plan{Spec: &spec.Spec{Zone: "example.com."}, Observed: &plan.Observed{Old: plan.HostState{Provider: "old", Servers: []string{addr}}}}
	env := plan.Env{Checker: checks.New(checks.Options{Roots: []string{addr}, Timeout: time.Second})}
	clock := &landsAfter{SimClock: NewSimClock(time.Now()), sleeps: 3, land: func() { setTTL("c.example.com.", 60) }}
	x := &Executor{Plan: p, Env: env, Clock: clock, Journal: &Journal{}, Out: &strings.Builder{}, Poll: time.Second}
	if r := x.readBack(context.Background(), st); !r.OK {
		t.Fatalf("read back: %+v", r)
	}
	if asked("a.example.com.") != 1 || asked("b.example.com.") != 1 || asked("c.example.com.") != 4 {
		t.Errorf("questions per name over four polls: a %d, b %d, c %d, want a and b once, c 4 times", asked("a.example.com."), asked("b.example.com."), asked("c.example.com."))
	}
}

// landsAfter is a simulated clock on which a change lands (land runs)
// at the given sleep.
type landsAfter struct {
	*SimClock
	sleeps int
	land   func()
}

func (c *landsAfter) Sleep(ctx context.Context, d time.Duration) error {
	if c.sleeps--; c.sleeps == 0 {
		c.land()
	}
	return c.SimClock.Sleep(ctx, d)
}

// lowerABC is a lower-ttl step taking a, b and c.example.com. A from 300
// to 60 at old, with its TTL gate.
func lowerABC() *plan.Step {
	var sets []providers.RRset
	var ttls []uint32
	for _, n := range []string{"a.example.com.", "b.example.com.", "c.example.com."} {
		sets = append(sets, providers.RRset{Name: n, Type: "A", TTL: 300, Data: []string{"192.0.2.1"}})
		ttls = append(ttls, 60)
	}
	return &plan.Step{ID: plan.StepLowerTTL, TTLs: []plan.TTLChange{{Provider: "old", RRsets: sets, TTLs: ttls}}, Gate: &plan.Gate{Check: plan.GateTTLServed}}
}

// udpAnswers serves A answers from a table of TTLs (setTTL changes one),
// counting questions; an SOA question is answered with the table's value
// for its name as the serial.
func udpAnswers(t *testing.T, ttl map[string]uint32) (addr string, asked func(string) int, setTTL func(string, uint32)) {
	t.Helper()
	var mu sync.Mutex
	n := map[string]int{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		q := r.Question[0]
		mu.Lock()
		n[q.Name]++
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		rr, _ := dns.NewRR(q.Name + " 0 IN A 192.0.2.1")
		rr.Header().Ttl = ttl[q.Name]
		if q.Qtype == dns.TypeSOA {
			rr, _ = dns.NewRR(fmt.Sprintf("%s 60 IN SOA ns. host. %d 1 1 1 1", q.Name, ttl[q.Name]))
		}
		mu.Unlock()
		m.Answer = append(m.Answer, rr)
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String(), func(name string) int {
			mu.Lock()
			defer mu.Unlock()
			return n[name]
		}, func(name string, v uint32) {
			mu.Lock()
			defer mu.Unlock()
			ttl[name] = v
		}
}

// A gate looks again soon after a change (25 ms, then half as long again
// each time) and only later once a Poll: a change that lands at every
// server within a few hundred milliseconds is proven then, not a whole
// Poll later.
func TestGateLooksAgainSoonThenEveryPoll(t *testing.T) {
	for _, tt := range []struct {
		poll time.Duration
		want []time.Duration // after the 1st, 2nd, ... look, in ns
	}{
		{time.Second, []time.Duration{25e6, 37.5e6, 56.25e6, 84.375e6, 126.5625e6, 189.84375e6, 284.765625e6, 427148437, 640722655, 961083982, 1e9, 1e9}},
		{200 * time.Millisecond, []time.Duration{25e6, 37.5e6, 56.25e6, 84.375e6, 126.5625e6, 189.84375e6, 200e6, 200e6}},
		{10 * time.Millisecond, []time.Duration{10e6, 10e6}},
	} {
		x := &Executor{Poll: tt.poll}
		for i, want := range tt.want {
			if got := x.pollAfter(i + 1); got != want {
				t.Errorf("Poll %s: after look %d wait %s, want %s", tt.poll, i+1, got, want)
			}
		}
	}

	addr, _, setTTL := udpAnswers(t, map[string]uint32{"a.example.com.": 60, "b.example.com.": 60, "c.example.com.": 300})
	st := lowerABC()
	st.Gate.Timeout = plan.Duration(time.Minute)
	p := &plan.Plan{Spec: &spec.Spec{Zone: "example.com."}, Observed: &plan.Observed{Old: plan.HostState{Provider: "old", Servers: []string{addr}}}}
	env := plan.Env{Checker: checks.New(checks.Options{Roots: []string{addr}, Timeout: time.Second})}
	start := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	clock := &landsAfter{SimClock: NewSimClock(start), sleeps: 3, land: func() { setTTL("c.example.com.", 60) }}
	x := &Executor{Plan: p, Env: env, Clock: clock, Journal: &Journal{}, Out: &strings.Builder{}, Poll: time.Second}
	if err := x.gate(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if took := clock.Now().Sub(start); took != 118750*time.Microsecond {
		t.Errorf("the change landed during the third wait; the gate held %s after its first look, want 118.75ms (25+37.5+56.25)", took)
	}
	if e, ok := x.Journal.Last(st.ID, EvGatePassed); !ok || !strings.HasSuffix(e.Detail, "(attempt 4)") {
		t.Errorf("gate passed: %+v", e)
	}
}
