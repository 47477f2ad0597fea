package plan

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// planNameservers plans a move of the zone between DNS hosts: TTLs down
// and waited out, the DS down (signed), the delegation switched, the new
// DS up, TTLs back, each step with its gate and each wait with its
// formula; nothing to do when the delegation (and DS) is in place.
func planNameservers(p *Plan, spec *spec.Spec, o *Observed) error {
	if problems := markerProblems(o, spec.Zone, o.PriorPlan, o.TakeOver); len(problems) > 0 {
		return notSafe(problems)
	}
	signed, secure := keeps(spec, o)
	n := nsPlan{p: p, spec: spec, o: o, signed: signed, multi: secure, to: sorted(spec.To.Nameservers),
		gateTimeout: Duration(spec.Verify.GateTimeout), lowerTo: uint32(spec.TTL.LowerTo / time.Second)}
	// In place: nothing to do, unless a move taken over left its marker
	// and its lowered TTLs behind.
	n.dsInPlace = slices.Equal(o.NS, n.to) && ((n.signed && slices.Equal(o.DS, o.New.KSKDS)) || (!n.signed && len(o.DS) == 0))
	if n.dsInPlace && o.TakeOver == "" {
		p.Nothing = true
		return nil
	}
	n.ttls = servedTTLs(o, spec.Zone, n.lowerTo)
	if len(n.ttls.problems) > 0 {
		return notSafe(n.ttls.problems)
	}
	n.handover = canHandOver(o, spec.Zone)
	n.tc = ttlChanges(o, spec.Zone, n.to, n.lowerTo, n.handover, needsReclaim(o.New, spec.Zone, n.to))
	n.hostServers = append(slices.Clone(o.Old.Servers), o.New.Servers...)

	if reclaim := reclaimStep(spec, o, n.to, n.lowerTo, n.gateTimeout); reclaim != nil {
		p.add(*reclaim)
	}
	n.lower()
	switch {
	case n.multi:
		n.multiSigner()
	case n.signed:
		n.removeDS()
		n.switchNS()
		n.addDS()
	default:
		n.switchNS()
	}
	p.RetireOld = retireOld(o, spec, n.ttls, n.handover, spec.Margin)
	if spec.TTL.Restore {
		n.restore()
	}
	n.verify()
	if spec.Marker {
		addMarkerSteps(p, spec, n.gateTimeout)
	}
	p.setADGrace()
	if st := p.Step(p.RetireOld.After); st != nil {
		p.RetireOld.Earliest = st.Start + p.RetireOld.Delay
	}
	return nil
}

// nsPlan is a nameservers move being planned: what every step reads.
type nsPlan struct {
	p           *Plan
	spec        *spec.Spec
	o           *Observed
	signed      bool
	multi       bool // dnssec: multi-signer (multisigner.go)
	to          []string
	gateTimeout Duration
	lowerTo     uint32
	dsInPlace   bool
	handover    bool
	ttls        waitTTLs
	tc          ttlSet
	hostServers []string
}

func secs(v uint32) time.Duration { return time.Duration(v) * time.Second }

// wait is base with the margin; formula says how it was reached.
func (n *nsPlan) wait(base time.Duration) Duration { return Duration(n.spec.Margin.Add(base)) }

func (n *nsPlan) formula(base time.Duration, parts string) string {
	m := n.spec.Margin
	return fmt.Sprintf("%s = %s, + margin %s = %s", parts, base, m, m.Add(base))
}

