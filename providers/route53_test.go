package providers_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/libdns/libdns"
)

// r53Fake is a local fake of the Route 53 API (REST-XML), answering as its
// reference documents, with its rules: change batches are atomic, a
// deleted set must match exactly, a name and type cannot have plain and
// weighted sets at once, changes go PENDING then INSYNC. It checks the
// SigV4 credential scope of every request. No AWS account can be reached
// from here.
type r53Fake struct {
	mu        sync.Mutex
	sets      []r53Set
	changes   int
	polled    map[string]int
	throttle  int
	requests  []string // "METHOD path"
	batches   [][]string
	badScopes int
}

type r53Set struct {
	Name          string   `xml:"Name"`
	Type          string   `xml:"Type"`
	SetIdentifier string   `xml:"SetIdentifier,omitempty"`
	Weight        *int64   `xml:"Weight,omitempty"`
	TTL           int64    `xml:"TTL"`
	Values        []string `xml:"ResourceRecords>ResourceRecord>Value"`
}

func (s r53Set) key() string { return s.Name + "|" + s.Type + "|" + s.SetIdentifier }

const r53NS = "https://route53.amazonaws.com/doc/2013-04-01/"

func newR53Fake(t *testing.T, sets ...r53Set) (*r53Fake, *httptest.Server) {
	f := &r53Fake{sets: sets, polled: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	// libdns/route53 reads its endpoint from the SDK's environment; no
	// shared AWS config of the machine is read.
	t.Setenv("AWS_ENDPOINT_URL_ROUTE_53", srv.URL)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return f, srv
}

func (f *r53Fake) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	if code == "InvalidChangeBatch" {
		fmt.Fprintf(w, `<?xml version="1.0"?><InvalidChangeBatch xmlns="%s"><Messages><Message>%s</Message></Messages><RequestId>req-1</RequestId></InvalidChangeBatch>`, r53NS, msg)
		return
	}
	fmt.Fprintf(w, `<?xml version="1.0"?><ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`, r53NS, code, msg)
}

