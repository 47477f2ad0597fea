package apply

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
)

// resolverStub answers on a loopback UDP port as a resolver would, by the
// question's first label: "ok" always, "lost" not the first time it is
// asked (a datagram lost), "down" never, "broken" SERVFAIL.
func resolverStub(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	asked := map[string]int{}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		name := r.Question[0].Name
		mu.Lock()
		asked[name]++
		n := asked[name]
		mu.Unlock()
		m := new(dns.Msg)
		m.SetReply(r)
		switch strings.SplitN(name, ".", 2)[0] {
		case "down":
			return
		case "lost":
			if n == 1 {
				return
			}
		case "broken":
			m.Rcode = dns.RcodeServerFailure
			_ = w.WriteMsg(m)
			return
		}
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)})
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

// A question that gets no answer is asked again at once: a lost datagram
// is not a failure, a resolver that stays silent, or answers SERVFAIL, is.
func TestWatchdogAsksAgainOnceAfterNoAnswer(t *testing.T) {
	addr := resolverStub(t)
	for _, tt := range []struct {
		name         string
		wantFailures int
		wantRetried  int
		wantQueries  int
		wantError    string
	}{
		{"ok.example.com.", 0, 0, 1, ""},
		{"lost.example.com.", 0, 1, 2, ""},
		{"down.example.com.", 1, 1, 2, "timeout after"},
		{"broken.example.com.", 1, 0, 1, ""},
	} {
		w := &Watchdog{
			checker: checks.New(checks.Options{Roots: []string{addr}, Timeout: 300 * time.Millisecond}),
			qs:      []checks.Question{{Server: addr, Name: tt.name, Type: dns.TypeA, RD: true}},
		}
		fails := w.Round(context.Background(), time.Now())
		rep := w.Report()
		if len(fails) != tt.wantFailures || len(rep.Failures) != tt.wantFailures {
			t.Errorf("%s: %d failures (report %d), want %d: %+v", tt.name, len(fails), len(rep.Failures), tt.wantFailures, fails)
		}
		if rep.Retried != tt.wantRetried || rep.Queries != tt.wantQueries || rep.Rounds != 1 {
			t.Errorf("%s: report %+v, want %d retried of %d queries in 1 round", tt.name, rep, tt.wantRetried, tt.wantQueries)
		}
		if tt.wantError != "" && (len(fails) == 0 || !strings.Contains(fails[0].Evidence.Error, tt.wantError)) {
			t.Errorf("%s: failures %+v, want the error to say %q", tt.name, fails, tt.wantError)
		}
	}

	var md strings.Builder
	cl := &ChangeLog{Zone: "example.com.", Watchdog: &WatchReport{Rounds: 3, Queries: 31, Retried: 1}}
	if err := cl.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "3 rounds, 31 queries") || !strings.Contains(md.String(), "Asked again at once after no answer: 1 ") {
		t.Errorf("change log does not say what was asked again:\n%s", md.String())
	}
}
