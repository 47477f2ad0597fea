package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libdns/cloudflare"
	"github.com/libdns/libdns"
	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/internal/rdata"
	"github.com/dnsmigrate/dnsmigrate/internal/wait"
)

// CloudflareOptions tune the Cloudflare host; the zero value is right for
// the real API.
type CloudflareOptions struct {
	// Endpoint replaces https://api.cloudflare.com (an API-compatible
	// endpoint, or a test's fake).
	Endpoint string
	// Attempts is how often a rate-limited or failed request is sent
	// before giving up (default 5); Backoff the first wait (default 1s),
	// doubled each time unless the API says Retry-After.
	Attempts int
	Backoff  time.Duration
	// Sleep waits between attempts (tests record the waits).
	Sleep func(context.Context, time.Duration) error
	// BatchSize is how many records one /dns_records/batch request may
	// change (default 200, the Free plan's limit; 3,500 on other plans).
	BatchSize int
}

// CloudflareHost is a DNS host at Cloudflare, with a client that retries
// rate limits (HTTP 429) and server errors. libdns/cloudflare serves the
// libdns writes (SetRecords, AppendRecords, DeleteRecords); reading and
// Replace use the API directly, because libdns/cloudflare v0.2.2 reads no
// apex NS (Cloudflare keeps them on the zone object), takes TTL 1
// ("automatic") for one second, drops the proxied flag and creates records
// unproxied, and cannot change the TTL of a record set of several records.
type CloudflareHost struct {
	*cloudflare.Provider
	api   *retryClient
	token string
	batch int

	mu    sync.Mutex
	zones map[string]cfZoneInfo
	views map[string]cfView // zone ID -> the records changes are computed from
}

// cfView is a zone's records as a change sees them: listed at most viewTTL
// ago, with this host's own batch results since applied, so that a change
// sent in many batches does not list a large zone again for each (the API
// allows 1,200 requests in 5 minutes).
type cfView struct {
	at   time.Time
	recs []cfRecord
}

// cfZoneInfo is what the zone object says: its ID and the name servers
// Cloudflare assigned it (the apex NS set, absent from dns_records).
type cfZoneInfo struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	NameServers []string `json:"name_servers"`
}

// cfRecord is a DNS record as the API lists it.
type cfRecord struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Name     string `json:"name"`
	Content  string `json:"content"`
	TTL      int    `json:"ttl"`
	Proxied  bool   `json:"proxied"`
	Priority *int   `json:"priority,omitempty"`
}

// cfAutoTTL is what TTL 1 ("automatic") means: Cloudflare serves 300 s.
const cfAutoTTL = 300

// NewCloudflareHost returns a host that authenticates with an API token.
func NewCloudflareHost(token string, o CloudflareOptions) (*CloudflareHost, error) {
	rc := &retryClient{http: &http.Client{Timeout: 30 * time.Second}, attempts: o.Attempts, backoff: o.Backoff, sleep: o.Sleep}
	if rc.attempts <= 0 {
		rc.attempts = 5
	}
	if rc.backoff <= 0 {
		rc.backoff = time.Second
	}
	if rc.sleep == nil {
		rc.sleep = wait.Sleep
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("cloudflare: endpoint %q is not a URL", o.Endpoint)
		}
		rc.endpoint = u
	}
	batch := o.BatchSize
	if batch <= 0 {
		batch = 200
	}
	return &CloudflareHost{Provider: &cloudflare.Provider{APIToken: token, HTTPClient: rc}, api: rc, token: token, batch: batch, zones: map[string]cfZoneInfo{}, views: map[string]cfView{}}, nil
}

// Cloudflare names zones and records without the final dot;
// libdns/cloudflare sends the zone as given, so the conversion happens
// here, once, at the edge.
func cfZone(zone string) string { return strings.TrimSuffix(zone, ".") }

