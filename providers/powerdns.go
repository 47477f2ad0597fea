package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	powerdns "github.com/joeig/go-powerdns/v3"
	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// PowerDNSOptions say where a PowerDNS Authoritative server's HTTP API is
// and how to be let in.
type PowerDNSOptions struct {
	// Endpoint is the API's base URL, e.g. http://192.0.2.1:8081.
	Endpoint string
	// ServerID is the server's id in the API (default "localhost").
	ServerID string
	// APIKey is sent as X-API-Key.
	APIKey string
	// Timeout bounds each request (default 30 s).
	Timeout time.Duration
}

// PowerDNSHost is a zone on a PowerDNS Authoritative server, through its
// HTTP API (github.com/joeig/go-powerdns): records read from the zone
// object, RRsets replaced by one PATCH each batch (PowerDNS applies a
// PATCH in one transaction: all of it or nothing), and another signer's
// DNSKEYs published as an apex DNSKEY RRset, which the server serves and
// signs beside its own keys when it runs with direct-dnskey=yes.
type PowerDNSHost struct {
	api      *powerdns.Client
	endpoint string
}

// powerDNSBatch is how many RRsets one PATCH carries: well under the
// server's default request body limit (webserver-max-bodysize, 2 MB).
const powerDNSBatch = 1000

// NewPowerDNSHost checks the options and makes the host.
func NewPowerDNSHost(o PowerDNSOptions) (*PowerDNSHost, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("powerdns: endpoint %q: want the API's base URL, http(s)://host:port", o.Endpoint)
	}
	if o.APIKey == "" {
		return nil, errors.New("powerdns: no API key")
	}
	if o.ServerID == "" {
		o.ServerID = "localhost"
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	api := powerdns.New(strings.TrimSuffix(o.Endpoint, "/"), o.ServerID, powerdns.WithAPIKey(o.APIKey), powerdns.WithHTTPClient(&http.Client{Timeout: o.Timeout}))
	return &PowerDNSHost{api: api, endpoint: o.Endpoint}, nil
}

// apiError words a failed request with the API's own words and status.
func (h *PowerDNSHost) apiError(what string, err error) error {
	var e *powerdns.Error
	if errors.As(err, &e) {
		return fmt.Errorf("powerdns %s: %s: %s (HTTP %d)", h.endpoint, what, e.Message, e.StatusCode)
	}
	return fmt.Errorf("powerdns %s: %s: %w", h.endpoint, what, err)
}

// zone reads the zone with its RRsets.
func (h *PowerDNSHost) zone(ctx context.Context, zone string) (*powerdns.Zone, error) {
	z, err := h.api.Zones.Get(ctx, dns.Fqdn(zone))
	if err != nil {
		return nil, h.apiError("read zone "+dns.Fqdn(zone), err)
	}
	return z, nil
}

// GetRecords lists the zone's records, as libdns records. The signer's
// records (DNSKEY, CDS, CDNSKEY: PowerDNS makes them from its keys, and
// holds another signer's DNSKEYs apart, see DNSKEYs) are not listed.
func (h *PowerDNSHost) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	z, err := h.zone(ctx, zone)
	if err != nil {
		return nil, err
	}
	var out []libdns.Record
	for _, s := range z.RRsets {
		t := string(deref(s.Type))
		if IsSigning(dns.StringToType[t]) || t == "CDS" || t == "CDNSKEY" {
			continue
		}
		for _, r := range s.Records {
			if deref(r.Disabled) {
				continue
			}
			rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", deref(s.Name), deref(s.TTL), t, deref(r.Content)))
			if err != nil {
				return nil, fmt.Errorf("powerdns %s: %s %s %q: %w", h.endpoint, deref(s.Name), t, deref(r.Content), err)
			}
			out = append(out, FromRR(rr, zone))
		}
	}
	return out, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// SetRecords makes each name and type of recs hold exactly recs' records
// of that name and type, in one PATCH.
func (h *PowerDNSHost) SetRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	var reps []Replacement
	index := map[string]int{}
	for _, r := range recs {
		rr := r.RR()
		name := libdns.AbsoluteName(rr.Name, dns.Fqdn(zone))
		k := strings.ToLower(name) + " " + rr.Type
		i, ok := index[k]
		if !ok {
			i = len(reps)
			index[k] = i
			reps = append(reps, Replacement{Name: name, Type: rr.Type, TTL: uint32(rr.TTL / time.Second)})
		}
		reps[i].To = append(reps[i].To, rr.Data)
	}
	if err := h.Replace(ctx, zone, reps); err != nil {
		return nil, err
	}
	return recs, nil
}

