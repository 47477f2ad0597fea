package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// NameServer is one server named in a delegation, with the addresses it
// was found at (glue or resolution), each as host:port.
type NameServer struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
}

// Cut is a zone and the servers its parent delegates it to.
type Cut struct {
	Zone    string       `json:"zone"`
	Servers []NameServer `json:"servers"`
}

// Addrs lists every address of every server of the cut.
func (c Cut) Addrs() []string {
	var out []string
	for _, s := range c.Servers {
		out = append(out, s.Addrs...)
	}
	return out
}

// resolver iterates from the root the way a recursive resolver would, but
// only as far as a check needs: delegations and addresses. It never asks
// the system's resolver.
type resolver struct {
	client *Client
	roots  []string
	ipv6   bool // ask IPv6 addresses at all
	v6     *v6Policy

	mu    sync.Mutex
	addrs map[string][]string  // name server name -> addresses
	cuts  map[string]Cut       // zone -> its servers, from a referral this resolver followed
	ahead map[aheadKey]*answer // questions sent before they are needed (askAhead)
	wg    sync.WaitGroup       // the questions asked ahead still in flight
}

// aheadKey is a question asked ahead: its name, type and servers in order.
type aheadKey struct {
	name    string
	qtype   uint16
	servers string
}

func keyOf(servers []string, name string, qtype uint16) aheadKey {
	return aheadKey{name, qtype, strings.Join(servers, " ")}
}

// answer is what askAny returned for a question asked ahead, once done is
// closed.
type answer struct {
	done  chan struct{}
	reply Reply
	err   error
}

var errNoAnswer = errors.New("no server answered")

// askAny asks the servers in order until one answers usefully (not
// SERVFAIL, REFUSED or silent), returning the last reply otherwise.
func (r *resolver) askAny(ctx context.Context, servers []string, name string, qtype uint16) (Reply, error) {
	r.mu.Lock()
	a, ok := r.ahead[keyOf(servers, name, qtype)]
	r.mu.Unlock()
	if ok {
		select {
		case <-a.done:
			return a.reply, a.err
		case <-ctx.Done():
			return Reply{Question: Question{Server: servers[0], Name: name, Type: qtype}, Err: ctx.Err()}, ctx.Err()
		}
	}
	return r.askInOrder(ctx, servers, name, qtype)
}

// askAhead sends a question askAny will be given later, so that its round
// trip overlaps the ones before it: a check that waits on a distant server
// once per question it needs from that server would wait many times.
// askAny with the same servers, name and type then takes its answer.
// settle waits for every question asked ahead.
func (r *resolver) askAhead(ctx context.Context, servers []string, name string, qtype uint16) {
	if len(servers) == 0 {
		return
	}
	k := keyOf(servers, name, qtype)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ahead[k]; ok {
		return
	}
	if r.ahead == nil {
		r.ahead = map[aheadKey]*answer{}
	}
	a := &answer{done: make(chan struct{})}
	r.ahead[k] = a
	r.wg.Go(func() {
		a.reply, a.err = r.askInOrder(ctx, servers, name, qtype)
		close(a.done)
	})
}

// settle returns once every question asked ahead has its answer.
func (r *resolver) settle() { r.wg.Wait() }

// askInOrder is askAny without the questions asked ahead.
func (r *resolver) askInOrder(ctx context.Context, servers []string, name string, qtype uint16) (Reply, error) {
	var last Reply
	var errs []string
	for _, s := range servers {
		last = r.client.Ask(ctx, Question{Server: s, Name: name, Type: qtype})
		if last.OK() && (last.Msg.Rcode == dns.RcodeSuccess || last.Msg.Rcode == dns.RcodeNameError) {
			return last, nil
		}
		if last.OK() {
			errs = append(errs, s+": "+RcodeName(last.Msg.Rcode))
		} else {
			errs = append(errs, last.Err.Error())
		}
		if ctx.Err() != nil {
			break
		}
	}
	return last, fmt.Errorf("%w for %s %s: %s", errNoAnswer, name, dns.TypeToString[qtype], strings.Join(errs, "; "))
}

