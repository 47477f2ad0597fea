package plan

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/miekg/dns"
)

// Safety thresholds, as octoDNS users know them: a records plan that
// changes more than SafetyThreshold of the records of a zone with at least
// SafetyMinRecords records is refused unless forced.
const (
	SafetyThreshold  = 0.30
	SafetyMinRecords = 10
)

// observeRecords reads the live state for a records cutover: the host's
// zone through its API, what each of the zone's servers serves, and where
// each change stands.
func observeRecords(ctx context.Context, env Env, spec *Spec, o *Observed) error {
	side := Side{Provider: spec.Provider}
	host, ok := env.Hosts[spec.Provider]
	if !ok {
		return fmt.Errorf("observe: provider %q has no host", spec.Provider)
	}
	rrs, err := providers.Records(ctx, spec.Provider, host, spec.Zone)
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	for _, set := range providers.Group(rrs) {
		if set.Type == "NS" && set.Name == spec.Zone {
			side.Nameservers = set.Data
		}
	}
	if len(side.Nameservers) == 0 {
		return fmt.Errorf("observe: provider %s serves no apex NS for %s", spec.Provider, spec.Zone)
	}
	if err := observeHost(ctx, env, spec, side, &o.Old); err != nil {
		return err
	}
	_, o.Weighted = host.(providers.Weighter)
	current := map[string]providers.RRset{}
	total := 0
	for _, set := range o.Old.RRsets {
		current[set.Name+" "+set.Type] = set
		if set.Type != "SOA" {
			total += len(set.Data)
		}
	}
	changed := 0
	for _, c := range spec.Changes {
		from, to := normalize(c.Name, c.Type, c.From), normalize(c.Name, c.Type, c.To)
		set, ok := current[c.Name+" "+c.Type]
		switch {
		case ok && slices.Equal(set.Data, to):
		case ok && slices.Equal(set.Data, from):
			changed += len(from)
		case !ok:
			o.Problems = append(o.Problems, fmt.Sprintf("%s %s does not exist at %s; the spec says it is %v", c.Name, c.Type, spec.Provider, c.From))
		default:
			o.Problems = append(o.Problems, fmt.Sprintf("%s %s is %v at %s, neither from %v nor to %v", c.Name, c.Type, set.Data, spec.Provider, c.From, c.To))
		}
	}
	if share := float64(changed) / float64(max(total, 1)); total >= SafetyMinRecords && share > SafetyThreshold && !spec.Force {
		o.Problems = append(o.Problems, fmt.Sprintf("the plan changes %d of the %d records of %s (%.0f%%), more than %.0f%%: check the spec, or pass --force", changed, total, spec.Zone, share*100, SafetyThreshold*100))
	}
	for _, a := range o.Old.hostAnswers {
		if !a.Answered || !a.Authoritative {
			o.Problems = append(o.Problems, fmt.Sprintf("server %s (%s) does not answer authoritatively for %s: %s", a.Name, a.Server, spec.Zone, a.Error))
		}
	}
	return nil
}

// normalize turns spec values into the data the host serves.
func normalize(name, rrtype string, vals []string) []string {
	var out []string
	for _, v := range vals {
		if rr, err := dns.NewRR(fmt.Sprintf("%s 0 IN %s %s", name, rrtype, v)); err == nil && rr != nil {
			out = append(out, checks.RRData(rr))
		}
	}
	sort.Strings(out)
	return out
}

