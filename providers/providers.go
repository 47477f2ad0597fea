// Package providers holds the two kinds of company a migration talks to,
// kept apart as DNSControl keeps them: a DNS host serves the zone's
// records; a registrar changes the delegation (NS, glue, DS) at the parent.
// A migration touches both, often at different companies.
package providers

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/internal/rdata"
)

// Host is a DNS host: the narrowest libdns interfaces a migration needs.
// Record names are relative to the zone ("@" is the apex), as libdns has
// them; conversion to absolute names happens once, in Records.
//
// libdns does not promise atomicity: after a failed SetRecords the zone is
// undefined, so callers read it back before deciding what happened.
type Host interface {
	libdns.RecordGetter
	libdns.RecordSetter
}

// Registrar changes a zone's delegation at its parent. ttl is the TTL the
// parent should give the records; registrars that cannot choose ignore it.
// Implementations are safe for concurrent use and honour ctx.
type Registrar interface {
	// SetNS replaces the delegation's NS set, with glue addresses for the
	// names inside the zone, in one change where the registrar allows.
	SetNS(ctx context.Context, zone string, ns []string, glue map[string][]netip.Addr, ttl time.Duration) error
	// SetDS replaces the delegation's DS set; an empty set removes it.
	// Each DS comes with the DNSKEY it was made from, when known: some
	// registrars take the key, not the digest.
	SetDS(ctx context.Context, zone string, ds []DelegationSigner, ttl time.Duration) error
	// Capabilities says what the registrar can do, so that the planner
	// asks the capability and never the registrar's name.
	Capabilities() Capabilities
}

// DelegationSigner is a DS record and, when known, the key it digests.
type DelegationSigner struct {
	DS  *dns.DS
	Key *dns.DNSKEY
}

// Capabilities of a registrar.
type Capabilities struct {
	DS        bool `json:"ds"`        // can publish and remove DS records
	Glue      bool `json:"glue"`      // can publish glue for in-zone name servers
	Automatic bool `json:"automatic"` // makes the change itself (false: a person does, from printed instructions)
}

// signing marks the record types a signer owns: a migration never copies,
// compares or rewrites them.
var signing = map[uint16]bool{
	dns.TypeRRSIG: true, dns.TypeNSEC: true, dns.TypeNSEC3: true, dns.TypeNSEC3PARAM: true,
	dns.TypeDNSKEY: true, dns.TypeCDS: true, dns.TypeCDNSKEY: true, 65534: true, // BIND's private signing-state type
}

// IsSigning reports whether rrtype belongs to the signer.
func IsSigning(rrtype uint16) bool { return signing[rrtype] }

// Records returns the zone's records at host as absolute miekg/dns RRs,
// without the signer's records, sorted.
func Records(ctx context.Context, name string, host Host, zone string) ([]dns.RR, error) {
	out, err := records(ctx, name, host, zone)
	if err != nil {
		return nil, err
	}
	SortRRs(out)
	return out, nil
}

// ReadRRsets returns the zone's RRsets at host, without the signer's, as
// Group sorts them (the records are not sorted one by one first).
func ReadRRsets(ctx context.Context, name string, host Host, zone string) ([]RRset, error) {
	rrs, err := records(ctx, name, host, zone)
	if err != nil {
		return nil, err
	}
	return Group(rrs), nil
}

