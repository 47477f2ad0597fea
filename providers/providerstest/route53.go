// Package providerstest holds local fakes of the cloud APIs dnsmigrate
// talks to (Route 53, Route 53 Domains, Cloudflare), written from their
// reference documentation, for tests: no account can be reached from
// here. Each rule a fake enforces cites the page it comes from; a fake
// that accepts what the real API refuses is a bug.
package providerstest

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Route53 is a local fake of the Route 53 API (REST-XML), written from the
// API reference (ChangeResourceRecordSets, ListResourceRecordSets,
// ListHostedZonesByName, GetChange) and the developer guide's pages on
// weighted and alias records. Each rule it enforces cites its page. It
// checks the SigV4 credential scope of every request. No AWS account can
// be reached from here.
type Route53 struct {
	// URL is the fake's endpoint; NewRoute53 also sets it as
	// AWS_ENDPOINT_URL_ROUTE_53 for the test.
	URL string

	mu       sync.Mutex
	zones    []Route53Zone
	sets     map[string][]Route53Set // hosted zone ID -> record sets
	changes  int
	polled   map[string]int
	throttle int // answer this many requests with Throttling
	prior    int // answer this many change requests with PriorRequestNotComplete
	pageSize int // ListResourceRecordSets page size cap (the API's default and maximum is 300)
	batches  [][]string
	writes   []int // ResourceRecord elements counted in each change request
	badScope int
	history  map[string][]string // "name type" -> its state after each accepted batch that touched it
	listings int                 // ListResourceRecordSets requests without a start name: whole listings begun
}

// Listings counts the whole listings of a hosted zone begun (first pages
// of ListResourceRecordSets).
func (f *Route53) Listings() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listings
}

// History is the state of a name and type in the default zone (as State
// says it, sets joined by " | ") after each accepted change batch that
// touched it, oldest first.
func (f *Route53) History(name, rrtype string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.history[name+" "+rrtype])
}

// Throttle answers the next n requests with Throttling.
func (f *Route53) Throttle(n int) { f.mu.Lock(); f.throttle = n; f.mu.Unlock() }

// PriorRequestNotComplete answers the next n change requests so.
func (f *Route53) PriorRequestNotComplete(n int) { f.mu.Lock(); f.prior = n; f.mu.Unlock() }

// PageSize caps ListResourceRecordSets pages at n sets.
func (f *Route53) PageSize(n int) { f.mu.Lock(); f.pageSize = n; f.mu.Unlock() }

// Batches lists each accepted change batch as "ACTION name type set-id"
// lines.
func (f *Route53) Batches() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}

// Writes is the count of ResourceRecord elements (an UPSERT's twice) of
// every change request, accepted or not.
func (f *Route53) Writes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writes)
}

// Changes is how many change batches were accepted.
func (f *Route53) Changes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changes
}

// Polled is how often GetChange asked about a change ("C1", ...).
func (f *Route53) Polled(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polled[id]
}

// BadScopes counts requests without a SigV4 scope for route53 in
// us-east-1 and the test's access key.
func (f *Route53) BadScopes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.badScope
}

type Route53Zone struct {
	ID, Name string
	Private  bool
}

type Route53Alias struct {
	HostedZoneID         string `xml:"HostedZoneId"`
	DNSName              string `xml:"DNSName"`
	EvaluateTargetHealth bool   `xml:"EvaluateTargetHealth"`
}

type Route53Value struct {
	Value string `xml:"Value"`
}

type Route53Set struct {
	Name          string         `xml:"Name"`
	Type          string         `xml:"Type"`
	SetIdentifier string         `xml:"SetIdentifier,omitempty"`
	Weight        *int64         `xml:"Weight,omitempty"`
	TTL           *int64         `xml:"TTL,omitempty"`
	Values        []Route53Value `xml:"ResourceRecords>ResourceRecord,omitempty"`
	Alias         *Route53Alias  `xml:"AliasTarget,omitempty"`
	HealthCheckID string         `xml:"HealthCheckId,omitempty"`
}

func (s Route53Set) key() string { return s.Name + "|" + s.Type + "|" + s.SetIdentifier }

func (s Route53Set) vals() []string {
	var out []string
	for _, v := range s.Values {
		out = append(out, v.Value)
	}
	return out
}

