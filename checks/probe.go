package checks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// The probes below are the narrow questions a migration's gates ask, each
// to every server involved. They share the checker's client, so its
// counter and concurrency bound cover them.

func (c *Checker) resolver() *resolver {
	return &resolver{client: c.client, roots: c.opts.Roots, ipv6: c.opts.IPv6 || c.opts.IPv6Auto, v6: c.v6}
}

// Delegation finds zone's parent by iteration from the root and returns it
// with every one of its server addresses.
func (c *Checker) Delegation(ctx context.Context, zone string) (Cut, error) {
	cuts, err := c.resolver().path(ctx, strings.ToLower(dns.Fqdn(zone)))
	if err != nil {
		return Cut{}, fmt.Errorf("find the parent of %s: %w", zone, err)
	}
	return cuts[len(cuts)-2], nil
}

// ParentKeys validates the chain of trust from the trust anchor down to
// zone's parent and returns the parent's DNSKEY set, with the parent's
// status (only Secure comes with keys).
func (c *Checker) ParentKeys(ctx context.Context, zone string) ([]*dns.DNSKEY, Status, error) {
	zone = strings.ToLower(dns.Fqdn(zone))
	res := c.resolver()
	cuts, err := res.path(ctx, zone)
	if err != nil {
		return nil, Indeterminate, fmt.Errorf("find the parent of %s: %w", zone, err)
	}
	a := &analysis{rep: &Report{Zone: zone}, now: c.opts.Now(), zone: zone}
	keys, status := a.validateAncestors(ctx, res, cuts[:len(cuts)-1], *c.opts.Anchors)
	if status == Secure {
		return keys, status, nil
	}
	var why []string
	for _, f := range a.rep.Findings {
		why = append(why, f.Summary)
	}
	return nil, status, fmt.Errorf("the parent of %s is %s: %s", zone, status, strings.Join(why, "; "))
}

// DSAbsenceProof says why the server's answer does not prove, with the
// parent's validated keys, that zone has no DS ("" when it does): an
// authoritative NODATA with an NSEC or NSEC3 that matches (or, opt-out,
// covers) the name, a type bitmap without DS, and valid signatures.
func (p ParentServer) DSAbsenceProof(zone string, parentKeys []*dns.DNSKEY, now time.Time) string {
	if !p.DSAbsenceProven() {
		return "no authoritative NODATA with NSEC/NSEC3 for the DS"
	}
	return denialOfDS(p.dsReply.Msg, strings.ToLower(dns.Fqdn(zone)), parentKeys, now)
}

// AskParents asks every address of the parent for zone's NS (with glue)
// and DS.
func (c *Checker) AskParents(ctx context.Context, parent Cut, zone string) []ParentServer {
	return askParents(ctx, c.client, parent, strings.ToLower(dns.Fqdn(zone)))
}

// AskServers asks every address of the given servers for zone's SOA, NS
// and DNSKEY; a server without addresses is looked up by iteration.
func (c *Checker) AskServers(ctx context.Context, servers []NameServer, zone string) []ChildServer {
	return askChildren(ctx, c.client, c.resolver().fill(ctx, servers, 0), strings.ToLower(dns.Fqdn(zone)))
}

// LookupAddrs finds a name's addresses (host:53) by iteration from the
// root, never through the system's resolver.
func (c *Checker) LookupAddrs(ctx context.Context, name string) []string {
	return c.resolver().lookupAddrs(ctx, name, 0)
}

// AskAll sends each question (authoritative unless RD is set) and returns
// the replies in order.
func (c *Checker) AskAll(ctx context.Context, qs []Question) []Reply {
	return askAll(ctx, c.client, qs)
}

// AskEach asks every question and hands each reply to fn as it comes, in
// no particular order, from one goroutine at a time, keeping none: the
// memory of a large gate poll is what fn keeps.
func (c *Checker) AskEach(ctx context.Context, qs []Question, fn func(i int, r Reply)) {
	askEach(ctx, c.client, qs, fn)
}

// RRsetOf returns the records of one owner and type in a reply's answer
// section, as their data without header, sorted, and their largest TTL.
func RRsetOf(r Reply, owner string, t uint16) (data []string, ttl uint32) {
	if !r.OK() {
		return nil, 0
	}
	for _, rr := range rrset(r.Msg.Answer, owner, t) {
		data = append(data, rrData(rr))
		ttl = max(ttl, rr.Header().Ttl)
	}
	return dedupe(data), ttl
}

// ServedTTL is the longest TTL a resolver may cache the RRset (owner, t)
// of a reply for: the largest TTL as served, or as signed (the RRSIG's
// original TTL) when that is larger. 0 when the reply holds no such RRset.
func ServedTTL(r Reply, owner string, t uint16) uint32 {
	_, ttl := RRsetOf(r, owner, t)
	if ttl == 0 {
		return 0
	}
	for _, s := range ofType[*dns.RRSIG](r.Msg.Answer) {
		if s.TypeCovered == t && strings.EqualFold(s.Hdr.Name, owner) {
			ttl = max(ttl, s.OrigTtl)
		}
	}
	return ttl
}

// RRData is a record's data as text, without its header.
func RRData(rr dns.RR) string { return rrData(rr) }
