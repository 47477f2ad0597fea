package plan

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/miekg/dns"
)

// The marker: while a move of a zone is unfinished, both hosts serve
// _dnsmigrate.<zone> TXT naming the plan, when and by whom it started, so
// that a plan or apply of the zone from anywhere sees it and refuses.
const (
	StepMark        = "mark"       // publish the marker at both hosts: the first change
	StepUnmark      = "unmark"     // remove it: the last change
	ActionSetMarker = "set-marker" // the marker TXT at both hosts (none: remove)
	GateMarker      = "marker-served"
	markerVersion   = "v=dnsmigrate1"
)

// MarkerChange is what a marker step does at one host: replace the marker
// it served when planned (From) with this run's, or remove this run's.
type MarkerChange struct {
	Provider string   `json:"provider"`
	From     []string `json:"from,omitempty"`
	Remove   bool     `json:"remove,omitempty"`
}

// MarkerName is the marker's owner name for zone.
func MarkerName(zone string) string { return "_dnsmigrate." + dns.Fqdn(zone) }

// markerPlan is the plan a marker's data names ("" for none).
func markerPlan(data []string) string {
	for _, d := range data {
		for _, f := range strings.Split(strings.Trim(d, `"`), ";") {
			if id, ok := strings.CutPrefix(strings.TrimSpace(f), "plan="); ok {
				return id
			}
		}
	}
	return ""
}

// takeMarker moves the marker out of a host's RRsets into h.Marker: it is
// this tool's bookkeeping, never lowered, compared or restored.
func takeMarker(h *HostState, zone string) {
	name := MarkerName(zone)
	kept := h.RRsets[:0]
	for _, s := range h.RRsets {
		if s.Type == "TXT" && strings.EqualFold(s.Name, name) {
			h.Marker = s.Data
			continue
		}
		kept = append(kept, s)
	}
	h.RRsets = kept
}

// markerProblems refuses a plan of a zone that serves the marker of
// another plan (allowed: the forward move a rollback undoes).
func markerProblems(o *Observed, zone, allowed string) []string {
	var out []string
	for _, h := range []HostState{o.Old, o.New} {
		if id := markerPlan(h.Marker); id != "" && id != allowed {
			out = append(out, fmt.Sprintf("a move of this zone is under way: %s serves %s TXT %s (plan %s); finish it or roll it back where it runs (its state directory holds its journal), or wait until it ends",
				h.Provider, MarkerName(zone), strings.Join(h.Marker, " "), id))
		}
	}
	return out
}

// addMarkerSteps puts mark before the first change and unmark before
// final-verify. Neither has a wait: earliest starts are unchanged.
func addMarkerSteps(p *Plan, spec *Spec, gateTimeout Duration) {
	o := p.Observed
	servers := append(append([]string{}, o.Old.Servers...), o.New.Servers...)
	ttl := uint32(spec.TTL.LowerTo / time.Second)
	mark := Step{ID: StepMark, Action: ActionSetMarker,
		Summary:  fmt.Sprintf("publish %s TXT at %s and %s: this plan, when and by whom it started (a plan or apply of this zone from anywhere refuses while it is served)", MarkerName(spec.Zone), o.Old.Provider, o.New.Provider),
		Marker:   []MarkerChange{{Provider: o.Old.Provider, From: o.Old.Marker}, {Provider: o.New.Provider, From: o.New.Marker}},
		Records:  []providers.Replacement{{Name: MarkerName(spec.Zone), Type: "TXT", TTL: ttl}},
		Gate:     &Gate{Check: GateMarker, Servers: servers, Timeout: gateTimeout, Status: "present"},
		Rollback: "remove the marker (unmark)"}
	unmark := Step{ID: StepUnmark, Action: ActionSetMarker,
		Summary: fmt.Sprintf("remove %s TXT at %s and %s: the move is over", MarkerName(spec.Zone), o.Old.Provider, o.New.Provider),
		Marker:  []MarkerChange{{Provider: o.Old.Provider, Remove: true}, {Provider: o.New.Provider, Remove: true}},
		Records: []providers.Replacement{{Name: MarkerName(spec.Zone), Type: "TXT", TTL: ttl}},
		Gate:    &Gate{Check: GateMarker, Servers: servers, Timeout: gateTimeout, Status: "absent"}}
	steps := []Step{mark}
	for _, st := range p.Steps {
		if st.ID == StepFinalVerify {
			unmark.Start = st.Start
			steps = append(steps, unmark)
		}
		steps = append(steps, st)
	}
	p.Steps = steps
}

// markerText is this run's marker: the plan, when its journal began and
// who began it (kept in the journal, so that a resume writes the same).
func (x *Executor) markerText() string {
	started, by := x.now(), "unknown"
	for _, e := range x.Journal.Entries {
		if e.Event == EvBegin {
			started = time.Time(e.Time)
			if _, who, ok := strings.Cut(e.Detail, " by "); ok {
				by = who
			}
			break
		}
	}
	return fmt.Sprintf(`"%s; plan=%s; started=%s; by=%s"`, markerVersion, x.Plan.ID, stamp(started), by)
}

// whoRuns is user@host of this process, for the marker.
func whoRuns() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return name + "@" + host
}

// setMarker publishes or removes the marker at each host of the step.
func (x *Executor) setMarker(ctx context.Context, st *Step) error {
	text := x.markerText()
	rec := st.Records[0]
	for _, c := range st.Marker {
		host, ok := x.Env.Hosts[c.Provider]
		if !ok {
			return fmt.Errorf("no host for provider %q", c.Provider)
		}
		rep := providers.Replacement{Name: rec.Name, Type: "TXT", TTL: rec.TTL, From: c.From, To: []string{text}}
		if c.Remove {
			rep.From, rep.To = []string{text}, nil
		}
		if err := providers.Replace(ctx, c.Provider, host, x.Plan.Spec.Zone, []providers.Replacement{rep}); err != nil {
			return fmt.Errorf("marker at %s: %w", c.Provider, err)
		}
	}
	return nil
}

// gateMarker: every server of both hosts serves a marker naming this plan
// (present), or none (absent).
func gateMarker(ctx context.Context, env Env, p *Plan, g *Gate) GateResult {
	name := MarkerName(p.Spec.Zone)
	qs := make([]checks.Question, len(g.Servers))
	for i, s := range g.Servers {
		qs[i] = checks.Question{Server: s, Name: name, Type: dns.TypeTXT, Plain: true}
	}
	res := GateResult{OK: true}
	good := 0
	env.Checker.AskEach(ctx, qs, func(_ int, r checks.Reply) {
		data, _ := checks.RRsetOf(r, r.Name, r.Type)
		id := markerPlan(data)
		ok := r.OK() && r.Msg.Authoritative && (g.Status == "absent" && len(data) == 0 || g.Status == "present" && id == p.ID)
		e := checks.EvidenceOf(r, r.Type)
		if !ok {
			res.OK = false
			e.Note = fmt.Sprintf("want the marker %s", g.Status)
			if g.Status == "present" {
				e.Note += " naming plan " + p.ID
			}
		} else {
			good++
		}
		res.Evidence = append(res.Evidence, e)
	})
	if g.Status == "absent" {
		res.Summary = fmt.Sprintf("%d of %d servers serve no marker", good, len(g.Servers))
	} else {
		res.Summary = fmt.Sprintf("%d of %d servers serve the marker naming this plan", good, len(g.Servers))
	}
	return res
}
