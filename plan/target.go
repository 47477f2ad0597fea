package plan

import (
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
)

// Target is what a whole plan acts on, beside its steps: the zone, its
// parent's servers, each host's servers, the resolvers that verify, the
// gates' timeout. Apply reads the steps, this and Watched, never the spec
// or the observation: Plan.Target derives it from both, so it is as sealed
// as they are, adds nothing to the plan file and leaves its id as it was.
type Target struct {
	Zone string
	// Cutover says the plan cuts records over at one host rather than
	// moving the zone's name servers.
	Cutover bool
	// From and To are the providers a move of name servers leaves and
	// reaches (empty for a records cutover); Nameservers are To's names.
	From, To    string
	Nameservers []string
	// Provider is the host of a records cutover, and Changes the number
	// of names it changes.
	Provider string
	Changes  int
	// Parent is the parent zone and ParentServers its servers' addresses.
	Parent        string
	ParentServers []string
	// Old and New are each host's provider and server addresses.
	Old, New Host
	// Skipped are server addresses not asked (no route from here).
	Skipped []string
	// Resolvers verify the move; GateTimeout bounds a gate without one.
	Resolvers   []string
	GateTimeout time.Duration
	// DSTTL and NSTTL are the TTLs a registrar step asks for: the
	// parent's DS TTL (its NS TTL while it serves no DS) and NS TTL.
	DSTTL, NSTTL time.Duration
	// TakeOver is the plan whose move this one takes over, if any.
	TakeOver string
}

// Host is one DNS host as a plan's gates ask it.
type Host struct {
	Provider string
	Servers  []string
	// RRsets is how many RRsets the host had when planned: what one zone
	// transfer of it reads.
	RRsets int
}

// ServersOf returns the server addresses of provider's host.
func (t Target) ServersOf(provider string) []string {
	if provider == t.New.Provider {
		return t.New.Servers
	}
	return t.Old.Servers
}

// RRsetsOf returns how many RRsets provider's host had when planned.
func (t Target) RRsetsOf(provider string) int {
	if provider == t.New.Provider {
		return t.New.RRsets
	}
	return t.Old.RRsets
}

// HostOf is the host a step changes: the one it names or, for a step of
// a records plan made before steps named their host, the records host.
func (t Target) HostOf(st *Step) string {
	if st.Provider == "" {
		return t.Provider
	}
	return st.Provider
}

// ParentCut is the parent's delegation as the checker asks it.
func (t Target) ParentCut() checks.Cut {
	var servers []checks.NameServer
	for _, ps := range t.ParentServers {
		servers = append(servers, checks.NameServer{Name: ps, Addrs: []string{ps}})
	}
	return checks.Cut{Zone: t.Parent, Servers: servers}
}

// Target returns what the plan acts on (see Target).
func (p *Plan) Target() Target {
	s, o := p.Spec, p.Observed
	t := Target{Zone: s.Zone, Cutover: s.Cutover(), From: s.From.Provider, To: s.To.Provider, Nameservers: s.To.Nameservers,
		Provider: s.Provider, Changes: len(s.Changes), Resolvers: s.Verify.Resolvers, GateTimeout: s.Verify.GateTimeout}
	if o == nil {
		return t
	}
	t.Parent, t.ParentServers, t.Skipped, t.TakeOver = o.Parent, o.ParentServers, o.Skipped, o.TakeOver
	t.DSTTL, t.NSTTL = time.Duration(o.DSTTL)*time.Second, time.Duration(o.NSTTL)*time.Second
	if o.DSTTL == 0 {
		t.DSTTL = t.NSTTL
	}
	t.Old = Host{Provider: o.Old.Provider, Servers: o.Old.Servers, RRsets: len(o.Old.RRsets)}
	t.New = Host{Provider: o.New.Provider, Servers: o.New.Servers, RRsets: len(o.New.RRsets)}
	return t
}

// Watched are the names a watchdog asks, as {name, TYPE}: the apex SOA,
// and the apex A, MX and TXT and a www A where the zone has them. Apart
// from Target, which gates ask on every poll: this reads every RRset.
func (p *Plan) Watched() [][2]string {
	zone := p.Spec.Zone
	out := [][2]string{{zone, "SOA"}}
	if p.Observed == nil {
		return out
	}
	for _, want := range [][2]string{{zone, "A"}, {"www." + zone, "A"}, {zone, "MX"}, {zone, "TXT"}} {
		for _, rr := range p.Observed.Old.RRsets {
			if rr.Name == want[0] && rr.Type == want[1] {
				out = append(out, want)
				break
			}
		}
	}
	return out
}
