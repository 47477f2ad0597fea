package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsmigrate/dnsmigrate/providers/providerstest"
)

// A records cutover on Cloudflare, against its fake and DNS side: the
// apex NS set comes from the zone object (the plan no longer stops at
// observe), a two-value A set has its TTL lowered record by record and
// restored, and a proxied name, which resolvers see only as Cloudflare's
// edge addresses, is moved and proven through the API, staying proxied.
func TestCloudflareRecordsCutover(t *testing.T) {
	p := func(n int) *int { return &n }
	f := providerstest.NewCloudflare(t, "tok", []string{"zone:read", "dns:edit"},
		providerstest.CloudflareRecord{Type: "A", Name: "shop.example.com", Content: "203.0.113.7", TTL: 1, Proxied: true},
		providerstest.CloudflareRecord{Type: "A", Name: "api.example.com", Content: "192.0.2.10", TTL: 3600},
		providerstest.CloudflareRecord{Type: "A", Name: "api.example.com", Content: "192.0.2.11", TTL: 3600},
		providerstest.CloudflareRecord{Type: "A", Name: "www.example.com", Content: "192.0.2.1", TTL: 1},
		providerstest.CloudflareRecord{Type: "MX", Name: "example.com", Content: "mx1.example.com", TTL: 3600, Priority: p(10)},
		providerstest.CloudflareRecord{Type: "TXT", Name: "example.com", Content: `"v=spf1 -all"`, TTL: 3600},
	)
	d := f.ServeDNS(t, "127.75.2.1", "127.75.2.2", "127.75.2.3")
	specFile := cfSpec(t, f, d, `changes:
  - {name: shop, type: A, from: 203.0.113.7, to: 203.0.113.9}
  - {name: api, type: A, from: [192.0.2.10, 192.0.2.11], to: [198.51.100.10, 198.51.100.11]}
phases: [50, 100]
hold: 0s
rollback: auto
`)
	cl, err := r53Apply(t, specFile, false, &tlog{t: t})
	if err != nil || cl.Result != "completed" {
		t.Fatalf("cutover: %v", err)
	}
	for _, c := range []struct{ name, want string }{
		{"shop.example.com", "203.0.113.9 ttl 1 proxied"},
		{"api.example.com", "198.51.100.10 ttl 3600|198.51.100.11 ttl 3600"},
		{"www.example.com", "192.0.2.1 ttl 1"},
	} {
		if got := strings.Join(f.Contents("A", c.name), "|"); got != c.want {
			t.Errorf("%s A: %s, want %s", c.name, got, c.want)
		}
	}
	var lowered, edge, api bool
	for _, s := range cl.Steps {
		for _, e := range s.Evidence {
			edge = edge || strings.HasPrefix(s.ID, "verify-") && strings.Contains(e.Note, "resolvers see the host's edge addresses")
			api = api || strings.HasPrefix(e.Server, "api:cf") && e.Question == "shop.example.com. A"
		}
		if s.ID == "lower-ttl" {
			lowered = strings.Join(s.After, "|") == "api.example.com. A ttl 60" && strings.Contains(s.Summary, "not lowered: shop.example.com. A")
		}
	}
	if !lowered || !edge || !api {
		t.Errorf("change log: lower-ttl lowers api and says shop is proxied %t; resolver gates note edge answers %t; shop proven through the API %t", lowered, edge, api)
	}
}

// The Cloudflare API answering 429 in the middle of a step stops apply,
// naming the API's error after its documented backoff; once the API
// answers again, apply resumes and finishes the cutover.
func TestCloudflare429MidStepThenResume(t *testing.T) {
	f := providerstest.NewCloudflare(t, "tok", []string{"zone:read", "dns:edit"},
		providerstest.CloudflareRecord{Type: "A", Name: "api.example.com", Content: "192.0.2.10", TTL: 3600},
		providerstest.CloudflareRecord{Type: "A", Name: "www.example.com", Content: "192.0.2.1", TTL: 1},
	)
	d := f.ServeDNS(t, "127.75.6.1", "127.75.6.2", "127.75.6.3")
	specFile := cfSpec(t, f, d, `changes:
  - {name: api, type: A, from: 192.0.2.10, to: 198.51.100.10}
rollback: manual
`)
	_, err := r53Apply(t, specFile, false, &onLine{t: t, mark: "lower-ttl: ", act: func() { f.Limit(1000, "") }})
	if err == nil || !strings.Contains(err.Error(), "lower-ttl") || !strings.Contains(err.Error(), "HTTP 429") {
		t.Fatalf("apply with the API answering 429: %v", err)
	}
	if got := strings.Join(f.Contents("A", "api.example.com"), "|"); got != "192.0.2.10 ttl 3600" {
		t.Errorf("api.example.com A after the stop: %s, want it untouched", got)
	}
	f.Limit(0, "")
	said := false
	cl, err := r53Apply(t, specFile, false, &onLine{t: t, mark: "finished: 1 changes of example.com. are in place at cf", act: func() { said = true }})
	if err != nil || cl.Result != "completed" || !said {
		t.Fatalf("resumed apply: %v (said it finished, naming the host: %t)", err, said)
	}
	if got := strings.Join(f.Contents("A", "api.example.com"), "|"); got != "198.51.100.10 ttl 3600" {
		t.Errorf("api.example.com A after the resume: %s", got)
	}
}