func (f *r53Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/us-east-1/route53/aws4_request") || r.Header.Get("X-Amz-Date") == "" {
		f.badScopes++
		f.fail(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	if f.throttle > 0 {
		f.throttle--
		f.fail(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/2013-04-01/hostedzonesbyname":
		zones := ""
		if name := q.Get("dnsname"); name == "" || name == "example.com." || name == "example.com" {
			zones = `<HostedZone><Id>/hostedzone/Z0EXAMPLE</Id><Name>example.com.</Name><CallerReference>ref</CallerReference><Config><PrivateZone>false</PrivateZone></Config><ResourceRecordSetCount>4</ResourceRecordSetCount></HostedZone>`
		}
		fmt.Fprintf(w, `<?xml version="1.0"?><ListHostedZonesByNameResponse xmlns="%s"><HostedZones>%s</HostedZones><DNSName>%s</DNSName><IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListHostedZonesByNameResponse>`, r53NS, zones, q.Get("dnsname"))
	case r.Method == http.MethodGet && r.URL.Path == "/2013-04-01/hostedzone/Z0EXAMPLE/rrset":
		sets := append([]r53Set(nil), f.sets...)
		sort.Slice(sets, func(i, j int) bool { return sets[i].key() < sets[j].key() })
		var b strings.Builder
		for _, s := range sets {
			if n := q.Get("name"); n != "" && s.Name < n {
				continue
			}
			out, _ := xml.Marshal(struct {
				XMLName xml.Name `xml:"ResourceRecordSet"`
				r53Set
			}{r53Set: s})
			b.Write(out)
		}
		fmt.Fprintf(w, `<?xml version="1.0"?><ListResourceRecordSetsResponse xmlns="%s"><ResourceRecordSets>%s</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>300</MaxItems></ListResourceRecordSetsResponse>`, r53NS, b.String())
	case r.Method == http.MethodPost && r.URL.Path == "/2013-04-01/hostedzone/Z0EXAMPLE/rrset":
		f.change(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/2013-04-01/change/"):
		id := strings.TrimPrefix(r.URL.Path, "/2013-04-01/change/")
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

func (f *r53Fake) change(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Changes []struct {
			Action string `xml:"Action"`
			Set    r53Set `xml:"ResourceRecordSet"`
		} `xml:"ChangeBatch>Changes>Change"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := xml.Unmarshal(body, &req); err != nil || len(req.Changes) == 0 {
		f.fail(w, http.StatusBadRequest, "InvalidInput", "Invalid XML ; "+fmt.Sprint(err))
		return
	}
	next := map[string]r53Set{}
	for _, s := range f.sets {
		next[s.key()] = s
	}
	var batch []string
	for _, c := range req.Changes {
		s := c.Set
		batch = append(batch, c.Action+" "+s.Name+" "+s.Type+" "+s.SetIdentifier)
		old, exists := next[s.key()]
		switch c.Action {
		case "CREATE":
			if exists {
				f.fail(w, http.StatusBadRequest, "InvalidChangeBatch", fmt.Sprintf("[Tried to create resource record set [name='%s', type='%s'] but it already exists]", s.Name, s.Type))
				return
			}
			next[s.key()] = s
		case "UPSERT":
			next[s.key()] = s
		case "DELETE":
			if !exists || old.TTL != s.TTL || strings.Join(old.Values, ",") != strings.Join(s.Values, ",") {
				f.fail(w, http.StatusBadRequest, "InvalidChangeBatch", fmt.Sprintf("[Tried to delete resource record set [name='%s', type='%s'] but the values provided do not match the current values]", s.Name, s.Type))
				return
			}
			delete(next, s.key())
		}
	}
	plain, weighted := map[string]bool{}, map[string]bool{}
	for _, s := range next {
		if s.SetIdentifier == "" {
			plain[s.Name+" "+s.Type] = true
		} else {
			weighted[s.Name+" "+s.Type] = true
		}
	}
	for k := range weighted {
		if plain[k] {
			f.fail(w, http.StatusBadRequest, "InvalidChangeBatch", "[RRSet with DNS name "+k+" cannot be created because a non-weighted set exists with the same name and type]")
			return
		}
	}
	f.sets = f.sets[:0]
	for _, s := range next {
		f.sets = append(f.sets, s)
	}
	f.batches = append(f.batches, batch)
	f.changes++
	fmt.Fprintf(w, `<?xml version="1.0"?><ChangeResourceRecordSetsResponse xmlns="%s"><ChangeInfo><Id>/change/C%d</Id><Status>PENDING</Status><SubmittedAt>2026-11-22T00:00:00.000Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`, r53NS, f.changes)
}

func (f *r53Fake) state(name, typ string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.sets {
		if s.Name == name && s.Type == typ {
			w := "plain"
			if s.Weight != nil {
				w = fmt.Sprintf("%s=%d", s.SetIdentifier, *s.Weight)
			}
			out = append(out, fmt.Sprintf("%s %v ttl %d", w, s.Values, s.TTL))
		}
	}
	sort.Strings(out)
	return out
}

func r53Host(t *testing.T) *providers.Route53Host {
	t.Helper()
	h, err := providers.NewRoute53Host(context.Background(), providers.AWSOptions{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret", MaxAttempts: 3, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var r53Sets = []r53Set{
	{Name: "example.com.", Type: "A", TTL: 300, Values: []string{"192.0.2.1"}},
	{Name: "api.example.com.", Type: "A", TTL: 60, Values: []string{"192.0.2.10"}},
	{Name: "backend.example.com.", Type: "CNAME", TTL: 60, Values: []string{"server1.old.example.net."}},
}

func TestRoute53Plain(t *testing.T) {
	f, _ := newR53Fake(t, r53Sets...)
	h := r53Host(t)
	ctx := context.Background()
	rrs, err := providers.Records(ctx, "r53", h, "example.com.")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rr := range rrs {
		got = append(got, providers.RRKey(rr))
	}
	if strings.Join(got, "|") != "api.example.com. A 192.0.2.10|backend.example.com. CNAME server1.old.example.net.|example.com. A 192.0.2.1" {
		t.Fatalf("records: %v", got)
	}
	if _, err := h.SetRecords(ctx, "example.com.", []libdns.Record{libdns.RR{Name: "backend", TTL: time.Minute, Type: "CNAME", Data: "server2.new.example.net."}}); err != nil {
		t.Fatal(err)
	}
	if got := f.state("backend.example.com.", "CNAME"); len(got) != 1 || got[0] != "plain [server2.new.example.net.] ttl 60" {
		t.Errorf("backend after SetRecords: %v", got)
	}
	if f.badScopes != 0 {
		t.Errorf("%d requests without a valid SigV4 scope for route53", f.badScopes)
	}
}

// A cutover phase on Route 53 is a pair of weighted record sets; going
// weighted and coming back are each one atomic change batch.
func TestRoute53Weighted(t *testing.T) {
	f, _ := newR53Fake(t, r53Sets...)
	h := r53Host(t)
	ctx := context.Background()
	phase := func(newWeight int64) error {
		return h.SetWeighted(ctx, "example.com.", "api.example.com.", "A", 60, []providers.WeightedSet{
			{ID: "dnsmigrate-old", Weight: 100 - newWeight, Values: []string{"192.0.2.10"}},
			{ID: "dnsmigrate-new", Weight: newWeight, Values: []string{"198.51.100.10"}},
		}, nil)
	}
	if err := phase(10); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.state("api.example.com.", "A"), "|"); got != "dnsmigrate-new=10 [198.51.100.10] ttl 60|dnsmigrate-old=90 [192.0.2.10] ttl 60" {
		t.Errorf("phase 10: %s", got)
	}
	if got := strings.Join(f.batches[0], "|"); got != "DELETE api.example.com. A |UPSERT api.example.com. A dnsmigrate-old|UPSERT api.example.com. A dnsmigrate-new" {
		t.Errorf("the move to weighted sets was not one batch: %s", got)
	}
	if err := phase(50); err != nil {
		t.Fatal(err)
	}
	if err := h.SetWeighted(ctx, "example.com.", "api.example.com.", "A", 60, nil, []string{"198.51.100.10"}); err != nil {
		t.Fatal(err)
	}
	if got := f.state("api.example.com.", "A"); len(got) != 1 || got[0] != "plain [198.51.100.10] ttl 60" {
		t.Errorf("after the last phase: %v", got)
	}
	if f.polled["C1"] < 2 {
		t.Errorf("GetChange polled %d times for C1, want until INSYNC", f.polled["C1"])
	}
}

func TestRoute53Errors(t *testing.T) {
	ctx := context.Background()
	f, _ := newR53Fake(t, r53Sets...)
	h := r53Host(t)
	f.throttle = 2 // the SDK retries Throttling with backoff
	if _, err := providers.Records(ctx, "r53", h, "example.com."); err != nil {
		t.Errorf("two throttled answers were not retried: %v", err)
	}
	f.throttle = 100
	err := h.SetWeighted(ctx, "example.com.", "api.example.com.", "A", 60, nil, []string{"198.51.100.10"})
	if err == nil || !strings.Contains(err.Error(), "Throttling") || !strings.Contains(err.Error(), "max") {
		t.Errorf("always throttled: %v", err)
	}
	f.throttle = 0
	// A plain and a weighted set of one name cannot stand together.
	f.mu.Lock()
	w := int64(5)
	f.sets = append(f.sets, r53Set{Name: "mixed.example.com.", Type: "A", TTL: 60, SetIdentifier: "x", Weight: &w, Values: []string{"192.0.2.5"}})
	f.mu.Unlock()
	_, err = h.SetRecords(ctx, "example.com.", []libdns.Record{libdns.RR{Name: "mixed", TTL: time.Minute, Type: "A", Data: "192.0.2.6"}})
	if err == nil || !strings.Contains(err.Error(), "non-weighted set exists") {
		t.Errorf("mixing plain and weighted: %v", err)
	}
}
