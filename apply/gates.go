package apply

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
)

// GateResult is one evaluation of a gate: whether it holds, a one-line
// account per server, and the answers it rests on.
type GateResult struct {
	OK bool
	// Fatal says waiting cannot help: fail now.
	Fatal    bool
	Summary  string
	Evidence []checks.Evidence
}

// evalGate asks the servers of step's gate once. since says when each
// moved name was changed (records cutovers); memo (may be nil) carries
// what earlier polls of the same gate proved.
func evalGate(ctx context.Context, env plan.Env, p *plan.Plan, st *plan.Step, since map[string]time.Time, memo *gateMemo) GateResult {
	g := st.Gate
	switch g.Check {
	case plan.GateTTLServed:
		return gateTTL(ctx, env, p, st, memo, nil)
	case plan.GateMarker:
		return gateMarker(ctx, env, p, g)
	case plan.GateDSGone, plan.GateNSServed, plan.GateDSServed:
		return gateParent(ctx, env, p, g)
	case plan.GateDNSKEYServed:
		return gateDNSKEY(ctx, env, p, st)
	case plan.GateVerified:
		return gateVerified(ctx, env, p, g, since[gateStartKey(st.ID)])
	case plan.GateRecordsServed:
		served, proxied := splitProxied(st.Records)
		return gateAPI(ctx, env, p, proxied, false, gateRecords(ctx, env, served, g.Servers, memo))
	case plan.GatePropagated:
		seen, proxied := splitProxied(st.Moved)
		visible := *st
		visible.Moved = seen
		res := GateResult{OK: true}
		if len(seen) > 0 {
			res = gatePropagated(ctx, env, p, &visible, since)
		}
		return edgeNote(res, proxied)
	case plan.GateOldOrNew:
		seen, proxied := splitProxied(st.Moved)
		res := gateOldOrNew(ctx, env, seen, g.Servers, g.Recursive)
		if g.Recursive {
			return edgeNote(res, proxied)
		}
		return gateAPI(ctx, env, p, proxied, true, res)
	case plan.GateHealthy:
		h := checkHealth(ctx, st.Health)
		return GateResult{OK: h.OK, Summary: h.Summary}
	}
	return GateResult{Summary: "unknown gate " + string(g.Check)}
}

// gateMemo is what one gate's polls remember: the questions already
// proven (not asked again in the next poll: a server that serves the new
// TTL or data goes on serving it) and one proof per server.
type gateMemo struct {
	proven map[int]bool
	proof  map[string]checks.Evidence
	order  []string
	// serial is the SOA serial of each server's last zone transfer, by
	// "change server": a server still at that serial serves the same zone,
	// so it is not transferred again (a transfer is the whole zone).
	serial map[string]uint32
	// behind counts, by "change server", the polls that left a server
	// untransferred because another server of its host served a newer
	// serial (behindPolls bounds them).
	behind map[string]int
}

func newGateMemo() *gateMemo {
	return &gateMemo{proven: map[int]bool{}, proof: map[string]checks.Evidence{}, serial: map[string]uint32{}, behind: map[string]int{}}
}

func (m *gateMemo) prove(i int, server string, e func() checks.Evidence) {
	m.proven[i] = true
	if _, ok := m.proof[server]; !ok {
		m.proof[server] = e()
		m.order = append(m.order, server)
	}
}

// merge adds what o proved (a memo of the same step's gate, numbered
// alike) to m.
func (m *gateMemo) merge(o *gateMemo) {
	for k := range o.proven {
		m.proven[k] = true
	}
	for _, s := range o.order {
		if _, ok := m.proof[s]; !ok {
			m.proof[s] = o.proof[s]
			m.order = append(m.order, s)
		}
	}
	for k, v := range o.serial {
		m.serial[k] = v
	}
}

func (m *gateMemo) proofs() []checks.Evidence {
	var out []checks.Evidence
	for _, s := range m.order {
		out = append(out, m.proof[s])
	}
	return out
}

// maxBadEvidence bounds the failed answers a gate result keeps.
const maxBadEvidence = 8

