package providers

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53d "github.com/aws/aws-sdk-go-v2/service/route53domains"
	r53dtypes "github.com/aws/aws-sdk-go-v2/service/route53domains/types"
	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/internal/wait"
)

// Route53DomainsRegistrar changes delegations of domains registered with
// Amazon Route 53 Domains, through the AWS SDK (libdns has no registrar
// interface). Every change is an asynchronous operation, polled until it
// succeeds or fails.
type Route53DomainsRegistrar struct {
	sdk  *r53d.Client
	poll time.Duration
	wait time.Duration
}

// NewRoute53DomainsRegistrar returns the registrar. Route 53 Domains lives
// in us-east-1.
func NewRoute53DomainsRegistrar(ctx context.Context, o AWSOptions) (*Route53DomainsRegistrar, error) {
	o.Region = "us-east-1"
	cfg, err := o.config(ctx)
	if err != nil {
		return nil, fmt.Errorf("route53domains: %w", err)
	}
	return &Route53DomainsRegistrar{sdk: r53d.NewFromConfig(cfg), poll: 2 * time.Second, wait: 15 * time.Minute}, nil
}

// WithPolling sets how often and how long operations are polled.
func (r *Route53DomainsRegistrar) WithPolling(every, upTo time.Duration) *Route53DomainsRegistrar {
	r.poll, r.wait = every, upTo
	return r
}

// Capabilities: Route 53 Domains sets name servers, glue and DNSSEC keys.
func (r *Route53DomainsRegistrar) Capabilities() Capabilities {
	return Capabilities{DS: true, Glue: true, Automatic: true}
}

func domainOf(zone string) string { return strings.TrimSuffix(dns.Fqdn(zone), ".") }

// SetNS replaces the domain's name servers, with glue addresses for the
// names inside it. Route 53 Domains takes at most one IPv4 and one IPv6
// glue address per name server (UpdateDomainNameservers, GlueIps): the
// first of each family given is sent, the others left out.
func (r *Route53DomainsRegistrar) SetNS(ctx context.Context, zone string, ns []string, glue map[string][]netip.Addr, _ time.Duration) error {
	var servers []r53dtypes.Nameserver
	for _, n := range ns {
		s := r53dtypes.Nameserver{Name: aws.String(strings.TrimSuffix(n, "."))}
		var v4, v6 bool
		for _, a := range glue[dns.Fqdn(n)] {
			if a.Is4() && !v4 || !a.Is4() && !v6 {
				s.GlueIps = append(s.GlueIps, a.String())
				v4, v6 = v4 || a.Is4(), v6 || !a.Is4()
			}
		}
		if dns.IsSubDomain(dns.Fqdn(zone), dns.Fqdn(n)) && len(s.GlueIps) == 0 {
			return fmt.Errorf("route53domains: %s is inside %s and needs glue, but no address was given", n, zone)
		}
		servers = append(servers, s)
	}
	return r.operate(ctx, "set name servers of "+zone, func() (*string, error) {
		out, err := r.sdk.UpdateDomainNameservers(ctx, &r53d.UpdateDomainNameserversInput{DomainName: aws.String(domainOf(zone)), Nameservers: servers})
		if err != nil {
			return nil, err
		}
		return out.OperationId, nil
	})
}

// listedDigest is how a DS the registry lists is matched with a key:
// GetDomainDetail no longer returns a key's flags or public key (May
// 2026), so the digest of the key we hold, in the listed digest type, is
// compared with the listed digest.
func listedDigest(k r53dtypes.DnssecKey, key *dns.DNSKEY) bool {
	if p := aws.ToString(k.PublicKey); p != "" {
		return p == key.PublicKey
	}
	ds := key.ToDS(uint8(aws.ToInt32(k.DigestType)))
	return ds != nil && strings.EqualFold(ds.Digest, aws.ToString(k.Digest))
}

