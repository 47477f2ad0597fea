package checks

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// expiringWithin is when a signature close to expiry becomes a warning.
const expiringWithin = 72 * time.Hour

// analysis turns what the servers said into findings for one report.
type analysis struct {
	rep  *Report
	now  time.Time
	zone string

	resolverReplies []resolverReplies
	// signers are the groups of servers serving the same KSKs, and multi
	// says they serve the zone together (multisigner.go).
	signers []signer
	multi   bool
	// expired collects RRsets seen with only expired signatures.
	expired []Evidence
}

func (a *analysis) add(f Finding) { a.rep.Findings = append(a.rep.Findings, f) }

// validateAncestors validates the chain from the trust anchor down to the
// parent zone (the last cut), returning the parent's validated keys and
// whether the parent is secure, insecure or bogus.
func (a *analysis) validateAncestors(ctx context.Context, res *resolver, cuts []Cut, anchors Anchors) ([]*dns.DNSKEY, Status) {
	first := -1
	for i, c := range cuts {
		if c.Zone == strings.ToLower(anchors.Zone) {
			first = i
		}
	}
	if first < 0 {
		a.add(Finding{ID: ChainBroken, Severity: Critical,
			Summary: fmt.Sprintf("the trust anchor (%s, for %s) is not on the path %s", anchors.Source, anchors.Zone, strings.Join(zonesOf(cuts), " -> ")),
			Fix:     "Give a trust anchor for the root the check iterates from (--trust-anchor)."})
		return nil, Bogus
	}
	// Every key set and DS the chain needs is asked at once; the chain is
	// then followed in order from what they answer.
	for i := first; i < len(cuts); i++ {
		res.askAhead(ctx, cuts[i].Addrs(), cuts[i].Zone, dns.TypeDNSKEY)
		if i > first {
			res.askAhead(ctx, cuts[i-1].Addrs(), cuts[i].Zone, dns.TypeDS)
		}
	}
	keys, ev, problem := a.zoneKeys(ctx, res, cuts[first], func(ks []*dns.DNSKEY) []*dns.DNSKEY { return anchors.trusted(ks) })
	if problem != "" {
		a.add(Finding{ID: ChainBroken, Severity: Critical,
			Summary:  fmt.Sprintf("%s does not validate against the trust anchor (%s): %s", cuts[first].Zone, anchors.Source, problem),
			Fix:      "Check that the trust anchor is the current one for this root.",
			Evidence: ev})
		return nil, Bogus
	}
	for i := first + 1; i < len(cuts); i++ {
		cut, above := cuts[i], cuts[i-1]
		reply, err := res.askAny(ctx, above.Addrs(), cut.Zone, dns.TypeDS)
		if err != nil {
			a.add(Finding{ID: ChainBroken, Severity: Critical, Summary: fmt.Sprintf("no server of %s answered for the DS of %s", above.Zone, cut.Zone),
				Fix: "The parent zone's servers must answer; check them first.", Evidence: []Evidence{EvidenceOf(reply, dns.TypeDS)}})
			return nil, Indeterminate
		}
		ds := rrset(reply.Msg.Answer, cut.Zone, dns.TypeDS)
		if len(ds) == 0 {
			if why := denialOfDS(reply.Msg, cut.Zone, keys, a.now); why != "" {
				a.add(Finding{ID: ChainBroken, Severity: Critical, Summary: fmt.Sprintf("%s has no DS at %s and the absence is not proven: %s", cut.Zone, above.Zone, why),
					Fix: "The parent zone's denial of existence must validate.", Evidence: []Evidence{EvidenceOf(reply, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeSOA)}})
				return nil, Bogus
			}
			return nil, Insecure
		}
		if c := verify(ds, ofType[*dns.RRSIG](reply.Msg.Answer), keys, a.now); !c.OK {
			a.add(Finding{ID: ChainBroken, Severity: Critical, Summary: fmt.Sprintf("the DS of %s at %s does not validate: %s", cut.Zone, above.Zone, c.Problem),
				Fix: "The ancestor zone is broken; its operator must fix it.", Evidence: []Evidence{EvidenceOf(reply, dns.TypeDS, dns.TypeRRSIG)}})
			return nil, Bogus
		}
		dss := ofType[*dns.DS](ds)
		keys, ev, problem = a.zoneKeys(ctx, res, cut, func(ks []*dns.DNSKEY) []*dns.DNSKEY { return matchDS(dss, ks) })
		if problem != "" {
			a.add(Finding{ID: ChainBroken, Severity: Critical, Summary: fmt.Sprintf("%s does not validate: %s", cut.Zone, problem),
				Fix: "The ancestor zone is broken; its operator must fix it.", Evidence: ev})
			return nil, Bogus
		}
	}
	return keys, Secure
}

