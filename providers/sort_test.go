package providers_test

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/providers"
)

func TestSortRRs(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"owner first, in lower case", []string{"b.example. 60 IN A 192.0.2.1", "A.example. 60 IN A 192.0.2.2"},
			[]string{"A.example. 60 IN A 192.0.2.2", "b.example. 60 IN A 192.0.2.1"}},
		{"then type, then data", []string{"a.example. 60 IN TXT \"x\"", "a.example. 60 IN A 192.0.2.9", "a.example. 60 IN A 192.0.2.1"},
			[]string{"a.example. 60 IN A 192.0.2.1", "a.example. 60 IN A 192.0.2.9", "a.example. 60 IN TXT \"x\""}},
		{"the same record keeps its order whatever its TTL", []string{"a.example. 300 IN A 192.0.2.1", "a.example. 60 IN A 192.0.2.1", "a.example. 10 IN A 192.0.2.1"},
			[]string{"a.example. 300 IN A 192.0.2.1", "a.example. 60 IN A 192.0.2.1", "a.example. 10 IN A 192.0.2.1"}},
		{"none", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rrs []dns.RR
			for _, s := range tc.in {
				rr, err := dns.NewRR(s)
				if err != nil {
					t.Fatal(err)
				}
				rrs = append(rrs, rr)
			}
			providers.SortRRs(rrs)
			var got []string
			for _, rr := range rrs {
				got = append(got, rr.String())
			}
			for i := range tc.want {
				want, _ := dns.NewRR(tc.want[i])
				if i >= len(got) || got[i] != want.String() {
					t.Fatalf("sorted: %q, want %q", got, tc.want)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("sorted: %q, want %q", got, tc.want)
			}
		})
	}
}
