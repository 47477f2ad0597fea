package providers_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/libdns/libdns"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/miekg/dns"
)

// RFC 2136 batches: every message, built as the host builds it (deletes
// and adds of each RRset together, compression on, TSIG after), stays
// under the 65,535-byte TCP limit, and no RRset is split.
func TestRFC2136Batches(t *testing.T) {
	h := providers.NewRFC2136Host("127.0.0.1:53", providers.TSIG{Name: "k", Algorithm: "hmac-sha256", Secret: "c2VjcmV0"})
	var reps []providers.Replacement
	for i := range 5000 {
		v := fmt.Sprintf(`"bulk record %d with some text to make it longer than an address"`, i)
		reps = append(reps, providers.Replacement{Name: fmt.Sprintf("n%d.example.com.", i), Type: "TXT", TTL: 60, From: []string{v}, To: []string{v}})
	}
	batches := h.Batches(reps)
	if len(batches) < 4 {
		t.Fatalf("5,000 TXT changes in %d messages", len(batches))
	}
	seen := 0
	for i, b := range batches {
		m := new(dns.Msg)
		m.SetUpdate("example.com.")
		m.Compress = true
		for _, r := range b {
			for _, v := range r.From {
				rr, _ := dns.NewRR(fmt.Sprintf("%s 0 IN %s %s", r.Name, r.Type, v))
				m.Remove([]dns.RR{rr})
			}
			for _, v := range r.To {
				rr, _ := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", r.Name, r.TTL, r.Type, v))
				m.Insert([]dns.RR{rr})
			}
		}
		m.SetTsig("k.", dns.HmacSHA256, 300, 0)
		wire, err := m.Pack()
		if err != nil || len(wire)+200 > 65535 {
			t.Errorf("message %d: %d bytes, %v", i, len(wire), err)
		}
		seen += len(b)
	}
	if seen != len(reps) {
		t.Errorf("%d of %d RRsets in the batches", seen, len(reps))
	}
}

// oneAtATime is a host that declares nothing about its requests.
type oneAtATime struct{}

func (oneAtATime) GetRecords(context.Context, string) ([]libdns.Record, error) { return nil, nil }
func (oneAtATime) SetRecords(context.Context, string, []libdns.Record) ([]libdns.Record, error) {
	return nil, nil
}

// An RFC 2136 server takes several update messages at once; a host that
// says nothing gets one request at a time.
func TestInFlight(t *testing.T) {
	for _, c := range []struct {
		name string
		host providers.Host
		want int
	}{
		{"rfc2136", providers.NewRFC2136Host("127.0.0.1:53", providers.TSIG{Name: "k", Algorithm: "hmac-sha256", Secret: "c2VjcmV0"}), 16},
		{"undeclared", oneAtATime{}, 1},
	} {
		if got := providers.InFlight(c.host); got != c.want {
			t.Errorf("%s: %d in flight, want %d", c.name, got, c.want)
		}
	}
}