// buildRecords plans a cutover in phases: lower the TTLs, check health,
// then per phase change that share of the names, prove it at every
// server, wait for every resolver, and hold while health holds; then
// restore the TTLs.
func buildRecords(p *Plan, spec *Spec, o *Observed) {
	m := spec.Margin
	gateTimeout := Duration(spec.Verify.GateTimeout)
	lowerTo := uint32(spec.TTL.LowerTo / time.Second)
	current := map[string]providers.RRset{}
	for _, set := range o.Old.RRsets {
		current[set.Name+" "+set.Type] = set
	}
	// A stable order: by name, then type.
	changes := slices.Clone(spec.Changes)
	sort.Slice(changes, func(i, j int) bool {
		if changes[i].Name != changes[j].Name {
			return changes[i].Name < changes[j].Name
		}
		return changes[i].Type < changes[j].Type
	})
	var lower, restore []providers.Replacement
	var lowerSets []providers.RRset
	var lowerTTLs []uint32
	var maxTTL uint32
	var before, after []string
	moves := make([]providers.Replacement, len(changes))
	for i, c := range changes {
		set := current[c.Name+" "+c.Type]
		from, to := normalize(c.Name, c.Type, c.From), normalize(c.Name, c.Type, c.To)
		ttl := min(set.TTL, lowerTo)
		if slices.Equal(set.Data, to) {
			from = to // already moved: its phase replaces nothing
		}
		moves[i] = providers.Replacement{Name: c.Name, Type: c.Type, TTL: ttl, From: from, To: to}
		if set.TTL > lowerTo {
			lowerSets = append(lowerSets, set)
			lowerTTLs = append(lowerTTLs, lowerTo)
			lower = append(lower, providers.Replacement{Name: c.Name, Type: c.Type, TTL: lowerTo, From: set.Data, To: set.Data})
			restore = append(restore, providers.Replacement{Name: c.Name, Type: c.Type, TTL: set.TTL, From: to, To: to})
			maxTTL = max(maxTTL, set.TTL)
			before = append(before, fmt.Sprintf("%s %s ttl %d", c.Name, c.Type, set.TTL))
			after = append(after, fmt.Sprintf("%s %s ttl %d", c.Name, c.Type, lowerTo))
		}
	}
	servers := o.Old.Servers
	p.add(Step{ID: StepLowerTTL, Action: ActionSetTTL, Done: len(lower) == 0,
		Summary: fmt.Sprintf("lower %d of the %d changing RRsets to %ds at %s", len(lower), len(changes), lowerTo, spec.Provider),
		Before:  before, After: after, TTLs: []TTLChange{{Provider: spec.Provider, RRsets: lowerSets, TTLs: lowerTTLs}},
		Gate:     &Gate{Check: GateTTLServed, Servers: servers, Timeout: gateTimeout},
		Rollback: "set the TTLs back"})
	if maxTTL > 0 {
		base := time.Duration(maxTTL) * time.Second
		p.add(Step{ID: StepWaitTTL, Action: ActionWait, Summary: "let caches drop the old, longer TTLs",
			Wait: Duration(m.Add(base)), Formula: fmt.Sprintf("largest TTL of the changing RRsets before lowering %ds = %s, + margin %s = %s", maxTTL, base, m, m.Add(base))})
	} else {
		p.add(Step{ID: StepWaitTTL, Action: ActionWait, Summary: "nothing was lowered: no wait", Formula: "no changing RRset above lower_to"})
	}
	p.add(Step{ID: StepHealthCheck, Action: ActionVerify, Summary: fmt.Sprintf("%d health checks pass before the first phase", len(spec.Health)),
		Gate: &Gate{Check: GateHealthy, Timeout: gateTimeout}})
	if o.Weighted {
		buildWeighted(p, spec, moves, servers)
	} else {
		buildShares(p, spec, moves, servers, lowerTo)
	}
	if spec.TTL.Restore {
		var b, a []string
		for _, r := range restore {
			b = append(b, fmt.Sprintf("%s %s ttl %d", r.Name, r.Type, lowerTo))
			a = append(a, fmt.Sprintf("%s %s ttl %d", r.Name, r.Type, r.TTL))
		}
		p.add(Step{ID: StepRestoreTTL, Action: ActionSetRecords, Done: len(restore) == 0,
			Summary: fmt.Sprintf("restore %d RRsets to their TTLs at %s", len(restore), spec.Provider),
			Before:  b, After: a, Records: restore,
			Gate: &Gate{Check: GateRecordsServed, Servers: servers, Timeout: gateTimeout}})
	}
	p.add(Step{ID: StepFinalVerify, Action: ActionVerify, Summary: "every resolver answers the new values of every name",
		Moved: moves, Gate: &Gate{Check: GatePropagated, Servers: spec.Verify.Resolvers, Timeout: gateTimeout}})
}

