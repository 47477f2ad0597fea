package checks

import (
	"errors"
	"testing"

	"github.com/miekg/dns"
)

func TestLameReason(t *testing.T) {
	reply := func(rcode int, aa bool) Reply {
		m := new(dns.Msg)
		m.Rcode, m.Authoritative = rcode, aa
		return Reply{Msg: m}
	}
	tests := []struct {
		name   string
		r      Reply
		wantAA bool
		want   string
	}{
		{"answers", reply(dns.RcodeSuccess, true), true, ""},
		{"referral is fine when AA is not needed", reply(dns.RcodeSuccess, false), false, ""},
		{"not authoritative", reply(dns.RcodeSuccess, false), true, "answer is not authoritative (no AA flag)"},
		{"refused", reply(dns.RcodeRefused, false), true, "REFUSED"},
		{"servfail", reply(dns.RcodeServerFailure, true), true, "SERVFAIL"},
		{"notauth", reply(dns.RcodeNotAuth, false), false, "NOTAUTH"},
		{"timeout", Reply{Err: errors.New("192.0.2.1:53 x. SOA over udp: timeout after 1s")}, true, "192.0.2.1:53 x. SOA over udp: timeout after 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lameReason(tt.r, tt.wantAA); got != tt.want {
				t.Errorf("lameReason = %q, want %q", got, tt.want)
			}
		})
	}
}

// childFindings counts REFUSED and non-authoritative servers as lame, and
// makes it critical when no server answers.
func TestChildFindingsLame(t *testing.T) {
	soa := func(rcode int, aa bool) Reply {
		m := new(dns.Msg)
		m.SetQuestion("example.test.", dns.TypeSOA)
		m.Response, m.Rcode, m.Authoritative = true, rcode, aa
		return Reply{Question: Question{Server: "192.0.2.1:53", Name: "example.test.", Type: dns.TypeSOA}, Msg: m}
	}
	tests := []struct {
		name     string
		servers  []ChildServer
		severity Severity
		lame     int
	}{
		{"one refuses, one answers", []ChildServer{
			{Server: "192.0.2.1:53", Answered: true, Authoritative: true, soa: soa(dns.RcodeSuccess, true)},
			{Server: "192.0.2.2:53", Error: "REFUSED", soa: soa(dns.RcodeRefused, false)},
		}, Warning, 1},
		{"none authoritative", []ChildServer{
			{Server: "192.0.2.1:53", Answered: true, Authoritative: false, soa: soa(dns.RcodeSuccess, false)},
			{Name: "ns2.example.test.", Error: "no address found for ns2.example.test."},
		}, Critical, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &analysis{rep: &Report{ChildServers: tt.servers}, zone: "example.test."}
			a.childFindings()
			var got *Finding
			for i := range a.rep.Findings {
				if a.rep.Findings[i].ID == LameDelegation {
					got = &a.rep.Findings[i]
				}
			}
			if got == nil || got.Severity != tt.severity || len(got.Evidence) != tt.lame {
				t.Fatalf("findings = %+v, want lame-delegation %s with %d evidence", a.rep.Findings, tt.severity, tt.lame)
			}
		})
	}
}
