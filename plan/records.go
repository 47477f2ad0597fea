package plan

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
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
func observeRecords(ctx context.Context, env Env, s *spec.Spec, o *Observed) error {
	side := spec.Side{Provider: s.Provider}
	host, ok := env.Hosts[s.Provider]
	if !ok {
		return fmt.Errorf("observe: provider %q has no host", s.Provider)
	}
	sets, err := providers.ReadRRsets(ctx, s.Provider, host, s.Zone)
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	for _, set := range sets {
		if set.Type == "NS" && set.Name == s.Zone {
			side.Nameservers = set.Data
		}
	}
	if l, ok := host.(providers.NameServerLister); ok && len(side.Nameservers) == 0 {
		if side.Nameservers, err = l.NameServers(ctx, s.Zone); err != nil {
			return fmt.Errorf("observe: provider %s: %w", s.Provider, err)
		}
		slices.Sort(side.Nameservers)
	}
	if len(side.Nameservers) == 0 {
		return fmt.Errorf("observe: provider %s serves no apex NS for %s", s.Provider, s.Zone)
	}
	if err := observeHost(ctx, env, s, side, &o.Old); err != nil {
		return err
	}
	_, o.Weighted = host.(providers.Weighter)
	current := currentSets(o.Old)
	total := 0
	for _, set := range current {
		if set.Type != "SOA" {
			total += len(set.Data)
		}
	}
	other := map[string][]string{}
	for _, r := range o.Old.Routed {
		if len(r.Other) > 0 {
			other[r.Name+" "+r.Type] = r.Other
		}
	}
	changed := 0
	for _, c := range s.Changes {
		from, to := Normalize(c.Name, c.Type, c.From), Normalize(c.Name, c.Type, c.To)
		set, ok := current[c.Name+" "+c.Type]
		_, weighted := routedAt(o.Old, c.Name, c.Type)
		switch {
		case other[c.Name+" "+c.Type] != nil:
			o.Problems = append(o.Problems, fmt.Sprintf("%s %s is answered at %s by a rule dnsmigrate does not change (%s): change it there, or leave it out of the spec", c.Name, c.Type, s.Provider, strings.Join(other[c.Name+" "+c.Type], "; ")))
		case ok && slices.Equal(set.Data, to):
		case ok && slices.Equal(set.Data, from):
			changed += len(from)
		case ok && weighted && slices.Equal(set.Data, union(from, to)):
			changed += len(from) // a weighted phase under way
		case !ok:
			o.Problems = append(o.Problems, fmt.Sprintf("%s %s does not exist at %s; the spec says it is %v", c.Name, c.Type, s.Provider, c.From))
		default:
			o.Problems = append(o.Problems, fmt.Sprintf("%s %s is %v at %s, neither from %v nor to %v", c.Name, c.Type, set.Data, s.Provider, c.From, c.To))
		}
	}
	if share := float64(changed) / float64(max(total, 1)); total >= SafetyMinRecords && share > SafetyThreshold && !s.Force {
		o.Problems = append(o.Problems, fmt.Sprintf("the plan changes %d of the %d records of %s (%.0f%%), more than %.0f%%: check the spec, or pass --force", changed, total, s.Zone, share*100, SafetyThreshold*100))
	}
	for _, a := range o.Old.hostAnswers {
		if !a.Answered || !a.Authoritative {
			o.Problems = append(o.Problems, fmt.Sprintf("server %s (%s) does not answer authoritatively for %s: %s", a.Name, a.Server, s.Zone, a.Error))
		}
	}
	return nil
}

// currentSets is the host's RRsets by "name type", a name answered by
// weighted sets standing as the set of every value it may answer with.
func currentSets(h HostState) map[string]providers.RRset {
	out := map[string]providers.RRset{}
	for _, set := range h.RRsets {
		out[set.Name+" "+set.Type] = set
	}
	for _, r := range h.Routed {
		if len(r.Sets) > 0 && len(r.Other) == 0 {
			out[r.Name+" "+r.Type] = providers.RRset{Name: r.Name, Type: r.Type, TTL: r.TTL, Data: Normalize(r.Name, r.Type, r.SetValues()), Sets: setValues(r)}
		}
	}
	return out
}

