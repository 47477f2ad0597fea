package providerstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Domains is a local fake of the Route 53 Domains API (JSON 1.1, target
// prefix Route53Domains_v20140515), written from the API reference
// (GetDomainDetail, UpdateDomainNameservers, AssociateDelegationSigner-
// ToDomain, DisassociateDelegationSignerFromDomain, GetOperationDetail,
// their Errors sections) and the 2026 change to GetDomainDetail. It serves
// one domain, example.com.
type Domains struct {
	URL string

	mu      sync.Mutex
	ns      []map[string]any
	keys    []domainKey
	ops     map[string]*domainOp
	next    int // key counter
	opN     int // operation counter
	calls   []string
	bodies  map[string][]map[string]any
	bad     int
	inject  map[string][]string // operation -> error types to answer with, in turn
	outcome []opOutcome         // how the next operations end
	// Limit is how many DS records the registry holds at most
	// (DnssecLimitExceeded past it). The reference gives no number; the
	// fake's default is 4.
	Limit int
}

// domainKey is a DS record at the registry. Since May 2026 GetDomainDetail
// lists a key's Id (its form depends on the registry), Algorithm, KeyTag,
// DigestType and Digest, and no longer its Flags or PublicKey
// (terraform-provider-aws issue 47928).
type domainKey struct {
	ID, Digest        string
	Algorithm, KeyTag int
	DigestType        int
}

type domainOp struct {
	polled  int
	outcome opOutcome
}

type opOutcome struct {
	Status, Flag, Message string
}

// NewDomains starts the fake with the domain delegated to two name
// servers and one DS (for key) at the registry, or none when key is nil.
func NewDomains(t testing.TB, key *dns.DNSKEY) *Domains {
	f := &Domains{ops: map[string]*domainOp{}, bodies: map[string][]map[string]any{}, inject: map[string][]string{}, Limit: 4,
		ns: []map[string]any{{"Name": "ns1.old.example.net"}, {"Name": "ns2.old.example.net"}}}
	if key != nil {
		f.add(int(key.Flags), int(key.Algorithm), key.PublicKey)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return f
}

// Inject answers the next calls of op with these error types, in turn
// (DuplicateRequest, OperationLimitExceeded, TLDRulesViolation, ...).
func (f *Domains) Inject(op string, errs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inject[op] = append(f.inject[op], errs...)
}

// EndNext makes the next operation end with status (FAILED, ERROR, or
// IN_PROGRESS with a StatusFlag such as PENDING_CUSTOMER_ACTION) and
// message.
func (f *Domains) EndNext(status, flag, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcome = append(f.outcome, opOutcome{status, flag, message})
}

// Keys are the registry's DS records as "keytag alg digesttype digest".
func (f *Domains) Keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, k := range f.keys {
		out = append(out, fmt.Sprintf("%d %d %d %s", k.KeyTag, k.Algorithm, k.DigestType, k.Digest))
	}
	return out
}

// Nameservers are the domain's name servers, fully qualified.
func (f *Domains) Nameservers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, n := range f.ns {
		name, _ := n["Name"].(string)
		out = append(out, strings.ToLower(dns.Fqdn(name)))
	}
	return out
}

// Calls lists the operations called, in order.
func (f *Domains) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Bodies are the request bodies of an operation, in order.
func (f *Domains) Bodies(op string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.bodies[op])
}

// Polled is how often GetOperationDetail asked about an operation.
func (f *Domains) Polled(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o := f.ops[id]; o != nil {
		return o.polled
	}
	return 0
}

// BadRequests counts requests without the JSON 1.1 target, content type
// or SigV4 scope for route53domains in us-east-1.
func (f *Domains) BadRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bad
}

func (f *Domains) add(flags, alg int, pub string) domainKey {
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET}, Flags: uint16(flags), Protocol: 3, Algorithm: uint8(alg), PublicKey: pub}
	ds := k.ToDS(dns.SHA256)
	f.next++
	// The Id's form is the registry's; not a key tag, not a count.
	key := domainKey{ID: fmt.Sprintf("%s-%d", strings.ToLower(ds.Digest[:12]), f.next), Digest: strings.ToUpper(ds.Digest), Algorithm: alg, KeyTag: int(k.KeyTag()), DigestType: 2}
	f.keys = append(f.keys, key)
	return key
}

func (f *Domains) reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Domains) fail(w http.ResponseWriter, typ, msg string) {
	f.reply(w, http.StatusBadRequest, map[string]string{"__type": typ, "message": msg})
}

// errorMessages are the reference's words for each error.
var errorMessages = map[string]string{
	"DuplicateRequest":       "The request is already in progress for the domain.",
	"OperationLimitExceeded": "The number of operations or jobs running exceeded the allowed threshold for the account.",
	"TLDRulesViolation":      "The top-level domain does not support this operation.",
	"DnssecLimitExceeded":    "This error is returned if you call AssociateDelegationSignerToDomain when the specified domain has reached the maximum number of DS records. You can't add any additional DS records unless you delete an existing one first.",
	"ThrottlingException":    "Rate exceeded",
	"UnsupportedTLD":         "Amazon Route 53 does not support this top-level domain (TLD).",
	"TLDInMaintenance":       "The top-level domain is in maintenance and this operation cannot be performed now.",
}

func (f *Domains) op() map[string]any {
	f.opN++
	id := fmt.Sprintf("op-%d", f.opN)
	o := &domainOp{outcome: opOutcome{Status: "SUCCESSFUL"}}
	if len(f.outcome) > 0 {
		o.outcome, f.outcome = f.outcome[0], f.outcome[1:]
	}
	f.ops[id] = o
	return map[string]any{"OperationId": id}
}