// lower: lower-ttl at both hosts, then wait-ttl, the old host's longest
// TTL before lowering.
func (n *nsPlan) lower() {
	o, tc := n.o, n.tc
	summary := fmt.Sprintf("lower %d RRsets to %ds at %s and %s", tc.lowered, n.lowerTo, o.Old.Provider, o.New.Provider)
	if tc.already > 0 {
		summary += fmt.Sprintf(" (%d of them lowered already by plan %s, taken over)", tc.already, o.TakeOver)
	}
	lower := Step{ID: StepLowerTTL, Action: ActionSetTTL, Done: tc.lowered == tc.already, Summary: summary,
		Before: capLines(tc.before), After: capLines(tc.after), TTLs: tc.lower,
		Gate:     &Gate{Check: GateTTLServed, Servers: n.hostServers, Timeout: n.gateTimeout},
		Rollback: "set the TTLs back (the before values)"}
	if tc.oldMax == 0 {
		n.p.add(lower)
		n.p.add(Step{ID: StepWaitTTL, Action: ActionWait, Summary: "nothing was lowered: no wait", Formula: "no TTL above lower_to"})
		return
	}
	wait := Step{ID: StepWaitTTL, Action: ActionWait, Summary: "let caches drop the old, longer TTLs",
		Wait: n.wait(secs(tc.oldMax)), Formula: n.formula(secs(tc.oldMax), fmt.Sprintf("largest TTL at %s before lowering (%s) %ds", o.Old.Provider, ttlSources(o), tc.oldMax))}
	// The caches to wait out are the old host's: the wait runs from when
	// its servers serve the lowered TTLs, while lower-ttl goes on at the
	// new host, which no resolver asks before switch-ns. Not in a
	// rollback: benchmark rollbacks of 100,000 RRsets (each right after
	// its move) met Knot Resolver SERVFAILs in 5 of 8 runs with this and
	// apply's hosts at once, in 10 of 32 without both (README, "Knot
	// Resolver after an insecure window"). Within chance at these counts,
	// and the cause is that resolver's cache, but the slower rollback
	// costs only time (32 to 37 s at 100,000 RRsets, none at a small zone).
	if len(tc.lower) > 1 && tc.lower[0].Provider == o.Old.Provider && !n.newAsked() && !o.Rollback {
		wait.Anchor = &Anchor{Step: StepLowerTTL, Provider: o.Old.Provider}
		wait.Summary += fmt.Sprintf(" (while lower-ttl goes on at %s)", o.New.Provider)
		// The RRsets with the longest TTL go first, alone: the wait runs
		// from their proof, and the others' (often nearly all of a
		// zone, at a much shorter TTL) need only their own TTL waited
		// out from theirs, under the longer wait. Only where the others
		// are many (below splitFrom they land in a request or two within
		// a second at every host measured, and a split would cost a
		// request for nothing), and not when nothing is sent (a move
		// taken over with every TTL lowered already).
		if longest, rest, restMax := splitLongest(o.Old, tc.lower[0], tc.oldMax); !lower.Done && len(longest.RRsets) > 0 && len(rest.RRsets) >= splitFrom {
			lower.TTLs = append([]TTLChange{longest, rest}, tc.lower[1:]...)
			wait.AlsoFrom = []Anchor{{Step: StepLowerTTL, Provider: ChangeLabels(lower.TTLs)[1], Wait: n.wait(secs(restMax)),
				Formula: n.formula(secs(restMax), fmt.Sprintf("largest TTL of %s's other RRsets %ds", o.Old.Provider, restMax))}}
		}
	}
	n.p.add(lower)
	n.p.add(wait)
}

// splitFrom is how many RRsets besides those with the longest TTL make
// lower-ttl send those first, on their own: more than one request holds at
// any host (an RFC 2136 message about 850 TTL changes, a Route 53 change
// batch 1,000).
const splitFrom = 1000

// splitLongest parts a host's TTL change into the RRsets whose TTL before
// it is longest (as the host had them: longest) and the others, and
// says the others' longest TTL.
func splitLongest(h HostState, c TTLChange, longestTTL uint32) (longest, rest TTLChange, restMax uint32) {
	longest, rest = TTLChange{Provider: c.Provider}, TTLChange{Provider: c.Provider}
	for i, s := range c.RRsets {
		part := &longest
		if ttl := h.ttlOf(s); ttl < longestTTL {
			part, restMax = &rest, max(restMax, ttl)
		}
		part.RRsets, part.TTLs = append(part.RRsets, s), append(part.TTLs, c.TTLs[i])
	}
	return longest, rest, restMax
}

// newAsked reports whether resolvers may ask the new host already: the
// delegation or the old host's apex NS names one of its servers.
func (n *nsPlan) newAsked() bool {
	for _, name := range n.to {
		if slices.Contains(n.o.NS, name) || slices.Contains(n.o.Old.ApexNS, name) {
			return true
		}
	}
	return false
}

// removeDS: remove-ds, then wait-ds-gone, the DS TTL and the old DNSKEY's.
func (n *nsPlan) removeDS() {
	o, ttls := n.o, n.ttls
	n.p.add(Step{ID: StepRemoveDS, Action: ActionSetDS, Done: len(o.DS) == 0 || n.dsInPlace,
		Summary: "remove the DS at the registrar: the zone becomes insecure for the move",
		Before:  o.DS, After: nil, DS: nil,
		Gate:     &Gate{Check: GateDSGone, Servers: o.ParentServers, Timeout: n.gateTimeout},
		Rollback: "publish the old DS again: " + strings.Join(o.DS, "; ")})
	base := secs(ttls.ds) + secs(o.Old.DNSKEYTTL)
	n.p.add(Step{ID: StepWaitDSGone, Action: ActionWait, Summary: "let validators forget the DS and the old DNSKEY it vouched for",
		Wait: n.wait(base), Formula: n.formula(base, fmt.Sprintf("%s + old DNSKEY TTL as served at %s %ds", ttls.dsWords, o.Old.Provider, o.Old.DNSKEYTTL))})
}