// records is Records in the order the host gave them.
func records(ctx context.Context, name string, host Host, zone string) ([]dns.RR, error) {
	if t, ok := host.(Transferrer); ok {
		var out []dns.RR
		soa := false
		err := t.Transfer(ctx, "", zone, func(rr dns.RR) {
			switch rtype := rr.Header().Rrtype; {
			case IsSigning(rtype):
			case rtype == dns.TypeSOA && soa: // a transfer ends with the SOA again
			default:
				soa = soa || rtype == dns.TypeSOA
				out = append(out, rr)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("provider %s: read %s: %w", name, zone, err)
		}
		return out, nil
	}
	recs, err := host.GetRecords(ctx, zone)
	if err != nil {
		return nil, fmt.Errorf("provider %s: read %s: %w", name, zone, err)
	}
	var out []dns.RR
	for _, rec := range recs {
		rr, err := ToRR(rec, zone)
		if err != nil {
			return nil, fmt.Errorf("provider %s: record %+v: %w", name, rec.RR(), err)
		}
		if IsSigning(rr.Header().Rrtype) {
			continue
		}
		out = append(out, rr)
	}
	return out, nil
}

// ToRR turns a libdns record of zone into a miekg/dns RR.
func ToRR(rec libdns.Record, zone string) (dns.RR, error) {
	r := rec.RR()
	data := r.Data
	if r.Type == "TXT" {
		var chunks []string
		runes := []rune(data)
		for i := 0; i < len(runes); i += 255 {
			chunks = append(chunks, fmt.Sprintf("%q", string(runes[i:min(i+255, len(runes))])))
		}
		data = strings.Join(chunks, " ")
	}
	return dns.NewRR(fmt.Sprintf("$ORIGIN %s\n%s %d IN %s %s", dns.Fqdn(zone), r.Name, int(r.TTL/time.Second), r.Type, data))
}

// FromRR turns an RR of zone into a libdns record with names relative to it.
func FromRR(rr dns.RR, zone string) libdns.RR {
	h := rr.Header()
	out := libdns.RR{Name: libdns.RelativeName(h.Name, dns.Fqdn(zone)), TTL: time.Duration(h.Ttl) * time.Second, Type: dns.TypeToString[h.Rrtype]}
	if t, ok := rr.(*dns.TXT); ok {
		out.Data = strings.Join(t.Txt, "")
	} else {
		out.Data = rdata.Text(rr)
	}
	return out
}

// SortRRs orders records by owner, type and data, for stable comparison
// and output.
func SortRRs(rrs []dns.RR) {
	// Each record's key is printed once, not at every comparison: a
	// 100,000-RRset transfer took 0.5 s of CPU to sort otherwise.
	type keyed struct {
		key string
		rr  dns.RR
	}
	byKey := make([]keyed, len(rrs))
	for i, rr := range rrs {
		byKey[i] = keyed{RRKey(rr), rr}
	}
	slices.SortStableFunc(byKey, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	for i := range byKey {
		rrs[i] = byKey[i].rr
	}
}

// RRKey is "owner type data" in lower case, without the TTL.
func RRKey(rr dns.RR) string {
	h := rr.Header()
	return strings.ToLower(h.Name) + " " + dns.TypeToString[h.Rrtype] + " " + rdata.Text(rr)
}

// RRset is the records of one owner and type.
type RRset struct {
	Name string   `json:"name"`
	Type string   `json:"type"`
	TTL  uint32   `json:"ttl"`
	Data []string `json:"data"`
	// Sets are, for a name answered by weighted sets, each set's values
	// (Data is then all of them): a server answers with one at a time.
	Sets [][]string `json:"sets,omitempty"`
}

// Serves reports whether data (sorted) is an answer of the RRset: all of
// it, or one of its weighted sets.
func (s RRset) Serves(data []string) bool { return isSide(data, s.Data, s.Sets) }

// Group turns records into RRsets, sorted by name and type; an RRset's TTL
// is the largest of its records'.
func Group(rrs []dns.RR) []RRset {
	idx := make(map[string]int, len(rrs))
	out := make([]RRset, 0, len(rrs))
	for _, rr := range rrs {
		h := rr.Header()
		k := strings.ToLower(h.Name) + " " + dns.TypeToString[h.Rrtype]
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, RRset{Name: strings.ToLower(h.Name), Type: dns.TypeToString[h.Rrtype]})
		}
		out[i].TTL = max(out[i].TTL, h.Ttl)
		out[i].Data = append(out[i].Data, rdata.Text(rr))
	}
	for i := range out {
		sort.Strings(out[i].Data)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Type < out[j].Type
	})
	return out
}

// Replacement swaps one RRset's data (From) for new data (To) with a TTL.
// A TTL change is a Replacement with the same data on both sides.
type Replacement struct {
	Name string   `json:"name"`
	Type string   `json:"type"`
	TTL  uint32   `json:"ttl"`
	From []string `json:"from"`
	To   []string `json:"to"`
	// FromSets and ToSets are, for a side answered by weighted sets, each
	// set's values: a server answers with one set at a time, so each is
	// as good an answer as the whole side.
	FromSets [][]string `json:"from_sets,omitempty"`
	ToSets   [][]string `json:"to_sets,omitempty"`
	// Proxied says the host answers the name from its own edge
	// (Cloudflare's proxy): resolvers see the edge's addresses, so the
	// values are proven through the host's API, not by asking servers.
	Proxied bool `json:"proxied,omitempty"`
}

// IsTo reports whether data (sorted) is an answer of the To side.
func (r Replacement) IsTo(data []string) bool { return isSide(data, r.To, r.ToSets) }

// IsFrom reports whether data (sorted) is an answer of the From side.
func (r Replacement) IsFrom(data []string) bool { return isSide(data, r.From, r.FromSets) }

func isSide(data, all []string, sets [][]string) bool {
	if slices.Equal(data, all) {
		return true
	}
	for _, s := range sets {
		if slices.Equal(data, s) {
			return true
		}
	}
	return false
}