// referral returns the zone a reply delegates to, with its servers and the
// glue it carried, if the reply is a referral below zone.
func referral(m *dns.Msg, below string) (string, []NameServer) {
	if m.Authoritative && len(m.Answer) > 0 {
		return "", nil
	}
	var owner string
	var names []string
	for _, rr := range m.Ns {
		ns, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		o := strings.ToLower(ns.Hdr.Name)
		if !dns.IsSubDomain(below, o) || dns.CountLabel(o) <= dns.CountLabel(below) {
			continue
		}
		owner = o
		names = append(names, strings.ToLower(ns.Ns))
	}
	if owner == "" {
		return "", nil
	}
	glue := glueOf(m)
	var servers []NameServer
	for _, n := range dedupe(names) {
		servers = append(servers, NameServer{Name: n, Addrs: glue[n]})
	}
	return owner, servers
}

// glueOf maps names to the A/AAAA addresses in the additional section.
func glueOf(m *dns.Msg) map[string][]string {
	out := map[string][]string{}
	for _, rr := range m.Extra {
		switch a := rr.(type) {
		case *dns.A:
			n := strings.ToLower(a.Hdr.Name)
			out[n] = append(out[n], net.JoinHostPort(a.A.String(), "53"))
		case *dns.AAAA:
			n := strings.ToLower(a.Hdr.Name)
			out[n] = append(out[n], net.JoinHostPort(a.AAAA.String(), "53"))
		}
	}
	return out
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// usable keeps IPv4 addresses, and IPv6 ones when the check may use them
// (with IPv6Auto, those this machine has a route to).
func (r *resolver) usable(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		host, _, _ := net.SplitHostPort(a)
		if strings.Contains(host, ":") && (!r.ipv6 || (r.v6 != nil && !r.v6.reachable(a))) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// v6Policy decides, for verify.ipv6 auto, which IPv6 addresses to ask:
// those this machine has a route to. It remembers what it skipped, so
// that plans and gates say so instead of passing silently.
type v6Policy struct {
	auto    bool
	mu      sync.Mutex
	routes  map[string]bool
	skipped map[string]bool
}

// reachable reports whether addr may be asked. Connecting a UDP socket
// asks the kernel for a route and sends no packet.
func (p *v6Policy) reachable(addr string) bool {
	if !p.auto {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ok, known := p.routes[addr]
	if !known {
		c, err := net.Dial("udp", addr)
		ok = err == nil
		if c != nil {
			c.Close()
		}
		if p.routes == nil {
			p.routes, p.skipped = map[string]bool{}, map[string]bool{}
		}
		p.routes[addr] = ok
	}
	if !ok {
		p.skipped[addr] = true
	}
	return ok
}

func (p *v6Policy) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for a := range p.skipped {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// fill gives every server of a delegation addresses: its glue, else a
// lookup by iteration. depth bounds lookups that need lookups.
func (r *resolver) fill(ctx context.Context, servers []NameServer, depth int) []NameServer {
	out := make([]NameServer, len(servers))
	for i, s := range servers {
		s.Addrs = r.usable(s.Addrs)
		if len(s.Addrs) == 0 {
			s.Addrs = r.lookupAddrs(ctx, s.Name, depth+1)
		}
		out[i] = s
	}
	return out
}

// path returns the chain of zone cuts from the root down to the parent of
// zone, and the delegation of zone itself as the parent's first answering
// server gives it.
func (r *resolver) path(ctx context.Context, zone string) ([]Cut, error) {
	zone = strings.ToLower(dns.Fqdn(zone))
	cuts := []Cut{{Zone: ".", Servers: []NameServer{{Name: ".", Addrs: r.roots}}}}
	for range 32 {
		cur := cuts[len(cuts)-1]
		reply, err := r.askAny(ctx, cur.Addrs(), zone, dns.TypeNS)
		if err != nil {
			return cuts, fmt.Errorf("iterate to %s: servers of %s: %w", zone, cur.Zone, err)
		}
		m := reply.Msg
		owner, servers := referral(m, cur.Zone)
		switch {
		case owner != "":
			cuts = append(cuts, Cut{Zone: owner, Servers: r.fill(ctx, servers, 0)})
			if owner == zone {
				return cuts, nil
			}
			if len(cuts[len(cuts)-1].Addrs()) == 0 {
				return cuts, fmt.Errorf("iterate to %s: no address for any server of %s", zone, owner)
			}
		case m.Rcode == dns.RcodeNameError:
			return cuts, fmt.Errorf("iterate to %s: %s says it does not exist (NXDOMAIN)", zone, reply.Server)
		case m.Authoritative && cur.Zone != zone:
			if hasRRset(m.Answer, zone, dns.TypeNS) {
				return cuts, fmt.Errorf("iterate to %s: %s answers for it authoritatively as part of %s: the parent and the zone share a server, and the delegation cannot be seen", zone, reply.Server, cur.Zone)
			}
			return cuts, fmt.Errorf("iterate to %s: %s (for %s) answers without a delegation: %s is not a delegated zone", zone, reply.Server, cur.Zone, zone)
		default:
			return cuts, fmt.Errorf("iterate to %s: %s gave neither a referral nor an answer (%s, flags %s)", zone, reply.Server, RcodeName(m.Rcode), flags(m))
		}
	}
	return cuts, fmt.Errorf("iterate to %s: too many referrals", zone)
}

func hasRRset(rrs []dns.RR, owner string, t uint16) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t && strings.EqualFold(rr.Header().Name, owner) {
			return true
		}
	}
	return false
}

// lookupAddrs finds a name server's addresses by iteration from the root,
// following referrals and CNAMEs. It remembers what it found for the run.
func (r *resolver) lookupAddrs(ctx context.Context, name string, depth int) []string {
	name = strings.ToLower(dns.Fqdn(name))
	r.mu.Lock()
	if a, ok := r.addrs[name]; ok {
		r.mu.Unlock()
		return a
	}
	r.mu.Unlock()
	var out []string
	types := []uint16{dns.TypeA}
	if r.ipv6 {
		types = append(types, dns.TypeAAAA)
	}
	for _, t := range types {
		for _, rr := range r.lookup(ctx, name, t, depth) {
			switch a := rr.(type) {
			case *dns.A:
				out = append(out, net.JoinHostPort(a.A.String(), "53"))
			case *dns.AAAA:
				out = append(out, net.JoinHostPort(a.AAAA.String(), "53"))
			}
		}
	}
	r.mu.Lock()
	if r.addrs == nil {
		r.addrs = map[string][]string{}
	}
	r.addrs[name] = out
	r.mu.Unlock()
	return out
}

func (r *resolver) lookup(ctx context.Context, name string, qtype uint16, depth int) []dns.RR {
	if depth > 4 {
		return nil
	}
	_, reply, err := r.descend(ctx, name, qtype, depth)
	if err != nil {
		return nil
	}
	var found []dns.RR
	for _, rr := range reply.Msg.Answer {
		if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, name) {
			found = append(found, rr)
		}
	}
	if len(found) > 0 {
		return found
	}
	for _, rr := range reply.Msg.Answer {
		if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, name) {
			return r.lookup(ctx, c.Target, qtype, depth+1)
		}
	}
	return nil
}