// switchNS: switch-ns (with glue), handover-ns where the old host's API
// lists its apex NS, then wait-ns.
func (n *nsPlan) switchNS() {
	o, ttls, to, zone := n.o, n.ttls, n.to, n.spec.Zone
	glue := map[string][]string{}
	for _, name := range to {
		if addrs := o.New.Glue[name]; len(addrs) > 0 && strings.HasSuffix(name, "."+zone) {
			glue[name] = addrs
		}
	}
	n.p.add(Step{ID: StepSwitchNS, Action: ActionSetNS, Done: slices.Equal(o.NS, to),
		Summary: fmt.Sprintf("delegate %s to %s at the registrar", zone, o.New.Provider),
		Before:  o.NS, After: to, NS: to, Glue: glue,
		Gate:     &Gate{Check: GateNSServed, Servers: o.ParentServers, Expect: to, Timeout: n.gateTimeout},
		Rollback: "delegate to the old name servers again: " + strings.Join(o.NS, " ")})
	if n.handover {
		from := o.Old.ApexNS
		n.p.add(Step{ID: StepHandoverNS, Action: ActionSetRecords, Provider: o.Old.Provider, Done: slices.Equal(from, to),
			Summary: fmt.Sprintf("make %s's apex NS name %s's servers, so resolvers that refresh the delegation from the child follow", o.Old.Provider, o.New.Provider),
			Before:  from, After: to,
			Records:  []providers.Replacement{{Name: zone, Type: "NS", TTL: ttls.oldNS, From: from, To: to}},
			Gate:     &Gate{Check: GateRecordsServed, Servers: o.Old.Servers, Timeout: n.gateTimeout},
			Rollback: fmt.Sprintf("%s's apex NS back to %s (migrate rollback does it)", o.Old.Provider, strings.Join(from, " "))})
	}
	if n.multi {
		return // its wait-ns is the multi-signer plan's
	}
	base := secs(max(o.NSTTL, ttls.oldNS))
	words := fmt.Sprintf("max(parent NS TTL %ds, %s apex NS TTL as served after lowering %ds%s)", o.NSTTL, o.Old.Provider, ttls.oldNS, ttls.oldNSNote)
	if n.signed {
		base += secs(o.Old.DNSKEYTTL)
		words += fmt.Sprintf(" + old DNSKEY TTL as served at %s %ds", o.Old.Provider, o.Old.DNSKEYTTL)
	}
	n.p.add(Step{ID: StepWaitNS, Action: ActionWait, Summary: fmt.Sprintf("let resolvers move to %s and forget %s's keys (%s keeps serving)", o.New.Provider, o.Old.Provider, o.Old.Provider),
		Wait: n.wait(base), Formula: n.formula(base, words)})
}

// addDS: add-ds, the new KSK's DS, then wait-ds.
func (n *nsPlan) addDS() {
	o, ttls := n.o, n.ttls
	n.p.add(Step{ID: StepAddDS, Action: ActionSetDS, Done: slices.Equal(o.DS, o.New.KSKDS),
		Summary: fmt.Sprintf("publish the DS of %s's KSK at the registrar", o.New.Provider),
		Before:  nil, After: o.New.KSKDS, DS: o.New.KSKDS, Keys: o.New.KSK,
		Gate:     &Gate{Check: GateDSServed, Servers: o.ParentServers, Expect: o.New.KSKDS, Timeout: n.gateTimeout},
		Rollback: "remove the DS again"})
	// A resolver that fetched the zone's NS and DNSKEY while no DS was
	// served keeps the zone insecure until they expire (Knot Resolver
	// was seen to), so the TTLs go back up only after that.
	base := secs(max(ttls.ds, o.NegTTL)) + secs(ttls.newNS) + secs(o.New.DNSKEYTTL)
	n.p.add(Step{ID: StepWaitDS, Action: ActionWait, Summary: "let resolvers drop the cached absence of a DS and what they cached as insecure",
		Wait: n.wait(base), Formula: n.formula(base, fmt.Sprintf("max(%s, negative-caching TTL of %s %ds) + %s apex NS TTL as served after lowering %ds + its DNSKEY TTL as served %ds", ttls.dsWords, o.Parent, o.NegTTL, o.New.Provider, ttls.newNS, o.New.DNSKEYTTL))})
}

