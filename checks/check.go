package checks

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/internal/rdata"
)

// Options configure a Checker. The zero value checks from the public root
// with the IANA anchor, which tests must never do: they pass the lab's.
type Options struct {
	Roots     []string      // root servers to iterate from, host:port; empty: the public root servers
	Anchors   *Anchors      // nil: the IANA root anchor
	Resolvers []string      // resolvers to ask, validating or not, host:port
	Timeout   time.Duration // per question; default 3s
	Parallel  int           // questions in flight at once; default 16
	// ResolverRate is how many questions a second one resolver is sent
	// at most: 0 means DefaultResolverRate, a negative value no limit.
	ResolverRate float64
	IPv6         bool // also ask name servers over IPv6
	// IPv6Auto asks a name server's IPv6 address only when this machine
	// has a route to it; the others are skipped and listed (Skipped).
	IPv6Auto bool
	Now      func() time.Time
}

// Checker diagnoses the delegation and DNSSEC of zones.
type Checker struct {
	opts   Options
	client *Client
	v6     *v6Policy
}

// New returns a Checker. It holds no state between checks but its query
// counter.
func New(opts Options) *Checker {
	if len(opts.Roots) == 0 {
		opts.Roots = PublicRoots()
	}
	if opts.Anchors == nil {
		a := IANARootAnchors()
		opts.Anchors = &a
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	for i, r := range opts.Roots {
		opts.Roots[i] = WithPort(r)
	}
	for i, r := range opts.Resolvers {
		opts.Resolvers[i] = WithPort(r)
	}
	client := NewClient(opts.Timeout, opts.Parallel)
	if opts.ResolverRate != 0 {
		client.SetResolverRate(max(opts.ResolverRate, 0))
	}
	return &Checker{opts: opts, client: client, v6: &v6Policy{auto: opts.IPv6Auto && !opts.IPv6}}
}

// Skipped lists the name server addresses this checker did not ask so far
// because this machine has no route to them (IPv6Auto), each host:port.
func (c *Checker) Skipped() []string { return c.v6.list() }

// Client is the checker's DNS client (its counter tells how many messages
// were sent).
func (c *Checker) Client() *Client { return c.client }

// Fork returns a checker with the same options and a budget of its own
// (its own questions in flight, sockets and resolver pacing), for a
// caller that must never wait behind another's questions: the watchdog
// behind a large gate poll.
func (c *Checker) Fork() *Checker {
	n := *c
	n.client = NewClient(c.client.timeout, cap(c.client.sem))
	c.client.mu.Lock()
	r := c.client.rate
	c.client.mu.Unlock()
	n.client.rate = r
	return &n
}

// PublicRoots are the IPv4 addresses of the root servers a through m.
func PublicRoots() []string {
	return []string{
		"198.41.0.4:53", "170.247.170.2:53", "192.33.4.12:53", "199.7.91.13:53",
		"192.203.230.10:53", "192.5.5.241:53", "192.112.36.4:53", "198.97.190.53:53",
		"192.36.148.17:53", "192.58.128.30:53", "193.0.14.129:53", "199.7.83.42:53", "202.12.27.33:53",
	}
}

// Status is the verdict on the chain of trust, as a validator would reach it.
type Status string

// The verdicts.
const (
	Secure        Status = "secure"
	Insecure      Status = "insecure"
	Bogus         Status = "bogus"
	Indeterminate Status = "indeterminate"
)

// ParentServer is what one address of the parent zone serves about the
// delegation.
type ParentServer struct {
	Server   string              `json:"server"`
	Name     string              `json:"name"`
	Answered bool                `json:"answered"`
	NS       []string            `json:"ns,omitempty"`
	NSTTL    uint32              `json:"ns_ttl,omitempty"`
	Glue     map[string][]string `json:"glue,omitempty"`
	DS       []string            `json:"ds,omitempty"`
	DSTTL    uint32              `json:"ds_ttl,omitempty"`
	// DSOrigTTL is the DS TTL as signed (the RRSIG's original TTL).
	DSOrigTTL uint32 `json:"ds_orig_ttl,omitempty"`
	// NegTTL is how long a resolver may cache "no DS": min(SOA TTL, minimum).
	NegTTL uint32 `json:"neg_ttl,omitempty"`
	Error  string `json:"error,omitempty"`

	nsReply, dsReply Reply
}

// ChildServer is what one address of the zone's own servers serves.
type ChildServer struct {
	Server        string   `json:"server"`
	Name          string   `json:"name"`
	Answered      bool     `json:"answered"`
	Authoritative bool     `json:"authoritative"`
	Serial        uint32   `json:"serial,omitempty"`
	NS            []string `json:"ns,omitempty"`
	// NSTTL and DNSKEYTTL are the longest a resolver may cache each
	// RRset: the TTL as served, or as signed (RRSIG original TTL) if larger.
	NSTTL     uint32    `json:"ns_ttl,omitempty"`
	DNSKEY    []KeyInfo `json:"dnskey,omitempty"`
	DNSKEYTTL uint32    `json:"dnskey_ttl,omitempty"`
	Error     string    `json:"error,omitempty"`

	// Keys is the DNSKEY RRset as served, for computing DS records.
	Keys []*dns.DNSKEY `json:"-"`

	soa, ns, dnskey Reply
}

// SigningKeys are the keys of the server's DNSKEY set that sign its SOA
// and NS answers (its own ZSKs, in a zone several signers serve).
func (c ChildServer) SigningKeys() []*dns.DNSKEY {
	var out []*dns.DNSKEY
	for _, r := range []Reply{c.soa, c.ns} {
		if !r.OK() {
			continue
		}
		for _, sig := range ofType[*dns.RRSIG](r.Msg.Answer) {
			for _, k := range c.Keys {
				if k.KeyTag() == sig.KeyTag && k.Algorithm == sig.Algorithm && !slices.Contains(out, k) {
					out = append(out, k)
				}
			}
		}
	}
	return out
}

// DNSKEYAnswered reports whether the server answered the DNSKEY question.
func (c ChildServer) DNSKEYAnswered() bool { return c.dnskey.OK() }

// Evidence of what the server answered to the SOA, NS and DNSKEY queries.
func (c ChildServer) Evidence() []Evidence {
	if c.Server == "" {
		return []Evidence{{Server: c.Name, Question: "address", Error: c.Error}}
	}
	return []Evidence{EvidenceOf(c.soa, dns.TypeSOA), EvidenceOf(c.ns, dns.TypeNS), EvidenceOf(c.dnskey, dns.TypeDNSKEY)}
}

// NSEvidence is what the parent server answered about the delegation.
func (p ParentServer) NSEvidence() Evidence {
	return EvidenceOf(p.nsReply, dns.TypeNS, dns.TypeA, dns.TypeAAAA)
}

// DSAnswered reports whether the server answered the DS question (a
// server may answer the NS question and then not the DS one).
func (p ParentServer) DSAnswered() bool { return p.dsReply.OK() }

// DSEvidence is what the parent server answered about the DS, with the
// denial records when it has none.
func (p ParentServer) DSEvidence() Evidence {
	return EvidenceOf(p.dsReply, dns.TypeDS, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeSOA)
}

// DSAbsenceProven reports whether the server answered the DS question
// authoritatively with no DS and an NSEC or NSEC3 record in the authority
// section (the signed proof resolvers will validate).
func (p ParentServer) DSAbsenceProven() bool {
	m := p.dsReply.Msg
	if !p.dsReply.OK() || m.Rcode != dns.RcodeSuccess || !m.Authoritative || len(p.DS) > 0 {
		return false
	}
	return HasType(m.Ns, dns.TypeNSEC) || HasType(m.Ns, dns.TypeNSEC3)
}

// HasType says whether rrs holds a record of type t.
func HasType(rrs []dns.RR, t uint16) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			return true
		}
	}
	return false
}

