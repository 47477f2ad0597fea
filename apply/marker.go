package apply

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
)

// markerText is this run's marker: the plan, when its journal began and
// who began it (kept in the journal, so that a resume writes the same).
func (x *Executor) markerText(ttls []string) string {
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
	return plan.MarkerData(x.Plan.ID, started, by, ttls)
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
func (x *Executor) setMarker(ctx context.Context, st *plan.Step) error {
	rec := st.Records[0]
	for _, c := range st.Marker {
		text := x.markerText(c.TTLs)
		host, ok := x.Env.Hosts[c.Provider]
		if !ok {
			return fmt.Errorf("no host for provider %q", c.Provider)
		}
		rep := providers.Replacement{Name: rec.Name, Type: "TXT", TTL: rec.TTL, From: c.From, To: []string{text}}
		if c.Remove {
			rep.From, rep.To = []string{text}, nil
		}
		if err := providers.Replace(ctx, c.Provider, host, x.Plan.Target().Zone, []providers.Replacement{rep}); err != nil {
			return fmt.Errorf("marker at %s: %w", c.Provider, err)
		}
	}
	return nil
}

// gateMarker: every server of both hosts serves a marker naming this plan
// (present), or none (absent).
func gateMarker(ctx context.Context, env plan.Env, p *plan.Plan, g *plan.Gate) GateResult {
	name := plan.MarkerName(p.Target().Zone)
	qs := make([]checks.Question, len(g.Servers))
	for i, s := range g.Servers {
		qs[i] = checks.Question{Server: s, Name: name, Type: dns.TypeTXT, Plain: true}
	}
	res := GateResult{OK: true}
	good := 0
	env.Checker.AskEach(ctx, qs, func(_ int, r checks.Reply) {
		data, _ := checks.RRsetOf(r, r.Name, r.Type)
		id := plan.MarkerPlan(data)
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
