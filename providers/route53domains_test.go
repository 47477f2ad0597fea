package providers_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/providers/providerstest"
	"github.com/dnsmigrate/dnsmigrate/providers/registrartest"
)

func domainsRegistrar(t *testing.T, endpoint string) *providers.Route53DomainsRegistrar {
	t.Helper()
	r, err := providers.NewRoute53DomainsRegistrar(context.Background(), providers.AWSOptions{AccessKeyID: providerstest.AccessKeyID, SecretAccessKey: "secret", Endpoint: endpoint, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r.WithPolling(5*time.Millisecond, 5*time.Second)
}

func newKSK(t *testing.T) providers.DelegationSigner { return registrartest.NewKSK(t, "example.com.") }

// The registrar contract, against the fake; a wrong access key is refused
// as Route 53 Domains refuses it.
func TestRoute53DomainsContract(t *testing.T) {
	f := providerstest.NewDomains(t, newKSK(t).Key)
	wrongKey, err := providers.NewRoute53DomainsRegistrar(context.Background(), providers.AWSOptions{AccessKeyID: "AKIAWRONGKEY", SecretAccessKey: "secret", Endpoint: f.URL, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	registrartest.Run(t, registrartest.Target{Name: "route53domains", Registrar: domainsRegistrar(t, f.URL), Zone: "example.com.",
		Delegation: func(context.Context) ([]string, []string, error) {
			var ds []string
			for _, k := range f.Keys() {
				ds = append(ds, k[strings.LastIndex(k, " ")+1:])
			}
			return f.Nameservers(), ds, nil
		},
		Refusing: wrongKey, Where: "route53domains"})
}

// Name servers with glue within the API's limit (one IPv4 and one IPv6
// per name server), operations polled through SUBMITTED and IN_PROGRESS.
func TestRoute53DomainsNameServers(t *testing.T) {
	f := providerstest.NewDomains(t, nil)
	r := domainsRegistrar(t, f.URL)
	glue := map[string][]netip.Addr{"ns1.example.com.": {netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("192.0.2.54"), netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("2001:db8::54")}}
	if err := r.SetNS(context.Background(), "example.com.", []string{"ns1.example.com.", "ns2.new.example.org."}, glue, 0); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(f.Bodies("UpdateDomainNameservers")[0]["Nameservers"]); string(b) != `[{"GlueIps":["192.0.2.53","2001:db8::53"],"Name":"ns1.example.com"},{"Name":"ns2.new.example.org"}]` {
		t.Errorf("name servers sent: %s", b)
	}
	if n := f.Polled("op-1"); n != 3 {
		t.Errorf("operation polled %d times, want SUBMITTED, IN_PROGRESS, SUCCESSFUL", n)
	}
	if n := f.BadRequests(); n != 0 {
		t.Errorf("%d requests without the JSON 1.1 target, content type or SigV4 scope", n)
	}
}

// DS records are matched by digest (GetDomainDetail lists no public keys
// since May 2026): a key the registry holds is never sent again (the
// registry refuses that with "Parameters in request are not valid"), keys
// are added and removed one at a time, new before old.
func TestRoute53DomainsDSByDigest(t *testing.T) {
	old, next := newKSK(t), newKSK(t)
	f := providerstest.NewDomains(t, old.Key)
	r := domainsRegistrar(t, f.URL)
	ctx := context.Background()
	steps := []struct {
		want  []providers.DelegationSigner
		calls string
	}{
		{[]providers.DelegationSigner{old, next}, "GetDomainDetail AssociateDelegationSignerToDomain GetOperationDetail GetOperationDetail GetOperationDetail GetDomainDetail"},
		{[]providers.DelegationSigner{next, old}, "GetDomainDetail GetDomainDetail"},
		{[]providers.DelegationSigner{next}, "GetDomainDetail DisassociateDelegationSignerFromDomain GetOperationDetail GetOperationDetail GetOperationDetail GetDomainDetail"},
		{nil, "GetDomainDetail DisassociateDelegationSignerFromDomain GetOperationDetail GetOperationDetail GetOperationDetail GetDomainDetail"},
		{[]providers.DelegationSigner{old}, "GetDomainDetail AssociateDelegationSignerToDomain GetOperationDetail GetOperationDetail GetOperationDetail GetDomainDetail"},
	}
	for i, s := range steps {
		before := len(f.Calls())
		if err := r.SetDS(ctx, "example.com.", s.want, 0); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := strings.Join(f.Calls()[before:], " "); got != s.calls {
			t.Errorf("step %d calls:\n%s\nwant\n%s", i, got, s.calls)
		}
		var want []string
		for _, w := range s.want {
			want = append(want, strings.ToUpper(w.DS.Digest))
		}
		got := f.Keys()
		for j := range got {
			got[j] = got[j][strings.LastIndex(got[j], " ")+1:]
		}
		if strings.Join(slices.Sorted(slices.Values(got)), ",") != strings.Join(slices.Sorted(slices.Values(want)), ",") {
			t.Errorf("step %d: registry holds %v, want %v", i, got, want)
		}
	}
}

// Every documented refusal is handled: waited out and sent again where
// waiting helps (DuplicateRequest, OperationLimitExceeded,
// ThrottlingException, DnssecLimitExceeded after removing what goes),
// otherwise an error naming it.
func TestRoute53DomainsErrors(t *testing.T) {
	ctx := context.Background()
	old, next := newKSK(t), newKSK(t)
	ns := []string{"ns1.new.example.org.", "ns2.new.example.org."}
	cases := []struct {
		name  string
		setup func(f *providerstest.Domains)
		run   func(r *providers.Route53DomainsRegistrar) error
		want  string // "" for success
	}{
		{"duplicate request waited out", func(f *providerstest.Domains) {
			f.Inject("AssociateDelegationSignerToDomain", "DuplicateRequest", "DuplicateRequest")
		}, func(r *providers.Route53DomainsRegistrar) error {
			return r.SetDS(ctx, "example.com.", []providers.DelegationSigner{old, next}, 0)
		}, ""},
		{"operation limit waited out", func(f *providerstest.Domains) { f.Inject("UpdateDomainNameservers", "OperationLimitExceeded") },
			func(r *providers.Route53DomainsRegistrar) error { return r.SetNS(ctx, "example.com.", ns, nil, 0) }, ""},
		{"throttling retried", func(f *providerstest.Domains) {
			f.Inject("GetDomainDetail", "ThrottlingException", "ThrottlingException")
		},
			func(r *providers.Route53DomainsRegistrar) error { return r.SetDS(ctx, "example.com.", nil, 0) }, ""},
		{"always throttled", func(f *providerstest.Domains) {
			f.Inject("GetDomainDetail", "ThrottlingException", "ThrottlingException", "ThrottlingException", "ThrottlingException", "ThrottlingException")
		}, func(r *providers.Route53DomainsRegistrar) error { return r.SetDS(ctx, "example.com.", nil, 0) }, "ThrottlingException"},
		{"DS limit: the old key goes first", func(f *providerstest.Domains) { f.Limit = 1 },
			func(r *providers.Route53DomainsRegistrar) error {
				return r.SetDS(ctx, "example.com.", []providers.DelegationSigner{next}, 0)
			}, ""},
		{"DS limit with nothing to remove", func(f *providerstest.Domains) { f.Limit = 1 },
			func(r *providers.Route53DomainsRegistrar) error {
				return r.SetDS(ctx, "example.com.", []providers.DelegationSigner{old, next}, 0)
			}, "DnssecLimitExceeded"},
		{"TLD rules", func(f *providerstest.Domains) { f.Inject("UpdateDomainNameservers", "TLDRulesViolation") },
			func(r *providers.Route53DomainsRegistrar) error { return r.SetNS(ctx, "example.com.", ns, nil, 0) }, "TLDRulesViolation: The top-level domain does not support this operation"},
		{"TLD in maintenance", func(f *providerstest.Domains) { f.Inject("AssociateDelegationSignerToDomain", "TLDInMaintenance") },
			func(r *providers.Route53DomainsRegistrar) error {
				return r.SetDS(ctx, "example.com.", []providers.DelegationSigner{old, next}, 0)
			}, "TLDInMaintenance"},
		{"operation FAILED", func(f *providerstest.Domains) { f.EndNext("FAILED", "", "Invalid public key") },
			func(r *providers.Route53DomainsRegistrar) error { return r.SetNS(ctx, "example.com.", ns, nil, 0) }, "FAILED: Invalid public key"},
		{"operation ERROR", func(f *providerstest.Domains) { f.EndNext("ERROR", "", "registry unavailable") },
			func(r *providers.Route53DomainsRegistrar) error { return r.SetNS(ctx, "example.com.", ns, nil, 0) }, "ERROR: registry unavailable"},
		{"waiting on the owner", func(f *providerstest.Domains) {
			f.EndNext("IN_PROGRESS", "PENDING_CUSTOMER_ACTION", "confirm the change by email")
		},
			func(r *providers.Route53DomainsRegistrar) error { return r.SetNS(ctx, "example.com.", ns, nil, 0) }, "waits on the account's owner (PENDING_CUSTOMER_ACTION): confirm the change by email"},
		{"unknown domain", func(*providerstest.Domains) {},
			func(r *providers.Route53DomainsRegistrar) error { return r.SetNS(ctx, "other.com.", ns, nil, 0) }, "not found in your account"},
		{"DS without its key", func(*providerstest.Domains) {},
			func(r *providers.Route53DomainsRegistrar) error {
				return r.SetDS(ctx, "example.com.", []providers.DelegationSigner{{DS: next.DS}}, 0)
			}, "without its DNSKEY"},
		{"in-zone name without glue", func(*providerstest.Domains) {},
			func(r *providers.Route53DomainsRegistrar) error {
				return r.SetNS(ctx, "example.com.", []string{"ns1.example.com."}, nil, 0)
			}, "needs glue"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := providerstest.NewDomains(t, old.Key)
			c.setup(f)
			err := c.run(domainsRegistrar(t, f.URL))
			switch {
			case c.want == "" && err != nil:
				t.Errorf("got %v, want success", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