// GetRecords lists the zone's DNS records: every record with TTL 1 read as
// automatic (300 s), proxied records with their origin values (Proxied
// lists them). The apex NS set is not a DNS record at Cloudflare but the
// zone object's, and cannot be changed: NameServers lists it.
func (h *CloudflareHost) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	_, recs, err := h.records(ctx, zone)
	if err != nil {
		return nil, err
	}
	var out []libdns.Record
	for _, r := range recs {
		if isCFSigning(r) {
			continue // another signer's key (ChangeDNSKEYs), not a record of the zone
		}
		rr, err := r.rr(zone)
		if err != nil {
			return nil, err
		}
		out = append(out, FromRR(rr, zone))
	}
	return out, nil
}

// NameServers lists the name servers Cloudflare assigned the zone (the
// zone object's name_servers): its apex NS set.
func (h *CloudflareHost) NameServers(ctx context.Context, zone string) ([]string, error) {
	z, err := h.zone(ctx, zone)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range z.NameServers {
		out = append(out, strings.ToLower(dns.Fqdn(n)))
	}
	return out, nil
}

// Proxied lists the names and types ("name type") whose records Cloudflare
// answers from its edge: resolvers see Cloudflare's addresses, not the
// records' values, and the TTL is automatic.
func (h *CloudflareHost) Proxied(ctx context.Context, zone string) (map[string]bool, error) {
	_, recs, err := h.records(ctx, zone)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range recs {
		if r.Proxied {
			out[strings.ToLower(dns.Fqdn(r.Name))+" "+r.Type] = true
		}
	}
	return out, nil
}

// rr turns a listed record into an RR: names in the content made absolute
// (Cloudflare lists them without the final dot), the priority of MX and
// SRV put in front, TXT content quoted when the API lists it bare.
func (r cfRecord) rr(zone string) (dns.RR, error) {
	data := r.Content
	switch r.Type {
	case "CNAME", "NS", "PTR", "DNAME":
		data = dns.Fqdn(data)
	case "MX":
		data = dns.Fqdn(data)
	case "SRV":
		if f := strings.Fields(data); len(f) == 3 {
			data = f[0] + " " + f[1] + " " + dns.Fqdn(f[2])
		}
	case "TXT":
		if !strings.HasPrefix(data, "\"") {
			data = txtQuote(data)
		}
	}
	if r.Priority != nil && (r.Type == "MX" || r.Type == "SRV") {
		data = fmt.Sprintf("%d %s", *r.Priority, data)
	}
	ttl := r.TTL
	if ttl == 1 {
		ttl = cfAutoTTL
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", dns.Fqdn(r.Name), ttl, r.Type, data))
	if err != nil || rr == nil {
		return nil, fmt.Errorf("cloudflare: record %s %s %q: %v", r.Name, r.Type, r.Content, err)
	}
	return rr, nil
}

// txtQuote quotes a character-string in zone-file presentation form: only
// the quote and the backslash escaped (Go's quoting would write \u
// escapes a zone file does not know).
func txtQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// fields turns presentation data of an RR into Cloudflare's content and
// priority.
func cfFields(rr dns.RR) (content string, priority *int) {
	switch x := rr.(type) {
	case *dns.MX:
		p := int(x.Preference)
		return strings.TrimSuffix(x.Mx, "."), &p
	case *dns.SRV:
		p := int(x.Priority)
		return fmt.Sprintf("%d %d %s", x.Weight, x.Port, strings.TrimSuffix(x.Target, ".")), &p
	case *dns.TXT:
		var parts []string
		for _, t := range x.Txt {
			parts = append(parts, txtQuote(t))
		}
		return strings.Join(parts, " "), nil
	case *dns.CNAME:
		return strings.TrimSuffix(x.Target, "."), nil
	case *dns.NS:
		return strings.TrimSuffix(x.Ns, "."), nil
	}
	return rdata.Text(rr), nil
}

// SetRecords sets records (libdns semantics, one record per name and type).
func (h *CloudflareHost) SetRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return h.Provider.SetRecords(ctx, cfZone(zone), recs)
}

// AppendRecords adds records.
func (h *CloudflareHost) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return h.Provider.AppendRecords(ctx, cfZone(zone), recs)
}

// DeleteRecords removes records.
func (h *CloudflareHost) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return h.Provider.DeleteRecords(ctx, cfZone(zone), recs)
}