func (f *Domains) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	target := r.Header.Get("X-Amz-Target")
	auth := r.Header.Get("Authorization")
	if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		!strings.HasPrefix(target, "Route53Domains_v20140515.") || !strings.Contains(auth, "Credential="+AccessKeyID+"/") || !strings.Contains(auth, "/us-east-1/route53domains/aws4_request") {
		f.bad++
		f.fail(w, "InvalidSignatureException", "bad request")
		return
	}
	op := strings.TrimPrefix(target, "Route53Domains_v20140515.")
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.calls = append(f.calls, op)
	f.bodies[op] = append(f.bodies[op], body)
	if errs := f.inject[op]; len(errs) > 0 {
		f.inject[op] = errs[1:]
		f.fail(w, errs[0], errorMessages[errs[0]])
		return
	}
	if op != "GetOperationDetail" && body["DomainName"] != "example.com" {
		f.fail(w, "InvalidInput", fmt.Sprintf("Domain %v not found in your account", body["DomainName"]))
		return
	}
	switch op {
	case "GetDomainDetail":
		var keys []map[string]any
		for _, k := range f.keys {
			keys = append(keys, map[string]any{"Id": k.ID, "Algorithm": k.Algorithm, "KeyTag": k.KeyTag, "DigestType": k.DigestType, "Digest": k.Digest})
		}
		f.reply(w, http.StatusOK, map[string]any{"DomainName": "example.com", "Nameservers": f.ns, "DnssecKeys": keys})
	case "UpdateDomainNameservers":
		f.updateNS(w, body)
	case "AssociateDelegationSignerToDomain":
		a, _ := body["SigningAttributes"].(map[string]any)
		alg, _ := a["Algorithm"].(float64)
		flags, _ := a["Flags"].(float64)
		pub, _ := a["PublicKey"].(string)
		if pub == "" || (flags != 257 && flags != 256) {
			f.fail(w, "InvalidInput", "Parameters in request are not valid.")
			return
		}
		k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.com."}, Flags: uint16(flags), Protocol: 3, Algorithm: uint8(alg), PublicKey: pub}
		digest := strings.ToUpper(k.ToDS(dns.SHA256).Digest)
		// A key the registry already holds is refused, in words that do
		// not say so (terraform-provider-aws issue 47928).
		if slices.ContainsFunc(f.keys, func(x domainKey) bool { return x.Digest == digest }) {
			f.fail(w, "InvalidInput", "Parameters in request are not valid.")
			return
		}
		if len(f.keys) >= f.Limit {
			f.fail(w, "DnssecLimitExceeded", errorMessages["DnssecLimitExceeded"])
			return
		}
		f.add(int(flags), int(alg), pub)
		f.reply(w, http.StatusOK, f.op())
	case "DisassociateDelegationSignerFromDomain":
		i := slices.IndexFunc(f.keys, func(k domainKey) bool { return k.ID == body["Id"] })
		if i < 0 {
			f.fail(w, "InvalidInput", fmt.Sprintf("DS record %v not found", body["Id"]))
			return
		}
		f.keys = slices.Delete(f.keys, i, i+1)
		f.reply(w, http.StatusOK, f.op())
	case "GetOperationDetail":
		id, _ := body["OperationId"].(string)
		o, ok := f.ops[id]
		if !ok {
			f.fail(w, "InvalidInput", "No operation "+id)
			return
		}
		o.polled++
		// SUBMITTED, then IN_PROGRESS, then how it ends.
		out := map[string]any{"OperationId": id, "DomainName": "example.com", "Type": "UPDATE_NAMESERVER"}
		switch {
		case o.polled == 1:
			out["Status"] = "SUBMITTED"
		case o.polled == 2:
			out["Status"] = "IN_PROGRESS"
		default:
			out["Status"], out["Message"] = o.outcome.Status, o.outcome.Message
			if o.outcome.Flag != "" {
				out["StatusFlag"] = o.outcome.Flag
			}
		}
		f.reply(w, http.StatusOK, out)
	default:
		f.fail(w, "UnsupportedTLD", op)
	}
}

// updateNS: UpdateDomainNameservers, Nameserver.GlueIps: glue only for a
// name inside the domain, and at most one IPv4 and one IPv6 address.
func (f *Domains) updateNS(w http.ResponseWriter, body map[string]any) {
	list, _ := body["Nameservers"].([]any)
	var ns []map[string]any
	for _, n := range list {
		m, _ := n.(map[string]any)
		name, _ := m["Name"].(string)
		glue, _ := m["GlueIps"].([]any)
		v4, v6 := 0, 0
		for _, g := range glue {
			s, _ := g.(string)
			a, err := netip.ParseAddr(s)
			switch {
			case err != nil:
				f.fail(w, "InvalidInput", fmt.Sprintf("Glue IP %q is not an IP address", s))
				return
			case a.Is4():
				v4++
			default:
				v6++
			}
		}
		if v4 > 1 || v6 > 1 {
			f.fail(w, "InvalidInput", fmt.Sprintf("GlueIps of %s: at most one IPv4 and one IPv6 address", name))
			return
		}
		if len(glue) > 0 && !dns.IsSubDomain("example.com.", dns.Fqdn(name)) {
			f.fail(w, "InvalidInput", fmt.Sprintf("Glue IPs are allowed only for name servers inside example.com, not %s", name))
			return
		}
		ns = append(ns, m)
	}
	f.ns = ns
	f.reply(w, http.StatusOK, f.op())
}