// gateTTL: every server of each host serves each changed RRset with the
// new TTL and unchanged data. The questions stream through the engine
// keeping only counts, one proof per server and a few failures; those
// proven in an earlier poll of the same gate (memo) are not asked again.
// It is long because a server is proven one of two ways in one pass (by
// zone transfer where the host hands one out and the change holds a tenth
// or more of its RRsets, else question by question)
// and both share the memo and the evidence kept. only (nil: every change)
// picks the changes judged, numbered as in the whole step: one host's
// change proven on its own shares its memo with the step's gate.
func gateTTL(ctx context.Context, env plan.Env, p *plan.Plan, st *plan.Step, memo *gateMemo, only func(ci int) bool) GateResult {
	if memo == nil {
		memo = newGateMemo()
	}
	type want struct {
		set providers.RRset
		ttl uint32
		i   int
	}
	res := GateResult{OK: true}
	bad := 0
	fail := func(e checks.Evidence) {
		res.OK = false
		bad++
		if len(res.Evidence) < maxBadEvidence {
			res.Evidence = append(res.Evidence, e)
		}
	}
	var qs []checks.Question
	var wants []want
	total, judged := 0, 0
	for ci, c := range st.TTLs {
		servers := p.Target().ServersOf(c.Provider)
		// The answer for RRset i at servers[j] is number base+i*len(servers)+j.
		base, ns := total, len(servers)
		total += len(c.RRsets) * ns
		if only != nil && !only(ci) {
			continue
		}
		judged += len(c.RRsets) * ns
		open := make([]bool, ns) // servers with an RRset still to prove
		for k := base; k < total; k++ {
			if !memo.proven[k] {
				open[(k-base)%ns] = true
			}
		}
		serialKey := func(j int) string { return fmt.Sprint(ci, " ", servers[j]) }
		byTransfer := len(c.RRsets)*transferShare >= p.Target().RRsetsOf(c.Provider)
		if _, ok := env.Hosts[c.Provider].(providers.Transferrer); !ok {
			byTransfer = false
		}
		// Read by transfer, every server of the host tells its serial: one
		// behind another's (its secondary before the NOTIFY of the last
		// update) is not transferred yet, for up to behindPolls polls.
		compare := byTransfer && ns > 1
		serials := zoneSerials(ctx, env, p.Target().Zone, servers, func(j int) bool {
			_, ok := memo.serial[serialKey(j)]
			return open[j] && ok || compare
		})
		var newest uint32
		for _, serial := range serials {
			if serial != 0 && (newest == 0 || serialAfter(serial, newest)) {
				newest = serial
			}
		}
		// A server held back, or transferred before and still at the same
		// serial, has nothing new to judge: its RRsets still to prove stay so.
		held := make([]bool, ns)
		for j := range servers {
			serial := serials[j]
			if !open[j] || serial == 0 {
				continue
			}
			left := 0
			for i := range c.RRsets {
				if !memo.proven[base+i*ns+j] {
					left++
				}
			}
			var note string
			switch key := serialKey(j); {
			case serial == memo.serial[key]:
				note = fmt.Sprintf("still at serial %d, transferred before: %d RRsets yet to serve the new TTL", serial, left)
			case compare && serialAfter(newest, serial) && memo.behind[key] < behindPolls:
				memo.behind[key]++
				note = fmt.Sprintf("at serial %d, behind %d at another of the host's servers: not transferred until it catches up; %d RRsets yet to serve the new TTL", serial, newest, left)
			default:
				continue
			}
			held[j] = true
			fail(plan.TransferEvidence(servers[j], p.Target().Zone, note))
			bad += left - 1
		}
		skip := func(j int) bool { return !open[j] || held[j] }
		judge := func(j int, serial uint32, got plan.ServedSets) {
			srv := servers[j]
			memo.serial[serialKey(j)] = serial
			for i, set := range c.RRsets {
				k := base + i*ns + j
				if memo.proven[k] {
					continue
				}
				g := got.At(i)
				if g != nil && g.TTL == c.TTLs[i] && set.Serves(g.Data) {
					memo.prove(k, srv, func() checks.Evidence {
						return plan.TransferEvidence(srv, p.Target().Zone, "zone transfer: every changed RRset served with its new TTL and unchanged data")
					})
					continue
				}
				e := checks.Evidence{Server: srv, Question: dns.Fqdn(set.Name) + " " + set.Type, Note: fmt.Sprintf("zone transfer: not in the zone; want ttl %d with %v", c.TTLs[i], set.Data)}
				if g != nil {
					e.TTL, e.Answer = &g.TTL, g.Data
					e.Note = fmt.Sprintf("zone transfer; want ttl %d with %v", c.TTLs[i], set.Data)
				}
				fail(e)
			}
		}
		ask := plan.Unskipped(servers, skip)
		if byTransfer {
			keys := make(map[string]int, len(c.RRsets))
			for i, set := range c.RRsets {
				keys[plan.SetKey(set.Name, set.Type)] = i
			}
			ask = plan.ByTransfer(ctx, env.Hosts[c.Provider], p.Target().Zone, servers, skip, keys, judge)
		}
		for _, j := range ask {
			for i, set := range c.RRsets {
				if k := base + i*ns + j; !memo.proven[k] {
					// The answer's TTL is what is judged, not a signature.
					qs = append(qs, checks.Question{Server: servers[j], Name: set.Name, Type: dns.StringToType[set.Type], Plain: true})
					wants = append(wants, want{set, c.TTLs[i], k})
				}
			}
		}
	}
	env.Checker.AskEach(ctx, qs, func(k int, r checks.Reply) {
		w := wants[k]
		data, ttl := checks.RRsetOf(r, r.Name, r.Type)
		if r.OK() && r.Msg.Authoritative && ttl == w.ttl && w.set.Serves(data) {
			memo.prove(w.i, r.Server, func() checks.Evidence { return checks.EvidenceOf(r, r.Type) })
			return
		}
		e := checks.EvidenceOf(r, r.Type)
		e.Note = fmt.Sprintf("want ttl %d with %v", w.ttl, w.set.Data)
		fail(e)
	})
	res.Summary = fmt.Sprintf("%d of %d RRset answers serve the new TTL with unchanged data", judged-bad, judged)
	if res.OK {
		res.Evidence = memo.proofs()
	}
	res.Evidence = append(res.Evidence, skippedEvidence(p)...)
	return res
}