// retryClient sends libdns/cloudflare's requests, again after HTTP 429
// or 5xx, waiting as the API's Retry-After says or with exponential
// backoff, and gives up with an error that says what the API said.
type retryClient struct {
	http     *http.Client
	endpoint *url.URL
	attempts int
	backoff  time.Duration
	sleep    func(context.Context, time.Duration) error
}

func (c *retryClient) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("cloudflare: read request body: %w", err)
		}
		body = b
	}
	if c.endpoint != nil {
		u := *req.URL
		u.Scheme, u.Host = c.endpoint.Scheme, c.endpoint.Host
		req.URL = &u
		req.Host = c.endpoint.Host
	}
	wait := c.backoff
	for attempt := 1; ; attempt++ {
		r := req.Clone(req.Context())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		resp, err := c.http.Do(r)
		if err != nil {
			return nil, fmt.Errorf("cloudflare: %s %s: %w", req.Method, req.URL.Path, err)
		}
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
			return resp, nil
		}
		msg := apiErrors(resp)
		if attempt >= c.attempts {
			return nil, fmt.Errorf("cloudflare: %s %s: gave up after %d attempts: HTTP %d%s", req.Method, req.URL.Path, attempt, resp.StatusCode, msg)
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		if err := c.sleep(req.Context(), wait); err != nil {
			return nil, fmt.Errorf("cloudflare: %s %s: %w", req.Method, req.URL.Path, err)
		}
		wait = min(wait*2, time.Minute)
	}
}