// cfSpec writes a records spec of example.com. at the Cloudflare fake f,
// its DNS side d, with the changes (and phases, rollback) given.
func cfSpec(t *testing.T, f *providerstest.Cloudflare, d providerstest.DNS, changes string) string {
	t.Helper()
	t.Setenv("CF_TOKEN", "tok")
	dir := t.TempDir()
	specFile := filepath.Join(dir, "records.yaml")
	if err := os.WriteFile(specFile, fmt.Appendf(nil, `version: 1
kind: records
zone: example.com.
provider: cf
%sproviders:
  cf: {type: cloudflare, token_env: CF_TOKEN, endpoint: %s}
ttl: {lower_to: 60s}
verify: {root: %s, trust_anchor: %s, resolvers: [%s], gate_timeout: 30s}
output: {dir: &out %s, state_dir: *out}
`, changes, f.URL, d.Root, d.TrustAnchor, d.Resolver, filepath.Join(dir, "migrations")), 0o644); err != nil {
		t.Fatal(err)
	}
	return specFile
}

// The Cloudflare API failing between two batches of one step (250 TTL
// changes: batch requests of 100 RRsets, 200 operations each, the API's
// limit) stops apply with the count of RRsets changed; the first batch's records are lowered, the
// second's untouched; apply again finishes the cutover, every TTL put back.
func TestCloudflareFailsBetweenBatches(t *testing.T) {
	const n = 250
	var recs []providerstest.CloudflareRecord
	var changes strings.Builder
	changes.WriteString("changes:\n")
	for i := range n {
		name := fmt.Sprintf("h%03d", i)
		recs = append(recs, providerstest.CloudflareRecord{Type: "A", Name: name + ".example.com", Content: "192.0.2.10", TTL: 3600})
		fmt.Fprintf(&changes, "  - {name: %s, type: A, from: 192.0.2.10, to: 198.51.100.10}\n", name)
	}
	f := providerstest.NewCloudflare(t, "tok", []string{"zone:read", "dns:edit"}, recs...)
	d := f.ServeDNS(t, "127.75.7.1", "127.75.7.2", "127.75.7.3")
	specFile := cfSpec(t, f, d, changes.String()+"rollback: manual\n")
	_, err := r53Apply(t, specFile, false, &onLine{t: t, mark: "lower-ttl: cf: batch 1 of 3 sent", act: func() { f.Limit(1000, "") }})
	if err == nil || !strings.Contains(err.Error(), "lower-ttl") || !strings.Contains(err.Error(), "HTTP 429") || !strings.Contains(err.Error(), "100 of the 250 RRsets at cf were changed before (batch 2 of 3 failed)") {
		t.Fatalf("apply with the API failing after one batch: %v", err)
	}
	ttls := map[string]int{}
	for i := range n {
		ttls[strings.Join(f.Contents("A", fmt.Sprintf("h%03d.example.com", i)), "|")]++
	}
	if ttls["192.0.2.10 ttl 60"] != 100 || ttls["192.0.2.10 ttl 3600"] != 150 {
		t.Errorf("after the stop: %v; want 100 lowered, 150 untouched", ttls)
	}
	f.Limit(0, "")
	if cl, err := r53Apply(t, specFile, false, &tlog{t: t}); err != nil || cl.Result != "completed" {
		t.Fatalf("apply again: %v", err)
	}
	clear(ttls)
	for i := range n {
		ttls[strings.Join(f.Contents("A", fmt.Sprintf("h%03d.example.com", i)), "|")]++
	}
	if ttls["198.51.100.10 ttl 3600"] != n {
		t.Errorf("after apply again: %v; want every record moved at its TTL", ttls)
	}
}
