package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// Build turns a spec and the live state into the ordered steps of the
// migration. It refuses, with every reason, when preflight found problems.
func Build(spec *spec.Spec, o *Observed, now time.Time) (*Plan, error) {
	if len(o.Problems) > 0 {
		return nil, notSafe(o.Problems)
	}
	p := &Plan{Format: PlanFormat, Version: PlanVersion, Created: now.UTC(), Spec: spec, Observed: o}
	if spec.Cutover() {
		buildRecords(p, spec, o)
		p.Nothing = true
		for _, st := range p.Steps {
			for _, r := range st.Records {
				if !slices.Equal(r.From, r.To) && st.ID != StepRestoreTTL {
					p.Nothing = false
				}
			}
		}
		if p.Nothing {
			p.Steps, p.TotalWait = nil, 0
		}
		p.seal()
		return p, nil
	}
	if problems := markerProblems(o, spec.Zone, o.PriorPlan, o.TakeOver); len(problems) > 0 {
		return nil, notSafe(problems)
	}
	signed := spec.Signed()
	to := sorted(spec.To.Nameservers)
	// In place: nothing to do, unless a move taken over left its marker
	// and its lowered TTLs behind.
	dsInPlace := slices.Equal(o.NS, to) && ((signed && slices.Equal(o.DS, o.New.KSKDS)) || (!signed && len(o.DS) == 0))
	if dsInPlace && o.TakeOver == "" {
		p.Nothing = true
		p.seal()
		return p, nil
	}
	m := spec.Margin
	gateTimeout := Duration(spec.Verify.GateTimeout)
	lowerTo := uint32(spec.TTL.LowerTo / time.Second)
	secs := func(v uint32) time.Duration { return time.Duration(v) * time.Second }
	wait := func(base time.Duration) Duration { return Duration(m.Add(base)) }
	withMargin := func(base time.Duration, parts string) string {
		return fmt.Sprintf("%s = %s, + margin %s = %s", parts, base, m, m.Add(base))
	}
	ttls := servedTTLs(o, spec.Zone, lowerTo)
	if len(ttls.problems) > 0 {
		return nil, notSafe(ttls.problems)
	}
	handover := canHandOver(o, spec.Zone)
	reclaiming := needsReclaim(o.New, spec.Zone, to)

	// lower-ttl / restore-ttl: every RRset above lower_to (as the API says
	// or as any server serves it), at both hosts.
	var lower, restore []TTLChange
	var lowered, already, oldLoweredMax uint32
	var before, after []string
	for _, h := range []HostState{o.Old, o.New} {
		var sets, back []providers.RRset
		var down, up []uint32
		for _, s := range h.RRsets {
			ttl := h.ttlOf(s)
			if s.Type == "SOA" || ttl <= lowerTo {
				continue
			}
			// reclaim-ns writes the new host's own apex NS at the lowered
			// TTL: lower-ttl must not write the other host's names back.
			if reclaiming && h.Provider == o.New.Provider && s.Type == "NS" && s.Name == spec.Zone {
				s.TTL, s.Data = lowerTo, to
				back = append(back, s)
				up = append(up, ttl)
				continue
			}
			// Lowered already by the move taken over: proven, waited out
			// and restored; sent again only with others that are not.
			if max(s.TTL, h.ServedAbove[s.Name+" "+s.Type]) <= lowerTo {
				already++
			}
			sets = append(sets, s)
			down = append(down, lowerTo)
			before = append(before, ttlLine(h.Provider, s, ttl))
			after = append(after, ttlLine(h.Provider, s, lowerTo))
			lowered++
			if h.Provider == o.Old.Provider {
				oldLoweredMax = max(oldLoweredMax, ttl)
			}
			// The old host's apex NS, once handed over to the new
			// servers, is not put back: it names the new servers now.
			if handover && h.Provider == o.Old.Provider && s.Type == "NS" && s.Name == spec.Zone {
				continue
			}
			s.TTL = lowerTo
			back = append(back, s)
			up = append(up, ttl)
		}
		if len(sets) > 0 {
			lower = append(lower, TTLChange{Provider: h.Provider, RRsets: sets, TTLs: down})
		}
		if len(back) > 0 {
			restore = append(restore, TTLChange{Provider: h.Provider, RRsets: back, TTLs: up})
		}
	}
	hostServers := append(slices.Clone(o.Old.Servers), o.New.Servers...)
	if reclaim := reclaimStep(spec, o, to, lowerTo, gateTimeout); reclaim != nil {
		p.add(*reclaim)
	}
	lowerSummary := fmt.Sprintf("lower %d RRsets to %ds at %s and %s", lowered, lowerTo, o.Old.Provider, o.New.Provider)
	if already > 0 {
		lowerSummary += fmt.Sprintf(" (%d of them lowered already by plan %s, taken over)", already, o.TakeOver)
	}
	p.add(Step{ID: StepLowerTTL, Action: ActionSetTTL, Done: lowered == already, Summary: lowerSummary,
		Before: capLines(before), After: capLines(after), TTLs: lower,
		Gate:     &Gate{Check: GateTTLServed, Servers: hostServers, Timeout: gateTimeout},
		Rollback: "set the TTLs back (the before values)"})
	if oldLoweredMax > 0 {
		p.add(Step{ID: StepWaitTTL, Action: ActionWait, Summary: "let caches drop the old, longer TTLs",
			Wait: wait(secs(oldLoweredMax)), Formula: withMargin(secs(oldLoweredMax), fmt.Sprintf("largest TTL at %s before lowering (%s) %ds", o.Old.Provider, ttlSources(o), oldLoweredMax))})
	} else {
		p.add(Step{ID: StepWaitTTL, Action: ActionWait, Summary: "nothing was lowered: no wait", Formula: "no TTL above lower_to"})
	}

	if signed {
		p.add(Step{ID: StepRemoveDS, Action: ActionSetDS, Done: len(o.DS) == 0 || dsInPlace,
			Summary: "remove the DS at the registrar: the zone becomes insecure for the move",
			Before:  o.DS, After: nil, DS: nil,
			Gate:     &Gate{Check: GateDSGone, Servers: o.ParentServers, Timeout: gateTimeout},
			Rollback: "publish the old DS again: " + strings.Join(o.DS, "; ")})
		base := secs(ttls.ds) + secs(o.Old.DNSKEYTTL)
		p.add(Step{ID: StepWaitDSGone, Action: ActionWait, Summary: "let validators forget the DS and the old DNSKEY it vouched for",
			Wait: wait(base), Formula: withMargin(base, fmt.Sprintf("%s + old DNSKEY TTL as served at %s %ds", ttls.dsWords, o.Old.Provider, o.Old.DNSKEYTTL))})
	}

	glue := map[string][]string{}
	for _, n := range to {
		if addrs := o.New.Glue[n]; len(addrs) > 0 && strings.HasSuffix(n, "."+spec.Zone) {
			glue[n] = addrs
		}
	}
	p.add(Step{ID: StepSwitchNS, Action: ActionSetNS, Done: slices.Equal(o.NS, to),
		Summary: fmt.Sprintf("delegate %s to %s at the registrar", spec.Zone, o.New.Provider),
		Before:  o.NS, After: to, NS: to, Glue: glue,
		Gate:     &Gate{Check: GateNSServed, Servers: o.ParentServers, Expect: to, Timeout: gateTimeout},
		Rollback: "delegate to the old name servers again: " + strings.Join(o.NS, " ")})
	if handover {
		from := o.Old.ApexNS
		p.add(Step{ID: StepHandoverNS, Action: ActionSetRecords, Provider: o.Old.Provider, Done: slices.Equal(from, to),
			Summary: fmt.Sprintf("make %s's apex NS name %s's servers, so resolvers that refresh the delegation from the child follow", o.Old.Provider, o.New.Provider),
			Before:  from, After: to,
			Records:  []providers.Replacement{{Name: spec.Zone, Type: "NS", TTL: ttls.oldNS, From: from, To: to}},
			Gate:     &Gate{Check: GateRecordsServed, Servers: o.Old.Servers, Timeout: gateTimeout},
			Rollback: fmt.Sprintf("%s's apex NS back to %s (migrate rollback does it)", o.Old.Provider, strings.Join(from, " "))})
	}
	nsBase := secs(max(o.NSTTL, ttls.oldNS))
	nsWords := fmt.Sprintf("max(parent NS TTL %ds, %s apex NS TTL as served after lowering %ds%s)", o.NSTTL, o.Old.Provider, ttls.oldNS, ttls.oldNSNote)
	if signed {
		nsBase += secs(o.Old.DNSKEYTTL)
		nsWords += fmt.Sprintf(" + old DNSKEY TTL as served at %s %ds", o.Old.Provider, o.Old.DNSKEYTTL)
	}
	p.add(Step{ID: StepWaitNS, Action: ActionWait, Summary: fmt.Sprintf("let resolvers move to %s and forget %s's keys (%s keeps serving)", o.New.Provider, o.Old.Provider, o.Old.Provider),
		Wait: wait(nsBase), Formula: withMargin(nsBase, nsWords)})

	if signed {
		p.add(Step{ID: StepAddDS, Action: ActionSetDS, Done: slices.Equal(o.DS, o.New.KSKDS),
			Summary: fmt.Sprintf("publish the DS of %s's KSK at the registrar", o.New.Provider),
			Before:  nil, After: o.New.KSKDS, DS: o.New.KSKDS, Keys: o.New.KSK,
			Gate:     &Gate{Check: GateDSServed, Servers: o.ParentServers, Expect: o.New.KSKDS, Timeout: gateTimeout},
			Rollback: "remove the DS again"})
		// A resolver that fetched the zone's NS and DNSKEY while no DS was
		// served keeps the zone insecure until they expire (Knot Resolver
		// was seen to), so the TTLs go back up only after that.
		base := secs(max(ttls.ds, o.NegTTL)) + secs(ttls.newNS) + secs(o.New.DNSKEYTTL)
		p.add(Step{ID: StepWaitDS, Action: ActionWait, Summary: "let resolvers drop the cached absence of a DS and what they cached as insecure",
			Wait: wait(base), Formula: withMargin(base, fmt.Sprintf("max(%s, negative-caching TTL of %s %ds) + %s apex NS TTL as served after lowering %ds + its DNSKEY TTL as served %ds", ttls.dsWords, o.Parent, o.NegTTL, o.New.Provider, ttls.newNS, o.New.DNSKEYTTL))})
	}
	p.RetireOld = retireOld(o, spec, ttls, handover, m)

	if spec.TTL.Restore {
		var b, a []string
		for _, c := range restore {
			for i, s := range c.RRsets {
				b = append(b, ttlLine(c.Provider, s, s.TTL))
				a = append(a, ttlLine(c.Provider, s, c.TTLs[i]))
			}
		}
		p.add(Step{ID: StepRestoreTTL, Action: ActionSetTTL, Done: len(restore) == 0,
			Summary: fmt.Sprintf("restore %d RRsets to their TTLs at %s and %s", len(b), o.Old.Provider, o.New.Provider),
			Before:  capLines(b), After: capLines(a), TTLs: restore,
			Gate:     &Gate{Check: GateTTLServed, Servers: hostServers, Timeout: gateTimeout},
			Rollback: "none needed"})
	}
	status := "secure"
	if !signed {
		status = "insecure"
	}
	p.add(Step{ID: StepFinalVerify, Action: ActionVerify,
		Summary: fmt.Sprintf("prove %s is %s, delegated to %s, and answered by every resolver", spec.Zone, status, o.New.Provider),
		Gate:    &Gate{Check: GateVerified, Servers: spec.Verify.Resolvers, Expect: to, Status: status, Timeout: gateTimeout}})
	if spec.Marker {
		addMarkerSteps(p, spec, gateTimeout)
	}
	p.setADGrace()
	if st := p.Step(p.RetireOld.After); st != nil {
		p.RetireOld.Earliest = st.Start + p.RetireOld.Delay
	}
	p.seal()
	return p, nil
}