// apiErrors reads Cloudflare's error list from a failed response.
func apiErrors(resp *http.Response) string {
	defer resp.Body.Close()
	var v struct {
		Errors []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if json.Unmarshal(b, &v) != nil || len(v.Errors) == 0 {
		return ""
	}
	var parts []string
	for _, e := range v.Errors {
		parts = append(parts, fmt.Sprintf("%d %s", e.Code, e.Message))
	}
	return ": " + strings.Join(parts, "; ")
}

// Replace changes RRsets through the API. A one-record RRset whose value
// changes is patched in place. In a larger RRset each record stands apart:
// the TTL of the records that stay is patched record by record (by ID),
// new values are added (proxied as the RRset's records are), and only
// then are old values removed, so the name never has none. Patches and
// additions go in /dns_records/batch requests (one transaction each, at
// most BatchSize records), removals in the ones after. A proxied RRset's
// TTL stays automatic. An error names the RRset and carries the API's
// codes, error_chain included.
func (h *CloudflareHost) Replace(ctx context.Context, zone string, reps []Replacement) error {
	z, recs, err := h.current(ctx, zone)
	if err != nil {
		return err
	}
	byKey := map[string][]cfRecord{}
	for _, r := range recs {
		k := strings.ToLower(dns.Fqdn(r.Name)) + " " + r.Type
		byKey[k] = append(byKey[k], r)
	}
	var writes, deletes []map[string]any
	for _, rep := range reps {
		name := strings.ToLower(dns.Fqdn(rep.Name))
		if rep.Type == "NS" && name == strings.ToLower(dns.Fqdn(zone)) {
			return fmt.Errorf("cloudflare: the apex NS set of %s belongs to the zone object (%v) and cannot be changed through DNS records", zone, z.NameServers)
		}
		cur := byKey[name+" "+rep.Type]
		proxied := slices.ContainsFunc(cur, func(r cfRecord) bool { return r.Proxied })
		ttl := int(rep.TTL)
		if proxied {
			ttl = 1
		}
		have := map[string]cfRecord{}
		data := make([]string, len(cur))
		for i, r := range cur {
			rr, err := r.rr(zone)
			if err != nil {
				return err
			}
			data[i] = rdata.Text(rr)
			have[data[i]] = r
		}
		var add []dns.RR
		want := map[string]bool{}
		for _, v := range rep.To {
			rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", name, rep.TTL, rep.Type, v))
			if err != nil || rr == nil {
				return fmt.Errorf("cloudflare: %s %s value %q: %v", name, rep.Type, v, err)
			}
			d := rdata.Text(rr)
			want[d] = true
			if _, ok := have[d]; !ok {
				add = append(add, rr)
			}
		}
		var remove []cfRecord
		for i, r := range cur {
			if !want[data[i]] {
				remove = append(remove, r)
			}
		}
		if len(cur) == 1 && len(add) == 1 && len(remove) == 1 {
			content, prio := cfFields(add[0])
			writes = append(writes, cfBody(map[string]any{"id": cur[0].ID, "type": rep.Type, "name": cfZone(name), "content": content, "ttl": ttl, "proxied": proxied}, prio))
			continue
		}
		for i, r := range cur {
			if want[data[i]] && r.TTL != ttl {
				writes = append(writes, map[string]any{"id": r.ID, "ttl": ttl})
			}
		}
		for _, rr := range add {
			content, prio := cfFields(rr)
			writes = append(writes, cfBody(map[string]any{"type": rep.Type, "name": cfZone(name), "content": content, "ttl": ttl, "proxied": proxied}, prio))
		}
		for _, r := range remove {
			deletes = append(deletes, map[string]any{"id": r.ID})
		}
	}
	// Patches and posts first, removals after: a name never has no value.
	type op struct {
		kind string
		body map[string]any
	}
	var phases [2][]op
	for _, w := range writes {
		kind := "posts"
		if w["id"] != nil {
			kind = "patches"
		}
		phases[0] = append(phases[0], op{kind, w})
	}
	for _, d := range deletes {
		phases[1] = append(phases[1], op{"deletes", d})
	}
	sent, total := 0, len(writes)+len(deletes)
	for _, ops := range phases {
		for lo := 0; lo < len(ops); lo += h.batch {
			chunk := ops[lo:min(lo+h.batch, len(ops))]
			body := map[string][]map[string]any{}
			for _, o := range chunk {
				body[o.kind] = append(body[o.kind], o.body)
			}
			var res cfBatchResult
			err := h.do(ctx, http.MethodPost, "/zones/"+z.ID+"/dns_records/batch", nil, body, &res)
			h.applied(z.ID, res, err == nil)
			if err != nil {
				return fmt.Errorf("%w (%d of %d record changes made before)", err, sent, total)
			}
			sent += len(chunk)
		}
	}
	return nil
}

// Batches splits replacements into groups whose records (those added,
// patched and removed) fit one /dns_records/batch request.
func (h *CloudflareHost) Batches(reps []Replacement) [][]Replacement {
	return batchBy(reps, h.batch, func(r Replacement) int { return len(r.From) + len(r.To) })
}

func cfBody(m map[string]any, priority *int) map[string]any {
	if priority != nil {
		m["priority"] = *priority
	}
	return m
}

// zone reads the zone object (List Zones by name, which needs Zone:Read).
func (h *CloudflareHost) zone(ctx context.Context, zone string) (cfZoneInfo, error) {
	name := cfZone(zone)
	h.mu.Lock()
	z, ok := h.zones[name]
	h.mu.Unlock()
	if ok {
		return z, nil
	}
	var zones []cfZoneInfo
	if err := h.do(ctx, http.MethodGet, "/zones", url.Values{"name": {name}}, nil, &zones); err != nil {
		if strings.Contains(err.Error(), "9109") {
			return z, fmt.Errorf("%w: the API token needs Zone:Read as well as DNS:Edit on %s", err, name)
		}
		return z, err
	}
	if len(zones) == 0 {
		return z, fmt.Errorf("cloudflare: no zone %s in the token's account", name)
	}
	h.mu.Lock()
	h.zones[name] = zones[0]
	h.mu.Unlock()
	return zones[0], nil
}

// cfBatchResult is what /dns_records/batch returns: the records deleted,
// patched, put and created, with their IDs.
type cfBatchResult struct {
	Deletes []cfRecord `json:"deletes"`
	Patches []cfRecord `json:"patches"`
	Puts    []cfRecord `json:"puts"`
	Posts   []cfRecord `json:"posts"`
}

// current is the zone's records for a change: the view if fresh, else a
// new listing.
func (h *CloudflareHost) current(ctx context.Context, zone string) (cfZoneInfo, []cfRecord, error) {
	z, err := h.zone(ctx, zone)
	if err != nil {
		return z, nil, err
	}
	h.mu.Lock()
	v, ok := h.views[z.ID]
	h.mu.Unlock()
	if ok && time.Since(v.at) < viewTTL {
		return z, v.recs, nil
	}
	recs, err := h.list(ctx, z)
	if err != nil {
		return z, nil, err
	}
	h.mu.Lock()
	h.views[z.ID] = cfView{at: time.Now(), recs: recs}
	h.mu.Unlock()
	return z, recs, nil
}

// applied records a batch's result in the zone's view (or, with ok false,
// drops the view: what landed is unknown).
func (h *CloudflareHost) applied(zoneID string, res cfBatchResult, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, has := h.views[zoneID]
	if !has {
		return
	}
	if !ok {
		delete(h.views, zoneID)
		return
	}
	gone := map[string]bool{}
	for _, r := range res.Deletes {
		gone[r.ID] = true
	}
	changed := map[string]cfRecord{}
	for _, r := range slices.Concat(res.Patches, res.Puts) {
		changed[r.ID] = r
	}
	var recs []cfRecord
	for _, r := range v.recs {
		if gone[r.ID] {
			continue
		}
		if c, ok := changed[r.ID]; ok {
			r = c
		}
		recs = append(recs, r)
	}
	h.views[zoneID] = cfView{at: v.at, recs: append(recs, res.Posts...)}
}

// records reads the zone object and every DNS record of the zone.
func (h *CloudflareHost) records(ctx context.Context, zone string) (cfZoneInfo, []cfRecord, error) {
	z, err := h.zone(ctx, zone)
	if err != nil {
		return z, nil, err
	}
	recs, err := h.list(ctx, z)
	return z, recs, err
}

// list reads every DNS record of the zone, page by page.
func (h *CloudflareHost) list(ctx context.Context, z cfZoneInfo) ([]cfRecord, error) {
	var out []cfRecord
	for page := 1; ; page++ {
		var recs []cfRecord
		var info struct {
			TotalPages int `json:"total_pages"`
		}
		if err := h.do(ctx, http.MethodGet, "/zones/"+z.ID+"/dns_records", url.Values{"page": {strconv.Itoa(page)}, "per_page": {"1000"}}, nil, &recs, &info); err != nil {
			return nil, err
		}
		out = append(out, recs...)
		if page >= info.TotalPages || len(recs) == 0 {
			return out, nil
		}
	}
}

// cfEnvelope is every API answer: success, errors (each with its
// error_chain), result, result_info.
type cfEnvelope struct {
	Success    bool            `json:"success"`
	Errors     []cfError       `json:"errors"`
	Result     json.RawMessage `json:"result"`
	ResultInfo json.RawMessage `json:"result_info"`
}

type cfError struct {
	Code    int       `json:"code"`
	Message string    `json:"message"`
	Chain   []cfError `json:"error_chain"`
}

func (e cfError) String() string {
	s := fmt.Sprintf("%d %s", e.Code, e.Message)
	for _, c := range e.Chain {
		s += " (" + c.String() + ")"
	}
	return s
}

// do sends one API request and decodes its result (and result_info).
func (h *CloudflareHost) do(ctx context.Context, method, path string, q url.Values, body, result any, info ...any) error {
	u := "https://api.cloudflare.com/client/v4" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("cloudflare: %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("cloudflare: %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.api.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env cfEnvelope
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<30)).Decode(&env); err != nil {
		return fmt.Errorf("cloudflare: %s %s: HTTP %d, unreadable answer: %w", method, path, resp.StatusCode, err)
	}
	if !env.Success || resp.StatusCode >= 300 {
		var parts []string
		for _, e := range env.Errors {
			parts = append(parts, e.String())
		}
		return fmt.Errorf("cloudflare: %s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.Join(parts, "; "))
	}
	if result != nil && len(env.Result) > 0 {
		if err := json.Unmarshal(env.Result, result); err != nil {
			return fmt.Errorf("cloudflare: %s %s: result: %w", method, path, err)
		}
	}
	for _, i := range info {
		if len(env.ResultInfo) > 0 {
			if err := json.Unmarshal(env.ResultInfo, i); err != nil {
				return fmt.Errorf("cloudflare: %s %s: result_info: %w", method, path, err)
			}
		}
	}
	return nil
}
