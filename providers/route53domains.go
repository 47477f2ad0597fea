package providers

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53d "github.com/aws/aws-sdk-go-v2/service/route53domains"
	r53dtypes "github.com/aws/aws-sdk-go-v2/service/route53domains/types"
	"github.com/miekg/dns"
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
// names inside it.
func (r *Route53DomainsRegistrar) SetNS(ctx context.Context, zone string, ns []string, glue map[string][]netip.Addr, _ time.Duration) error {
	var servers []r53dtypes.Nameserver
	for _, n := range ns {
		s := r53dtypes.Nameserver{Name: aws.String(strings.TrimSuffix(n, "."))}
		for _, a := range glue[dns.Fqdn(n)] {
			s.GlueIps = append(s.GlueIps, a.String())
		}
		if dns.IsSubDomain(dns.Fqdn(zone), dns.Fqdn(n)) && len(s.GlueIps) == 0 {
			return fmt.Errorf("route53domains: %s is inside %s and needs glue, but no address was given", n, zone)
		}
		servers = append(servers, s)
	}
	out, err := r.sdk.UpdateDomainNameservers(ctx, &r53d.UpdateDomainNameserversInput{DomainName: aws.String(domainOf(zone)), Nameservers: servers})
	if err != nil {
		return fmt.Errorf("route53domains: set name servers of %s: %w", zone, err)
	}
	return r.await(ctx, aws.ToString(out.OperationId), "set name servers of "+zone)
}

// SetDS makes the domain's DNSSEC keys exactly the given ones: Route 53
// Domains takes each KSK's public key and computes the DS itself.
func (r *Route53DomainsRegistrar) SetDS(ctx context.Context, zone string, ds []DelegationSigner, _ time.Duration) error {
	detail, err := r.sdk.GetDomainDetail(ctx, &r53d.GetDomainDetailInput{DomainName: aws.String(domainOf(zone))})
	if err != nil {
		return fmt.Errorf("route53domains: read %s: %w", zone, err)
	}
	var want []string
	for _, s := range ds {
		if s.Key == nil {
			return fmt.Errorf("route53domains: DS %d of %s comes without its DNSKEY, which Route 53 Domains needs", s.DS.KeyTag, zone)
		}
		want = append(want, s.Key.PublicKey)
	}
	for _, k := range detail.DnssecKeys {
		if slices.Contains(want, aws.ToString(k.PublicKey)) {
			continue
		}
		out, err := r.sdk.DisassociateDelegationSignerFromDomain(ctx, &r53d.DisassociateDelegationSignerFromDomainInput{DomainName: aws.String(domainOf(zone)), Id: k.Id})
		if err != nil {
			return fmt.Errorf("route53domains: remove key %d of %s: %w", aws.ToInt32(k.KeyTag), zone, err)
		}
		if err := r.await(ctx, aws.ToString(out.OperationId), "remove a DNSSEC key of "+zone); err != nil {
			return err
		}
	}
	for _, s := range ds {
		if slices.ContainsFunc(detail.DnssecKeys, func(k r53dtypes.DnssecKey) bool { return aws.ToString(k.PublicKey) == s.Key.PublicKey }) {
			continue
		}
		out, err := r.sdk.AssociateDelegationSignerToDomain(ctx, &r53d.AssociateDelegationSignerToDomainInput{DomainName: aws.String(domainOf(zone)),
			SigningAttributes: &r53dtypes.DnssecSigningAttributes{Algorithm: aws.Int32(int32(s.Key.Algorithm)), Flags: aws.Int32(int32(s.Key.Flags)), PublicKey: aws.String(s.Key.PublicKey)}})
		if err != nil {
			return fmt.Errorf("route53domains: add key %d to %s: %w", s.DS.KeyTag, zone, err)
		}
		if err := r.await(ctx, aws.ToString(out.OperationId), "add a DNSSEC key to "+zone); err != nil {
			return err
		}
	}
	return nil
}

// await polls an operation until it succeeds, fails or times out.
func (r *Route53DomainsRegistrar) await(ctx context.Context, id, what string) error {
	deadline := time.Now().Add(r.wait)
	for {
		out, err := r.sdk.GetOperationDetail(ctx, &r53d.GetOperationDetailInput{OperationId: aws.String(id)})
		if err != nil {
			return fmt.Errorf("route53domains: %s: operation %s: %w", what, id, err)
		}
		switch out.Status {
		case r53dtypes.OperationStatusSuccessful:
			return nil
		case r53dtypes.OperationStatusError, r53dtypes.OperationStatusFailed:
			return fmt.Errorf("route53domains: %s: operation %s %s: %s", what, id, out.Status, aws.ToString(out.Message))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("route53domains: %s: operation %s still %s after %s", what, id, out.Status, r.wait)
		}
		if err := sleepCtx(ctx, r.poll); err != nil {
			return err
		}
	}
}
