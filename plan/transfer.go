package plan

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
)

// Served is one RRset as one server serves it.
type Served struct {
	Data   []string // as checks.RRData prints it, sorted, each once
	TTL    uint32   // the largest TTL of its records
	SigTTL uint32   // the largest original TTL of the signatures over it
}

// ServedTTL is what a resolver may cache the RRset for: its TTL as
// served or as signed, whichever is larger (checks.ServedTTL).
func (s *Served) ServedTTL() uint32 {
	if s.TTL == 0 {
		return 0
	}
	return max(s.TTL, s.SigTTL)
}

// SetKey names an RRset the way a zone transfer's records are matched
// against a plan's: lower-case owner, space, type.
func SetKey(name, rtype string) string { return strings.ToLower(dns.Fqdn(name)) + " " + rtype }

// TransferEvidence is the proof a server gave by handing out its zone.
func TransferEvidence(server, zone, note string) checks.Evidence {
	return checks.Evidence{Server: server, Question: dns.Fqdn(zone) + " AXFR", Note: note}
}

// Unskipped returns the indexes of the servers skip does not pick: those to
// ask question by question.
func Unskipped(servers []string, skip func(j int) bool) (ask []int) {
	for j := range servers {
		if !skip(j) {
			ask = append(ask, j)
		}
	}
	return ask
}

// ServedSets holds, by the index keys gives an RRset, what one server
// serves of it: a slice, not a map, for the 100,000 RRsets of a large zone.
type ServedSets []Served

// At returns RRset i as the server serves it, or nil when it serves no
// record of it (a signature alone is not the RRset).
func (g ServedSets) At(i int) *Served {
	if g[i].Data == nil {
		return nil
	}
	return &g[i]
}

// ByTransfer reads zone from each server by AXFR when host allows it, and
// calls judge (one call at a time) with the server's index in servers, the
// serial of the zone it handed out and the RRsets of keys it serves, by
// their index in keys. It returns the
// indexes of the servers that must be asked question by question instead:
// all of them when the host hands out no transfer, and those that refused
// or failed one. Only the RRsets of keys are kept, one server's at a time
// per transfer under way; records of a type no key names (the NSEC chain
// and its signatures) are passed over before their owner is looked up.
func ByTransfer(ctx context.Context, host providers.Host, zone string, servers []string, skip func(j int) bool, keys map[string]int, judge func(j int, serial uint32, got ServedSets)) (ask []int) {
	t, ok := host.(providers.Transferrer)
	if !ok {
		return Unskipped(servers, skip)
	}
	wanted := keyTypes(keys)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for j, srv := range servers {
		if skip(j) {
			continue
		}
		wg.Go(func() {
			got := make(ServedSets, len(keys))
			var serial uint32
			err := t.Transfer(ctx, srv, zone, func(rr dns.RR) {
				h := rr.Header()
				if soa, ok := rr.(*dns.SOA); ok && serial == 0 {
					serial = soa.Serial
				}
				if sig, ok := rr.(*dns.RRSIG); ok {
					if !wanted(sig.TypeCovered) {
						return
					}
					if i, ok := keys[strings.ToLower(h.Name)+" "+dns.TypeToString[sig.TypeCovered]]; ok {
						got[i].SigTTL = max(got[i].SigTTL, sig.OrigTtl)
					}
					return
				}
				if !wanted(h.Rrtype) {
					return
				}
				if i, ok := keys[strings.ToLower(h.Name)+" "+dns.TypeToString[h.Rrtype]]; ok {
					s := &got[i]
					s.Data = append(s.Data, checks.RRData(rr))
					s.TTL = max(s.TTL, h.Ttl)
				}
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ask = append(ask, j)
				return
			}
			for i := range got {
				if got[i].Data != nil {
					slices.Sort(got[i].Data)
					got[i].Data = slices.Compact(got[i].Data)
				}
			}
			judge(j, serial, got)
		})
	}
	wg.Wait()
	slices.Sort(ask)
	return ask
}

// keyTypes returns whether keys name an RRset of a type: every type when
// a key's type has no number miekg/dns knows.
func keyTypes(keys map[string]int) func(uint16) bool {
	types := map[uint16]bool{}
	for k := range keys {
		t, ok := dns.StringToType[k[strings.LastIndexByte(k, ' ')+1:]]
		if !ok {
			return func(uint16) bool { return true }
		}
		types[t] = true
	}
	return func(t uint16) bool { return types[t] }
}
