package providerstest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Cloudflare is a local fake of the Cloudflare v4 API for one zone,
// example.com, written from the API reference (Zones: List Zones; DNS
// Records: List, Create, Patch, Delete, Batch) and the DNS documentation
// (TTL, proxy status, batch record changes, API rate limits). It checks
// the token and its permissions on every request.
type Cloudflare struct {
	URL string
	// ZoneID is the zone's identifier; NameServers are the zone object's
	// assigned name servers: the apex NS set is not in dns_records.
	ZoneID      string
	NameServers []string

	mu      sync.Mutex
	token   string
	scopes  map[string]bool // "zone:read", "dns:edit"
	recs    map[string]CloudflareRecord
	next    int
	reqs    []CloudflareRequest
	limited int    // answer this many requests 429 (as if past the rate limit)
	retry   string // their Retry-After
	// The rate limit: at most limit requests per window (1,200 per 5
	// minutes for a user, API docs "Rate limits"), counted here.
	limit  int
	window time.Duration
	times  []time.Time
	// BatchLimit is how many records one /batch request may change
	// (Free plan 200, others 3,500).
	BatchLimit int
	// DNSSEC is the zone's DNSSEC setting (GET and PATCH
	// /zones/{id}/dnssec): active, multi-signer off, at start.
	DNSSEC CloudflareDNSSEC
}

// CloudflareDNSSEC is a zone's DNSSEC setting as the API has it.
type CloudflareDNSSEC struct {
	Status      string `json:"status"`
	MultiSigner bool   `json:"dnssec_multi_signer"`
}

// CloudflareRecord is a DNS record as the API lists it.
type CloudflareRecord struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Name     string `json:"name"`
	Content  string `json:"content"`
	TTL      int    `json:"ttl"`
	Proxied  bool   `json:"proxied"`
	Priority *int   `json:"priority,omitempty"`
}

// CloudflareRequest is one request the fake received.
type CloudflareRequest struct {
	Method, Path, Query, Auth, ContentType string
	Body                                   map[string]any
}