// ttlSources says where the TTLs before lowering were read.
func ttlSources(o *Observed) string {
	if o.TakeOver != "" {
		return "API, served, or as the marker of plan " + o.TakeOver + " says"
	}
	return "API or served"
}

// add appends a step with its earliest start: the sum of the waits before.
func (p *Plan) add(s Step) {
	s.Start = p.TotalWait
	p.TotalWait += s.Wait
	p.Steps = append(p.Steps, s)
}

// IsNotSafe reports whether err is a preflight refusal.
func IsNotSafe(err error) bool { return errors.Is(err, ErrNotSafe) }

// restoreTTLs makes the restore-ttl step put back the TTLs another plan
// found (a rollback restores the forward move's originals, which its own
// observation sees lowered).
func (p *Plan) restoreTTLs(changes []TTLChange) {
	st := p.Step(StepRestoreTTL)
	if st == nil {
		return
	}
	// A host this plan hands over names the other host's servers at its
	// apex afterwards: its own NS set is not put back.
	if h := p.Step(StepHandoverNS); h != nil {
		var kept []TTLChange
		for _, c := range changes {
			if c.Provider == h.Provider {
				c = withoutApexNS(c, p.Spec.Zone)
			}
			if len(c.RRsets) > 0 {
				kept = append(kept, c)
			}
		}
		changes = kept
	}
	st.TTLs, st.Done, st.Before, st.After = changes, false, nil, nil
	for _, c := range changes {
		for i, s := range c.RRsets {
			st.Before = append(st.Before, ttlLine(c.Provider, s, s.TTL))
			st.After = append(st.After, ttlLine(c.Provider, s, c.TTLs[i]))
		}
	}
	st.Summary = fmt.Sprintf("restore %d RRsets to the TTLs they had before the forward move", len(st.After))
	st.Before, st.After = capLines(st.Before), capLines(st.After)
	p.setADGrace()
	p.seal()
}

func withoutApexNS(c TTLChange, zone string) TTLChange {
	out := TTLChange{Provider: c.Provider}
	for i, s := range c.RRsets {
		if s.Type == "NS" && s.Name == zone {
			continue
		}
		out.RRsets = append(out.RRsets, s)
		out.TTLs = append(out.TTLs, c.TTLs[i])
	}
	return out
}