// restore: restore-ttl at both hosts.
func (n *nsPlan) restore() {
	var b, a []string
	for _, c := range n.tc.restore {
		for i, s := range c.RRsets {
			b = append(b, ttlLine(c.Provider, s, s.TTL))
			a = append(a, ttlLine(c.Provider, s, c.TTLs[i]))
		}
	}
	n.p.add(Step{ID: StepRestoreTTL, Action: ActionSetTTL, Done: len(n.tc.restore) == 0,
		Summary: fmt.Sprintf("restore %d RRsets to their TTLs at %s and %s", len(b), n.o.Old.Provider, n.o.New.Provider),
		Before:  capLines(b), After: capLines(a), TTLs: n.tc.restore,
		Gate:     &Gate{Check: GateTTLServed, Servers: n.hostServers, Timeout: n.gateTimeout},
		Rollback: "none needed"})
	n.p.restoreOldEarly()
}

// restoreOldEarly sends restore-ttl's changes at the old host from
// add-ds's proof, under wait-ds, where wait-ns came before: once wait-ns
// is over no resolver asks the old host (retire-old), so its TTLs can go
// back while validators wait out the absent DS. The new host's stay low
// until wait-ds is over: a resolver that still holds the zone as insecure
// would keep what it fetched for the whole restored TTL.
func (p *Plan) restoreOldEarly() {
	st := p.Step(StepRestoreTTL)
	if st == nil || st.Action != ActionSetTTL {
		return
	}
	ids := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		ids[i] = s.ID
	}
	r := slices.Index(ids, StepRestoreTTL)
	early := r >= 2 && ids[r-1] == StepWaitDS && ids[r-2] == StepAddDS && slices.Contains(ids[:r-2], StepWaitNS)
	suffix := fmt.Sprintf(" (%s's from add-ds's proof, while wait-ds runs: no resolver asks it after wait-ns)", p.Observed.Old.Provider)
	st.Summary = strings.TrimSuffix(st.Summary, suffix)
	sent := false
	for i := range st.TTLs {
		c := &st.TTLs[i]
		c.SendFrom = ""
		if early && c.Provider == p.Observed.Old.Provider {
			c.SendFrom, sent = StepAddDS, true
		}
	}
	if sent {
		st.Summary += suffix
	}
}

// verify: final-verify at every resolver.
func (n *nsPlan) verify() {
	status := "secure"
	if !n.signed {
		status = "insecure"
	}
	n.p.add(Step{ID: StepFinalVerify, Action: ActionVerify,
		Summary: fmt.Sprintf("prove %s is %s, delegated to %s, and answered by every resolver", n.spec.Zone, status, n.o.New.Provider),
		Gate:    &Gate{Check: GateVerified, Servers: n.spec.Verify.Resolvers, Expect: n.to, Status: status, Timeout: n.gateTimeout}})
}