// descend follows referrals from the root for name and qtype until a
// server answers instead of referring, and returns that server's zone cut
// and its reply. depth bounds the address lookups it needs on the way.
func (r *resolver) descend(ctx context.Context, name string, qtype uint16, depth int) (Cut, Reply, error) {
	// Start at the deepest zone cut already followed that encloses name:
	// the delegation is walked once per zone, not once per name.
	cur := Cut{Zone: ".", Servers: []NameServer{{Name: ".", Addrs: r.roots}}}
	r.mu.Lock()
	for z, c := range r.cuts {
		if dns.IsSubDomain(z, name) && dns.CountLabel(z) > dns.CountLabel(cur.Zone) {
			cur = c
		}
	}
	r.mu.Unlock()
	for range 32 {
		reply, err := r.askAny(ctx, cur.Addrs(), name, qtype)
		if err != nil {
			return cur, reply, err
		}
		owner, servers := referral(reply.Msg, cur.Zone)
		if owner == "" {
			return cur, reply, nil
		}
		next := Cut{Zone: owner, Servers: r.fill(ctx, servers, depth)}
		if len(next.Addrs()) == 0 {
			return cur, reply, fmt.Errorf("no address for any server of %s", owner)
		}
		r.mu.Lock()
		if r.cuts == nil {
			r.cuts = map[string]Cut{}
		}
		r.cuts[owner] = next
		r.mu.Unlock()
		cur = next
	}
	return cur, Reply{}, fmt.Errorf("too many referrals for %s", name)
}