// same is the exact match a DELETE needs ("the values provided do not
// match the current values"): every element, not only the values.
func (s Route53Set) same(o Route53Set) bool {
	return fmt.Sprint(s.TTL != nil, derefI(s.TTL), derefI(s.Weight), s.Values, s.Alias, s.HealthCheckID) == fmt.Sprint(o.TTL != nil, derefI(o.TTL), derefI(o.Weight), o.Values, o.Alias, o.HealthCheckID)
}

func derefI(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

func i64(v int64) *int64 { return &v }

// Plain is a plain record set of the default zone.
func Plain(name, rrtype string, ttl int64, values ...string) Route53Set {
	s := Route53Set{Name: name, Type: rrtype, TTL: i64(ttl)}
	for _, v := range values {
		s.Values = append(s.Values, Route53Value{v})
	}
	return s
}

func Weighted(name, rrtype, id string, weight, ttl int64, hc string, values ...string) Route53Set {
	s := Plain(name, rrtype, ttl, values...)
	s.SetIdentifier, s.Weight, s.HealthCheckID = id, i64(weight), hc
	return s
}

const r53NS = "https://route53.amazonaws.com/doc/2013-04-01/"

// NewRoute53 serves one public hosted zone example.com (Z0EXAMPLE) with
// the sets given and, as every new hosted zone has (developer guide, "NS
// and SOA records that Route 53 creates for a public hosted zone"), an
// apex NS set of four name servers at TTL 172800 and an SOA at 900.
func NewRoute53(t testing.TB, sets ...Route53Set) *Route53 {
	f := &Route53{sets: map[string][]Route53Set{}, polled: map[string]int{}, pageSize: 300, history: map[string][]string{}}
	f.AddZone("Z0EXAMPLE", "example.com.", false, sets...)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	t.Setenv("AWS_ENDPOINT_URL_ROUTE_53", srv.URL)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	return f
}

// AccessKeyID is the only access key the fakes accept.
const AccessKeyID = "AKIDTEST"

// AddZone adds a hosted zone with the apex NS and SOA Route 53 gives
// every new one, and the sets given.
func (f *Route53) AddZone(id, name string, private bool, sets ...Route53Set) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.zones = append(f.zones, Route53Zone{ID: id, Name: name, Private: private})
	base := []Route53Set{
		Plain(name, "NS", 172800, "ns-1.awsdns-01.org.", "ns-2.awsdns-02.co.uk.", "ns-3.awsdns-03.com.", "ns-4.awsdns-04.net."),
		Plain(name, "SOA", 900, "ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"),
	}
	f.sets[id] = append(base, sets...)
}

func (f *Route53) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	if code == "InvalidChangeBatch" {
		fmt.Fprintf(w, `<?xml version="1.0"?><InvalidChangeBatch xmlns="%s"><Messages><Message>%s</Message></Messages><RequestId>req-1</RequestId></InvalidChangeBatch>`, r53NS, msg)
		return
	}
	fmt.Fprintf(w, `<?xml version="1.0"?><ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`, r53NS, code, msg)
}

// r53Escape writes a name as Route 53 returns it (ListResourceRecordSets,
// "Name": characters other than a-z, 0-9, - and _ and the dots as a
// backslash and three octal digits; letters in lower case).
func r53Escape(name string) string {
	var b strings.Builder
	for _, c := range []byte(strings.ToLower(name)) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\%03o", c)
		}
	}
	return b.String()
}

