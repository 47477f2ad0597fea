package providers

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53d "github.com/aws/aws-sdk-go-v2/service/route53domains"
	"github.com/miekg/dns"
)

// CheckAccess sends the host a prerequisite-only update of zone (RFC 2136
// 2.4.1: the apex SOA RRset exists), signed with its key: the server
// checks the key and its right to update the zone and changes nothing.
func (h *RFC2136Host) CheckAccess(ctx context.Context, zone string) error {
	return proveUpdateKey(ctx, h.Server, dns.Fqdn(zone), TSIG{Name: h.KeyName, Algorithm: h.KeyAlg, Secret: h.Key})
}

// CheckAccess proves the registrar's key may update the parent zone, with
// a prerequisite-only update that changes nothing.
func (r *RFC2136Registrar) CheckAccess(ctx context.Context, _ string) error {
	if err := proveUpdateKey(ctx, r.p.Server, r.parent, TSIG{Name: r.p.KeyName, Algorithm: r.p.KeyAlg, Secret: r.p.Key}); err != nil {
		return fmt.Errorf("registrar %w", err)
	}
	return nil
}

// CheckAccess reads the domain's details: an authenticated request that
// changes nothing.
func (r *Route53DomainsRegistrar) CheckAccess(ctx context.Context, zone string) error {
	if _, err := r.sdk.GetDomainDetail(ctx, &r53d.GetDomainDetailInput{DomainName: aws.String(domainOf(zone))}); err != nil {
		return fmt.Errorf("route53domains: read %s: %w", domainOf(zone), err)
	}
	return nil
}

// proveUpdateKey sends a signed update whose only content is the
// prerequisite that zone's SOA exists.
func proveUpdateKey(ctx context.Context, server, zone string, key TSIG) error {
	m := new(dns.Msg)
	m.SetUpdate(zone)
	m.RRsetUsed([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA}}})
	keyName := dns.Fqdn(key.Name)
	m.SetTsig(keyName, dns.Fqdn(key.Algorithm), 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{keyName: key.Secret}, Timeout: 10 * time.Second}
	resp, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return fmt.Errorf("rfc2136 %s: prove key %s for updates of %s: %w", server, key.Name, zone, err)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess:
		return nil
	case dns.RcodeNotAuth:
		return fmt.Errorf("rfc2136 %s: key %s refused for updates of %s (NOTAUTH: a wrong key name, algorithm or secret, or the server is not authoritative for the zone)", server, key.Name, zone)
	case dns.RcodeRefused:
		return fmt.Errorf("rfc2136 %s: key %s may not update %s (REFUSED)", server, key.Name, zone)
	}
	return fmt.Errorf("rfc2136 %s: prove key %s for updates of %s: %s", server, key.Name, zone, dns.RcodeToString[resp.Rcode])
}
