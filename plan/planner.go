package plan

import (
	"errors"
	"fmt"
	"time"

	"github.com/dnsmigrate/dnsmigrate/spec"
)

// Build turns a spec and the live state into the ordered steps of the
// migration. It refuses, with every reason, when preflight found problems.
// Each kind plans in its own file (nameservers.go, records.go).
func Build(spec *spec.Spec, o *Observed, now time.Time) (*Plan, error) {
	p, err := build(spec, o, now)
	if err != nil {
		return nil, err
	}
	p.seal()
	return p, nil
}

// build is Build without the seal: what CheckRebuild compares a saved
// plan's steps with.
func build(spec *spec.Spec, o *Observed, now time.Time) (*Plan, error) {
	if len(o.Problems) > 0 {
		return nil, notSafe(o.Problems)
	}
	p := &Plan{Format: PlanFormat, Version: PlanVersion, Created: now.UTC(), Spec: spec, Observed: o}
	plan := planNameservers
	if spec.Cutover() {
		plan = planRecords
	}
	if err := plan(p, spec, o); err != nil {
		return nil, err
	}
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
	p.restoreOldEarly()
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
