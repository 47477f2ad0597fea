package providers

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// A record's size as batching counts it is its wire length as miekg/dns
// packs it, whether counted without the parser (A, AAAA) or with it.
func TestRRWireLen(t *testing.T) {
	for _, tc := range []struct{ name, rrtype, data string }{
		{"www.example.com.", "A", "192.0.2.1"},
		{"www.example.com", "A", "192.0.2.1"},
		{"Bulk00001.Example.Lab.", "A", "198.51.100.250"},
		{"example.com.", "AAAA", "2001:db8::1"},
		{"v6.example.com.", "AAAA", "::1"},
		{`we\.ird.example.com.`, "A", "192.0.2.1"},
		{`\065.example.com.`, "AAAA", "2001:db8::2"},
		{"example.com.", "MX", "10 mail.example.com."},
		{"txt.example.com.", "TXT", `"v=spf1 -all"`},
	} {
		t.Run(tc.rrtype+" "+tc.name, func(t *testing.T) {
			rr, err := dns.NewRR(fmt.Sprintf("%s 300 IN %s %s", tc.name, tc.rrtype, tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := rrWireLen(tc.name, tc.rrtype, tc.data), dns.Len(rr); got != want {
				t.Errorf("rrWireLen = %d, want %d (miekg/dns)", got, want)
			}
		})
	}
}

// A TTL change deletes and adds the same records: twice their size; a
// change of data counts what goes and what comes.
func TestRFC2136Cost(t *testing.T) {
	a := rrWireLen("a.example.com.", "A", "192.0.2.1")
	for _, tc := range []struct {
		name string
		rep  Replacement
		want int
	}{
		{"ttl change", Replacement{Name: "a.example.com.", Type: "A", TTL: 60, From: []string{"192.0.2.1"}, To: []string{"192.0.2.1"}}, 2 * a},
		{"data change", Replacement{Name: "a.example.com.", Type: "A", TTL: 60, From: []string{"192.0.2.1", "192.0.2.2"}, To: []string{"192.0.2.3"}}, 3 * a},
		{"added", Replacement{Name: "a.example.com.", Type: "A", TTL: 60, To: []string{"192.0.2.3"}}, a},
		{"unparsable", Replacement{Name: "a.example.com.", Type: "MX", TTL: 60, To: []string{"ten mail"}}, 512},
	} {
		if got := rfc2136Cost(tc.rep); got != tc.want {
			t.Errorf("%s: cost %d, want %d", tc.name, got, tc.want)
		}
	}
}