// transferShare: a TTL gate reads a server's zone by transfer when the
// change holds at least a tenth of the host's RRsets; a smaller change is
// asked question by question (the apex NS set alone, lowered first in a
// zone of 100,000 RRsets: two questions, not two transfers of the zone,
// before the wait that runs from its proof starts).
const transferShare = 10

// behindPolls bounds the polls of one gate in which a server behind
// another of its host's is not transferred: serials a host's servers do
// not share would otherwise keep it from being judged at all. Ten polls are about
// 2.5 s (the looks grow by half from 25 ms); Knot's secondary is told of
// an update a second after it.
const behindPolls = 10

// serialAfter says whether serial a is newer than b (RFC 1982 arithmetic).
func serialAfter(a, b uint32) bool { return int32(a-b) > 0 }

// zoneSerials asks each server that ask picks for the zone's SOA serial
// (0: no authoritative answer), by the server's index.
func zoneSerials(ctx context.Context, env plan.Env, zone string, servers []string, ask func(j int) bool) map[int]uint32 {
	var qs []checks.Question
	var idx []int
	for j, s := range servers {
		if ask(j) {
			qs = append(qs, checks.Question{Server: s, Name: zone, Type: dns.TypeSOA, Plain: true})
			idx = append(idx, j)
		}
	}
	out := map[int]uint32{}
	for k, r := range env.Checker.AskAll(ctx, qs) {
		out[idx[k]] = 0
		if r.OK() && r.Msg.Authoritative {
			for _, rr := range r.Msg.Answer {
				if soa, ok := rr.(*dns.SOA); ok {
					out[idx[k]] = soa.Serial
				}
			}
		}
	}
	return out
}