// NewCloudflare starts the fake; the token has the given permissions
// ("zone:read", "dns:edit").
func NewCloudflare(t testing.TB, token string, scopes []string, recs ...CloudflareRecord) *Cloudflare {
	f := &Cloudflare{ZoneID: "023e105f4ecef8ad9ca31a8372d0c353", NameServers: []string{"ada.ns.cloudflare.com", "bob.ns.cloudflare.com"},
		token: token, scopes: map[string]bool{}, recs: map[string]CloudflareRecord{}, limit: 1200, window: 5 * time.Minute, BatchLimit: 200,
		DNSSEC: CloudflareDNSSEC{Status: "active"}}
	for _, s := range scopes {
		f.scopes[s] = true
	}
	for _, r := range recs {
		f.add(r)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// SetDNSSEC sets the zone's DNSSEC status and multi-signer setting, as the
// dashboard would.
func (f *Cloudflare) SetDNSSEC(status string, multiSigner bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.DNSSEC = CloudflareDNSSEC{Status: status, MultiSigner: multiSigner}
}

// RateLimit sets the limit to n requests per window.
func (f *Cloudflare) RateLimit(n int, window time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limit, f.window = n, window
}

// Limit answers the next n requests 429 with Retry-After retryAfter
// (none when empty).
func (f *Cloudflare) Limit(n int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limited, f.retry = n, retryAfter
}

// Requests lists what the fake received.
func (f *Cloudflare) Requests() []CloudflareRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

// Contents lists a name and type's records as "content ttl N[ proxied]".
func (f *Cloudflare) Contents(typ, name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.recs {
		if r.Type == typ && r.Name == name {
			s := fmt.Sprintf("%s ttl %d", r.Content, r.TTL)
			if r.Priority != nil {
				s = fmt.Sprintf("%d %s", *r.Priority, s)
			}
			if r.Proxied {
				s += " proxied"
			}
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func (f *Cloudflare) add(r CloudflareRecord) CloudflareRecord {
	f.next++
	r.ID = fmt.Sprintf("%032x", f.next)
	f.recs[r.ID] = r
	return r
}

// apiError is one entry of the envelope's errors, with its error_chain.
type apiError struct {
	Code    int        `json:"code"`
	Message string     `json:"message"`
	Chain   []apiError `json:"error_chain,omitempty"`
}

func (f *Cloudflare) reply(w http.ResponseWriter, status int, result any, errs ...apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]any{"success": len(errs) == 0, "errors": []any{}, "messages": []any{}, "result": result}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	_ = json.NewEncoder(w).Encode(body)
}

// ttlError is how the API refuses a TTL: code 1004 with 9021 in its
// error_chain.
var ttlError = apiError{Code: 1004, Message: "DNS Validation Error", Chain: []apiError{{Code: 9021, Message: "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic."}}}

func (f *Cloudflare) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	req := CloudflareRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		_ = json.Unmarshal(b, &req.Body)
	}
	f.reqs = append(f.reqs, req)
	now := time.Now()
	for len(f.times) > 0 && now.Sub(f.times[0]) > f.window {
		f.times = f.times[1:]
	}
	f.times = append(f.times, now)
	if f.limited > 0 || len(f.times) > f.limit {
		if f.limited > 0 {
			f.limited--
		}
		if f.retry != "" {
			w.Header().Set("Retry-After", f.retry)
		}
		f.reply(w, http.StatusTooManyRequests, nil, apiError{Code: 971, Message: "Please wait and consider throttling your request speed"})
		return
	}
	if req.Auth != "Bearer "+f.token {
		f.reply(w, http.StatusForbidden, nil, apiError{Code: 10000, Message: "Authentication error"})
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/client/v4/"), "/")
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "zones":
		// List Zones needs Zone:Read.
		if !f.scopes["zone:read"] {
			f.reply(w, http.StatusForbidden, nil, apiError{Code: 9109, Message: "Unauthorized to access requested resource"})
			return
		}
		var zones []map[string]any
		if q.Get("name") == "" || q.Get("name") == "example.com" {
			zones = append(zones, map[string]any{"id": f.ZoneID, "name": "example.com", "status": "active", "name_servers": f.NameServers})
		}
		f.reply(w, http.StatusOK, zones)
	case len(parts) == 3 && parts[0] == "zones" && parts[1] == f.ZoneID && parts[2] == "dnssec":
		// DNSSEC Details (Zone Read), Edit DNSSEC Status (DNS Write).
		if r.Method == http.MethodPatch {
			if !f.scopes["dns:edit"] {
				f.reply(w, http.StatusForbidden, nil, apiError{Code: 10000, Message: "Authentication error"})
				return
			}
			if v, ok := req.Body["status"].(string); ok {
				f.DNSSEC.Status = v
			}
			if v, ok := req.Body["dnssec_multi_signer"].(bool); ok {
				f.DNSSEC.MultiSigner = v
			}
		}
		f.reply(w, http.StatusOK, f.DNSSEC)
	case len(parts) >= 3 && parts[0] == "zones" && parts[1] == f.ZoneID && parts[2] == "dns_records":
		if r.Method != http.MethodGet && !f.scopes["dns:edit"] {
			f.reply(w, http.StatusForbidden, nil, apiError{Code: 10000, Message: "Authentication error"})
			return
		}
		f.records(w, r, req, parts, q)
	default:
		f.reply(w, http.StatusNotFound, nil, apiError{Code: 7003, Message: "Could not route to " + r.URL.Path + ", perhaps your object identifier is invalid?"})
	}
}

// parse reads a record from a request body: the name made absolute, the
// TTL within 60 to 86400 or 1 (automatic), proxied only for A, AAAA and
// CNAME, whose TTL is then automatic.
func (f *Cloudflare) parse(body map[string]any, base *CloudflareRecord) (CloudflareRecord, *apiError) {
	rec := CloudflareRecord{}
	if base != nil {
		rec = *base
	}
	if v, ok := body["type"].(string); ok {
		rec.Type = v
	}
	if v, ok := body["name"].(string); ok {
		rec.Name = v
	}
	if v, ok := body["content"].(string); ok {
		rec.Content = v
	}
	if v, ok := body["ttl"].(float64); ok {
		rec.TTL = int(v)
	}
	if v, ok := body["proxied"].(bool); ok {
		rec.Proxied = v
	}
	if v, ok := body["priority"].(float64); ok {
		p := int(v)
		rec.Priority = &p
	}
	if rec.Name == "@" || rec.Name == "" {
		rec.Name = "example.com"
	} else if rec.Name != "example.com" && !strings.HasSuffix(rec.Name, ".example.com") {
		rec.Name += ".example.com"
	}
	if rec.TTL == 0 {
		rec.TTL = 1
	}
	if rec.TTL != 1 && (rec.TTL < 60 || rec.TTL > 86400) {
		return rec, &ttlError
	}
	if rec.Proxied && rec.Type != "A" && rec.Type != "AAAA" && rec.Type != "CNAME" {
		return rec, &apiError{Code: 9004, Message: "This record type cannot be proxied."}
	}
	if rec.Proxied {
		rec.TTL = 1
	}
	if rec.Type == "DNSKEY" {
		// A DNSKEY record is given as data (flags, protocol, algorithm,
		// public_key), at the apex, and only with multi-signer DNSSEC on:
		// the reference says the setting "is required for DNSKEY records
		// (except those automatically generated by Cloudflare) to be added
		// to the zone". The codes of these refusals are not documented;
		// the fake answers the DNS Validation Error the API gives for
		// other invalid records.
		d, _ := body["data"].(map[string]any)
		flags, ok1 := d["flags"].(float64)
		proto, ok2 := d["protocol"].(float64)
		alg, ok3 := d["algorithm"].(float64)
		key, ok4 := d["public_key"].(string)
		switch {
		case !ok1 || !ok2 || !ok3 || !ok4 || key == "":
			return rec, &apiError{Code: 1004, Message: "DNS Validation Error", Chain: []apiError{{Code: 9101, Message: "data.flags, data.protocol, data.algorithm and data.public_key are required"}}}
		case rec.Name != "example.com":
			return rec, &apiError{Code: 1004, Message: "DNS Validation Error", Chain: []apiError{{Code: 9101, Message: "DNSKEY records can only be added at the zone apex"}}}
		case !f.DNSSEC.MultiSigner || f.DNSSEC.Status != "active":
			return rec, &apiError{Code: 1004, Message: "DNS Validation Error", Chain: []apiError{{Code: 9101, Message: "DNSKEY records can only be added with multi-signer DNSSEC enabled on the zone"}}}
		}
		rec.Content = fmt.Sprintf("%d %d %d %s", int(flags), int(proto), int(alg), key)
	}
	if (rec.Type == "MX" || rec.Type == "SRV") && rec.Priority == nil {
		return rec, &apiError{Code: 1004, Message: "DNS Validation Error", Chain: []apiError{{Code: 9101, Message: "priority is required"}}}
	}
	return rec, nil
}

// conflict is the error a new or changed record meets in the zone as it
// stands, with the API's duplicate codes: 81053 (an A, AAAA or CNAME of
// that host exists beside a CNAME), 81054 (a CNAME of that host exists),
// 81057 (the record already exists: same type and name for a type that
// takes one record), 81058 (an identical record exists).
func conflict(recs map[string]CloudflareRecord, rec CloudflareRecord) *apiError {
	for _, o := range recs {
		if o.ID == rec.ID || o.Name != rec.Name {
			continue
		}
		switch {
		case o.Type == rec.Type && o.Content == rec.Content && (o.Priority == nil) == (rec.Priority == nil):
			return &apiError{Code: 81058, Message: "An identical record already exists."}
		case o.Type == "CNAME" && rec.Type == "CNAME":
			return &apiError{Code: 81057, Message: "The record already exists."}
		case o.Type == "CNAME":
			return &apiError{Code: 81054, Message: "A CNAME record with that host already exists."}
		case rec.Type == "CNAME" && (o.Type == "A" || o.Type == "AAAA" || o.Type == "CNAME"):
			return &apiError{Code: 81053, Message: "An A, AAAA, or CNAME record with that host already exists."}
		}
	}
	return nil
}

func (f *Cloudflare) records(w http.ResponseWriter, r *http.Request, req CloudflareRequest, parts []string, q map[string][]string) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if r.Method != http.MethodGet && r.Method != http.MethodDelete && req.ContentType != "application/json" {
		f.reply(w, http.StatusBadRequest, nil, apiError{Code: 6003, Message: "Invalid request headers: Content-Type must be application/json"})
		return
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 3:
		var out []CloudflareRecord
		for _, rec := range f.recs {
			if (get("type") == "" || rec.Type == get("type")) && (get("name") == "" || rec.Name == get("name")) &&
				(get("content.exact") == "" || rec.Content == get("content.exact")) {
				out = append(out, rec)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		per, _ := strconv.Atoi(get("per_page"))
		if per <= 0 {
			per = 100
		}
		per = min(per, 5000000)
		page, _ := strconv.Atoi(get("page"))
		page = max(page, 1)
		lo, hi := min((page-1)*per, len(out)), min(page*per, len(out))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": out[lo:hi],
			"result_info": map[string]any{"page": page, "per_page": per, "count": hi - lo, "total_count": len(out), "total_pages": (len(out) + per - 1) / per}})
	case r.Method == http.MethodPost && len(parts) == 4 && parts[3] == "batch":
		f.batch(w, req.Body)
	case r.Method == http.MethodPost && len(parts) == 3:
		rec, e := f.parse(req.Body, nil)
		if e == nil {
			e = conflict(f.recs, rec)
		}
		if e != nil {
			f.reply(w, http.StatusBadRequest, nil, *e)
			return
		}
		f.reply(w, http.StatusOK, f.add(rec))
	case (r.Method == http.MethodPut || r.Method == http.MethodPatch) && len(parts) == 4:
		old, exists := f.recs[parts[3]]
		if !exists {
			f.reply(w, http.StatusNotFound, nil, apiError{Code: 81044, Message: "Record does not exist."})
			return
		}
		base := &old
		if r.Method == http.MethodPut {
			base = &CloudflareRecord{ID: old.ID}
		}
		rec, e := f.parse(req.Body, base)
		if e == nil {
			e = conflict(f.recs, rec)
		}
		if e != nil {
			f.reply(w, http.StatusBadRequest, nil, *e)
			return
		}
		f.recs[rec.ID] = rec
		f.reply(w, http.StatusOK, rec)
	case r.Method == http.MethodDelete && len(parts) == 4:
		if _, ok := f.recs[parts[3]]; !ok {
			f.reply(w, http.StatusNotFound, nil, apiError{Code: 81044, Message: "Record does not exist."})
			return
		}
		delete(f.recs, parts[3])
		f.reply(w, http.StatusOK, map[string]string{"id": parts[3]})
	default:
		f.reply(w, http.StatusMethodNotAllowed, nil, apiError{Code: 10405, Message: "Method not allowed"})
	}
}

// batch: POST /zones/{id}/dns_records/batch runs deletes, patches, puts
// and posts, in that order, in one transaction: any error and nothing
// changes. At most BatchLimit records per request.
func (f *Cloudflare) batch(w http.ResponseWriter, body map[string]any) {
	list := func(k string) []map[string]any {
		var out []map[string]any
		raw, _ := body[k].([]any)
		for _, x := range raw {
			if m, ok := x.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	deletes, patches, puts, posts := list("deletes"), list("patches"), list("puts"), list("posts")
	if n := len(deletes) + len(patches) + len(puts) + len(posts); n > f.BatchLimit {
		f.reply(w, http.StatusBadRequest, nil, apiError{Code: 81062, Message: fmt.Sprintf("batch of %d records exceeds the limit of %d", n, f.BatchLimit)})
		return
	}
	next := maps.Clone(f.recs)
	result := map[string][]CloudflareRecord{}
	fail := func(e apiError) {
		f.reply(w, http.StatusBadRequest, nil, e)
	}
	for _, d := range deletes {
		id, _ := d["id"].(string)
		old, ok := next[id]
		if !ok {
			fail(apiError{Code: 81044, Message: "Record does not exist."})
			return
		}
		delete(next, id)
		result["deletes"] = append(result["deletes"], old)
	}
	for k, items := range map[string][]map[string]any{"patches": patches, "puts": puts} {
		for _, p := range items {
			id, _ := p["id"].(string)
			old, ok := next[id]
			if !ok {
				fail(apiError{Code: 81044, Message: "Record does not exist."})
				return
			}
			base := &old
			if k == "puts" {
				base = &CloudflareRecord{ID: id}
			}
			rec, e := f.parse(p, base)
			if e == nil {
				e = conflict(next, rec)
			}
			if e != nil {
				fail(*e)
				return
			}
			next[id] = rec
			result[k] = append(result[k], rec)
		}
	}
	for _, p := range posts {
		rec, e := f.parse(p, nil)
		if e == nil {
			e = conflict(next, rec)
		}
		if e != nil {
			fail(*e)
			return
		}
		f.next++
		rec.ID = fmt.Sprintf("%032x", f.next)
		next[rec.ID] = rec
		result["posts"] = append(result["posts"], rec)
	}
	f.recs = next
	f.reply(w, http.StatusOK, result)
}

// EdgeAddrs are the addresses the fake's DNS side answers a proxied A
// record with, as Cloudflare answers with its edge's (documentation
// addresses here: the fake sends nothing anywhere).
var EdgeAddrs = []string{"198.51.100.201", "198.51.100.202"}

// ServeDNS starts the Cloudflare fake's DNS side (example.com, served by
// the zone object's name servers) on three loopback IPv4 addresses.
func (f *Cloudflare) ServeDNS(t testing.TB, root, auth, resolver string) DNS {
	return serveDNS(t, cloudflareView{f}, root, auth, resolver)
}

// cloudflareView answers as Cloudflare does: the apex NS set from the
// zone object at TTL 86400, TTL 1 as 300 s, a proxied A or AAAA with the
// edge's addresses (a proxied CNAME flattened to them), never the origin.
type cloudflareView struct{ f *Cloudflare }

func (v cloudflareView) lock() func() { v.f.mu.Lock(); return v.f.mu.Unlock }

func (v cloudflareView) zone() (string, []string, dns.RR) {
	var ns []string
	for _, n := range v.f.NameServers {
		ns = append(ns, dns.Fqdn(n))
	}
	soa, _ := dns.NewRR(fmt.Sprintf("example.com. 1800 IN SOA %s dns.cloudflare.com. 1 10000 2400 604800 1800", ns[0]))
	return "example.com.", ns, soa
}

func (v cloudflareView) answer(qn string, qt uint16) ([]dns.RR, bool) {
	var out []dns.RR
	exists := qn == "example.com."
	if qn == "example.com." && qt == dns.TypeNS {
		_, ns, _ := v.zone()
		for _, n := range ns {
			r, _ := dns.NewRR("example.com. 86400 IN NS " + n)
			out = append(out, r)
		}
	}
	ids := slices.Sorted(maps.Keys(v.f.recs))
	for _, id := range ids {
		r := v.f.recs[id]
		name := dns.Fqdn(r.Name)
		if name == qn || dns.IsSubDomain(qn, name) {
			exists = true
		}
		if name != qn {
			continue
		}
		ttl := r.TTL
		if ttl == 1 {
			ttl = 300
		}
		if r.Proxied {
			if qt == dns.TypeA && !slices.ContainsFunc(out, func(x dns.RR) bool { return x.Header().Rrtype == dns.TypeA }) {
				for _, a := range EdgeAddrs {
					x, _ := dns.NewRR(fmt.Sprintf("%s 300 IN A %s", name, a))
					out = append(out, x)
				}
			}
			continue
		}
		if r.Type != dns.TypeToString[qt] && r.Type != "CNAME" {
			continue
		}
		data := r.Content
		switch r.Type {
		case "CNAME", "NS":
			data = dns.Fqdn(data)
		case "MX":
			data = fmt.Sprintf("%d %s", *r.Priority, dns.Fqdn(data))
		}
		x, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", name, ttl, r.Type, data))
		if err == nil && x != nil {
			out = append(out, x)
		}
	}
	return out, exists
}
