package providers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/miekg/dns"
)

// r53dFake is a local fake of the Route 53 Domains API (JSON 1.1): every
// change is an operation that is IN_PROGRESS when first asked about, then
// SUCCESSFUL (or FAILED when told to fail).
type r53dFake struct {
	mu         sync.Mutex
	ns         []map[string]any
	keys       []map[string]any
	ops        map[string]int // operation id -> times polled
	failing    map[string]string
	failNext   string
	throttle   int
	calls      []string
	bodies     map[string][]map[string]any
	next       int
	badRequest int
}

func newR53DFake(t *testing.T) (*r53dFake, string) {
	f := &r53dFake{ops: map[string]int{}, failing: map[string]string{}, bodies: map[string][]map[string]any{},
		ns:   []map[string]any{{"Name": "ns1.old.example.net"}, {"Name": "ns2.old.example.net"}},
		keys: []map[string]any{{"Id": "key-old", "Algorithm": 13, "Flags": 257, "PublicKey": "OLDKEY==", "KeyTag": 11111, "DigestType": 2, "Digest": "AAAA"}}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return f, srv.URL
}

func (f *r53dFake) reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *r53dFake) op() map[string]any {
	f.next++
	id := fmt.Sprintf("op-%d", f.next)
	f.ops[id] = 0
	if f.failNext != "" {
		f.failing[id], f.failNext = f.failNext, ""
	}
	return map[string]any{"OperationId": id}
}

func (f *r53dFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	target := r.Header.Get("X-Amz-Target")
	auth := r.Header.Get("Authorization")
	if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		!strings.HasPrefix(target, "Route53Domains_v20140515.") || !strings.Contains(auth, "/us-east-1/route53domains/aws4_request") {
		f.badRequest++
		f.reply(w, http.StatusBadRequest, map[string]string{"__type": "InvalidSignatureException", "message": "bad request"})
		return
	}
	op := strings.TrimPrefix(target, "Route53Domains_v20140515.")
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.calls = append(f.calls, op)
	f.bodies[op] = append(f.bodies[op], body)
	if f.throttle > 0 {
		f.throttle--
		f.reply(w, http.StatusBadRequest, map[string]string{"__type": "ThrottlingException", "message": "Rate exceeded"})
		return
	}
	if op != "GetOperationDetail" && body["DomainName"] != "example.com" {
		f.reply(w, http.StatusBadRequest, map[string]string{"__type": "InvalidInput", "message": fmt.Sprintf("Domain %v not found in your account", body["DomainName"])})
		return
	}
	switch op {
	case "GetDomainDetail":
		f.reply(w, http.StatusOK, map[string]any{"DomainName": "example.com", "Nameservers": f.ns, "DnssecKeys": f.keys})
	case "UpdateDomainNameservers":
		f.ns = nil
		for _, n := range body["Nameservers"].([]any) {
			f.ns = append(f.ns, n.(map[string]any))
		}
		f.reply(w, http.StatusOK, f.op())
	case "AssociateDelegationSignerToDomain":
		a := body["SigningAttributes"].(map[string]any)
		f.keys = append(f.keys, map[string]any{"Id": fmt.Sprintf("key-%d", len(f.keys)+10), "Algorithm": a["Algorithm"], "Flags": a["Flags"], "PublicKey": a["PublicKey"]})
		f.reply(w, http.StatusOK, f.op())
	case "DisassociateDelegationSignerFromDomain":
		var kept []map[string]any
		for _, k := range f.keys {
			if k["Id"] != body["Id"] {
				kept = append(kept, k)
			}
		}
		f.keys = kept
		f.reply(w, http.StatusOK, f.op())
	case "GetOperationDetail":
		id, _ := body["OperationId"].(string)
		n, ok := f.ops[id]
		if !ok {
			f.reply(w, http.StatusBadRequest, map[string]string{"__type": "InvalidInput", "message": "No operation " + id})
			return
		}
		f.ops[id] = n + 1
		status, msg := "IN_PROGRESS", ""
		if n >= 1 {
			status = "SUCCESSFUL"
			if m, bad := f.failing[id]; bad {
				status, msg = "FAILED", m
			}
		}
		f.reply(w, http.StatusOK, map[string]any{"OperationId": id, "Status": status, "Message": msg, "DomainName": "example.com"})
	default:
		f.reply(w, http.StatusBadRequest, map[string]string{"__type": "UnsupportedTLD", "message": op})
	}
}

