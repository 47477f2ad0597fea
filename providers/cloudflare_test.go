package providers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/providers/hosttest"
	"github.com/dnsmigrate/dnsmigrate/providers/providerstest"
)

func prio(n int) *int { return &n }

var cfRecords = []providerstest.CloudflareRecord{
	{Type: "A", Name: "www.example.com", Content: "192.0.2.1", TTL: 1},
	{Type: "CNAME", Name: "backend.example.com", Content: "server1.old.example.net", TTL: 300},
	{Type: "A", Name: "api.example.com", Content: "192.0.2.10", TTL: 3600},
	{Type: "A", Name: "api.example.com", Content: "192.0.2.11", TTL: 3600},
	{Type: "MX", Name: "example.com", Content: "mx1.example.com", TTL: 3600, Priority: prio(10)},
	{Type: "MX", Name: "example.com", Content: "mx2.example.com", TTL: 3600, Priority: prio(20)},
	{Type: "TXT", Name: "example.com", Content: `"v=spf1 -all"`, TTL: 3600},
	{Type: "A", Name: "shop.example.com", Content: "203.0.113.7", TTL: 1, Proxied: true},
}

var cfScopes = []string{"zone:read", "dns:edit"}

func cfHost(t *testing.T, f *providerstest.Cloudflare, token string) *providers.CloudflareHost {
	t.Helper()
	h, err := providers.NewCloudflareHost(token, providers.CloudflareOptions{Endpoint: f.URL, Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Reading: the apex NS set from the zone object, apart, TTL 1 as the 300 s
// Cloudflare serves, MX priorities, proxied records with their origin
// values and listed as proxied.
func TestCloudflareReads(t *testing.T) {
	f := providerstest.NewCloudflare(t, "tok", cfScopes, cfRecords...)
	h := cfHost(t, f, "tok")
	got := strings.Join(records(t, h), "\n")
	for _, want := range []string{
		"www.example.com. A 192.0.2.1 ttl 300", "api.example.com. A 192.0.2.11 ttl 3600",
		"example.com. MX 20 mx2.example.com. ttl 3600", `example.com. TXT "v=spf1 -all" ttl 3600`,
		"backend.example.com. CNAME server1.old.example.net. ttl 300", "shop.example.com. A 203.0.113.7 ttl 300",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("records lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, " NS ") {
		t.Errorf("the zone object's name servers read as records:\n%s", got)
	}
	ns, err := h.NameServers(context.Background(), "example.com.")
	if err != nil || strings.Join(ns, " ") != "ada.ns.cloudflare.com. bob.ns.cloudflare.com." {
		t.Errorf("name servers: %v %v", ns, err)
	}
	proxied, err := h.Proxied(context.Background(), "example.com.")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(proxied) != "map[shop.example.com. A:true]" {
		t.Errorf("proxied: %v", proxied)
	}
}

// Writing: a TTL change of a multi-record RRset patches each record by ID
// (libdns/cloudflare v0.2.2 could not), a one-record change is patched in
// place, a value change of a larger RRset adds before it removes, a
// proxied RRset's new record is proxied; patches and posts go in one batch
// request, removals in the next.
func TestCloudflareReplace(t *testing.T) {
	f := providerstest.NewCloudflare(t, "tok", cfScopes, cfRecords...)
	h := cfHost(t, f, "tok")
	ctx := context.Background()
	err := providers.Replace(ctx, "cf", h, "example.com.", []providers.Replacement{
		{Name: "example.com.", Type: "MX", TTL: 60, From: []string{"10 mx1.example.com.", "20 mx2.example.com."}, To: []string{"10 mx1.example.com.", "20 mx2.example.com."}},
		{Name: "backend.example.com.", Type: "CNAME", TTL: 60, From: []string{"server1.old.example.net."}, To: []string{"server2.new.example.net."}},
		{Name: "api.example.com.", Type: "A", TTL: 60, From: []string{"192.0.2.10", "192.0.2.11"}, To: []string{"192.0.2.11", "198.51.100.10"}},
		{Name: "shop.example.com.", Type: "A", TTL: 60, From: []string{"203.0.113.7"}, To: []string{"203.0.113.7", "203.0.113.8"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ typ, name, want string }{
		{"MX", "example.com", "10 mx1.example.com ttl 60|20 mx2.example.com ttl 60"},
		{"CNAME", "backend.example.com", "server2.new.example.net ttl 60"},
		{"A", "api.example.com", "192.0.2.11 ttl 60|198.51.100.10 ttl 60"},
		{"A", "shop.example.com", "203.0.113.7 ttl 1 proxied|203.0.113.8 ttl 1 proxied"},
	} {
		if got := strings.Join(f.Contents(c.typ, c.name), "|"); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.name, c.typ, got, c.want)
		}
	}
	var writes []string
	for _, r := range f.Requests() {
		if r.Auth != "Bearer tok" || !strings.HasPrefix(r.Path, "/client/v4/zones") {
			t.Errorf("request %s %s: auth %q", r.Method, r.Path, r.Auth)
		}
		if r.Method == http.MethodGet {
			continue
		}
		if r.ContentType != "application/json" {
			t.Errorf("request %s %s: content type %q", r.Method, r.Path, r.ContentType)
		}
		var kinds []string
		for _, k := range []string{"deletes", "patches", "posts"} {
			if n, _ := r.Body[k].([]any); len(n) > 0 {
				kinds = append(kinds, fmt.Sprintf("%s %d", k, len(n)))
			}
		}
		writes = append(writes, r.Method+" "+strings.TrimPrefix(r.Path, "/client/v4/zones/"+f.ZoneID)+" "+strings.Join(kinds, ", "))
	}
	if got := strings.Join(writes, " | "); got != "POST /dns_records/batch patches 4, posts 2 | POST /dns_records/batch deletes 1" {
		t.Errorf("writes: %s", got)
	}
	err = providers.Replace(ctx, "cf", h, "example.com.", []providers.Replacement{{Name: "example.com.", Type: "NS", TTL: 60, To: []string{"ns1.example.net."}}})
	if err == nil || !strings.Contains(err.Error(), "belongs to the zone object") {
		t.Errorf("apex NS change: %v", err)
	}
}

// Changes past one batch request's limit (200 records on the Free plan)
// go in several.
func TestCloudflareBatches(t *testing.T) {
	var recs []providerstest.CloudflareRecord
	var sets []providers.RRset
	var ttls []uint32
	for i := range 450 {
		name := fmt.Sprintf("h%d.example.com", i)
		recs = append(recs, providerstest.CloudflareRecord{Type: "A", Name: name, Content: "192.0.2.1", TTL: 3600})
		sets = append(sets, providers.RRset{Name: name + ".", Type: "A", Data: []string{"192.0.2.1"}})
		ttls = append(ttls, 60)
	}
	f := providerstest.NewCloudflare(t, "tok", cfScopes, recs...)
	if err := providers.SetTTLs(context.Background(), "cf", cfHost(t, f, "tok"), "example.com.", sets, ttls); err != nil {
		t.Fatal(err)
	}
	batches := 0
	for _, r := range f.Requests() {
		if r.Method == http.MethodPost {
			batches++
		}
	}
	if batches != 3 {
		t.Errorf("450 patches in %d batch requests, want 3", batches)
	}
	if got := f.Contents("A", "h449.example.com"); len(got) != 1 || got[0] != "192.0.2.1 ttl 60" {
		t.Errorf("last record: %v", got)
	}
	// Sent batch by batch, as the executor does: the zone is listed once
	// for all of them, and each sees the ones before.
	h := cfHost(t, f, "tok")
	reps, _ := providers.TTLChanges(sets, ttls)
	for i := range reps {
		reps[i].TTL = 120
	}
	listings := func() int {
		n := 0
		for _, r := range f.Requests() {
			if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/dns_records") && strings.Contains(r.Query, "page=1&") {
				n++
			}
		}
		return n
	}
	before := listings()
	for _, b := range h.Batches(reps) {
		if err := providers.Replace(context.Background(), "cf", h, "example.com.", b); err != nil {
			t.Fatal(err)
		}
	}
	if n := listings() - before; n != 1 {
		t.Errorf("%d batches listed the zone %d times, want once", len(h.Batches(reps)), n)
	}
	if got := f.Contents("A", "h0.example.com"); len(got) != 1 || got[0] != "192.0.2.1 ttl 120" {
		t.Errorf("first record: %v", got)
	}
}

// What the API refuses comes back with its codes (error_chain included)
// and the RRset named, and nothing is half-changed: a batch is one
// transaction.
func TestCloudflareErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		token  string
		scopes []string
		reps   []providers.Replacement
		want   string
	}{
		{"wrong token", "wrong", cfScopes, nil, "10000 Authentication error"},
		{"no Zone:Read", "tok", []string{"dns:edit"}, nil, "the API token needs Zone:Read as well as DNS:Edit"},
		{"no DNS:Edit", "tok", []string{"zone:read"}, []providers.Replacement{{Name: "www.example.com.", Type: "A", TTL: 60, To: []string{"192.0.2.1"}}}, "10000 Authentication error"},
		{"TTL under 60", "tok", cfScopes, []providers.Replacement{{Name: "api.example.com.", Type: "A", TTL: 5, To: []string{"192.0.2.10", "192.0.2.11"}}}, "1004 DNS Validation Error (9021 Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.)"},
		{"CNAME beside an A", "tok", cfScopes, []providers.Replacement{{Name: "www.example.com.", Type: "CNAME", TTL: 60, To: []string{"x.example.net."}}}, "81053 An A, AAAA, or CNAME record with that host already exists."},
		{"A beside a CNAME", "tok", cfScopes, []providers.Replacement{{Name: "backend.example.com.", Type: "A", TTL: 60, To: []string{"192.0.2.9"}}}, "81054 A CNAME record with that host already exists."},
		{"two CNAMEs", "tok", cfScopes, []providers.Replacement{{Name: "new.example.com.", Type: "CNAME", TTL: 60, To: []string{"a.example.net.", "b.example.net."}}}, "81057 The record already exists."},
		{"the same record twice", "tok", cfScopes, []providers.Replacement{{Name: "new.example.com.", Type: "A", TTL: 60, To: []string{"192.0.2.9", "192.0.2.9"}}}, "81058 An identical record already exists."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := providerstest.NewCloudflare(t, "tok", c.scopes, cfRecords...)
			h := cfHost(t, f, c.token)
			var err error
			if c.reps == nil {
				_, err = providers.Records(ctx, "cf", h, "example.com.")
			} else {
				err = providers.Replace(ctx, "cf", h, "example.com.", append(c.reps, providers.Replacement{Name: "example.com.", Type: "MX", TTL: 120, To: []string{"10 mx1.example.com.", "20 mx2.example.com."}}))
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
			if got := strings.Join(f.Contents("MX", "example.com"), "|"); got != "10 mx1.example.com ttl 3600|20 mx2.example.com ttl 3600" {
				t.Errorf("a refused batch changed the zone: MX %s", got)
			}
		})
	}
	if _, err := providers.NewCloudflareHost("x", providers.CloudflareOptions{Endpoint: "not a url"}); err == nil {
		t.Error("a bad endpoint was accepted")
	}
}

func TestCloudflareRateLimit(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		limited    int
		retryAfter string
		waits      string
		err        string
	}{
		{"Retry-After honoured", 2, "3", "3s 3s", ""},
		{"exponential backoff without Retry-After", 3, "", "1s 2s 4s", ""},
		{"gives up", 100, "", "1s 2s 4s 8s", "gave up after 5 attempts: HTTP 429: 971 Please wait and consider throttling your request speed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := providerstest.NewCloudflare(t, "tok", cfScopes, cfRecords...)
			f.Limit(tt.limited, tt.retryAfter)
			var waits []string
			h, _ := providers.NewCloudflareHost("tok", providers.CloudflareOptions{Endpoint: f.URL,
				Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d.String()); return nil }})
			_, err := providers.Records(ctx, "cf", h, "example.com.")
			if strings.Join(waits, " ") != tt.waits {
				t.Errorf("waits %v, want %s", waits, tt.waits)
			}
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
	// Past the API's own rate limit (1,200 requests per 5 minutes, here 3
	// per 200ms), requests wait and go through.
	f := providerstest.NewCloudflare(t, "tok", cfScopes, cfRecords...)
	f.RateLimit(3, 200*time.Millisecond)
	waited := 0
	h, _ := providers.NewCloudflareHost("tok", providers.CloudflareOptions{Endpoint: f.URL, Backoff: 250 * time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error { waited++; time.Sleep(d); return nil }})
	for range 3 {
		if _, err := providers.Records(ctx, "cf", h, "example.com."); err != nil {
			t.Fatal(err)
		}
	}
	if waited == 0 {
		t.Error("the rate limit was never met")
	}
}

// The Cloudflare host keeps the host contract, against the fake.
func TestCloudflareHostContract(t *testing.T) {
	f := providerstest.NewCloudflare(t, "tok", cfScopes, cfRecords...)
	hosttest.Run(t, hosttest.Target{Name: "cf", Host: cfHost(t, f, "tok"), Zone: "example.com.", MinTTL: 60})
}
