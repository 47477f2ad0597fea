package rdata

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Text and Fields write what the whole record's presentation form writes
// after its header, the addresses written without the record included.
func TestTextAsPresented(t *testing.T) {
	mustRR := func(t *testing.T, text string) dns.RR {
		rr, err := dns.NewRR(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		return rr
	}
	hdr := func(rtype uint16) dns.RR_Header {
		return dns.RR_Header{Name: "a.example.", Rrtype: rtype, Class: dns.ClassINET, Ttl: 300}
	}
	for _, tc := range []struct {
		rr         dns.RR
		text, flds string
	}{
		{mustRR(t, "a.example. 300 IN A 192.0.2.1"), "192.0.2.1", "192.0.2.1"},
		{&dns.A{Hdr: hdr(dns.TypeA), A: net.ParseIP("192.0.2.7")}, "192.0.2.7", "192.0.2.7"},
		{&dns.A{Hdr: hdr(dns.TypeA)}, "", ""},
		{mustRR(t, "a.example. 300 IN AAAA 2001:db8::1"), "2001:db8::1", "2001:db8::1"},
		{mustRR(t, "a.example. 300 IN AAAA ::ffff:192.0.2.1"), "::ffff:192.0.2.1", "::ffff:192.0.2.1"},
		{&dns.AAAA{Hdr: hdr(dns.TypeAAAA)}, "", ""},
		{mustRR(t, "a.example. 300 IN MX 10 mail.example."), "10 mail.example.", "10 mail.example."},
		{mustRR(t, `a.example. 300 IN TXT "two  spaces" "x"`), `"two  spaces" "x"`, `"two spaces" "x"`},
	} {
		whole := strings.TrimPrefix(tc.rr.String(), tc.rr.Header().String())
		if got := Text(tc.rr); got != tc.text || got != whole {
			t.Errorf("Text(%s) = %q; want %q (the record's own text %q)", tc.rr, got, tc.text, whole)
		}
		if got := Fields(tc.rr); got != tc.flds || got != strings.Join(strings.Fields(whole), " ") {
			t.Errorf("Fields(%s) = %q; want %q", tc.rr, got, tc.flds)
		}
	}
}