// SetDS makes the domain's DS records exactly those of the given keys:
// Route 53 Domains takes each KSK's public key and computes the DS itself.
// Keys the registry already lists (matched by digest) are left alone, new
// ones are added one by one before unwanted ones are removed one by one
// (while both stand, validators accept either key), except that a
// registry at its limit (DnssecLimitExceeded) has the unwanted ones
// removed first. The registry is read back at the end and must list
// exactly the keys given.
func (r *Route53DomainsRegistrar) SetDS(ctx context.Context, zone string, ds []DelegationSigner, _ time.Duration) error {
	for _, s := range ds {
		if s.Key == nil {
			return fmt.Errorf("route53domains: DS %d of %s comes without its DNSKEY, which Route 53 Domains needs", s.DS.KeyTag, zone)
		}
	}
	listed, err := r.keys(ctx, zone)
	if err != nil {
		return err
	}
	var add []DelegationSigner
	for _, s := range ds {
		if !slices.ContainsFunc(listed, func(k r53dtypes.DnssecKey) bool { return listedDigest(k, s.Key) }) {
			add = append(add, s)
		}
	}
	var remove []r53dtypes.DnssecKey
	for _, k := range listed {
		if !slices.ContainsFunc(ds, func(s DelegationSigner) bool { return listedDigest(k, s.Key) }) {
			remove = append(remove, k)
		}
	}
	removeAll := func() error {
		for _, k := range remove {
			if err := r.operate(ctx, fmt.Sprintf("remove DS %d (id %s) of %s", aws.ToInt32(k.KeyTag), aws.ToString(k.Id), zone), func() (*string, error) {
				out, err := r.sdk.DisassociateDelegationSignerFromDomain(ctx, &r53d.DisassociateDelegationSignerFromDomainInput{DomainName: aws.String(domainOf(zone)), Id: k.Id})
				if err != nil {
					return nil, err
				}
				return out.OperationId, nil
			}); err != nil {
				return err
			}
		}
		remove = nil
		return nil
	}
	for _, s := range add {
		addOne := func() error {
			return r.operate(ctx, fmt.Sprintf("add the DS of key %d to %s", s.Key.KeyTag(), zone), func() (*string, error) {
				out, err := r.sdk.AssociateDelegationSignerToDomain(ctx, &r53d.AssociateDelegationSignerToDomainInput{DomainName: aws.String(domainOf(zone)),
					SigningAttributes: &r53dtypes.DnssecSigningAttributes{Algorithm: aws.Int32(int32(s.Key.Algorithm)), Flags: aws.Int32(int32(s.Key.Flags)), PublicKey: aws.String(s.Key.PublicKey)}})
				if err != nil {
					return nil, err
				}
				return out.OperationId, nil
			})
		}
		err := addOne()
		var limit *r53dtypes.DnssecLimitExceeded
		if errors.As(err, &limit) && len(remove) > 0 {
			if err = removeAll(); err == nil {
				err = addOne()
			}
		}
		if err != nil {
			return err
		}
	}
	if err := removeAll(); err != nil {
		return err
	}
	listed, err = r.keys(ctx, zone)
	if err != nil {
		return err
	}
	var missing []string
	for _, s := range ds {
		if !slices.ContainsFunc(listed, func(k r53dtypes.DnssecKey) bool { return listedDigest(k, s.Key) }) {
			missing = append(missing, fmt.Sprint(s.Key.KeyTag()))
		}
	}
	if len(missing) > 0 || len(listed) != len(ds) {
		return fmt.Errorf("route53domains: after the change the registry lists %d DS records for %s, want %d (keys %v missing)", len(listed), zone, len(ds), missing)
	}
	return nil
}

func (r *Route53DomainsRegistrar) keys(ctx context.Context, zone string) ([]r53dtypes.DnssecKey, error) {
	detail, err := r.sdk.GetDomainDetail(ctx, &r53d.GetDomainDetailInput{DomainName: aws.String(domainOf(zone))})
	if err != nil {
		return nil, fmt.Errorf("route53domains: read %s: %w", zone, err)
	}
	return detail.DnssecKeys, nil
}

// operate sends one request that starts an operation and waits for it.
// DuplicateRequest (an operation for the domain is still running) and
// OperationLimitExceeded (too many for the account) are waited out and
// sent again within the polling time; every other error ends it, named.
func (r *Route53DomainsRegistrar) operate(ctx context.Context, what string, send func() (*string, error)) error {
	deadline := time.Now().Add(r.wait)
	for {
		id, err := send()
		var dup *r53dtypes.DuplicateRequest
		var lim *r53dtypes.OperationLimitExceeded
		if (errors.As(err, &dup) || errors.As(err, &lim)) && time.Now().Before(deadline) {
			if err := wait.Sleep(ctx, r.poll); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("route53domains: %s: %w", what, err)
		}
		return r.await(ctx, aws.ToString(id), what)
	}
}

// await polls an operation until it succeeds, fails, needs a person or
// times out. SUBMITTED and IN_PROGRESS are waited on; a StatusFlag
// (PENDING_CUSTOMER_ACTION, PENDING_AUTHORIZATION, ...) means the
// operation waits on the account's owner, which no polling will end.
func (r *Route53DomainsRegistrar) await(ctx context.Context, id, what string) error {
	deadline := time.Now().Add(r.wait)
	for {
		out, err := r.sdk.GetOperationDetail(ctx, &r53d.GetOperationDetailInput{OperationId: aws.String(id)})
		if err != nil {
			return fmt.Errorf("route53domains: %s: operation %s: %w", what, id, err)
		}
		switch {
		case out.Status == r53dtypes.OperationStatusSuccessful:
			return nil
		case out.Status == r53dtypes.OperationStatusError || out.Status == r53dtypes.OperationStatusFailed:
			return fmt.Errorf("route53domains: %s: operation %s %s: %s", what, id, out.Status, aws.ToString(out.Message))
		case out.StatusFlag != "":
			return fmt.Errorf("route53domains: %s: operation %s is %s and waits on the account's owner (%s): %s; finish it in the Route 53 console, then run the same command again", what, id, out.Status, out.StatusFlag, aws.ToString(out.Message))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("route53domains: %s: operation %s still %s after %s", what, id, out.Status, r.wait)
		}
		if err := wait.Sleep(ctx, r.poll); err != nil {
			return err
		}
	}
}