// gateParent: every parent server shows the delegation change.
func gateParent(ctx context.Context, env plan.Env, p *plan.Plan, g *plan.Gate) GateResult {
	parents := env.Checker.AskParents(ctx, p.Target().ParentCut(), p.Target().Zone)
	res := GateResult{OK: true}
	var lines []string
	// The DS-gone proof is the one validators check: a denial that
	// matches the name, lists no DS and verifies with the parent's keys.
	var parentKeys []*dns.DNSKEY
	if g.Check == plan.GateDSGone {
		keys, _, err := env.Checker.ParentKeys(ctx, p.Target().Zone)
		if err != nil {
			return GateResult{Summary: "cannot validate the parent's denial of the DS: " + err.Error()}
		}
		parentKeys = keys
	}
	now := time.Now()
	if env.Now != nil {
		now = env.Now()
	}
	for _, ps := range parents {
		var ok bool
		var ev checks.Evidence
		switch g.Check {
		case plan.GateDSGone:
			why := ps.DSAbsenceProof(p.Target().Zone, parentKeys, now)
			ok, ev = why == "", ps.DSEvidence()
			if !ok {
				ev.AddNote(why)
			}
		case plan.GateNSServed:
			ok, ev = ps.Answered && slices.Equal(ps.NS, sorted(g.Expect)), ps.NSEvidence()
		case plan.GateDSServed:
			ok, ev = ps.Answered && slices.Equal(ps.DS, sorted(g.Expect)), ps.DSEvidence()
		}
		if ps.Error != "" {
			ev.AddNote(ps.Error)
		}
		res.Evidence = append(res.Evidence, ev)
		state := "yes"
		switch {
		case !ps.Answered:
			// A dead or frozen server is named as such, not as a
			// parent that has not caught up yet.
			state, res.OK = "no answer", false
		case !ok:
			state, res.OK = "not yet", false
		}
		lines = append(lines, ps.Server+" "+state)
	}
	res.Summary = strings.Join(lines, ", ")
	res.Evidence = append(res.Evidence, skippedEvidence(p)...)
	return res
}

// skippedEvidence says which server addresses a gate did not ask, and why,
// so that a gate never passes over an address in silence.
func skippedEvidence(p *plan.Plan) []checks.Evidence {
	var out []checks.Evidence
	for _, a := range p.Target().Skipped {
		out = append(out, checks.Evidence{Server: a, Note: "not asked: this machine has no route to it (verify.ipv6: auto; set on to require it)"})
	}
	return out
}

// gateStartKey is where the executor keeps, in the since map, when it
// first asked a step's gate.
func gateStartKey(step string) string { return "gate " + step }

// gateVerified: the zone validates as planned, every parent server
// delegates to the new servers, no critical finding, and every resolver
// answers (validating ones with AD when the zone is signed, for every
// watched name; past g.ADGrace a missing AD alone passes with a warning).
func gateVerified(ctx context.Context, env plan.Env, p *plan.Plan, g *plan.Gate, started time.Time) GateResult {
	rep, err := env.Checker.Check(ctx, p.Target().Zone)
	if err != nil {
		return GateResult{Summary: err.Error()}
	}
	var problems []string
	if string(rep.Status) != g.Status {
		problems = append(problems, fmt.Sprintf("zone is %s, want %s", rep.Status, g.Status))
	}
	for _, ps := range rep.ParentServers {
		if !slices.Equal(ps.NS, sorted(g.Expect)) {
			problems = append(problems, fmt.Sprintf("%s delegates to %v", ps.Server, ps.NS))
		}
	}
	for _, f := range rep.Findings {
		if f.Severity == checks.Critical {
			problems = append(problems, f.ID+": "+f.Summary)
		}
	}
	var ev []checks.Evidence
	for _, r := range rep.Resolvers {
		e := checks.Evidence{Server: r.Server, Question: p.Target().Zone + " SOA", RCODE: r.RCODE, Error: r.Error}
		if r.AD {
			e.Flags = "ad"
		}
		if r.Validating {
			e.Note = "validating"
		}
		ev = append(ev, e)
		// AD at validating resolvers is asked for every watched name
		// below (notAuthenticated), the apex SOA included.
		if r.Error != "" || r.RCODE != "NOERROR" {
			problems = append(problems, fmt.Sprintf("resolver %s answers %s%s", r.Server, r.RCODE, r.Error))
		}
	}
	var unauth []string
	if g.Status == "secure" {
		unauth = notAuthenticated(ctx, env, p, rep, &ev)
	}
	for _, c := range rep.ChildServers {
		ev = append(ev, c.Evidence()[0])
	}
	ok := fmt.Sprintf("%s is %s; %d resolvers answer", p.Target().Zone, rep.Status, len(rep.Resolvers))
	switch {
	case len(problems) == 0 && len(unauth) == 0:
		return GateResult{OK: true, Summary: ok, Evidence: ev}
	case len(problems) == 0 && g.ADGrace > 0 && !started.IsZero() && time.Since(started) >= time.Duration(g.ADGrace):
		// Everything else holds and every answer is right, but a
		// resolver still serves the zone as insecure from its cache past
		// the longest TTL the zone serves: it keeps refreshing what it
		// cached during the move. Say so rather than wait without end.
		return GateResult{OK: true, Evidence: ev, Summary: fmt.Sprintf("%s; WARNING, %s after the gate began: %s. No answer fails, but these resolvers give no DNSSEC protection until they drop what they cached while the zone was insecure (Knot Resolver refreshes a cached insecure NS set from the authority section of every answer; the keep-secure method avoids the window)",
			ok, time.Duration(g.ADGrace), strings.Join(unauth, "; "))}
	}
	return GateResult{Summary: strings.Join(append(problems, unauth...), "; "), Evidence: ev}
}