// KeyInfo describes one DNSKEY without its key material.
type KeyInfo struct {
	Tag       uint16 `json:"tag"`
	Algorithm uint8  `json:"algorithm"`
	Flags     uint16 `json:"flags"`
	KSK       bool   `json:"ksk"`
}

// ResolverResult is what one resolver answered for the zone's SOA with
// and without checking disabled.
type ResolverResult struct {
	Server     string `json:"server"`
	Validating bool   `json:"validating"`
	RCODE      string `json:"rcode,omitempty"`
	AD         bool   `json:"ad"`
	RCODECD    string `json:"rcode_cd,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Report is the result of a check.
type Report struct {
	Zone          string           `json:"zone"`
	Status        Status           `json:"status"`
	Parent        string           `json:"parent"`
	Path          []string         `json:"path"`
	Time          time.Time        `json:"time"`
	DurationMS    int64            `json:"duration_ms"`
	Queries       int64            `json:"queries"`
	ParentServers []ParentServer   `json:"parent_servers"`
	ChildServers  []ChildServer    `json:"child_servers"`
	Resolvers     []ResolverResult `json:"resolvers,omitempty"`
	// Skipped are server addresses not asked: no route from this machine.
	Skipped  []string  `json:"skipped,omitempty"`
	Findings []Finding `json:"findings"`
}

// Count returns how many findings have severity s.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Find returns the first finding with this id, or nil.
func (r *Report) Find(id string) *Finding {
	for i := range r.Findings {
		if r.Findings[i].ID == id {
			return &r.Findings[i]
		}
	}
	return nil
}

// Has reports whether a finding with this id was made.
func (r *Report) Has(id string) bool { return r.Find(id) != nil }

// Check diagnoses zone. An error means the check could not run (no root
// answered, the zone is not delegated); everything found wrong with a zone
// that could be checked is a finding.
func (c *Checker) Check(ctx context.Context, zone string) (*Report, error) {
	start := c.opts.Now()
	sent := c.client.Sent()
	zone = strings.ToLower(dns.Fqdn(zone))
	res := c.resolver()
	defer res.settle()
	rep := &Report{Zone: zone, Time: start.UTC()}
	a := &analysis{rep: rep, now: start, zone: zone}
	var wg sync.WaitGroup
	// What needs no delegation goes out with the first referral: the
	// resolvers' questions, and the root's keys and the top-level DS the
	// chain of trust starts with.
	wg.Go(func() { rep.Resolvers = a.askResolvers(ctx, c.client, c.opts.Resolvers) })
	if c.opts.Anchors.Zone == "." {
		res.askAhead(ctx, c.opts.Roots, ".", dns.TypeDNSKEY)
		if labels := dns.SplitDomainName(zone); len(labels) > 1 {
			res.askAhead(ctx, c.opts.Roots, labels[len(labels)-1]+".", dns.TypeDS)
		}
	}
	cuts, err := res.path(ctx, zone)
	if err != nil {
		wg.Wait()
		return nil, fmt.Errorf("check %s: %w", zone, err)
	}
	parentCut := cuts[len(cuts)-2]
	rep.Parent = parentCut.Zone
	for _, cut := range cuts {
		rep.Path = append(rep.Path, cut.Zone)
	}

	var parentKeys []*dns.DNSKEY
	var chain Status
	wg.Go(func() { parentKeys, chain = a.validateAncestors(ctx, res, cuts[:len(cuts)-1], *c.opts.Anchors) })
	rep.ParentServers = askParents(ctx, c.client, parentCut, zone)
	rep.ChildServers = askChildren(ctx, c.client, a.childServers(ctx, res, cuts[len(cuts)-1]), zone)
	wg.Wait()

	a.parentFindings()
	a.childFindings()
	a.glueFindings(ctx, c.client)
	switch chain {
	case Secure:
		rep.Status = a.validateZone(parentKeys)
	default:
		rep.Status = chain
	}
	a.resolverFindings()
	sortFindings(rep.Findings)
	rep.Skipped = c.Skipped()
	rep.Queries = c.client.Sent() - sent
	rep.DurationMS = c.opts.Now().Sub(start).Milliseconds()
	return rep, nil
}

// askAll sends every question at once (the client bounds how many are in
// flight) and returns the replies in the same order.
func askAll(ctx context.Context, c *Client, qs []Question) []Reply {
	out := make([]Reply, len(qs))
	askEach(ctx, c, qs, func(i int, r Reply) { out[i] = r })
	return out
}

// askEach asks every question through a fixed pool of workers, as many as
// may be in flight (another caller, such as the watchdog, waits behind at
// most that many questions), and hands each reply to fn as it comes,
// keeping none: fn is called from one goroutine at a time.
func askEach(ctx context.Context, c *Client, qs []Question, fn func(i int, r Reply)) {
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(len(qs), cap(c.sem)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(qs) {
					return
				}
				r := c.Ask(ctx, qs[i])
				mu.Lock()
				fn(i, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func askParents(ctx context.Context, c *Client, parent Cut, zone string) []ParentServer {
	var qs []Question
	var out []ParentServer
	for _, s := range parent.Servers {
		for _, addr := range s.Addrs {
			out = append(out, ParentServer{Server: addr, Name: s.Name})
			qs = append(qs, Question{Server: addr, Name: zone, Type: dns.TypeNS}, Question{Server: addr, Name: zone, Type: dns.TypeDS})
		}
	}
	replies := askAll(ctx, c, qs)
	for i := range out {
		p := &out[i]
		p.nsReply, p.dsReply = replies[2*i], replies[2*i+1]
		if err := lameReason(p.nsReply, false); err != "" {
			p.Error = err
			continue
		}
		p.Answered = true
		m := p.nsReply.Msg
		ns := rrset(append(m.Ns, m.Answer...), zone, dns.TypeNS)
		for _, rr := range ns {
			p.NS = append(p.NS, strings.ToLower(rr.(*dns.NS).Ns))
			p.NSTTL = max(p.NSTTL, rr.Header().Ttl)
		}
		p.NS = dedupe(p.NS)
		p.Glue = map[string][]string{}
		for name, addrs := range glueOf(m) {
			for _, n := range p.NS {
				if n == name {
					p.Glue[name] = dedupe(addrs)
				}
			}
		}
		if err := lameReason(p.dsReply, true); err != "" {
			p.Error = "DS: " + err
			continue
		}
		dm := p.dsReply.Msg
		for _, rr := range rrset(dm.Answer, zone, dns.TypeDS) {
			p.DS = append(p.DS, rrData(rr))
			p.DSTTL = max(p.DSTTL, rr.Header().Ttl)
		}
		sort.Strings(p.DS)
		for _, s := range ofType[*dns.RRSIG](dm.Answer) {
			if s.TypeCovered == dns.TypeDS {
				p.DSOrigTTL = s.OrigTtl
			}
		}
		for _, rr := range dm.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				p.NegTTL = min(soa.Hdr.Ttl, soa.Minttl)
			}
		}
	}
	return out
}

// lameReason says why a reply is not a usable authoritative answer, or "".
func lameReason(r Reply, wantAA bool) string {
	switch {
	case !r.OK():
		return r.Err.Error()
	case r.Msg.Rcode != dns.RcodeSuccess:
		return RcodeName(r.Msg.Rcode)
	case wantAA && !r.Msg.Authoritative:
		return "answer is not authoritative (no AA flag)"
	}
	return ""
}

// childServers lists the zone's servers: every NS name the parent's
// servers give, at the glue addresses they give, else looked up.
func (a *analysis) childServers(ctx context.Context, res *resolver, target Cut) []NameServer {
	glue := map[string][]string{}
	var names []string
	for _, s := range target.Servers {
		names = append(names, s.Name)
		glue[s.Name] = append(glue[s.Name], s.Addrs...)
	}
	for _, p := range a.rep.ParentServers {
		names = append(names, p.NS...)
		for n, addrs := range p.Glue {
			glue[n] = append(glue[n], addrs...)
		}
	}
	var out []NameServer
	for _, n := range dedupe(names) {
		out = append(out, NameServer{Name: n, Addrs: dedupe(res.usable(glue[n]))})
	}
	return res.fill(ctx, out, 0)
}

func askChildren(ctx context.Context, c *Client, servers []NameServer, zone string) []ChildServer {
	var out []ChildServer
	var qs []Question
	for _, s := range servers {
		if len(s.Addrs) == 0 {
			out = append(out, ChildServer{Name: s.Name, Error: "no address found for " + s.Name})
			continue
		}
		for _, addr := range s.Addrs {
			out = append(out, ChildServer{Server: addr, Name: s.Name})
			for _, t := range []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeDNSKEY} {
				qs = append(qs, Question{Server: addr, Name: zone, Type: t})
			}
		}
	}
	replies := askAll(ctx, c, qs)
	i := 0
	for k := range out {
		ch := &out[k]
		if ch.Server == "" {
			continue
		}
		ch.soa, ch.ns, ch.dnskey = replies[i], replies[i+1], replies[i+2]
		i += 3
		if err := lameReason(ch.soa, false); err != "" {
			ch.Error = err
			continue
		}
		ch.Answered = true
		ch.Authoritative = ch.soa.Msg.Authoritative
		for _, rr := range ch.soa.Msg.Answer {
			if s, ok := rr.(*dns.SOA); ok && strings.EqualFold(s.Hdr.Name, zone) {
				ch.Serial = s.Serial
			}
		}
		if ch.ns.OK() {
			for _, rr := range rrset(ch.ns.Msg.Answer, zone, dns.TypeNS) {
				ch.NS = append(ch.NS, strings.ToLower(rr.(*dns.NS).Ns))
			}
			ch.NSTTL = ServedTTL(ch.ns, zone, dns.TypeNS)
			ch.NS = dedupe(ch.NS)
		}
		if ch.dnskey.OK() {
			ch.Keys = ofType[*dns.DNSKEY](rrset(ch.dnskey.Msg.Answer, zone, dns.TypeDNSKEY))
			for _, k := range ch.Keys {
				ch.DNSKEY = append(ch.DNSKEY, KeyInfo{Tag: k.KeyTag(), Algorithm: k.Algorithm, Flags: k.Flags, KSK: k.Flags&dns.SEP != 0})
			}
			ch.DNSKEYTTL = ServedTTL(ch.dnskey, zone, dns.TypeDNSKEY)
			sort.Slice(ch.DNSKEY, func(x, y int) bool { return ch.DNSKEY[x].Tag < ch.DNSKEY[y].Tag })
		}
	}
	return out
}

// rrData is a record's data, fields one space apart (rdata.Fields).
func rrData(rr dns.RR) string {
	return rdata.Fields(rr)
}