func zonesOf(cuts []Cut) []string {
	var out []string
	for _, c := range cuts {
		out = append(out, c.Zone)
	}
	return out
}

// zoneKeys fetches a zone's DNSKEY RRset, finds the keys entry vouches for
// and checks that one of them signs the set. It returns the whole set.
func (a *analysis) zoneKeys(ctx context.Context, res *resolver, cut Cut, entry func([]*dns.DNSKEY) []*dns.DNSKEY) ([]*dns.DNSKEY, []Evidence, string) {
	reply, err := res.askAny(ctx, cut.Addrs(), cut.Zone, dns.TypeDNSKEY)
	ev := []Evidence{EvidenceOf(reply, dns.TypeDNSKEY)}
	if err != nil {
		return nil, ev, err.Error()
	}
	set := rrset(reply.Msg.Answer, cut.Zone, dns.TypeDNSKEY)
	keys := ofType[*dns.DNSKEY](set)
	if len(keys) == 0 {
		return nil, ev, "no DNSKEY served"
	}
	trusted := entry(keys)
	if len(trusted) == 0 {
		return nil, ev, "no DNSKEY matches"
	}
	if c := verify(set, ofType[*dns.RRSIG](reply.Msg.Answer), trusted, a.now); !c.OK {
		return nil, ev, c.Problem
	}
	return keys, ev, ""
}

func (a *analysis) parentFindings() {
	var answered []ParentServer
	for _, p := range a.rep.ParentServers {
		if p.Answered {
			answered = append(answered, p)
			continue
		}
		ev := EvidenceOf(p.nsReply, dns.TypeNS)
		if p.nsReply.OK() {
			ev = EvidenceOf(p.dsReply, dns.TypeDS)
		}
		ev.AddNote(p.Error)
		a.add(Finding{ID: ParentUnreachable, Severity: Warning,
			Summary:  fmt.Sprintf("parent server %s (%s) gave no usable answer about %s: %s", p.Name, p.Server, a.zone, p.Error),
			Fix:      "Resolvers retry another parent server; if it persists, tell the registry.",
			Evidence: []Evidence{ev}})
	}
	if len(answered) == 0 {
		return
	}
	// Do all parent servers serve the same delegation?
	type view struct{ ns, glue, ds string }
	views := map[view][]ParentServer{}
	for _, p := range answered {
		v := view{strings.Join(p.NS, " "), glueString(p.Glue), strings.Join(p.DS, " | ")}
		views[v] = append(views[v], p)
	}
	if len(views) > 1 {
		var ev []Evidence
		for _, p := range answered {
			ev = append(ev, EvidenceOf(p.nsReply, dns.TypeNS, dns.TypeA, dns.TypeAAAA), EvidenceOf(p.dsReply, dns.TypeDS))
		}
		a.add(Finding{ID: ParentServersDisagree, Severity: Warning,
			Summary:  fmt.Sprintf("the %d servers of %s serve %d different delegations (NS, glue or DS) for %s", len(answered), a.rep.Parent, len(views), a.zone),
			Fix:      "A change at the parent is still propagating, or a parent server is stale; wait the parent's SOA refresh and check again, then tell the registry if it stays.",
			Evidence: ev})
	}
	// Glue for name servers inside the zone.
	for _, ns := range answered[0].NS {
		if !dns.IsSubDomain(a.zone, ns) {
			continue
		}
		var missing []Evidence
		for _, p := range answered {
			if len(p.Glue[ns]) == 0 {
				missing = append(missing, EvidenceOf(p.nsReply, dns.TypeNS, dns.TypeA, dns.TypeAAAA))
			}
		}
		if len(missing) == 0 {
			continue
		}
		sev := Warning
		if len(missing) == len(answered) {
			sev = Critical
		}
		a.add(Finding{ID: MissingGlue, Severity: sev,
			Summary:  fmt.Sprintf("%s is inside %s but %d of %d parent servers give no address (glue) for it", ns, a.zone, len(missing), len(answered)),
			Fix:      fmt.Sprintf("Register the address of %s at the registrar (a host object with A/AAAA), so the parent can serve glue.", ns),
			Evidence: missing})
	}
}

