package checks

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestNewChange(t *testing.T) {
	c, err := NewChange("Backend.Example.com", "cname", []string{"Server2.New.Example.NET."}, []string{"server1.old.example.net."}, now)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "backend.example.com." || c.Type != dns.TypeCNAME || c.Expect[0] != "server2.new.example.net." || c.Old[0] != "server1.old.example.net." {
		t.Errorf("change = %+v", c)
	}
	for _, bad := range []struct{ typ, val, want string }{{"A", "not-an-address", "not A data"}, {"BOGUS", "x", "unknown record type"}} {
		if _, err := NewChange("x.example.", bad.typ, []string{bad.val}, nil, now); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("NewChange(%s %s): %v", bad.typ, bad.val, err)
		}
	}
	if _, err := NewChange("x.example.", "A", nil, nil, now); err == nil {
		t.Error("a change without an expected value was accepted")
	}
}

func TestJudge(t *testing.T) {
	ch, err := NewChange("www.example.com.", "A", []string{"198.51.100.10"}, []string{"192.0.2.10"}, now.Add(-10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	capAt := now.Add(20 * time.Second) // since + 30s authoritative TTL
	reply := func(rcode int, ttl uint32, ips ...string) Reply {
		m := new(dns.Msg)
		m.SetQuestion("www.example.com.", dns.TypeA)
		m.Rcode = rcode
		for _, ip := range ips {
			rr, _ := dns.NewRR("www.example.com. " + strconv.FormatUint(uint64(ttl), 10) + " IN A " + ip)
			m.Answer = append(m.Answer, rr)
		}
		return Reply{Question: Question{Server: "192.0.2.53:53", Name: "www.example.com.", Type: dns.TypeA}, Msg: m}
	}
	tests := []struct {
		name    string
		r       Reply
		role    string
		at      time.Time
		verdict Verdict
		left    string
	}{
		{"new answer", reply(0, 30, "198.51.100.10"), "resolver", now, Updated, ""},
		{"old answer, the resolver refetches first", reply(0, 5, "192.0.2.10"), "resolver", now, Pending, "5s"},
		{"old answer held longer than allowed, still in time", reply(0, 3600, "192.0.2.10"), "resolver", now, Pending, "20s"},
		{"old answer after the deadline", reply(0, 3600, "192.0.2.10"), "resolver", now.Add(21 * time.Second), Stale, ""},
		{"old answer at an authoritative server", reply(0, 30, "192.0.2.10"), "authoritative", now, Pending, "20s"},
		{"neither", reply(0, 30, "203.0.113.1"), "resolver", now, Unexpected, ""},
		{"SERVFAIL", reply(dns.RcodeServerFailure, 0), "resolver", now, Error, ""},
		{"no answer", Reply{Question: Question{Server: "192.0.2.53:53"}, Err: errors.New("timeout")}, "resolver", now, Error, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := judge(tt.r, tt.role, ch, capAt, tt.at)
			if s.Verdict != tt.verdict || s.Left != tt.left {
				t.Errorf("verdict %s left %q, want %s %q (%+v)", s.Verdict, s.Left, tt.verdict, tt.left, s)
			}
			if tt.verdict == Error && s.Error == "" && !strings.HasPrefix(s.Meaning, "SERVFAIL: ") {
				t.Errorf("an error without its explanation: %+v", s)
			}
		})
	}
	// Without the old value, any other answer is taken as old.
	open, _ := NewChange("www.example.com.", "A", []string{"198.51.100.10"}, nil, now.Add(-10*time.Second))
	if s := judge(reply(0, 30, "203.0.113.1"), "resolver", open, capAt, now); s.Verdict != Pending {
		t.Errorf("without --old: %s", s.Verdict)
	}
}
