package providers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
)

// cfFake is a local fake of the Cloudflare v4 API, answering as its
// documentation says (envelope, error codes, TTL range, pagination,
// rate limiting), and recording every request for the contract tests.
// No Cloudflare account can be reached from here.
type cfFake struct {
	token string
	mu    sync.Mutex
	recs  map[string]cfRec
	next  int
	reqs  []cfReq
	// limited requests are answered 429, with retryAfter when not empty.
	limited    int
	retryAfter string
}

type cfRec struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Content string `json:"content"`
	TTL     int    `json:"ttl"`
}

type cfReq struct {
	Method, Path, Query, Auth, ContentType string
	Body                                   map[string]any
}

const cfZoneID = "023e105f4ecef8ad9ca31a8372d0c353"

func newCFFake(t *testing.T, token string, recs ...cfRec) (*cfFake, *httptest.Server) {
	f := &cfFake{token: token, recs: map[string]cfRec{}}
	for _, r := range recs {
		f.add(r)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *cfFake) add(r cfRec) cfRec {
	f.next++
	r.ID = fmt.Sprintf("rec%03d", f.next)
	f.recs[r.ID] = r
	return r
}

func (f *cfFake) reply(w http.ResponseWriter, status int, result any, errs ...[2]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]any{"success": len(errs) == 0, "errors": []any{}, "messages": []any{}, "result": result}
	var list []map[string]any
	for _, e := range errs {
		list = append(list, map[string]any{"code": e[0], "message": e[1]})
	}
	if list != nil {
		body["errors"] = list
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (f *cfFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	req := cfReq{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		_ = json.Unmarshal(b, &req.Body)
	}
	f.reqs = append(f.reqs, req)
	if f.limited > 0 {
		f.limited--
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		f.reply(w, http.StatusTooManyRequests, nil, [2]any{971, "Please wait and consider throttling your request speed"})
		return
	}
	if req.Auth != "Bearer "+f.token {
		f.reply(w, http.StatusForbidden, nil, [2]any{10000, "Authentication error"})
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/client/v4/"), "/")
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "zones":
		var zones []map[string]any
		if q.Get("name") == "example.com" {
			zones = append(zones, map[string]any{"id": cfZoneID, "name": "example.com", "status": "active"})
		}
		f.reply(w, http.StatusOK, zones)
	case len(parts) >= 3 && parts[0] == "zones" && parts[1] == cfZoneID && parts[2] == "dns_records":
		f.records(w, r, req, parts, q)
	default:
		f.reply(w, http.StatusNotFound, nil, [2]any{7003, "Could not route to " + r.URL.Path + ", perhaps your object identifier is invalid?"})
	}
}

func (f *cfFake) records(w http.ResponseWriter, r *http.Request, req cfReq, parts []string, q map[string][]string) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	body := func() (cfRec, bool) {
		if req.ContentType != "application/json" {
			f.reply(w, http.StatusBadRequest, nil, [2]any{6003, "Invalid request headers: Content-Type must be application/json"})
			return cfRec{}, false
		}
		rec := cfRec{Type: fmt.Sprint(req.Body["type"]), Name: fmt.Sprint(req.Body["name"]), Content: fmt.Sprint(req.Body["content"])}
		ttl, _ := req.Body["ttl"].(float64)
		rec.TTL = int(ttl)
		if rec.Name == "@" {
			rec.Name = "example.com"
		} else if !strings.HasSuffix(rec.Name, "example.com") {
			rec.Name += ".example.com"
		}
		if rec.TTL != 1 && (rec.TTL < 60 || rec.TTL > 86400) {
			f.reply(w, http.StatusBadRequest, nil, [2]any{9020, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic."})
			return cfRec{}, false
		}
		return rec, true
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 3:
		var out []cfRec
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
		page, _ := strconv.Atoi(get("page"))
		page = max(page, 1)
		lo, hi := min((page-1)*per, len(out)), min(page*per, len(out))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": out[lo:hi],
			"result_info": map[string]any{"page": page, "per_page": per, "count": hi - lo, "total_count": len(out), "total_pages": (len(out) + per - 1) / per}})
	case r.Method == http.MethodPost && len(parts) == 3:
		rec, ok := body()
		if !ok {
			return
		}
		for _, old := range f.recs {
			if old.Type == rec.Type && old.Name == rec.Name && old.Content == rec.Content {
				f.reply(w, http.StatusBadRequest, nil, [2]any{81058, "An identical record already exists."})
				return
			}
		}
		f.reply(w, http.StatusOK, f.add(rec))
	case (r.Method == http.MethodPut || r.Method == http.MethodPatch) && len(parts) == 4:
		old, exists := f.recs[parts[3]]
		if !exists {
			f.reply(w, http.StatusNotFound, nil, [2]any{81044, "Record does not exist."})
			return
		}
		if r.Method == http.MethodPatch {
			// PATCH changes only the fields given.
			for k, v := range map[string]any{"type": old.Type, "name": old.Name, "content": old.Content, "ttl": float64(old.TTL)} {
				if _, given := req.Body[k]; !given {
					req.Body[k] = v
				}
			}
		}
		rec, ok := body()
		if !ok {
			return
		}
		rec.ID = parts[3]
		f.recs[rec.ID] = rec
		f.reply(w, http.StatusOK, rec)
	case r.Method == http.MethodDelete && len(parts) == 4:
		if _, ok := f.recs[parts[3]]; !ok {
			f.reply(w, http.StatusNotFound, nil, [2]any{81044, "Record does not exist."})
			return
		}
		delete(f.recs, parts[3])
		f.reply(w, http.StatusOK, map[string]string{"id": parts[3]})
	default:
		f.reply(w, http.StatusMethodNotAllowed, nil, [2]any{10405, "Method not allowed"})
	}
}

func (f *cfFake) contents(typ, name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.recs {
		if r.Type == typ && r.Name == name {
			out = append(out, fmt.Sprintf("%s ttl %d", r.Content, r.TTL))
		}
	}
	sort.Strings(out)
	return out
}

var cfRecords = []cfRec{
	{Type: "A", Name: "www.example.com", Content: "192.0.2.1", TTL: 300},
	{Type: "CNAME", Name: "backend.example.com", Content: "server1.old.example.net", TTL: 300},
	{Type: "A", Name: "api.example.com", Content: "192.0.2.10", TTL: 300},
	{Type: "A", Name: "api.example.com", Content: "192.0.2.11", TTL: 300},
}

func TestCloudflareContract(t *testing.T) {
	f, srv := newCFFake(t, "tok-123", cfRecords...)
	h, err := providers.NewCloudflareHost("tok-123", providers.CloudflareOptions{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rrs, err := providers.Records(ctx, "cf", h, "example.com.")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rr := range rrs {
		got = append(got, providers.RRKey(rr))
	}
	want := []string{"api.example.com. A 192.0.2.10", "api.example.com. A 192.0.2.11", "backend.example.com. CNAME server1.old.example.net.", "www.example.com. A 192.0.2.1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("records:\n%v\nwant\n%v", got, want)
	}

	err = providers.Replace(ctx, "cf", h, "example.com.", []providers.Replacement{
		{Name: "backend.example.com.", Type: "CNAME", TTL: 60, From: []string{"server1.old.example.net."}, To: []string{"server2.new.example.net."}},
		{Name: "api.example.com.", Type: "A", TTL: 60, From: []string{"192.0.2.10", "192.0.2.11"}, To: []string{"192.0.2.11", "198.51.100.10"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.contents("CNAME", "backend.example.com"); len(got) != 1 || got[0] != "server2.new.example.net ttl 60" {
		t.Errorf("backend after the change: %v", got)
	}
	if got := f.contents("A", "api.example.com"); strings.Join(got, "|") != "192.0.2.11 ttl 300|198.51.100.10 ttl 60" {
		t.Errorf("api after the change: %v", got)
	}
	// What the real API requires of every request, and the order that
	// never leaves api without an address: add, then remove.
	var methods []string
	for _, r := range f.reqs {
		if r.Auth != "Bearer tok-123" || !strings.HasPrefix(r.Path, "/client/v4/zones") {
			t.Errorf("request %s %s: auth %q", r.Method, r.Path, r.Auth)
		}
		if r.Method != http.MethodGet {
			methods = append(methods, r.Method)
			if r.Method != http.MethodDelete && (r.ContentType != "application/json" || r.Body["type"] == nil || r.Body["content"] == nil) {
				t.Errorf("request %s %s: content type %q, body %v", r.Method, r.Path, r.ContentType, r.Body)
			}
		}
	}
	if strings.Join(methods, " ") != "PATCH POST DELETE" {
		t.Errorf("writes %v, want PATCH (update in place), POST (add), DELETE (remove)", methods)
	}
}

func TestCloudflareErrors(t *testing.T) {
	ctx := context.Background()
	_, srv := newCFFake(t, "right", cfRecords...)
	h, _ := providers.NewCloudflareHost("wrong", providers.CloudflareOptions{Endpoint: srv.URL})
	if _, err := providers.Records(ctx, "cf", h, "example.com."); err == nil || !strings.Contains(err.Error(), "Authentication error") || !strings.Contains(err.Error(), "provider cf") {
		t.Errorf("wrong token: %v", err)
	}
	h, _ = providers.NewCloudflareHost("right", providers.CloudflareOptions{Endpoint: srv.URL})
	err := providers.Replace(ctx, "cf", h, "example.com.", []providers.Replacement{{Name: "www.example.com.", Type: "A", TTL: 5, From: []string{"192.0.2.1"}, To: []string{"192.0.2.1"}}})
	if err == nil || !strings.Contains(err.Error(), "Invalid TTL") {
		t.Errorf("TTL under 60: %v", err)
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
			f, srv := newCFFake(t, "tok", cfRecords...)
			f.limited, f.retryAfter = tt.limited, tt.retryAfter
			var waits []string
			h, _ := providers.NewCloudflareHost("tok", providers.CloudflareOptions{Endpoint: srv.URL,
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
}