// glueFindings compares the glue each parent server gives for an in-zone
// name server with the address records the zone itself serves for that
// name: a registrar's stale host object sends resolvers to an address the
// zone no longer uses, which shows only as a lame server otherwise.
func (a *analysis) glueFindings(ctx context.Context, c *Client) {
	var child *ChildServer
	for i, cs := range a.rep.ChildServers {
		if cs.Answered && cs.Authoritative {
			child = &a.rep.ChildServers[i]
			break
		}
	}
	if child == nil {
		return
	}
	glue := map[string]map[string]ParentServer{} // name -> glue text -> a server giving it
	for _, p := range a.rep.ParentServers {
		for name, addrs := range p.Glue {
			if !dns.IsSubDomain(a.zone, name) {
				continue
			}
			if glue[name] == nil {
				glue[name] = map[string]ParentServer{}
			}
			glue[name][strings.Join(hostsOf(addrs), " ")] = p
		}
	}
	names := slices.Sorted(maps.Keys(glue))
	var qs []Question
	for _, n := range names {
		qs = append(qs, Question{Server: child.Server, Name: n, Type: dns.TypeA}, Question{Server: child.Server, Name: n, Type: dns.TypeAAAA})
	}
	replies := askAll(ctx, c, qs)
	for i, n := range names {
		v4, v6 := replies[2*i], replies[2*i+1]
		if !v4.OK() || !v6.OK() || !v4.Msg.Authoritative {
			continue
		}
		var own []string
		for _, r := range []Reply{v4, v6} {
			for _, rr := range rrset(r.Msg.Answer, n, r.Type) {
				own = append(own, rrData(rr))
			}
		}
		sort.Strings(own)
		ownText := strings.Join(own, " ")
		for text, p := range glue[n] {
			if text == ownText || len(own) == 0 {
				continue
			}
			ev := EvidenceOf(p.nsReply, dns.TypeNS, dns.TypeA, dns.TypeAAAA)
			ev.AddNote("glue for " + n + ": " + text)
			zev := EvidenceOf(v4, dns.TypeA)
			zev.AddNote("the zone's own addresses for " + n + ": " + ownText)
			a.add(Finding{ID: GlueMismatch, Severity: Warning,
				Summary:  fmt.Sprintf("the parent's glue for %s (%s) differs from the address the zone serves for it (%s)", n, text, ownText),
				Fix:      fmt.Sprintf("Update the host object of %s at the registrar to %s (or the zone's record, whichever is wrong).", n, ownText),
				Evidence: []Evidence{ev, zev, EvidenceOf(v6, dns.TypeAAAA)}})
		}
	}
}