// sortKey orders sets as ListResourceRecordSets does: by name with its
// labels reversed ("com.example.www"), then type, then set identifier.
func sortKey(s Route53Set) string {
	labels := strings.Split(strings.TrimSuffix(s.Name, "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".") + "|" + s.Type + "|" + s.SetIdentifier
}

func (f *Route53) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+AccessKeyID+"/") || !strings.Contains(auth, "/us-east-1/route53/aws4_request") || r.Header.Get("X-Amz-Date") == "" {
		f.badScope++
		f.fail(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	// Common errors: Throttling, HTTP 400 ("Rate exceeded").
	if f.throttle > 0 {
		f.throttle--
		f.fail(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	q := r.URL.Query()
	path := strings.TrimPrefix(r.URL.Path, "/2013-04-01/")
	switch {
	case r.Method == http.MethodGet && path == "hostedzonesbyname":
		f.zonesByName(w, q.Get("dnsname"))
	case strings.HasPrefix(path, "hostedzone/") && strings.HasSuffix(path, "/rrset"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "hostedzone/"), "/rrset")
		if _, ok := f.sets[id]; !ok {
			f.fail(w, http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found with ID: "+id)
			return
		}
		if r.Method == http.MethodGet {
			if q.Get("name") == "" {
				f.listings++
			}
			f.list(w, id, q.Get("name"), q.Get("type"), q.Get("identifier"), q.Get("maxitems"))
		} else {
			f.change(w, r, id)
		}
	case r.Method == http.MethodGet && strings.HasPrefix(path, "change/"):
		id := strings.TrimPrefix(path, "change/")
		f.polled[id]++
		status := "PENDING"
		if f.polled[id] > 1 {
			status = "INSYNC"
		}
		fmt.Fprintf(w, `<?xml version="1.0"?><GetChangeResponse xmlns="%s"><ChangeInfo><Id>/change/%s</Id><Status>%s</Status><SubmittedAt>2026-11-22T00:00:00.000Z</SubmittedAt></ChangeInfo></GetChangeResponse>`, r53NS, id, status)
	default:
		f.fail(w, http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found at "+r.URL.Path)
	}
}

// zonesByName lists hosted zones in name order from dnsname (API
// reference, ListHostedZonesByName), private and public alike.
func (f *Route53) zonesByName(w http.ResponseWriter, from string) {
	zones := slices.Clone(f.zones)
	sort.SliceStable(zones, func(i, j int) bool { return zones[i].Name < zones[j].Name })
	var b strings.Builder
	for _, z := range zones {
		if from != "" && z.Name < strings.ToLower(from) {
			continue
		}
		fmt.Fprintf(&b, `<HostedZone><Id>/hostedzone/%s</Id><Name>%s</Name><CallerReference>ref</CallerReference><Config><PrivateZone>%t</PrivateZone></Config><ResourceRecordSetCount>%d</ResourceRecordSetCount></HostedZone>`, z.ID, z.Name, z.Private, len(f.sets[z.ID]))
	}
	fmt.Fprintf(w, `<?xml version="1.0"?><ListHostedZonesByNameResponse xmlns="%s"><HostedZones>%s</HostedZones><DNSName>%s</DNSName><IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListHostedZonesByNameResponse>`, r53NS, b.String(), from)
}

// list answers ListResourceRecordSets: sets in its order from the start
// name, type and identifier, at most maxitems (default and maximum 300)
// per page, with NextRecordName/Type/Identifier when truncated; each value
// in its own ResourceRecord element; names escaped.
func (f *Route53) list(w http.ResponseWriter, id, name, typ, ident, maxitems string) {
	sets := slices.Clone(f.sets[id])
	sort.Slice(sets, func(i, j int) bool { return sortKey(sets[i]) < sortKey(sets[j]) })
	limit := f.pageSize
	if n, err := strconv.Atoi(maxitems); err == nil && n > 0 && n < limit {
		limit = n
	}
	start := 0
	if name != "" {
		from := sortKey(Route53Set{Name: strings.ToLower(r53UnescapeForFake(name)), Type: typ, SetIdentifier: ident})
		for start < len(sets) && sortKey(sets[start]) < from {
			start++
		}
	}
	var b strings.Builder
	end := min(start+limit, len(sets))
	for _, s := range sets[start:end] {
		s.Name = r53Escape(s.Name)
		out, _ := xml.Marshal(struct {
			XMLName xml.Name `xml:"ResourceRecordSet"`
			Route53Set
		}{Route53Set: s})
		b.Write(out)
	}
	next := ""
	if end < len(sets) {
		n := sets[end]
		next = fmt.Sprintf("<NextRecordName>%s</NextRecordName><NextRecordType>%s</NextRecordType>", r53Escape(n.Name), n.Type)
		if n.SetIdentifier != "" {
			next += "<NextRecordIdentifier>" + n.SetIdentifier + "</NextRecordIdentifier>"
		}
	}
	fmt.Fprintf(w, `<?xml version="1.0"?><ListResourceRecordSetsResponse xmlns="%s"><ResourceRecordSets>%s</ResourceRecordSets><IsTruncated>%t</IsTruncated>%s<MaxItems>%d</MaxItems></ListResourceRecordSetsResponse>`, r53NS, b.String(), end < len(sets), next, limit)
}

// r53UnescapeForFake reads the octal escapes a client echoes back.
func r53UnescapeForFake(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (f *Route53) change(w http.ResponseWriter, r *http.Request, zoneID string) {
	var req struct {
		Changes []struct {
			Action string     `xml:"Action"`
			Set    Route53Set `xml:"ResourceRecordSet"`
		} `xml:"ChangeBatch>Changes>Change"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := xml.Unmarshal(body, &req); err != nil || len(req.Changes) == 0 {
		f.fail(w, http.StatusBadRequest, "InvalidInput", "Invalid XML ; "+fmt.Sprint(err))
		return
	}
	// ChangeResourceRecordSets, Errors: PriorRequestNotComplete (HTTP 400)
	// when a request for this hosted zone is still being processed.
	if f.prior > 0 {
		f.prior--
		f.fail(w, http.StatusBadRequest, "PriorRequestNotComplete", "The request was rejected because Route 53 was still processing a prior request.")
		return
	}
	// ChangeResourceRecordSets, "Limits": at most 1,000 ResourceRecord
	// elements and 32,000 characters in all Value elements, each counted
	// twice for an UPSERT.
	records, chars := 0, 0
	for _, c := range req.Changes {
		n := 1
		if c.Action == "UPSERT" {
			n = 2
		}
		records += n * len(c.Set.Values)
		for _, v := range c.Set.Values {
			chars += n * len(v.Value)
		}
	}
	f.writes = append(f.writes, records)
	if records > 1000 || chars > 32000 {
		f.fail(w, http.StatusBadRequest, "InvalidChangeBatch", fmt.Sprintf("[Number of records (%d) or characters (%d) in the request exceed the limit of 1000 records and 32000 characters]", records, chars))
		return
	}
	zone := ""
	for _, z := range f.zones {
		if z.ID == zoneID {
			zone = z.Name
		}
	}
	next := map[string]Route53Set{}
	for _, s := range f.sets[zoneID] {
		next[s.key()] = s
	}
	var batch []string
	var msgs []string
	groupTTL := map[string]int64{}
	for _, c := range req.Changes {
		s := c.Set
		s.Name = strings.ToLower(dns0(r53UnescapeForFake(s.Name)))
		batch = append(batch, c.Action+" "+s.Name+" "+s.Type+" "+s.SetIdentifier)
		old, exists := next[s.key()]
		// Developer guide, "Choosing between alias and non-alias records":
		// an alias has no TTL and no ResourceRecords.
		if s.Alias != nil && (s.TTL != nil || len(s.Values) > 0) {
			msgs = append(msgs, fmt.Sprintf("Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found more than one in Change with [Action=%s, Name=%s, Type=%s, SetIdentifier=%s]", c.Action, s.Name, s.Type, s.SetIdentifier))
			continue
		}
		if s.Alias == nil && (s.TTL == nil || len(s.Values) == 0) {
			msgs = append(msgs, fmt.Sprintf("Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=%s, Name=%s, Type=%s, SetIdentifier=%s]", c.Action, s.Name, s.Type, s.SetIdentifier))
			continue
		}
		// Developer guide, "Supported DNS record types": each value must
		// be data of its type (an A record's an IPv4 address...).
		if bad := badValue(s); bad != "" {
			msgs = append(msgs, bad)
			continue
		}
		// RFC 1034 3.6.2, as Route 53 enforces it: one CNAME value.
		if s.Type == "CNAME" && len(s.Values) > 1 {
			msgs = append(msgs, fmt.Sprintf("Invalid Resource Record: FATAL problem: RRSet of type CNAME with DNS name %s contains more than one value", s.Name))
			continue
		}
		if (s.SetIdentifier != "") != (s.Weight != nil) {
			msgs = append(msgs, fmt.Sprintf("Invalid request: a SetIdentifier needs a routing policy and a routing policy needs a SetIdentifier, in Change for %s %s", s.Name, s.Type))
			continue
		}
		if s.Weight != nil && (*s.Weight < 0 || *s.Weight > 255) {
			msgs = append(msgs, fmt.Sprintf("Invalid request: weight %d of %s %s is outside 0 to 255", *s.Weight, s.Name, s.Type))
			continue
		}
		switch c.Action {
		case "CREATE":
			if exists {
				msgs = append(msgs, fmt.Sprintf("Tried to create resource record set [name='%s', type='%s'] but it already exists", s.Name, s.Type))
				continue
			}
			next[s.key()] = s
		case "UPSERT":
			next[s.key()] = s
		case "DELETE":
			// Developer guide, "NS and SOA records": the apex NS and SOA
			// of a hosted zone cannot be deleted.
			if s.Name == zone && (s.Type == "NS" || s.Type == "SOA") {
				msgs = append(msgs, fmt.Sprintf("A HostedZone must contain at least one %s record for the zone itself.", s.Type))
				continue
			}
			if !exists || !old.same(s) {
				msgs = append(msgs, fmt.Sprintf("Tried to delete resource record set [name='%s', type='%s', set-identifier='%s'] but the values provided do not match the current values", s.Name, s.Type, s.SetIdentifier))
				continue
			}
			delete(next, s.key())
		}
		if s.Weight != nil && s.TTL != nil && c.Action != "DELETE" {
			groupTTL[s.Name+" "+s.Type] = *s.TTL
		}
	}
	plain, routed := map[string]bool{}, map[string]bool{}
	for _, s := range next {
		if s.SetIdentifier == "" {
			plain[s.Name+" "+s.Type] = true
		} else {
			routed[s.Name+" "+s.Type] = true
		}
	}
	for k := range routed {
		if plain[k] {
			msgs = append(msgs, "RRSet with DNS name "+k+" cannot be created because a non-weighted set exists with the same name and type")
		}
	}
	if len(msgs) > 0 {
		sort.Strings(msgs)
		f.fail(w, http.StatusBadRequest, "InvalidChangeBatch", "["+strings.Join(msgs, ", ")+"]")
		return
	}
	// Developer guide, weighted records, "TTL": different TTLs in one group
	// of weighted records are all changed to the last one specified.
	f.sets[zoneID] = f.sets[zoneID][:0]
	for _, s := range next {
		if ttl, ok := groupTTL[s.Name+" "+s.Type]; ok && s.Weight != nil && s.TTL != nil {
			s.TTL = i64(ttl)
		}
		f.sets[zoneID] = append(f.sets[zoneID], s)
	}
	f.batches = append(f.batches, batch)
	f.changes++
	touched := map[string]bool{}
	for _, c := range req.Changes {
		k := strings.ToLower(dns0(r53UnescapeForFake(c.Set.Name))) + " " + c.Set.Type
		if zoneID == "Z0EXAMPLE" && !touched[k] {
			touched[k] = true
			name, typ, _ := strings.Cut(k, " ")
			f.history[k] = append(f.history[k], strings.Join(f.state(name, typ), " | "))
		}
	}
	fmt.Fprintf(w, `<?xml version="1.0"?><ChangeResourceRecordSetsResponse xmlns="%s"><ChangeInfo><Id>/change/C%d</Id><Status>PENDING</Status><SubmittedAt>2026-11-22T00:00:00.000Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`, r53NS, f.changes)
}

// dns0 makes a name fully qualified, as Route 53 treats every name.
func dns0(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

// State describes the sets of a name and type in the default zone, one
// line each: "plain [values] ttl N", "id=weight hc HC [values] ttl N" or
// "... alias TARGET".
func (f *Route53) State(name, typ string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state(name, typ)
}

func (f *Route53) state(name, typ string) []string {
	var out []string
	for _, s := range f.sets["Z0EXAMPLE"] {
		if s.Name == name && s.Type == typ {
			w := "plain"
			if s.Weight != nil {
				w = fmt.Sprintf("%s=%d", s.SetIdentifier, *s.Weight)
				if s.HealthCheckID != "" {
					w += " hc " + s.HealthCheckID
				}
			}
			if s.Alias != nil {
				out = append(out, fmt.Sprintf("%s alias %s", w, s.Alias.DNSName))
				continue
			}
			out = append(out, fmt.Sprintf("%s %v ttl %d", w, s.vals(), derefI(s.TTL)))
		}
	}
	sort.Strings(out)
	return out
}

// Put adds sets to the default zone, as a change outside dnsmigrate would.
func (f *Route53) Put(sets ...Route53Set) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets["Z0EXAMPLE"] = append(f.sets["Z0EXAMPLE"], sets...)
}

// badValue is Route 53's refusal of a value that is not data of its set's
// type ("" when every value is).
func badValue(s Route53Set) string {
	for _, v := range s.vals() {
		if _, err := dns.NewRR(fmt.Sprintf("%s 0 IN %s %s", s.Name, s.Type, v)); err != nil {
			switch s.Type {
			case "A":
				return fmt.Sprintf("Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '%s''", v)
			case "AAAA":
				return fmt.Sprintf("Invalid Resource Record: 'FATAL problem: AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address) encountered with '%s''", v)
			}
			return fmt.Sprintf("Invalid Resource Record: 'FATAL problem: %s value is not valid encountered with '%s''", s.Type, v)
		}
	}
	return ""
}