// routedAt finds the weighted sets that answer name and type at a host.
func routedAt(h HostState, name, rrtype string) (providers.Route, bool) {
	for _, r := range h.Routed {
		if r.Name == name && r.Type == rrtype && len(r.Sets) > 0 && len(r.Other) == 0 {
			return r, true
		}
	}
	return providers.Route{}, false
}

// setValues is each weighted set's values, normalized.
func setValues(r providers.Route) [][]string {
	var out [][]string
	for _, s := range r.Sets {
		out = append(out, Normalize(r.Name, r.Type, s.Values))
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// Normalize turns spec values into the data the host serves.
func Normalize(name, rrtype string, vals []string) []string {
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
// restore the TTLs. It reads as the steps run, one after another; hence
// its length.
func buildRecords(p *Plan, spec *spec.Spec, o *Observed) {
	m := spec.Margin
	gateTimeout := Duration(spec.Verify.GateTimeout)
	lowerTo := uint32(spec.TTL.LowerTo / time.Second)
	current := currentSets(o.Old)
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
	var before, after, proxied []string
	moves := make([]providers.Replacement, len(changes))
	for i, c := range changes {
		set := current[c.Name+" "+c.Type]
		from, to := Normalize(c.Name, c.Type, c.From), Normalize(c.Name, c.Type, c.To)
		ttl := min(set.TTL, lowerTo)
		if slices.Equal(set.Data, to) {
			from = to // already moved: its phase replaces nothing
		}
		moves[i] = providers.Replacement{Name: c.Name, Type: c.Type, TTL: ttl, From: from, To: to}
		if r, ok := routedAt(o.Old, c.Name, c.Type); ok {
			moves[i].FromSets = setValues(r)
		}
		if slices.Contains(o.Old.Proxied, c.Name+" "+c.Type) {
			// Answered from the edge: its TTL is automatic and resolvers
			// never see the values; nothing to lower or wait out.
			moves[i].Proxied = true
			proxied = append(proxied, c.Name+" "+c.Type)
			continue
		}
		if r, ok := routedAt(HostState{Routed: o.PriorRouted}, c.Name, c.Type); ok && slices.Equal(Normalize(r.Name, r.Type, r.SetValues()), to) {
			moves[i].ToSets = setValues(r)
		}
		if set.TTL > lowerTo {
			lowerSets = append(lowerSets, set)
			lowerTTLs = append(lowerTTLs, lowerTo)
			lower = append(lower, providers.Replacement{Name: c.Name, Type: c.Type, TTL: lowerTo, From: set.Data, To: set.Data})
			restore = append(restore, providers.Replacement{Name: c.Name, Type: c.Type, TTL: set.TTL, From: to, To: to, FromSets: moves[i].ToSets, ToSets: moves[i].ToSets})
			maxTTL = max(maxTTL, set.TTL)
			before = append(before, setTTL(c.Name, c.Type, set.TTL))
			after = append(after, setTTL(c.Name, c.Type, lowerTo))
		}
	}
	servers := o.Old.Servers
	summary := fmt.Sprintf("lower %d of the %d changing RRsets to %ds at %s", len(lower), len(changes), lowerTo, spec.Provider)
	if len(proxied) > 0 {
		summary += fmt.Sprintf(" (proxied, answered from its edge with an automatic TTL, not lowered: %s)", strings.Join(proxied, ", "))
	}
	p.add(Step{ID: StepLowerTTL, Action: ActionSetTTL, Done: len(lower) == 0,
		Summary: summary,
		Before:  capLines(before), After: capLines(after), TTLs: []TTLChange{{Provider: spec.Provider, RRsets: lowerSets, TTLs: lowerTTLs}},
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
		Health: spec.Health, Gate: &Gate{Check: GateHealthy, Timeout: gateTimeout}})
	if o.Weighted {
		buildWeighted(p, spec, o, moves, servers)
	} else {
		buildShares(p, spec, moves, servers, lowerTo)
	}
	if spec.TTL.Restore {
		var b, a []string
		for _, r := range restore {
			b = append(b, setTTL(r.Name, r.Type, lowerTo))
			a = append(a, setTTL(r.Name, r.Type, r.TTL))
		}
		p.add(Step{ID: StepRestoreTTL, Action: ActionSetRecords, Provider: spec.Provider, Done: len(restore) == 0,
			Summary: fmt.Sprintf("restore %d RRsets to their TTLs at %s", len(restore), spec.Provider),
			Before:  b, After: a, Records: restore,
			Gate: &Gate{Check: GateRecordsServed, Servers: servers, Timeout: gateTimeout}})
	}
	p.add(Step{ID: StepFinalVerify, Action: ActionVerify, Summary: "every resolver answers the new values of every name",
		Moved: moves, Gate: &Gate{Check: GatePropagated, Servers: spec.Verify.Resolvers, Timeout: gateTimeout}})
}

// buildShares plans phases that each move a share of the names, in the
// stable order, each proven at every server and at every resolver.
func buildShares(p *Plan, spec *spec.Spec, moves []providers.Replacement, servers []string, lowerTo uint32) {
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
		p.add(Step{ID: id, Action: ActionSetRecords, Provider: spec.Provider, Summary: fmt.Sprintf("move %d%% of the names (%d more): %s", pct, len(batch), strings.Join(names, ", ")),
			Before: olds, After: news, Records: batch, Moved: moves[:upto],
			Gate:     &Gate{Check: GateRecordsServed, Servers: servers, Timeout: gateTimeout},
			Rollback: "put back the old values of every name moved so far"})
		base := time.Duration(lowerTo) * time.Second
		p.add(Step{ID: "verify-" + id, Action: ActionVerify, Summary: fmt.Sprintf("every resolver answers the new values of the %d names moved so far", upto),
			Moved: moves[:upto], Formula: fmt.Sprintf("a resolver may show the old answer until the change plus the lowered TTL %s", base),
			Gate: &Gate{Check: GatePropagated, Servers: spec.Verify.Resolvers, Timeout: Duration(max(time.Duration(gateTimeout), m.Add(base)))}})
		p.add(Step{ID: "hold-" + id, Action: ActionHold, Summary: fmt.Sprintf("hold at %d%% for %s while the health checks pass", pct, spec.Hold),
			Wait: Duration(spec.Hold), Formula: "hold from the spec", Health: spec.Health})
		done = upto
	}
}

// buildWeighted plans phases on a host with weighted record sets: each
// phase gives every name's new values that share of the answers (the old
// values the rest); the last phase puts plain record sets back with the
// new values only. A name the host already answers by weighted sets (the
// user's own, with their identifiers and health checks) keeps them: they
// share the old side in proportion to their weights. A rollback ends on
// those sets exactly as the forward move found them (Observed.PriorRouted).
// Each phase step holds the routes apply writes and the routes a rollback
// writes back.
func buildWeighted(p *Plan, spec *spec.Spec, o *Observed, moves []providers.Replacement, servers []string) {
	gateTimeout := Duration(spec.Verify.GateTimeout)
	var undo []providers.Route
	for _, mv := range moves {
		if from, user := weightedSide(o.Old, mv.Name, mv.Type, mv.From, "dnsmigrate-old"); user {
			undo = append(undo, providers.Route{Name: mv.Name, Type: mv.Type, TTL: mv.TTL, Sets: from})
		} else {
			undo = append(undo, providers.Route{Name: mv.Name, Type: mv.Type, TTL: mv.TTL, Values: mv.From})
		}
	}
	var prev []string
	for i, mv := range moves {
		if !slices.Equal(mv.From, mv.To) {
			prev = append(prev, describeRoute(undo[i]))
		}
	}
	for k, pct := range spec.Phases {
		id := fmt.Sprintf("phase-%d", k+1)
		step := Step{ID: id, Provider: spec.Provider, Moved: moves, Records: moves, Undo: undo, Before: prev, Rollback: "put back the old values of every name, as the host had them"}
		for _, mv := range moves {
			if slices.Equal(mv.From, mv.To) {
				continue // already moved
			}
			route := phaseRoute(o, mv, pct)
			step.Routes = append(step.Routes, route)
			step.After = append(step.After, describeRoute(route))
		}
		prev = step.After
		if pct < 100 {
			step.Action, step.Weight = ActionSetWeights, pct
			step.Summary = fmt.Sprintf("answer every changing name with its new values %d%% of the time (weighted record sets)", pct)
			step.Gate = &Gate{Check: GateOldOrNew, Servers: servers, Timeout: gateTimeout}
		} else {
			step.Action = ActionSetRecords
			step.Summary = "answer every changing name with its new values only"
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
			Wait: Duration(spec.Hold), Formula: "hold from the spec", Health: spec.Health})
	}
}

// weightedSide is one side of a move as weighted sets: the sets the host
// (h) answers the name with when they hold exactly vals (user is true),
// else one set of its own, named id.
func weightedSide(h HostState, name, rrtype string, vals []string, id string) (sets []providers.WeightedSet, user bool) {
	if r, ok := routedAt(h, name, rrtype); ok && slices.Equal(Normalize(name, rrtype, r.SetValues()), vals) {
		return slices.Clone(r.Sets), true
	}
	return []providers.WeightedSet{{ID: id, Weight: 1, Values: vals}}, false
}

// phaseRoute is how the host answers a moving name at pct percent: the
// old side's sets sharing 100-pct of the weight in proportion to their
// own weights, the new side's sharing pct; at 100, the new side alone,
// as plain values or as the sets a rollback puts back exactly.
func phaseRoute(o *Observed, mv providers.Replacement, pct int) providers.Route {
	route := providers.Route{Name: mv.Name, Type: mv.Type, TTL: mv.TTL}
	from, _ := weightedSide(o.Old, mv.Name, mv.Type, mv.From, "dnsmigrate-old")
	if cur, ok := routedAt(o.Old, mv.Name, mv.Type); ok && slices.Equal(Normalize(mv.Name, mv.Type, cur.SetValues()), union(mv.From, mv.To)) {
		from = slices.Clone(cur.Sets) // a phase under way: its sets are the old side
	}
	to, user := weightedSide(HostState{Routed: o.PriorRouted}, mv.Name, mv.Type, mv.To, "dnsmigrate-new")
	if pct >= 100 {
		if user {
			route.Sets = to
		} else {
			route.Values = mv.To
		}
		return route
	}
	route.Sets = mergeSets(scaleSets(from, 100-pct), scaleSets(to, pct))
	return route
}

// scaleSets gives sets weights summing to about share, in proportion to
// their weights (equally when all are 0).
func scaleSets(sets []providers.WeightedSet, share int) []providers.WeightedSet {
	var sum int64
	for _, s := range sets {
		sum += s.Weight
	}
	out := slices.Clone(sets)
	for i := range out {
		if sum == 0 {
			out[i].Weight = int64(math.Round(float64(share) / float64(len(sets))))
		} else {
			out[i].Weight = int64(math.Round(float64(share) * float64(sets[i].Weight) / float64(sum)))
		}
	}
	return out
}

// mergeSets joins two sides; a set on both sides (a rollback of a phase
// under way) is one set with both weights.
func mergeSets(a, b []providers.WeightedSet) []providers.WeightedSet {
	out := slices.Clone(a)
	for _, s := range b {
		if i := slices.IndexFunc(out, func(o providers.WeightedSet) bool { return o.ID == s.ID }); i >= 0 {
			out[i].Weight += s.Weight
			continue
		}
		out = append(out, s)
	}
	return out
}

// describeRoute is a route in one line for plans and change logs.
func describeRoute(r providers.Route) string {
	if len(r.Sets) == 0 {
		return fmt.Sprintf("%s %s ttl %d plain %v", r.Name, r.Type, r.TTL, r.Values)
	}
	var parts []string
	for _, s := range r.Sets {
		d := fmt.Sprintf("%s=%d %v", s.ID, s.Weight, s.Values)
		if s.HealthCheckID != "" {
			d += " health check " + s.HealthCheckID
		}
		parts = append(parts, d)
	}
	return fmt.Sprintf("%s %s ttl %d %s", r.Name, r.Type, r.TTL, strings.Join(parts, ", "))
}

// StepHealthCheck is the records cutover's first health gate.
const StepHealthCheck = "health-check"

// planRecords plans a records cutover; nothing to do when every change is
// in place already.
func planRecords(p *Plan, spec *spec.Spec, o *Observed) error {
	buildRecords(p, spec, o)
	p.OnFailure = spec.Rollback
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
	return nil
}
