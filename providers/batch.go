package providers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Batcher is an optional interface for a host whose change requests have a
// size limit. Batches splits replacements, in order, into groups that each
// fit one request (or one atomic change) of the host's, never splitting an
// RRset, so that a change of any size can be sent, journaled and resumed
// group by group.
type Batcher interface {
	Batches(reps []Replacement) [][]Replacement
}

// Batches splits reps as host's transport requires: the host's own
// Batcher, else all in one.
func Batches(host Host, reps []Replacement) [][]Replacement {
	if len(reps) == 0 {
		return nil
	}
	if b, ok := host.(Batcher); ok {
		return b.Batches(reps)
	}
	return [][]Replacement{reps}
}

// InFlighter is an optional interface for a host that takes several of
// its change requests at once. Batches are disjoint (an RRset is never
// split), so their order of landing does not matter.
type InFlighter interface {
	InFlight() int
}

// InFlight is how many batches may be sent to host at once: the host's
// own InFlighter, else one after the other.
func InFlight(host Host) int {
	if f, ok := host.(InFlighter); ok && f.InFlight() > 1 {
		return f.InFlight()
	}
	return 1
}

// limit is one budget a batch stays within, and what an item costs of it.
type limit[T any] struct {
	budget int
	cost   func(T) int
}

// batchWithin groups items greedily, in order, so that each group stays
// within every limit (an item over a budget on its own goes alone).
func batchWithin[T any](items []T, limits ...limit[T]) [][]T {
	var out [][]T
	var cur []T
	sums := make([]int, len(limits))
	costs := make([]int, len(limits))
	for _, it := range items {
		over := false
		for i, l := range limits {
			costs[i] = l.cost(it)
			over = over || sums[i]+costs[i] > l.budget
		}
		if len(cur) > 0 && over {
			out = append(out, cur)
			cur = nil
			clear(sums)
		}
		cur = append(cur, it)
		for i := range sums {
			sums[i] += costs[i]
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// batchBy groups reps greedily so that each group's cost stays within
// budget (a replacement costing more than budget goes alone).
func batchBy(reps []Replacement, budget int, cost func(Replacement) int) [][]Replacement {
	return batchWithin(reps, limit[Replacement]{budget, cost})
}

// rfc2136Budget is how many bytes of update records one message may hold:
// the TCP message limit (65,535) less room for the header, zone section
// and TSIG record.
const rfc2136Budget = 65535 - 1024

// rfc2136Cost is the uncompressed wire size of the records an RRset's
// replacement puts in an update message: an upper bound of its share of
// the compressed message.
func rfc2136Cost(r Replacement) int {
	size := 0
	for _, v := range r.To {
		size += rrWireLen(r.Name, r.Type, v)
	}
	if slices.Equal(r.From, r.To) { // a TTL change: the same records deleted
		return 2 * size
	}
	for _, v := range r.From {
		size += rrWireLen(r.Name, r.Type, v)
	}
	return size
}

// fixedRdata is the wire length of the data of the types whose data has
// one: their records are sized without the zone-file parser (a TTL change
// of 100,000 A RRsets was batched in 0.44 s with it).
var fixedRdata = map[string]int{"A": 4, "AAAA": 16}

// rrWireLen is the uncompressed wire length of the record name rrtype data.
func rrWireLen(name, rrtype, data string) int {
	if n, ok := fixedRdata[rrtype]; ok && !strings.Contains(name, `\`) {
		// The owner name's labels, each with its length byte, and the
		// root; type, class, TTL and data length; the data.
		return len(dns.Fqdn(name)) + 1 + 10 + n
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s 0 IN %s %s", name, rrtype, data))
	if err != nil || rr == nil {
		return 512 // refused later, with its error, when the message is built
	}
	return dns.Len(rr)
}