// precondition checks, before a registrar change, that every parent server
// serves the state the plan starts the step from (Before) or already the
// one it leads to (After), and (a move of name servers) that every new
// server is ready to be delegated to. A server that gives another state
// means someone else changed the delegation, or the new host is not
// ready: apply stops rather than send. A server that does not answer is
// listed in silent: the caller asks again until the gate timeout and then
// reports it unreachable, never as a change made outside the run.
func precondition(ctx context.Context, env plan.Env, p *plan.Plan, st *plan.Step) (inPlace bool, res GateResult, silent []string) {
	if st.Action != plan.ActionSetNS && st.Action != plan.ActionSetDS {
		return false, GateResult{OK: true}, nil
	}
	parents := env.Checker.AskParents(ctx, p.Target().ParentCut(), p.Target().Zone)
	before, after := true, true
	for _, ps := range parents {
		got := ps.DS
		ev := ps.DSEvidence()
		if st.Action == plan.ActionSetNS {
			got, ev = ps.NS, ps.NSEvidence()
		}
		res.Evidence = append(res.Evidence, ev)
		if !ps.Answered || st.Action == plan.ActionSetDS && !ps.DSAnswered() {
			silent = append(silent, fmt.Sprintf("parent server %s (%s)", ps.Name, ps.Server))
			continue
		}
		before = before && slices.Equal(got, sorted(st.Before))
		after = after && slices.Equal(got, sorted(st.After))
	}
	notReady, newSilent, ev := newServersReady(ctx, env, p)
	res.Evidence = append(res.Evidence, ev...)
	silent = append(silent, newSilent...)
	switch {
	case len(notReady) > 0:
		res.Summary = "a new server is not ready to be delegated to, so nothing was sent: " + strings.Join(notReady, "; ")
		return false, res, nil
	case len(silent) > 0:
		res.Summary = "no answer from " + strings.Join(silent, ", ") + ": unreachable, so nothing was sent (this is not a change of the delegation)"
		return false, res, silent
	case after:
		return true, GateResult{OK: true, Summary: "already in place at every parent server", Evidence: res.Evidence}, nil
	case before:
		return false, GateResult{OK: true, Summary: "every parent server serves the planned starting state", Evidence: res.Evidence}, nil
	}
	res.Summary = fmt.Sprintf("the parent serves neither the planned starting state %v nor the target %v: the delegation was changed outside this run", orNone(st.Before), orNone(st.After))
	return false, res, nil
}