// Replace sends the replacements in one PATCH: each RRset replaced by its
// new values and TTL, or deleted when it has none.
func (h *PowerDNSHost) Replace(ctx context.Context, zone string, reps []Replacement) error {
	sets := make([]powerdns.RRset, 0, len(reps))
	for _, r := range reps {
		sets = append(sets, rrset(r.Name, r.Type, r.TTL, r.To))
	}
	if err := h.api.Records.Patch(ctx, dns.Fqdn(zone), &powerdns.RRsets{Sets: sets}); err != nil {
		return h.apiError(fmt.Sprintf("replace %d RRsets of %s", len(reps), dns.Fqdn(zone)), err)
	}
	return nil
}

// rrset is a PATCH entry: REPLACE with data, DELETE without.
func rrset(name, rtype string, ttl uint32, data []string) powerdns.RRset {
	t := powerdns.RRType(rtype)
	s := powerdns.RRset{Name: powerdns.String(dns.Fqdn(name)), Type: &t, TTL: powerdns.Uint32(ttl), ChangeType: powerdns.ChangeTypePtr(powerdns.ChangeTypeReplace), Records: []powerdns.Record{}}
	if len(data) == 0 {
		s.ChangeType, s.TTL = powerdns.ChangeTypePtr(powerdns.ChangeTypeDelete), nil
	}
	for _, d := range data {
		s.Records = append(s.Records, powerdns.Record{Content: powerdns.String(d), Disabled: powerdns.Bool(false)})
	}
	return s
}

// Batches splits reps into PATCHes of powerDNSBatch RRsets.
func (h *PowerDNSHost) Batches(reps []Replacement) [][]Replacement {
	var out [][]Replacement
	for len(reps) > 0 {
		n := min(len(reps), powerDNSBatch)
		out = append(out, reps[:n])
		reps = reps[n:]
	}
	return out
}

// CheckAccess proves the key with a read of the zone.
func (h *PowerDNSHost) CheckAccess(ctx context.Context, zone string) error {
	_, err := h.zone(ctx, zone)
	return err
}

// DNSKEYs lists the DNSKEYs the server makes from its own keys (active or
// published) and the other signers' it holds as records, each as
// DNSKEY data ("257 3 13 ...").
func (h *PowerDNSHost) DNSKEYs(ctx context.Context, zone string) (own, foreign []string, err error) {
	keys, err := h.api.Cryptokeys.List(ctx, dns.Fqdn(zone))
	if err != nil {
		return nil, nil, h.apiError("list keys of "+dns.Fqdn(zone), err)
	}
	for _, k := range keys {
		if d := deref(k.DNSkey); d != "" {
			own = append(own, normalDNSKEY(d))
		}
	}
	z, err := h.zone(ctx, zone)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range z.RRsets {
		if deref(s.Type) != powerdns.RRTypeDNSKEY || !strings.EqualFold(deref(s.Name), dns.Fqdn(zone)) {
			continue
		}
		for _, r := range s.Records {
			foreign = append(foreign, normalDNSKEY(deref(r.Content)))
		}
	}
	slices.Sort(own)
	slices.Sort(foreign)
	return own, foreign, nil
}

// SetForeignDNSKEYs makes the other signers' DNSKEYs at the apex exactly
// keys (none: removed), with ttl. The server's own keys are not touched.
func (h *PowerDNSHost) SetForeignDNSKEYs(ctx context.Context, zone string, keys []string, ttl uint32) error {
	s := rrset(dns.Fqdn(zone), "DNSKEY", ttl, keys)
	if err := h.api.Records.Patch(ctx, dns.Fqdn(zone), &powerdns.RRsets{Sets: []powerdns.RRset{s}}); err != nil {
		return h.apiError("set the foreign DNSKEYs of "+dns.Fqdn(zone), err)
	}
	return nil
}

// ImportsDNSKEYs: PowerDNS serves and signs the DNSKEYs of the zone's
// records beside its own when it runs with direct-dnskey=yes (the API
// accepts them without it, and they are never served: the import step's
// gate, which asks every server, finds that).
func (h *PowerDNSHost) ImportsDNSKEYs() bool { return true }

// ChangeDNSKEYs adds and removes foreign keys in one PATCH of the apex
// DNSKEY RRset.
func (h *PowerDNSHost) ChangeDNSKEYs(ctx context.Context, zone string, add, remove []string, ttl uint32) error {
	_, foreign, err := h.DNSKEYs(ctx, zone)
	if err != nil {
		return err
	}
	gone := map[string]bool{}
	for _, k := range remove {
		gone[normalDNSKEY(k)] = true
	}
	var keys []string
	for _, k := range append(foreign, add...) {
		if k = normalDNSKEY(k); !gone[k] && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return h.SetForeignDNSKEYs(ctx, zone, keys, ttl)
}

// normalDNSKEY is DNSKEY data as miekg/dns prints it (one base64 run), so
// that keys from the API, the zone and a server compare as text.
func normalDNSKEY(data string) string {
	rr, err := dns.NewRR(". 0 IN DNSKEY " + data)
	if err != nil {
		return data
	}
	k := rr.(*dns.DNSKEY)
	return fmt.Sprintf("%d %d %d %s", k.Flags, k.Protocol, k.Algorithm, k.PublicKey)
}
