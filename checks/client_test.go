package checks

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// serve starts a miekg/dns server on one loopback port for UDP and TCP.
func serve(t *testing.T, h dns.HandlerFunc) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: l, Handler: h}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	t.Cleanup(func() { _ = udp.Shutdown(); _ = tcp.Shutdown() })
	return pc.LocalAddr().String()
}

func TestAskFallsBackToTCP(t *testing.T) {
	addr := serve(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		if w.RemoteAddr().Network() == "udp" {
			m.Truncated = true
		} else {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{"over tcp"}})
		}
		_ = w.WriteMsg(m)
	})
	c := NewClient(2*time.Second, 2)
	r := c.Ask(context.Background(), Question{Server: addr, Name: "big.test", Type: dns.TypeTXT})
	if !r.OK() {
		t.Fatal(r.Err)
	}
	if r.Transport != "tcp" || len(r.Msg.Answer) != 1 {
		t.Errorf("transport %s with %d answers, want tcp with 1", r.Transport, len(r.Msg.Answer))
	}
	if c.Sent() != 2 {
		t.Errorf("sent %d messages, want 2 (udp, then tcp)", c.Sent())
	}
}

func TestAskTimeoutNamesServer(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c := NewClient(200*time.Millisecond, 1)
	r := c.Ask(context.Background(), Question{Server: pc.LocalAddr().String(), Name: "slow.test", Type: dns.TypeA})
	if r.OK() || !strings.Contains(r.Err.Error(), pc.LocalAddr().String()) || !strings.Contains(r.Err.Error(), "timeout") {
		t.Errorf("err = %v, want a timeout naming %s", r.Err, pc.LocalAddr())
	}
	e := EvidenceOf(r)
	if e.Error == "" || e.Server != pc.LocalAddr().String() || e.Question != "slow.test. A" {
		t.Errorf("evidence = %+v", e)
	}
}

func TestAskRejectsWrongID(t *testing.T) {
	addr := serve(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Id = r.Id + 1 // a server that lies (or a spoofed reply)
		_ = w.WriteMsg(m)
	})
	r := NewClient(300*time.Millisecond, 1).Ask(context.Background(), Question{Server: addr, Name: "liar.test", Type: dns.TypeA})
	if r.OK() || !strings.Contains(r.Err.Error(), addr) {
		t.Errorf("err = %v, want an error naming %s", r.Err, addr)
	}
}

func TestAskHonoursCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := NewClient(time.Second, 1)
	c.sem <- struct{}{} // the only slot is taken
	r := c.Ask(ctx, Question{Server: "127.0.0.1:1", Name: "x.test", Type: dns.TypeA})
	if r.Err != context.Canceled {
		t.Errorf("err = %v, want context.Canceled", r.Err)
	}
}

func TestEvidenceOf(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("example.test.", dns.TypeSOA)
	m.Response, m.RecursionDesired, m.RecursionAvailable = true, true, true
	m.Rcode = dns.RcodeServerFailure
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeDNSBogus, ExtraText: "signature expired"})
	m.Extra = append(m.Extra, opt)
	e := EvidenceOf(Reply{Question: Question{Server: "192.0.2.53:53", Name: "example.test", Type: dns.TypeSOA}, Msg: m})
	want := Evidence{Server: "192.0.2.53:53", Question: "example.test. SOA", RCODE: "SERVFAIL", Meaning: ExplainRcode(dns.RcodeServerFailure), Flags: "qr rd ra", Note: "extended error 6 (DNSSEC Bogus): signature expired"}
	if e.Server != want.Server || e.Question != want.Question || e.RCODE != want.RCODE || e.Meaning != want.Meaning || e.Flags != want.Flags || e.Note != want.Note || e.TTL != nil {
		t.Errorf("evidence = %+v\nwant       %+v", e, want)
	}
}

// A forked checker (the watchdog's) asks while its parent's every slot is
// taken by another caller's questions.
func TestForkHasItsOwnBudget(t *testing.T) {
	addr := serve(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		_ = w.WriteMsg(m)
	})
	c := New(Options{Roots: []string{addr}, Parallel: 1, Timeout: time.Second})
	c.client.sem <- struct{}{} // the parent's only slot is taken
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if r := c.Fork().Client().Ask(ctx, Question{Server: addr, Name: "x.test", Type: dns.TypeA}); !r.OK() {
		t.Errorf("the fork waited for its parent's budget: %v", r.Err)
	}
	if r := c.Client().Ask(ctx, Question{Server: addr, Name: "x.test", Type: dns.TypeA}); r.Err != context.DeadlineExceeded {
		t.Errorf("the parent asked beyond its budget: %v", r.Err)
	}
}

// Questions to a resolver are paced: at 50 a second, 20 take at least
// 300 ms (a burst of 5, then one every 20 ms); an authoritative server's
// are not.
func TestResolverPacing(t *testing.T) {
	addr := serve(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		_ = w.WriteMsg(m)
	})
	c := NewClient(time.Second, 4)
	c.SetResolverRate(50)
	var qs []Question
	for range 20 {
		qs = append(qs, Question{Server: addr, Name: "x.test", Type: dns.TypeA, RD: true})
	}
	start := time.Now()
	askAll(context.Background(), c, qs)
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("20 questions to a resolver paced at 50/s took %s", d)
	}
	if c.limiter(addr, false) != nil {
		t.Error("questions to an authoritative server are paced")
	}
}