// buildShares plans phases that each move a share of the names, in the
// stable order, each proven at every server and at every resolver.
func buildShares(p *Plan, spec *Spec, moves []providers.Replacement, servers []string, lowerTo uint32) {
	m := spec.Margin
	gateTimeout := Duration(spec.Verify.GateTimeout)
	done := 0
	for k, pct := range spec.Phases {
		upto := int(math.Ceil(float64(pct) * float64(len(moves)) / 100))
		batch := moves[done:upto]
		if len(batch) == 0 {
			continue
		}
		var names, olds, news []string
		for _, mv := range batch {
			names = append(names, mv.Name+" "+mv.Type)
			olds = append(olds, mv.Name+" "+mv.Type+" "+strings.Join(mv.From, ","))
			news = append(news, mv.Name+" "+mv.Type+" "+strings.Join(mv.To, ","))
		}
		id := fmt.Sprintf("phase-%d", k+1)
		p.add(Step{ID: id, Action: ActionSetRecords, Summary: fmt.Sprintf("move %d%% of the names (%d more): %s", pct, len(batch), strings.Join(names, ", ")),
			Before: olds, After: news, Records: batch, Moved: moves[:upto],
			Gate:     &Gate{Check: GateRecordsServed, Servers: servers, Timeout: gateTimeout},
			Rollback: "put back the old values of every name moved so far"})
		base := time.Duration(lowerTo) * time.Second
		p.add(Step{ID: "verify-" + id, Action: ActionVerify, Summary: fmt.Sprintf("every resolver answers the new values of the %d names moved so far", upto),
			Moved: moves[:upto], Formula: fmt.Sprintf("a resolver may show the old answer until the change plus the lowered TTL %s", base),
			Gate: &Gate{Check: GatePropagated, Servers: spec.Verify.Resolvers, Timeout: Duration(max(time.Duration(gateTimeout), m.Add(base)))}})
		p.add(Step{ID: "hold-" + id, Action: ActionHold, Summary: fmt.Sprintf("hold at %d%% for %s while the health checks pass", pct, spec.Hold),
			Wait: Duration(spec.Hold), Formula: "hold from the spec"})
		done = upto
	}
}

// buildWeighted plans phases on a host with weighted record sets: each
// phase gives every name's new values that share of the answers (the old
// values the rest); the last phase puts plain record sets back with the
// new values only.
func buildWeighted(p *Plan, spec *Spec, moves []providers.Replacement, servers []string) {
	gateTimeout := Duration(spec.Verify.GateTimeout)
	for k, pct := range spec.Phases {
		id := fmt.Sprintf("phase-%d", k+1)
		step := Step{ID: id, Moved: moves, Rollback: "put back plain record sets with the old values"}
		if pct < 100 {
			step.Action, step.Weight, step.Records = ActionSetWeights, pct, moves
			step.Summary = fmt.Sprintf("answer every changing name with its new values %d%% of the time (weighted record sets)", pct)
			step.Gate = &Gate{Check: GateOldOrNew, Servers: servers, Timeout: gateTimeout}
		} else {
			step.Action, step.Records = ActionSetRecords, moves
			step.Summary = "answer every changing name with its new values only (plain record sets again)"
			step.Gate = &Gate{Check: GateRecordsServed, Servers: servers, Timeout: gateTimeout}
		}
		p.add(step)
		verify := Step{ID: "verify-" + id, Action: ActionVerify, Moved: moves,
			Summary: "every resolver answers the old or the new values, never an error",
			Gate:    &Gate{Check: GateOldOrNew, Servers: spec.Verify.Resolvers, Recursive: true, Timeout: gateTimeout}}
		if pct == 100 {
			verify.Summary = "every resolver answers the new values"
			verify.Gate = &Gate{Check: GatePropagated, Servers: spec.Verify.Resolvers, Timeout: gateTimeout}
		}
		p.add(verify)
		p.add(Step{ID: "hold-" + id, Action: ActionHold, Summary: fmt.Sprintf("hold at %d%% for %s while the health checks pass", pct, spec.Hold),
			Wait: Duration(spec.Hold), Formula: "hold from the spec"})
	}
}

// StepHealthCheck is the records cutover's first health gate.
const StepHealthCheck = "health-check"