// newServersReady asks every address of every new name server, before a
// registrar change of a move of name servers, for the zone's SOA, NS and
// DNSKEY: each must answer authoritatively with the new apex NS set and,
// when the move publishes a DS, serve the KSK that DS digests. It returns
// what is wrong, by server, and the servers that did not answer.
func newServersReady(ctx context.Context, env plan.Env, p *plan.Plan) (notReady, silent []string, ev []checks.Evidence) {
	t := p.Target()
	if t.Cutover {
		return nil, nil, nil
	}
	var servers []checks.NameServer
	for _, n := range t.Nameservers {
		servers = append(servers, checks.NameServer{Name: n})
	}
	// The DS the move adds (beside those already published, in a
	// multi-signer move) must digest a KSK the new servers serve.
	var wantDS []string
	if st := p.Step(plan.StepAddDS); st != nil {
		for _, d := range st.DS {
			if !slices.Contains(st.Before, d) {
				wantDS = append(wantDS, d)
			}
		}
	}
	to := sorted(t.Nameservers)
	for _, a := range env.Checker.AskServers(ctx, servers, p.Target().Zone) {
		ev = append(ev, a.Evidence()...)
		who := fmt.Sprintf("new server %s (%s)", a.Name, a.Server)
		switch {
		case a.Server == "":
			notReady = append(notReady, fmt.Sprintf("new server %s has no address: %s", a.Name, a.Error))
		case !a.Answered || len(wantDS) > 0 && !a.DNSKEYAnswered():
			silent = append(silent, who)
		case !a.Authoritative:
			notReady = append(notReady, who+" does not answer authoritatively for "+p.Target().Zone)
		case !slices.Equal(a.NS, to):
			notReady = append(notReady, fmt.Sprintf("%s serves apex NS %v, want %v", who, a.NS, to))
		default:
			served := map[string]bool{}
			for _, k := range plan.KSKs(a.Keys) {
				served[k.DS] = true
			}
			for _, d := range wantDS {
				if !served[d] {
					notReady = append(notReady, fmt.Sprintf("%s does not serve the KSK of the DS the plan publishes (%s); it serves %d DNSKEYs", who, d, len(a.Keys)))
				}
			}
		}
	}
	return notReady, silent, ev
}

// gateRecords: every server serves each RRset's new data, authoritatively.
func gateRecords(ctx context.Context, env plan.Env, reps []providers.Replacement, servers []string, memo *gateMemo) GateResult {
	if memo == nil {
		memo = newGateMemo()
	}
	var qs []checks.Question
	var want []providers.Replacement
	var idx []int
	total := 0
	for _, r := range reps {
		for _, s := range servers {
			if !memo.proven[total] {
				qs = append(qs, checks.Question{Server: s, Name: r.Name, Type: dns.StringToType[r.Type], Plain: true})
				want, idx = append(want, r), append(idx, total)
			}
			total++
		}
	}
	res := GateResult{OK: true}
	bad := 0
	env.Checker.AskEach(ctx, qs, func(k int, r checks.Reply) {
		data, _ := checks.RRsetOf(r, r.Name, r.Type)
		if r.OK() && r.Msg.Authoritative && want[k].IsTo(data) {
			memo.prove(idx[k], r.Server, func() checks.Evidence { return checks.EvidenceOf(r, r.Type) })
			return
		}
		res.OK = false
		bad++
		if len(res.Evidence) < maxBadEvidence {
			e := checks.EvidenceOf(r, r.Type)
			e.Note = fmt.Sprintf("want %v", want[k].To)
			if len(want[k].ToSets) > 0 {
				e.Note = fmt.Sprintf("want one of the weighted sets %v", want[k].ToSets)
			}
			res.Evidence = append(res.Evidence, e)
		}
	})
	if res.OK {
		res.Evidence = memo.proofs()
	}
	res.Summary = fmt.Sprintf("%d of %d answers serve the new data", total-bad, total)
	return res
}