func observeHost(ctx context.Context, env Env, spec *spec.Spec, side spec.Side, h *HostState) error {
	host, ok := env.Hosts[side.Provider]
	if !ok {
		return fmt.Errorf("observe: provider %q has no host", side.Provider)
	}
	h.Provider, h.Nameservers = side.Provider, side.Nameservers
	sets, err := providers.ReadRRsets(ctx, side.Provider, host, spec.Zone)
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	h.RRsets = sets
	takeMarker(h, spec.Zone)
	if r, ok := host.(providers.Router); ok {
		if h.Routed, err = r.Routed(ctx, spec.Zone); err != nil {
			return fmt.Errorf("observe: provider %s: %w", side.Provider, err)
		}
		for _, rn := range h.Routed {
			h.MaxTTL = max(h.MaxTTL, rn.TTL)
		}
	}
	if px, ok := host.(providers.Proxier); ok {
		names, err := px.Proxied(ctx, spec.Zone)
		if err != nil {
			return fmt.Errorf("observe: provider %s: %w", side.Provider, err)
		}
		h.Proxied = slices.Sorted(maps.Keys(names))
	}
	h.Glue = map[string][]string{}
	for _, set := range h.RRsets {
		if set.Type != "SOA" {
			h.MaxTTL = max(h.MaxTTL, set.TTL)
		}
		if set.Type == "NS" && set.Name == spec.Zone {
			h.ApexNSTTL = set.TTL
		}
		if (set.Type == "A" || set.Type == "AAAA") && slices.Contains(side.Nameservers, set.Name) {
			h.Glue[set.Name] = append(h.Glue[set.Name], set.Data...)
		}
	}
	var servers []checks.NameServer
	for _, n := range side.Nameservers {
		servers = append(servers, checks.NameServer{Name: n})
	}
	answers := env.Checker.AskServers(ctx, servers, spec.Zone)
	var keySets []string
	for _, a := range answers {
		if a.Server != "" {
			h.Servers = append(h.Servers, a.Server)
		}
		if a.Answered {
			h.Serials = append(h.Serials, a.Serial)
			h.DNSKEYTTL = max(h.DNSKEYTTL, a.DNSKEYTTL)
			h.ServedNSTTL = max(h.ServedNSTTL, a.NSTTL)
			if h.ApexNS == nil && a.Authoritative {
				h.ApexNS = a.NS
			}
			keySets = append(keySets, fmt.Sprint(a.DNSKEY))
		}
	}
	// The KSKs every server serves.
	if len(keySets) > 0 && len(slices.Compact(slices.Sorted(slices.Values(keySets)))) == 1 {
		for _, a := range answers {
			if !a.Answered {
				continue
			}
			ksks := KSKs(a.Keys)
			sort.Slice(ksks, func(i, j int) bool { return ksks[i].DS < ksks[j].DS })
			for _, k := range ksks {
				h.KSKDS = append(h.KSKDS, k.DS)
				h.KSK = append(h.KSK, checks.RRData(k.Key))
			}
			// Its own ZSKs: those that sign its answers (not another
			// signer's, imported by a multi-signer move).
			for _, k := range a.SigningKeys() {
				if k.Flags&dns.SEP == 0 {
					h.ZSK = append(h.ZSK, checks.RRData(k))
				}
			}
			slices.Sort(h.ZSK)
			for _, k := range a.Keys {
				h.DNSKEYs = append(h.DNSKEYs, checks.RRData(k))
			}
			slices.Sort(h.DNSKEYs)
			break
		}
	}
	h.hostAnswers = answers
	return nil
}

// preflight lists what makes the migration unsafe to start.
func preflight(ctx context.Context, env Env, spec *spec.Spec, o *Observed) []string {
	var out []string
	for _, f := range o.Findings {
		if f.Severity == checks.Critical {
			out = append(out, fmt.Sprintf("the zone is broken now (%s: %s); a migration would not make it better", f.ID, f.Summary))
		}
	}
	from, to := sorted(spec.From.Nameservers), sorted(spec.To.Nameservers)
	if !slices.Equal(o.NS, from) && !slices.Equal(o.NS, to) {
		out = append(out, fmt.Sprintf("the parent delegates to %v, which is neither from.nameservers %v nor to.nameservers %v", o.NS, from, to))
	}
	// The new servers: authoritative, with the new NS set at the apex.
	for _, a := range o.New.hostAnswers {
		switch {
		case !a.Answered:
			out = append(out, fmt.Sprintf("new server %s (%s) does not answer for %s: %s", a.Name, a.Server, spec.Zone, a.Error))
		case !a.Authoritative:
			out = append(out, fmt.Sprintf("new server %s (%s) is not authoritative for %s", a.Name, a.Server, spec.Zone))
		case !slices.Equal(a.NS, to) && !slices.Equal(a.NS, from):
			// from.nameservers: a handed-over host, which reclaim-ns mends.
			out = append(out, fmt.Sprintf("new server %s (%s) serves apex NS %v, want to.nameservers %v", a.Name, a.Server, a.NS, to))
		}
	}
	if len(o.New.Servers) == 0 {
		out = append(out, "no address found for any of to.nameservers")
	}
	signed, secure := keeps(spec, o)
	switch {
	case signed:
		if secure {
			out = append(out, multiSignerProblems(ctx, env, spec.Zone, o)...)
		} else if len(o.New.KSKDS) == 0 {
			out = append(out, "dnssec is insecure-window but the new servers do not all serve one DNSKEY set with a KSK")
		}
		if len(o.DS) > 0 && slices.Equal(o.NS, from) && !anyMatch(o.DS, o.Old.KSKDS) {
			out = append(out, fmt.Sprintf("the DS at the parent %v matches no KSK of the old provider %v", o.DS, o.Old.KSKDS))
		}
		if c := env.Registrar.Capabilities(); !c.DS {
			out = append(out, fmt.Sprintf("dnssec is %s but the registrar cannot change DS records", method(spec, o)))
		}
	default: // unsigned
		if len(o.DS) > 0 {
			out = append(out, fmt.Sprintf("dnssec is unsigned but the parent publishes DS %v; use insecure-window", o.DS))
		}
	}
	out = append(out, parity(ctx, env, spec, o)...)
	out = append(out, accessProblems(ctx, env, spec)...)
	return out
}