// Reverse is the replacement that undoes r.
func (r Replacement) Reverse() Replacement {
	r.From, r.To = r.To, r.From
	r.FromSets, r.ToSets = r.ToSets, r.FromSets
	return r
}

// Replacer is an optional interface for a host that replaces RRsets more
// safely than a SetRecords call would (found by type assertion, as lego
// finds its optional provider behaviour).
type Replacer interface {
	Replace(ctx context.Context, zone string, reps []Replacement) error
}

// NameServerLister is an optional interface for a host whose apex NS set
// is not among its records but set by the host itself (Cloudflare's zone
// object): NameServers lists it, absolute names.
type NameServerLister interface {
	NameServers(ctx context.Context, zone string) ([]string, error)
}

// Proxier is an optional interface for a host that can answer names from
// its own edge (Cloudflare's proxy). Proxied lists those names and types
// ("name type", absolute, lower case).
type Proxier interface {
	Proxied(ctx context.Context, zone string) (map[string]bool, error)
}

// KeyImporter is an optional interface for a host that publishes another
// signer's DNSKEYs beside its own (RFC 8901, model 2: each signer serves
// the other's ZSK), keys as DNSKEY data ("256 3 13 ...").
type KeyImporter interface {
	// ImportsDNSKEYs says whether the host keeps (and signs) a DNSKEY it
	// is given: PowerDNS with direct-dnskey, Knot with incremental key
	// management do; BIND 9.18 under dnssec-policy does not.
	ImportsDNSKEYs() bool
	// ChangeDNSKEYs adds the keys add and removes the keys remove, with
	// ttl, leaving every other key (the host's own first) as it is.
	ChangeDNSKEYs(ctx context.Context, zone string, add, remove []string, ttl uint32) error
}

// ImportsDNSKEYs reports whether host can publish another signer's keys.
func ImportsDNSKEYs(host Host) bool {
	k, ok := host.(KeyImporter)
	return ok && k.ImportsDNSKEYs()
}

// Weighter is an optional interface for a host that answers a name with
// weighted record sets (Route 53): a cutover phase then moves a share of
// the traffic instead of a share of the names.
type Weighter interface {
	// SetWeighted makes name and type answer with the weighted sets, or,
	// with none, with the plain values.
	SetWeighted(ctx context.Context, zone, name, rrtype string, ttl uint32, sets []WeightedSet, plain []string) error
}

// Replace makes the replacements at host in one change: the host's own
// Replacer where it has one, else one SetRecords call with the new data.
func Replace(ctx context.Context, name string, host Host, zone string, reps []Replacement) error {
	if len(reps) == 0 {
		return nil
	}
	if r, ok := host.(Replacer); ok {
		if err := r.Replace(ctx, zone, reps); err != nil {
			return fmt.Errorf("provider %s: %w", name, err)
		}
		return nil
	}
	var recs []libdns.Record
	for _, rep := range reps {
		for _, data := range rep.To {
			rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", rep.Name, rep.TTL, rep.Type, data))
			if err != nil {
				return fmt.Errorf("provider %s: %s %s: %w", name, rep.Name, rep.Type, err)
			}
			recs = append(recs, FromRR(rr, zone))
		}
	}
	if _, err := host.SetRecords(ctx, zone, recs); err != nil {
		return fmt.Errorf("provider %s: set records in %s: %w", name, zone, err)
	}
	return nil
}

// SetTTLs rewrites the given RRsets at host with new TTLs (ttls[i] for
// rrsets[i]) in one change.
func SetTTLs(ctx context.Context, name string, host Host, zone string, rrsets []RRset, ttls []uint32) error {
	reps, err := TTLChanges(rrsets, ttls)
	if err != nil {
		return fmt.Errorf("provider %s: %w", name, err)
	}
	return Replace(ctx, name, host, zone, reps)
}

// TTLChanges are the replacements that give rrsets[i] the TTL ttls[i],
// data unchanged.
func TTLChanges(rrsets []RRset, ttls []uint32) ([]Replacement, error) {
	if len(rrsets) != len(ttls) {
		return nil, fmt.Errorf("%d RRsets but %d TTLs", len(rrsets), len(ttls))
	}
	reps := make([]Replacement, len(rrsets))
	for i, s := range rrsets {
		reps[i] = Replacement{Name: s.Name, Type: s.Type, TTL: ttls[i], From: s.Data, To: s.Data}
	}
	return reps, nil
}

// AccessChecker is a host or registrar that can prove its credentials with
// a request that changes nothing, so that a wrong key is found when
// planning, before the first change, not in the middle of a move.
type AccessChecker interface {
	CheckAccess(ctx context.Context, zone string) error
}
