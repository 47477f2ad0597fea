package checks

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A question asked ahead is in flight while the ones before it are asked,
// and askAny takes its answer instead of asking again.
func TestAskAheadOverlapsRoundTrips(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	both := make(chan struct{})
	var once sync.Once
	addr := serve(t, func(w dns.ResponseWriter, r *dns.Msg) {
		q := r.Question[0]
		mu.Lock()
		asked[q.Name+" "+dns.TypeToString[q.Qtype]]++
		if len(asked) == 2 {
			once.Do(func() { close(both) })
		}
		mu.Unlock()
		// Neither question is answered until the other has arrived: only
		// two questions in flight at once get answers.
		select {
		case <-both:
		case <-time.After(2 * time.Second):
			return
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		_ = w.WriteMsg(m)
	})
	res := &resolver{client: NewClient(3*time.Second, 4), roots: []string{addr}}
	defer res.settle()
	ctx := context.Background()
	servers := []string{addr}
	res.askAhead(ctx, servers, ".", dns.TypeDNSKEY)
	res.askAhead(ctx, servers, ".", dns.TypeDNSKEY) // once only
	if _, err := res.askAny(ctx, servers, "example.", dns.TypeNS); err != nil {
		t.Fatalf("the question after one asked ahead: %v (the two were not in flight together)", err)
	}
	keys, err := res.askAny(ctx, servers, ".", dns.TypeDNSKEY)
	if err != nil {
		t.Fatalf("the question asked ahead: %v", err)
	}
	if keys.Msg == nil || keys.Msg.Question[0].Qtype != dns.TypeDNSKEY {
		t.Fatalf("askAny returned %v for the question asked ahead", keys.Msg)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := asked[". DNSKEY"]; n != 1 {
		t.Errorf("the question asked ahead reached the server %d times, want once", n)
	}
}