// gatePropagated: every resolver answers the new data of every name moved
// so far. A stale, unexpected or failed answer fails at once: waiting will
// not mend it.
func gatePropagated(ctx context.Context, env plan.Env, p *plan.Plan, st *plan.Step, since map[string]time.Time) GateResult {
	var changes []checks.Change
	for _, mv := range st.Moved {
		at, ok := since[mv.Name+" "+mv.Type]
		if !ok {
			at = time.Now()
		}
		ch, err := checks.NewChange(mv.Name, mv.Type, mv.To, mv.From, at)
		if err != nil {
			return GateResult{Fatal: true, Summary: err.Error()}
		}
		ch.OldTTL = time.Duration(mv.TTL) * time.Second
		if err := ch.AddSets(mv.ToSets, mv.FromSets); err != nil {
			return GateResult{Fatal: true, Summary: err.Error()}
		}
		changes = append(changes, ch)
	}
	seen, err := env.Checker.Propagation(ctx, changes, p.Target().Resolvers, time.Now())
	if err != nil {
		return GateResult{Summary: err.Error()}
	}
	res := GateResult{OK: true}
	count := map[checks.Verdict]int{}
	for _, s := range seen {
		if s.Role != "resolver" {
			continue
		}
		count[s.Verdict]++
		e := checks.Evidence{Server: s.Server, Question: s.Name + " " + s.Type, RCODE: s.RCODE, Answer: s.Answer, Error: s.Error, Note: string(s.Verdict)}
		if s.TTL > 0 {
			ttl := s.TTL
			e.TTL = &ttl
		}
		if s.Verdict == checks.Pending {
			e.Note += ", may stay until " + s.Deadline
		}
		switch s.Verdict {
		case checks.Updated:
		case checks.Pending:
			res.OK = false
		default:
			res.OK, res.Fatal = false, true
		}
		res.Evidence = append(res.Evidence, e)
	}
	res.Summary = fmt.Sprintf("%d updated, %d pending, %d stale, %d unexpected, %d error", count[checks.Updated], count[checks.Pending], count[checks.Stale], count[checks.Unexpected], count[checks.Error])
	return res
}

// gateOldOrNew: while a name is answered by weighted sets, each answer is
// its old or its new values, never anything else and never an error.
func gateOldOrNew(ctx context.Context, env plan.Env, moves []providers.Replacement, servers []string, recursive bool) GateResult {
	var qs []checks.Question
	var idx []int
	for i, mv := range moves {
		for _, s := range servers {
			qs = append(qs, checks.Question{Server: checks.WithPort(s), Name: mv.Name, Type: dns.StringToType[mv.Type], RD: recursive, Plain: true})
			idx = append(idx, i)
		}
	}
	res := GateResult{OK: true}
	var old, nw int
	for k, r := range env.Checker.AskAll(ctx, qs) {
		data, _ := checks.RRsetOf(r, r.Name, r.Type)
		mv := moves[idx[k]]
		switch {
		case r.OK() && mv.IsTo(data):
			nw++
		case r.OK() && mv.IsFrom(data):
			old++
		default:
			res.OK, res.Fatal = false, true
			e := checks.EvidenceOf(r, r.Type)
			e.Note = fmt.Sprintf("neither old %v nor new %v", mv.From, mv.To)
			res.Evidence = append(res.Evidence, e)
		}
	}
	res.Summary = fmt.Sprintf("%d answers new, %d old, %d neither", nw, old, len(qs)-nw-old)
	return res
}

// notAuthenticated asks every validating resolver for every watched name
// and the DNSKEY: each answer must carry AD. An answer a resolver cached
// while the zone was insecure stays unauthenticated until its TTL runs
// out, so the move is not done before those are gone.
func notAuthenticated(ctx context.Context, env plan.Env, p *plan.Plan, rep *checks.Report, ev *[]checks.Evidence) []string {
	var qs []checks.Question
	t := p.Target()
	names := append(p.Watched(), [2]string{t.Zone, "DNSKEY"})
	for _, r := range rep.Resolvers {
		if !r.Validating {
			continue
		}
		for _, n := range names {
			qs = append(qs, checks.Question{Server: r.Server, Name: n[0], Type: dns.StringToType[n[1]], RD: true})
		}
	}
	unauth := map[string][]string{}
	var servers []string
	for _, r := range env.Checker.AskAll(ctx, qs) {
		if r.OK() && r.Msg.Rcode == dns.RcodeSuccess && r.Msg.AuthenticatedData {
			continue
		}
		e := checks.EvidenceOf(r)
		e.AddNote("validating resolver: want NOERROR with AD")
		*ev = append(*ev, e)
		if len(unauth[r.Server]) == 0 {
			servers = append(servers, r.Server)
		}
		unauth[r.Server] = append(unauth[r.Server], r.Question.String())
	}
	var problems []string
	for _, s := range servers {
		problems = append(problems, fmt.Sprintf("validating resolver %s answers without AD for %s (cached while insecure, until their TTL ends)", s, strings.Join(unauth[s], ", ")))
	}
	return problems
}

