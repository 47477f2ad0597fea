package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
)

// Build turns a spec and the live state into the ordered steps of the
// migration. It refuses, with every reason, when preflight found problems.
func Build(spec *Spec, o *Observed, now time.Time) (*Plan, error) {
	if len(o.Problems) > 0 {
		return nil, fmt.Errorf("%w:\n  - %s", ErrNotSafe, strings.Join(o.Problems, "\n  - "))
	}
	p := &Plan{Format: PlanFormat, Version: PlanVersion, Created: now.UTC(), Spec: spec, Observed: o}
	if spec.Kind == "records" {
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
	to := sorted(spec.To.Nameservers)
	signed := spec.DNSSEC == "insecure-window"
	if slices.Equal(o.NS, to) && ((signed && slices.Equal(o.DS, o.New.KSKDS)) || (!signed && len(o.DS) == 0)) {
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

	// lower-ttl / restore-ttl: every RRset above lower_to, at both hosts.
	var lower, restore []TTLChange
	var lowered, oldLoweredMax uint32
	var before, after []string
	for _, h := range []HostState{o.Old, o.New} {
		var sets []providers.RRset
		var down, back []uint32
		for _, s := range h.RRsets {
			if s.Type == "SOA" || s.TTL <= lowerTo {
				continue
			}
			sets = append(sets, s)
			down = append(down, lowerTo)
			back = append(back, s.TTL)
			before = append(before, fmt.Sprintf("%s: %s %s ttl %d", h.Provider, s.Name, s.Type, s.TTL))
			after = append(after, fmt.Sprintf("%s: %s %s ttl %d", h.Provider, s.Name, s.Type, lowerTo))
			lowered++
			if h.Provider == o.Old.Provider {
				oldLoweredMax = max(oldLoweredMax, s.TTL)
			}
		}
		if len(sets) == 0 {
			continue
		}
		lower = append(lower, TTLChange{Provider: h.Provider, RRsets: sets, TTLs: down})
		restored := make([]providers.RRset, len(sets))
		for i, s := range sets {
			s.TTL = lowerTo
			restored[i] = s
		}
		restore = append(restore, TTLChange{Provider: h.Provider, RRsets: restored, TTLs: back})
	}
	hostServers := append(slices.Clone(o.Old.Servers), o.New.Servers...)
	p.add(Step{ID: StepLowerTTL, Action: ActionSetTTL, Done: lowered == 0,
		Summary: fmt.Sprintf("lower %d RRsets to %ds at %s and %s", lowered, lowerTo, o.Old.Provider, o.New.Provider),
		Before:  before, After: after, TTLs: lower,
		Gate:     &Gate{Check: GateTTLServed, Servers: hostServers, Timeout: gateTimeout},
		Rollback: "set the TTLs back (the before values)"})
	if oldLoweredMax > 0 {
		p.add(Step{ID: StepWaitTTL, Action: ActionWait, Summary: "let caches drop the old, longer TTLs",
			Wait: wait(secs(oldLoweredMax)), Formula: withMargin(secs(oldLoweredMax), fmt.Sprintf("largest TTL at %s before lowering %ds", o.Old.Provider, oldLoweredMax))})
	} else {
		p.add(Step{ID: StepWaitTTL, Action: ActionWait, Summary: "nothing was lowered: no wait", Formula: "no TTL above lower_to"})
	}

	// The old apex NS TTL resolvers can hold once lower-ttl is waited out.
	oldNSTTL := min(o.Old.ApexNSTTL, lowerTo)
	if o.Old.ApexNSTTL == 0 {
		oldNSTTL = lowerTo
	}
	if signed {
		p.add(Step{ID: StepRemoveDS, Action: ActionSetDS, Done: len(o.DS) == 0,
			Summary: "remove the DS at the registrar: the zone becomes insecure for the move",
			Before:  o.DS, After: nil, DS: nil,
			Gate:     &Gate{Check: GateDSGone, Servers: o.ParentServers, Timeout: gateTimeout},
			Rollback: "publish the old DS again: " + strings.Join(o.DS, "; ")})
		base := secs(o.DSTTL) + secs(o.Old.DNSKEYTTL)
		p.add(Step{ID: StepWaitDSGone, Action: ActionWait, Summary: "let validators forget the DS and the old DNSKEY it vouched for",
			Wait: wait(base), Formula: withMargin(base, fmt.Sprintf("DS TTL at %s %ds + DNSKEY TTL at %s %ds", o.Parent, o.DSTTL, o.Old.Provider, o.Old.DNSKEYTTL))})
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
	nsBase := secs(max(o.NSTTL, oldNSTTL))
	p.add(Step{ID: StepWaitNS, Action: ActionWait, Summary: fmt.Sprintf("let resolvers move to %s (%s keeps serving)", o.New.Provider, o.Old.Provider),
		Wait: wait(nsBase), Formula: withMargin(nsBase, fmt.Sprintf("max(parent NS TTL %ds, %s apex NS TTL %ds)", o.NSTTL, o.Old.Provider, oldNSTTL))})

	if signed {
		p.add(Step{ID: StepAddDS, Action: ActionSetDS, Done: slices.Equal(o.DS, o.New.KSKDS),
			Summary: fmt.Sprintf("publish the DS of %s's KSK at the registrar", o.New.Provider),
			Before:  nil, After: o.New.KSKDS, DS: o.New.KSKDS, Keys: o.New.KSK,
			Gate:     &Gate{Check: GateDSServed, Servers: o.ParentServers, Expect: o.New.KSKDS, Timeout: gateTimeout},
			Rollback: "remove the DS again"})
		dsTTL, what := o.DSTTL, "DS TTL"
		if dsTTL == 0 {
			dsTTL, what = o.NSTTL, "DS TTL (the delegation TTL, as the parent had no DS)"
		}
		base := secs(max(dsTTL, o.NegTTL))
		p.add(Step{ID: StepWaitDS, Action: ActionWait, Summary: "let resolvers drop the cached absence of a DS",
			Wait: wait(base), Formula: withMargin(base, fmt.Sprintf("max(%s %ds, negative-caching TTL of %s %ds)", what, dsTTL, o.Parent, o.NegTTL))})
	}

	if spec.TTL.Restore {
		var b, a []string
		for _, c := range restore {
			for i, s := range c.RRsets {
				b = append(b, fmt.Sprintf("%s: %s %s ttl %d", c.Provider, s.Name, s.Type, s.TTL))
				a = append(a, fmt.Sprintf("%s: %s %s ttl %d", c.Provider, s.Name, s.Type, c.TTLs[i]))
			}
		}
		p.add(Step{ID: StepRestoreTTL, Action: ActionSetTTL, Done: len(restore) == 0,
			Summary: fmt.Sprintf("restore %d RRsets to their TTLs at %s and %s", len(b), o.Old.Provider, o.New.Provider),
			Before:  b, After: a, TTLs: restore,
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
	p.seal()
	return p, nil
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
	st.TTLs, st.Done, st.Before, st.After = changes, false, nil, nil
	for _, c := range changes {
		for i, s := range c.RRsets {
			st.Before = append(st.Before, fmt.Sprintf("%s: %s %s ttl %d", c.Provider, s.Name, s.Type, s.TTL))
			st.After = append(st.After, fmt.Sprintf("%s: %s %s ttl %d", c.Provider, s.Name, s.Type, c.TTLs[i]))
		}
	}
	st.Summary = fmt.Sprintf("restore %d RRsets to the TTLs they had before the forward move", len(st.After))
	p.seal()
}