func domainsRegistrar(t *testing.T, endpoint string) *providers.Route53DomainsRegistrar {
	t.Helper()
	r, err := providers.NewRoute53DomainsRegistrar(context.Background(), providers.AWSOptions{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret", Endpoint: endpoint, MaxAttempts: 3, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r.WithPolling(10*time.Millisecond, 5*time.Second)
}

func newKSK(t *testing.T) providers.DelegationSigner {
	t.Helper()
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600}, Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	if _, err := k.Generate(256); err != nil {
		t.Fatal(err)
	}
	return providers.DelegationSigner{DS: k.ToDS(dns.SHA256), Key: k}
}

func TestRoute53DomainsContract(t *testing.T) {
	f, url := newR53DFake(t)
	r := domainsRegistrar(t, url)
	ctx := context.Background()

	glue := map[string][]netip.Addr{"ns1.example.com.": {netip.MustParseAddr("192.0.2.53")}}
	if err := r.SetNS(ctx, "example.com.", []string{"ns1.example.com.", "ns2.new.example.org."}, glue, 0); err != nil {
		t.Fatal(err)
	}
	body := f.bodies["UpdateDomainNameservers"][0]
	if b, _ := json.Marshal(body["Nameservers"]); string(b) != `[{"GlueIps":["192.0.2.53"],"Name":"ns1.example.com"},{"Name":"ns2.new.example.org"}]` {
		t.Errorf("name servers sent: %s", b)
	}
	if f.ops["op-1"] < 2 {
		t.Errorf("operation polled %d times, want until SUCCESSFUL", f.ops["op-1"])
	}

	ksk := newKSK(t)
	if err := r.SetDS(ctx, "example.com.", []providers.DelegationSigner{ksk}, 0); err != nil {
		t.Fatal(err)
	}
	if len(f.keys) != 1 || f.keys[0]["PublicKey"] != ksk.Key.PublicKey || f.bodies["DisassociateDelegationSignerFromDomain"][0]["Id"] != "key-old" {
		t.Errorf("keys after SetDS: %v; removals %v", f.keys, f.bodies["DisassociateDelegationSignerFromDomain"])
	}
	if a := f.bodies["AssociateDelegationSignerToDomain"][0]["SigningAttributes"].(map[string]any); a["Algorithm"] != float64(13) || a["Flags"] != float64(257) {
		t.Errorf("signing attributes sent: %v", a)
	}
	if err := r.SetDS(ctx, "example.com.", nil, 0); err != nil {
		t.Fatal(err)
	}
	if len(f.keys) != 0 {
		t.Errorf("keys after removing the DS: %v", f.keys)
	}
	if f.badRequest != 0 {
		t.Errorf("%d requests without the JSON 1.1 target, content type or SigV4 scope", f.badRequest)
	}
}

func TestRoute53DomainsErrors(t *testing.T) {
	ctx := context.Background()
	f, url := newR53DFake(t)
	r := domainsRegistrar(t, url)
	ds := newKSK(t)
	if err := r.SetDS(ctx, "example.com.", []providers.DelegationSigner{{DS: ds.DS}}, 0); err == nil || !strings.Contains(err.Error(), "without its DNSKEY") {
		t.Errorf("DS without key: %v", err)
	}
	f.failNext = "Invalid public key"
	if err := r.SetNS(ctx, "example.com.", []string{"ns1.new.example.org."}, nil, 0); err == nil || !strings.Contains(err.Error(), "FAILED: Invalid public key") {
		t.Errorf("failed operation: %v", err)
	}
	if err := r.SetNS(ctx, "example.com.", []string{"ns1.example.com."}, nil, 0); err == nil || !strings.Contains(err.Error(), "needs glue") {
		t.Errorf("in-zone name without glue: %v", err)
	}
	if err := r.SetNS(ctx, "other.com.", []string{"ns1.new.example.org."}, nil, 0); err == nil || !strings.Contains(err.Error(), "not found in your account") {
		t.Errorf("unknown domain: %v", err)
	}
	f.throttle = 2
	if err := r.SetDS(ctx, "example.com.", nil, 0); err != nil {
		t.Errorf("two throttled answers were not retried: %v", err)
	}
	f.throttle = 100
	if err := r.SetDS(ctx, "example.com.", nil, 0); err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Errorf("always throttled: %v", err)
	}
}
