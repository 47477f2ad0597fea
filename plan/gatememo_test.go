package plan

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/miekg/dns"
)

// A gate's next poll asks only what its earlier polls did not prove, and
// its evidence still holds one proof per server.
func TestGateAsksOnlyWhatIsNotProven(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	ttl := map[string]uint32{"a.example.com.": 60, "b.example.com.": 60, "c.example.com.": 300}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		q := r.Question[0]
		mu.Lock()
		asked[q.Name]++
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		rr, _ := dns.NewRR(q.Name + " 0 IN A 192.0.2.1")
		rr.Header().Ttl = ttl[q.Name]
		mu.Unlock()
		m.Answer = append(m.Answer, rr)
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	addr := pc.LocalAddr().String()

	var sets []providers.RRset
	var ttls []uint32
	for _, n := range []string{"a.example.com.", "b.example.com.", "c.example.com."} {
		sets = append(sets, providers.RRset{Name: n, Type: "A", TTL: 300, Data: []string{"192.0.2.1"}})
		ttls = append(ttls, 60)
	}
	st := &Step{ID: StepLowerTTL, TTLs: []TTLChange{{Provider: "old", RRsets: sets, TTLs: ttls}}, Gate: &Gate{Check: GateTTLServed}}
	p := &Plan{Spec: &Spec{Zone: "example.com."}, Observed: &Observed{Old: HostState{Provider: "old", Servers: []string{addr}}}}
	env := Env{Checker: checks.New(checks.Options{Roots: []string{addr}, Timeout: time.Second})}
	memo := newGateMemo()
	if r := evalGate(context.Background(), env, p, st, nil, memo); r.OK || r.Summary != "2 of 3 RRset answers serve the new TTL with unchanged data" {
		t.Fatalf("first poll: %+v", r)
	}
	mu.Lock()
	ttl["c.example.com."] = 60
	mu.Unlock()
	r := evalGate(context.Background(), env, p, st, nil, memo)
	if !r.OK || r.Summary != "3 of 3 RRset answers serve the new TTL with unchanged data" || len(r.Evidence) != 1 || r.Evidence[0].Server != addr {
		t.Fatalf("second poll: %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if asked["a.example.com."] != 1 || asked["b.example.com."] != 1 || asked["c.example.com."] != 2 {
		t.Errorf("questions per name over two polls: %v, want a and b once, c twice", asked)
	}
}