// hostsOf strips the port from host:port addresses and sorts them.
func hostsOf(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if h, _, err := net.SplitHostPort(a); err == nil {
			a = h
		}
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func glueString(g map[string][]string) string {
	var parts []string
	for n, a := range g {
		parts = append(parts, n+"="+strings.Join(a, ","))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func (a *analysis) childFindings() {
	var ok []ChildServer
	var lame []Evidence
	for _, c := range a.rep.ChildServers {
		switch {
		case !c.Answered:
			ev := EvidenceOf(c.soa, dns.TypeSOA)
			if c.Server == "" {
				ev = Evidence{Server: c.Name, Question: a.zone + " SOA", Error: c.Error}
			}
			lame = append(lame, ev)
		case !c.Authoritative:
			ev := EvidenceOf(c.soa, dns.TypeSOA)
			ev.AddNote("not authoritative (no AA flag)")
			lame = append(lame, ev)
		default:
			ok = append(ok, c)
		}
	}
	if len(lame) > 0 {
		sev := Warning
		if len(ok) == 0 {
			sev = Critical
		}
		a.add(Finding{ID: LameDelegation, Severity: sev,
			Summary:  fmt.Sprintf("%d of %d delegated server addresses do not answer authoritatively for %s", len(lame), len(a.rep.ChildServers), a.zone),
			Fix:      "Make each listed server serve the zone (check it runs, its zone loaded and its firewall), or remove it from the NS set at the registrar and in the zone.",
			Evidence: lame})
	}
	if len(ok) == 0 {
		return
	}
	a.signers = signersOf(a.zone, ok)
	a.multi = multiSigner(a.signers)
	if a.multi {
		a.multiSignerFindings(a.signers)
	}
	// Serials and DNSKEY sets must agree across the servers; when several
	// signers serve the zone, across each signer's servers (each signer
	// has its own serials and its own DNSKEY set).
	groups := [][]ChildServer{ok}
	if a.multi {
		groups = nil
		for _, s := range a.signers {
			groups = append(groups, s.servers)
		}
	}
	for _, d := range []struct {
		id, summary, fix string
		key              func(ChildServer) string
		reply            func(ChildServer) Reply
		rrtype           uint16
	}{
		{SerialDrift, "the servers of %s serve different SOA serials",
			"Check zone transfers from the primary to the servers behind (NOTIFY, IXFR/AXFR, TSIG, firewall); they should catch up within the SOA refresh.",
			func(c ChildServer) string { return fmt.Sprint(c.Serial) }, func(c ChildServer) Reply { return c.soa }, dns.TypeSOA},
		{DNSKEYInconsistent, "the servers of %s serve different DNSKEY sets",
			"Every server must serve one DNSKEY set: check transfers; with several signers, each must publish the others' keys.",
			func(c ChildServer) string { return fmt.Sprint(c.DNSKEY) }, func(c ChildServer) Reply { return c.dnskey }, dns.TypeDNSKEY},
	} {
		for _, g := range groups {
			seen := map[string]bool{}
			var ev []Evidence
			for _, c := range g {
				seen[d.key(c)] = true
				ev = append(ev, EvidenceOf(d.reply(c), d.rrtype))
			}
			if len(seen) > 1 {
				a.add(Finding{ID: d.id, Severity: Warning, Summary: fmt.Sprintf(d.summary, a.zone), Fix: d.fix, Evidence: ev})
			}
		}
	}
	var parentNS []string
	var parentEv Reply
	for _, p := range a.rep.ParentServers {
		if p.Answered {
			parentNS, parentEv = p.NS, p.nsReply
			break
		}
	}
	if parentNS == nil {
		return
	}
	var ev []Evidence
	for _, c := range ok {
		if !slices.Equal(c.NS, parentNS) {
			ev = append(ev, EvidenceOf(c.ns, dns.TypeNS))
		}
	}
	if len(ev) > 0 {
		a.add(Finding{ID: NSMismatch, Severity: Warning,
			Summary:  fmt.Sprintf("the parent delegates %s to %s, but %d server addresses serve a different apex NS set", a.zone, strings.Join(parentNS, " "), len(ev)),
			Fix:      "Make the zone's NS records and the delegation at the registrar list the same servers.",
			Evidence: append([]Evidence{EvidenceOf(parentEv, dns.TypeNS)}, ev...)})
	}
}

// validateZone validates the zone itself at every server it is delegated
// to, given the parent's validated keys, and returns the verdict.
func (a *analysis) validateZone(parentKeys []*dns.DNSKEY) Status {
	var parents []ParentServer
	for _, p := range a.rep.ParentServers {
		if p.Answered {
			parents = append(parents, p)
		}
	}
	if len(parents) == 0 {
		return Indeterminate
	}
	status := Secure
	bad := func(f Finding) {
		if f.ID != "" {
			a.add(f)
		}
		status = Bogus
	}
	defer a.flushExpired()
	// The DS RRset (or its proven absence) at each parent server.
	var dss []*dns.DS
	seen := map[string]bool{}
	var withDS []ParentServer
	for _, p := range parents {
		m := p.dsReply.Msg
		set := rrset(m.Answer, a.zone, dns.TypeDS)
		if len(set) == 0 {
			if why := denialOfDS(m, a.zone, parentKeys, a.now); why != "" {
				bad(Finding{ID: RRSIGInvalid, Severity: Critical,
					Summary:  fmt.Sprintf("%s serves no DS for %s without a valid proof: %s", p.Server, a.zone, why),
					Fix:      "The parent's NSEC/NSEC3 records must be signed and current; tell the registry.",
					Evidence: []Evidence{EvidenceOf(p.dsReply, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeRRSIG)}})
			}
			continue
		}
		withDS = append(withDS, p)
		a.checkSig(set, m.Answer, parentKeys, p.dsReply, dns.TypeDS, bad)
		for _, d := range ofType[*dns.DS](set) {
			if k := rrData(d); !seen[k] {
				seen[k] = true
				dss = append(dss, d)
			}
		}
	}
	var answered []ChildServer
	for _, c := range a.rep.ChildServers {
		if c.Answered && c.Authoritative {
			answered = append(answered, c)
		}
	}
	if len(answered) == 0 {
		// No delegated server answered: nothing can be validated
		// (lame-delegation says so, critical).
		return Indeterminate
	}
	if len(withDS) > 0 {
		usable := supportedDS(dss)
		if len(usable) == 0 {
			a.add(Finding{ID: DSUnsupported, Severity: Warning,
				Summary:  fmt.Sprintf("no DS of %s has a digest type and algorithm validators support: validators treat the zone as insecure (RFC 4035 5.2)", a.zone),
				Fix:      "Publish a DS with digest type 2 (SHA-256) of a KSK whose algorithm is current (13, ECDSA P-256, is the usual choice).",
				Evidence: []Evidence{EvidenceOf(withDS[0].dsReply, dns.TypeDS)}})
			if status == Bogus {
				return Bogus
			}
			return Insecure
		}
		a.dsHygiene(dss, withDS[0].dsReply, answered)
		dss = usable
	}
	if len(withDS) == 0 {
		for _, c := range answered {
			if len(c.DNSKEY) > 0 {
				a.add(Finding{ID: DSMissing, Severity: Info,
					Summary:  fmt.Sprintf("%s is signed but the parent publishes no DS: validators treat it as insecure", a.zone),
					Fix:      "To make it secure, add a DS for its KSK at the registrar (after every server serves the same keys).",
					Evidence: []Evidence{EvidenceOf(parents[0].dsReply, dns.TypeNSEC, dns.TypeNSEC3), EvidenceOf(c.dnskey, dns.TypeDNSKEY)}})
				break
			}
		}
		if status == Bogus {
			return Bogus
		}
		return Insecure
	}
	var orphan, mismatch []Evidence
	soonest := time.Time{}
	var soonestEv Evidence
	for _, c := range answered {
		set := rrset(c.dnskey.Msg.Answer, a.zone, dns.TypeDNSKEY)
		keys := ofType[*dns.DNSKEY](set)
		if len(keys) == 0 {
			orphan = append(orphan, EvidenceOf(c.dnskey, dns.TypeDNSKEY))
			continue
		}
		entry := matchDS(dss, keys)
		if len(entry) == 0 {
			mismatch = append(mismatch, EvidenceOf(c.dnskey, dns.TypeDNSKEY))
			continue
		}
		if exp, ok := a.checkSig(set, c.dnskey.Msg.Answer, entry, c.dnskey, dns.TypeDNSKEY, bad); ok && (soonest.IsZero() || exp.Before(soonest)) {
			soonest, soonestEv = exp, EvidenceOf(c.dnskey, dns.TypeRRSIG)
		}
		for _, r := range []Reply{c.soa, c.ns} {
			if !r.OK() {
				continue
			}
			rs := rrset(r.Msg.Answer, a.zone, r.Type)
			if exp, ok := a.checkSig(rs, r.Msg.Answer, keys, r, r.Type, bad); ok && (soonest.IsZero() || exp.Before(soonest)) {
				soonest, soonestEv = exp, EvidenceOf(r, dns.TypeRRSIG)
			}
		}
	}
	dsEv := EvidenceOf(withDS[0].dsReply, dns.TypeDS)
	if len(orphan) > 0 {
		bad(Finding{ID: DSOrphan, Severity: Critical,
			Summary:  fmt.Sprintf("the parent publishes a DS for %s but %d server addresses serve no DNSKEY: the zone is unsigned there", a.zone, len(orphan)),
			Fix:      "Remove the DS at the registrar, or make every server serve the signed zone.",
			Evidence: append([]Evidence{dsEv}, orphan...)})
	}
	if len(mismatch) > 0 && a.multi {
		bad(a.dsIncomplete(dsEv, mismatch))
	} else if len(mismatch) > 0 {
		fix := fmt.Sprintf("Replace the DS at the registrar with one made from the zone's live KSK (%s), or remove the DS until it can be.", kskList(answered))
		if len(mismatch) < len(answered) {
			// Some servers match: following a fix made from every key seen
			// would break the healthy ones. Name the odd servers instead.
			var odd []string
			for _, e := range mismatch {
				odd = append(odd, e.Server)
			}
			fix = fmt.Sprintf("The DS is right for the other servers: make %s serve the zone's DNSKEY set (check transfers and signing there), or take it out of the NS set.", strings.Join(odd, ", "))
		}
		bad(Finding{ID: DSMismatch, Severity: Critical,
			Summary:  fmt.Sprintf("no DS at the parent matches any DNSKEY served by %d server addresses of %s: validating resolvers answer SERVFAIL", len(mismatch), a.zone),
			Fix:      fix,
			Evidence: append([]Evidence{dsEv}, mismatch...)})
	}
	if !soonest.IsZero() && soonest.Sub(a.now) < expiringWithin {
		a.add(Finding{ID: RRSIGExpiring, Severity: Warning,
			Summary:  fmt.Sprintf("a signature of %s expires at %s, in %s", a.zone, soonest.Format(time.RFC3339), soonest.Sub(a.now).Round(time.Minute)),
			Fix:      "Check that the signer is running and refreshing signatures.",
			Evidence: []Evidence{soonestEv}})
	}
	return status
}

// kskList names the KSKs that every one of the servers serves: a fix
// must not name a key that only some servers (perhaps a foreign one) have.
func kskList(servers []ChildServer) string {
	count := map[string]int{}
	for _, c := range servers {
		seen := map[string]bool{}
		for _, k := range c.DNSKEY {
			if k.KSK {
				seen[fmt.Sprintf("key tag %d, algorithm %d", k.Tag, k.Algorithm)] = true
			}
		}
		for k := range seen {
			count[k]++
		}
	}
	var out []string
	for k, n := range count {
		if n == len(servers) {
			out = append(out, k)
		}
	}
	out = dedupe(out)
	if len(out) == 0 {
		return "its servers serve no KSK in common"
	}
	return strings.Join(out, "; ")
}

// checkSig verifies one RRset seen in reply and reports a bad or expired
// signature; it returns the good signature's expiry.
func (a *analysis) checkSig(set, section []dns.RR, keys []*dns.DNSKEY, reply Reply, t uint16, bad func(Finding)) (time.Time, bool) {
	if len(set) == 0 {
		return time.Time{}, false
	}
	c := verify(set, ofType[*dns.RRSIG](section), keys, a.now)
	if c.OK {
		return c.Expires, true
	}
	ev := EvidenceOf(reply, t, dns.TypeRRSIG)
	ev.AddNote(c.Problem)
	if c.Expired {
		// One finding per zone, listing every server and RRset (flushExpired).
		a.expired = append(a.expired, ev)
		bad(Finding{})
		return time.Time{}, false
	}
	bad(Finding{ID: RRSIGInvalid, Severity: Critical,
		Summary:  fmt.Sprintf("the %s %s served by %s has no valid signature", set[0].Header().Name, dns.TypeToString[t], reply.Server),
		Fix:      "Re-sign the zone with keys that are in its DNSKEY set, and check the servers' clocks.",
		Evidence: []Evidence{ev}})
	return time.Time{}, false
}

// flushExpired reports every RRset seen with only expired signatures as
// one finding for the zone.
func (a *analysis) flushExpired() {
	if len(a.expired) == 0 {
		return
	}
	var what []string
	for _, e := range a.expired {
		what = append(what, e.Question+" at "+e.Server)
	}
	a.add(Finding{ID: RRSIGExpired, Severity: Critical,
		Summary:  fmt.Sprintf("%d RRsets of %s carry only expired signatures: %s", len(a.expired), a.zone, strings.Join(dedupe(what), ", ")),
		Fix:      "Re-sign the zone: the signer has stopped refreshing signatures (check it runs, and check the clocks).",
		Evidence: a.expired})
	a.expired = nil
}

// dsHygiene warns about what a DS set should not hold, each harmless to
// validation while one good DS is there, and each a leftover a migration
// leaves: a SHA-1 digest, a DS for no served key, a DS of an algorithm
// the zone does not sign with.
func (a *analysis) dsHygiene(dss []*dns.DS, dsReply Reply, servers []ChildServer) {
	dsEv := EvidenceOf(dsReply, dns.TypeDS)
	var keys []*dns.DNSKEY
	sigAlgs := map[uint8]bool{}
	for _, c := range servers {
		keys = append(keys, c.Keys...)
		for _, r := range []Reply{c.soa, c.ns, c.dnskey} {
			if r.OK() {
				for _, s := range ofType[*dns.RRSIG](r.Msg.Answer) {
					sigAlgs[s.Algorithm] = true
				}
			}
		}
	}
	var sha1, stale, unsigned []string
	matched := 0
	for _, d := range dss {
		name := fmt.Sprintf("DS %d %d %d", d.KeyTag, d.Algorithm, d.DigestType)
		if d.DigestType == dns.SHA1 {
			sha1 = append(sha1, name)
		}
		if len(matchDS([]*dns.DS{d}, keys)) == 0 {
			stale = append(stale, name)
		} else {
			matched++
		}
		if len(sigAlgs) > 0 && !sigAlgs[d.Algorithm] {
			unsigned = append(unsigned, name)
		}
	}
	if len(sha1) > 0 {
		a.add(Finding{ID: DSDigestSHA1, Severity: Warning,
			Summary:  fmt.Sprintf("the parent publishes a SHA-1 DS for %s (%s); RFC 8624 says it must not be published", a.zone, strings.Join(sha1, ", ")),
			Fix:      "Remove the SHA-1 DS at the registrar and keep (or add) the SHA-256 one.",
			Evidence: []Evidence{dsEv}})
	}
	if len(stale) > 0 && matched > 0 {
		a.add(Finding{ID: DSStale, Severity: Warning,
			Summary:  fmt.Sprintf("%d DS of %s match no DNSKEY any server serves (%s), beside one that does: a leftover", len(stale), a.zone, strings.Join(stale, ", ")),
			Fix:      "Remove the stale DS at the registrar (after checking no server is about to serve its key).",
			Evidence: []Evidence{dsEv}})
	}
	if len(unsigned) > 0 {
		a.add(Finding{ID: DSAlgorithmUnsigned, Severity: Warning,
			Summary:  fmt.Sprintf("%s is published for an algorithm with no RRSIG in %s", strings.Join(unsigned, ", "), a.zone),
			Fix:      "Remove that DS at the registrar, or sign the zone with that algorithm too (RFC 6840 5.11).",
			Evidence: []Evidence{dsEv}})
	}
}

type resolverReplies struct{ plain, cd, root Reply }

// askResolvers asks each resolver for the zone's SOA with and without CD,
// and for the root's SOA to learn whether it validates at all.
func (a *analysis) askResolvers(ctx context.Context, c *Client, resolvers []string) []ResolverResult {
	var qs []Question
	for _, r := range resolvers {
		qs = append(qs,
			Question{Server: r, Name: a.zone, Type: dns.TypeSOA, RD: true},
			Question{Server: r, Name: a.zone, Type: dns.TypeSOA, RD: true, CD: true},
			Question{Server: r, Name: ".", Type: dns.TypeSOA, RD: true})
	}
	replies := askAll(ctx, c, qs)
	out := make([]ResolverResult, len(resolvers))
	a.resolverReplies = make([]resolverReplies, len(resolvers))
	for i, r := range resolvers {
		rr := resolverReplies{replies[3*i], replies[3*i+1], replies[3*i+2]}
		a.resolverReplies[i] = rr
		res := ResolverResult{Server: r}
		if !rr.plain.OK() {
			res.Error = rr.plain.Err.Error()
			out[i] = res
			continue
		}
		res.RCODE = RcodeName(rr.plain.Msg.Rcode)
		res.AD = rr.plain.Msg.AuthenticatedData
		if rr.cd.OK() {
			res.RCODECD = RcodeName(rr.cd.Msg.Rcode)
		}
		failsOnlyWithoutCD := rr.plain.Msg.Rcode == dns.RcodeServerFailure && rr.cd.OK() && rr.cd.Msg.Rcode == dns.RcodeSuccess
		res.Validating = res.AD || failsOnlyWithoutCD || (rr.root.OK() && rr.root.Msg.AuthenticatedData)
		out[i] = res
	}
	return out
}

func (a *analysis) resolverFindings() {
	for i, res := range a.rep.Resolvers {
		rr := a.resolverReplies[i]
		switch {
		case res.Error != "":
			a.add(Finding{ID: ResolverUnreachable, Severity: Warning,
				Summary:  fmt.Sprintf("resolver %s did not answer", res.Server),
				Fix:      "Check the resolver address and that it allows queries from this host.",
				Evidence: []Evidence{EvidenceOf(rr.plain)}})
		case res.RCODE == "SERVFAIL" && res.RCODECD == "NOERROR":
			a.add(Finding{ID: ValidationFailure, Severity: Critical,
				Summary:  fmt.Sprintf("validating resolver %s answers SERVFAIL for %s, but answers with checking disabled (+cd): DNSSEC validation fails", res.Server, a.zone),
				Fix:      "Fix the DNSSEC findings above (usually the DS at the registrar), then flush the resolver's cache.",
				Evidence: []Evidence{EvidenceOf(rr.plain), EvidenceOf(rr.cd, dns.TypeSOA)}})
		}
	}
}
