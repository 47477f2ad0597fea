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
	"time"

	"github.com/libdns/cloudflare"
	"github.com/libdns/libdns"
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
}

// CloudflareHost is a DNS host at Cloudflare, through libdns/cloudflare,
// with a client that retries rate limits (HTTP 429) and server errors.
type CloudflareHost struct {
	*cloudflare.Provider
}

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
		rc.sleep = sleepCtx
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("cloudflare: endpoint %q is not a URL", o.Endpoint)
		}
		rc.endpoint = u
	}
	return &CloudflareHost{&cloudflare.Provider{APIToken: token, HTTPClient: rc}}, nil
}

// Cloudflare names zones without the final dot; libdns/cloudflare sends
// the zone as given, so the conversion happens here, once, at the edge.
func cfZone(zone string) string { return strings.TrimSuffix(zone, ".") }

// GetRecords lists the zone's records.
func (h *CloudflareHost) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	return h.Provider.GetRecords(ctx, cfZone(zone))
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

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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

// Replace changes RRsets through the API. A one-record RRset is updated in
// place. Cloudflare keeps each record of a larger RRset apart, so the new
// values are added before the old ones are removed: while both stand,
// either answer is one the cutover allows, and the name never has none.
// libdns/cloudflare v0.2.2 cannot change the TTL of a larger RRset whose
// values stay: that is refused rather than done by delete and re-add.
func (h *CloudflareHost) Replace(ctx context.Context, zone string, reps []Replacement) error {
	for _, r := range reps {
		rec := func(data string) libdns.RR {
			return libdns.RR{Name: libdns.RelativeName(r.Name, zone), TTL: time.Duration(r.TTL) * time.Second, Type: r.Type, Data: data}
		}
		if len(r.From) == 1 && len(r.To) == 1 {
			if _, err := h.SetRecords(ctx, zone, []libdns.Record{rec(r.To[0])}); err != nil {
				return fmt.Errorf("cloudflare: set %s %s: %w", r.Name, r.Type, err)
			}
			continue
		}
		var add, del []libdns.Record
		for _, d := range r.To {
			if !slices.Contains(r.From, d) {
				add = append(add, rec(d))
			}
		}
		for _, d := range r.From {
			if !slices.Contains(r.To, d) {
				del = append(del, rec(d))
			}
		}
		if len(add) == 0 && len(del) == 0 {
			return fmt.Errorf("cloudflare: %s %s: changing the TTL of a %d-record RRset is not supported", r.Name, r.Type, len(r.To))
		}
		if _, err := h.AppendRecords(ctx, zone, add); err != nil {
			return fmt.Errorf("cloudflare: add to %s %s: %w", r.Name, r.Type, err)
		}
		if _, err := h.DeleteRecords(ctx, zone, del); err != nil {
			return fmt.Errorf("cloudflare: remove from %s %s: %w", r.Name, r.Type, err)
		}
	}
	return nil
}