// splitProxied parts moves the servers answer with their values from
// those a host answers from its edge (proxied).
func splitProxied(reps []providers.Replacement) (served, proxied []providers.Replacement) {
	for _, r := range reps {
		if r.Proxied {
			proxied = append(proxied, r)
		} else {
			served = append(served, r)
		}
	}
	return served, proxied
}

// edgeNote adds to a resolver gate's evidence the proxied names it did
// not ask about: resolvers see the edge's addresses, never the values.
func edgeNote(res GateResult, proxied []providers.Replacement) GateResult {
	for _, r := range proxied {
		res.Evidence = append(res.Evidence, checks.Evidence{Question: r.Name + " " + r.Type, Note: "proxied: resolvers see the host's edge addresses, not these values; proven through the host's API"})
	}
	return res
}

// gateAPI proves proxied moves through the records host's API: each name
// lists the new values (or, with allowOld, the old ones) and is still
// proxied. The result is joined to res, the servers' gate for the rest.
func gateAPI(ctx context.Context, env plan.Env, p *plan.Plan, proxied []providers.Replacement, allowOld bool, res GateResult) GateResult {
	if len(proxied) == 0 {
		return res
	}
	provider := p.Target().Provider
	host, ok := env.Hosts[provider]
	px, isProxier := host.(providers.Proxier)
	if !ok || !isProxier {
		return GateResult{Fatal: true, Summary: fmt.Sprintf("provider %s cannot say which names it proxies", provider)}
	}
	read, err := providers.ReadRRsets(ctx, provider, host, p.Target().Zone)
	if err != nil {
		return GateResult{Summary: err.Error()}
	}
	flags, err := px.Proxied(ctx, p.Target().Zone)
	if err != nil {
		return GateResult{Summary: err.Error()}
	}
	sets := map[string][]string{}
	for _, s := range read {
		sets[s.Name+" "+s.Type] = s.Data
	}
	good := 0
	for _, r := range proxied {
		k := r.Name + " " + r.Type
		data := sets[k]
		e := checks.Evidence{Server: "api:" + provider, Question: k, Answer: data, Note: "proxied: resolvers see the host's edge addresses; values read through the API"}
		switch {
		case !flags[k]:
			res.OK, res.Fatal = false, true
			e.Note = "no longer proxied at " + provider + ": resolvers would see these values"
		case r.IsTo(data) || allowOld && r.IsFrom(data):
			good++
		default:
			res.OK = false
			e.Note = fmt.Sprintf("want %v; %s", r.To, e.Note)
		}
		res.Evidence = append(res.Evidence, e)
	}
	res.Summary = strings.TrimPrefix(res.Summary+fmt.Sprintf("; %d of %d proxied names list the new values through the API", good, len(proxied)), "; ")
	return res
}

// sorted is a sorted copy of s.
func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// EvalGate asks a step's gate once, with no memory of earlier polls: the
// verdict apply would reach now.
func EvalGate(ctx context.Context, env plan.Env, p *plan.Plan, st *plan.Step) GateResult {
	return evalGate(ctx, env, p, st, nil, nil)
}

// Precondition asks a step's precondition once: whether its change is in
// place already, the verdict, and the servers that did not answer.
func Precondition(ctx context.Context, env plan.Env, p *plan.Plan, st *plan.Step) (bool, GateResult, []string) {
	return precondition(ctx, env, p, st)
}
