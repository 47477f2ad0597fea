package plan

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// The marker: while a move of a zone is unfinished, both hosts serve
// _dnsmigrate.<zone> TXT naming the plan, when and by whom it started, so
// that a plan or apply of the zone from anywhere sees it and refuses.
const (
	StepMark               = "mark"       // publish the marker at both hosts: the first change
	StepUnmark             = "unmark"     // remove it: the last change
	ActionSetMarker Action = "set-marker" // the marker TXT at both hosts (none: remove)
	GateMarker      Check  = "marker-served"
	markerVersion          = "v=dnsmigrate1"
)

// MarkerChange is what a marker step does at one host: replace the marker
// it served when planned (From) with this run's, or remove this run's.
type MarkerChange struct {
	Provider string   `json:"provider"`
	From     []string `json:"from,omitempty"`
	Remove   bool     `json:"remove,omitempty"`
	// TTLs are the marker's strings after its first: what lower-ttl
	// lowered at this host and the TTLs it had (markerTTLs), so that a
	// take-over from the marker alone restores them and waits them out.
	TTLs []string `json:"ttls,omitempty"`
}

// MarkerName is the marker's owner name for zone.
func MarkerName(zone string) string { return "_dnsmigrate." + dns.Fqdn(zone) }

// MarkerPlan is the plan a marker's data names ("" for none).
func MarkerPlan(data []string) string {
	for _, d := range data {
		strs := markerStrings(d)
		if len(strs) == 0 {
			continue
		}
		for _, f := range strings.Split(strs[0], ";") {
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
func markerProblems(o *Observed, zone string, allowed ...string) []string {
	var out []string
	for _, h := range []HostState{o.Old, o.New} {
		if id := MarkerPlan(h.Marker); id != "" && !slices.Contains(allowed, id) {
			out = append(out, fmt.Sprintf("a move of this zone is under way: %s serves %s TXT %s (plan %s); finish it or roll it back where it runs (its state directory holds its journal), or wait until it ends; if that run is gone for good, take it over with --take-over %s",
				h.Provider, MarkerName(zone), strings.Join(h.Marker, " "), id, id))
		}
	}
	return out
}

// addMarkerSteps puts mark before the first change and unmark before
// final-verify. Neither has a wait: earliest starts are unchanged.
func addMarkerSteps(p *Plan, spec *spec.Spec, gateTimeout Duration) {
	o := p.Observed
	servers := append(append([]string{}, o.Old.Servers...), o.New.Servers...)
	ttl := uint32(spec.TTL.LowerTo / time.Second)
	oldTTLs, newTTLs := markerTTLs(o.Old, spec.Zone, ttl, o.dsTTL()), markerTTLs(o.New, spec.Zone, ttl, o.dsTTL())
	summary := fmt.Sprintf("publish %s TXT at %s and %s: this plan, when and by whom it started, the TTLs lower-ttl lowers (a plan or apply of this zone from anywhere refuses while it is served)", MarkerName(spec.Zone), o.Old.Provider, o.New.Provider)
	if markerOmits(oldTTLs) || markerOmits(newTTLs) {
		summary += "; too many distinct TTLs to carry them all: a take-over needs this run's state directory"
	}
	mark := Step{ID: StepMark, Action: ActionSetMarker, Summary: summary,
		Marker:   []MarkerChange{{Provider: o.Old.Provider, From: o.Old.Marker, TTLs: oldTTLs}, {Provider: o.New.Provider, From: o.New.Marker, TTLs: newTTLs}},
		Records:  []providers.Replacement{{Name: MarkerName(spec.Zone), Type: "TXT", TTL: ttl}},
		Gate:     &Gate{Check: GateMarker, Servers: servers, Timeout: gateTimeout, Status: "present"},
		Rollback: "remove the marker (unmark)"}
	unmark := Step{ID: StepUnmark, Action: ActionSetMarker,
		Summary: fmt.Sprintf("remove %s TXT at %s and %s: the move is over", MarkerName(spec.Zone), o.Old.Provider, o.New.Provider),
		Marker:  []MarkerChange{{Provider: o.Old.Provider, Remove: true, TTLs: oldTTLs}, {Provider: o.New.Provider, Remove: true, TTLs: newTTLs}},
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

// MarkerData is a marker record's data: its first string names the plan,
// its start and who started it; the TTL strings follow.
func MarkerData(id string, started time.Time, by string, ttls []string) string {
	text := fmt.Sprintf(`"%s; plan=%s; started=%s; by=%s"`, markerVersion, id, checks.Stamp(started), by)
	for _, t := range ttls {
		text += ` "` + t + `"`
	}
	return text
}

// markerBudget bounds the bytes of TTLs a marker carries: beyond it a
// take-over needs the run's state directory (the marker still names the
// run; an answer this size already goes over TCP).
const markerBudget = 4000

// markerOmitted is the marker's word for TTLs it does not carry.
const markerOmitted = "ttls=omitted"

// markerTTLs is what a take-over needs of a host's TTLs, as the strings
// after the marker's first: "lowered_to=L; ds_ttl=D; ttl=T" (T: the TTL of
// every RRset served at L not listed), then "ttl=N: name/TYPE ..." lists
// (names relative to the zone, @ the apex), each string under 256 bytes.
// Every RRset lower-ttl lowers is covered, and every RRset that was at L
// already is listed when T is not L.
func markerTTLs(h HostState, zone string, lowerTo, dsTTL uint32) []string {
	byTTL := map[uint32][]string{}
	plain := true
	for _, s := range h.RRsets {
		if s.Type == "SOA" {
			continue
		}
		ttl := h.ttlOf(s)
		if ttl < lowerTo {
			continue
		}
		name := relName(s.Name, zone)
		plain = plain && !strings.ContainsAny(name, "\\\" \t;")
		byTTL[ttl] = append(byTTL[ttl], name+"/"+s.Type)
	}
	most := lowerTo
	for ttl, names := range byTTL {
		if n := len(byTTL[most]); len(names) > n || len(names) == n && ttl > most {
			most = ttl
		}
	}
	head := fmt.Sprintf("lowered_to=%d; ds_ttl=%d", lowerTo, dsTTL)
	out := []string{fmt.Sprintf("%s; ttl=%d", head, most)}
	size := len(out[0])
	for _, ttl := range slices.Sorted(maps.Keys(byTTL)) {
		if ttl == most {
			continue
		}
		prefix := fmt.Sprintf("ttl=%d:", ttl)
		line := prefix
		for _, n := range slices.Sorted(slices.Values(byTTL[ttl])) {
			if len(line)+1+len(n) > 255 {
				out, size = append(out, line), size+len(line)
				line = prefix
			}
			line += " " + n
		}
		out, size = append(out, line), size+len(line)
	}
	if size > markerBudget || !plain {
		return []string{fmt.Sprintf("%s; %s", head, markerOmitted)}
	}
	return out
}

// markerOmits says the marker strings leave the TTLs out.
func markerOmits(ttls []string) bool {
	return len(ttls) > 0 && strings.HasSuffix(ttls[0], markerOmitted)
}

func relName(name, zone string) string {
	if strings.EqualFold(name, zone) {
		return "@"
	}
	return strings.TrimSuffix(name, "."+zone)
}

func absName(rel, zone string) string {
	if rel == "@" {
		return zone
	}
	return rel + "." + zone
}

// markerStrings are the character strings of a marker record's data.
func markerStrings(data string) []string {
	rr, err := dns.NewRR("m. 0 IN TXT " + data)
	if err != nil {
		return nil
	}
	if txt, ok := rr.(*dns.TXT); ok {
		return txt.Txt
	}
	return nil
}

// markedTTLs reads a marker's TTL strings: what lower-ttl lowered to, the
// DS TTL when the move began, the TTL of RRsets not listed and the
// listed ones by "name TYPE".
type markedTTLs struct {
	loweredTo, dsTTL, rest uint32
	listed                 map[string]uint32
	omitted                bool
}

func readMarkedTTLs(strs []string, zone string) (markedTTLs, error) {
	m := markedTTLs{listed: map[string]uint32{}}
	if len(strs) < 2 {
		return m, errors.New("it carries no TTLs (written by an older dnsmigrate)")
	}
	num := func(field, v string) (uint32, error) {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("its %s %q is not a TTL", field, v)
		}
		return uint32(n), nil
	}
	seen := map[string]bool{}
	for _, f := range strings.Split(strs[1], ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		var err error
		switch k {
		case "lowered_to":
			m.loweredTo, err = num(k, v)
		case "ds_ttl":
			m.dsTTL, err = num(k, v)
		case "ttl":
			m.rest, err = num(k, v)
		case "ttls":
			m.omitted = v == "omitted"
		}
		if err != nil {
			return m, err
		}
		seen[k] = true
	}
	if !seen["lowered_to"] || !seen["ttl"] && !m.omitted {
		return m, fmt.Errorf("its TTL string %q lacks lowered_to or ttl", strs[1])
	}
	for _, s := range strs[2:] {
		prefix, names, ok := strings.Cut(s, ":")
		v, isTTL := strings.CutPrefix(prefix, "ttl=")
		if !ok || !isTTL {
			return m, fmt.Errorf("its TTL list %q does not start with ttl=N:", s)
		}
		ttl, err := num("ttl", v)
		if err != nil {
			return m, err
		}
		for _, n := range strings.Fields(names) {
			name, typ, ok := strings.Cut(n, "/")
			if !ok {
				return m, fmt.Errorf("its TTL list names %q, not name/TYPE", n)
			}
			m.listed[absName(name, zone)+" "+typ] = ttl
		}
	}
	return m, nil
}

// TakeOver readies an observation for planning the rest of the move of
// plan id, begun elsewhere and gone (its machine lost): the markers it
// left must name it, and they say what TTL each RRset had before it was
// lowered, so that the new plan waits those TTLs out and restores them.
func TakeOver(o *Observed, spec *spec.Spec, id string) error {
	lowerTo := uint32(spec.TTL.LowerTo / time.Second)
	var problems []string
	found := false
	for _, h := range []*HostState{&o.Old, &o.New} {
		if len(h.Marker) == 0 {
			continue
		}
		if served := MarkerPlan(h.Marker); served != id {
			problems = append(problems, fmt.Sprintf("%s serves the marker of plan %s, not %s", h.Provider, served, id))
			continue
		}
		found = true
		m, err := readMarkedTTLs(markerStrings(h.Marker[0]), spec.Zone)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s's marker cannot be read: %v; take over with that run's state directory instead (copy it here and run apply)", h.Provider, err))
			continue
		case m.omitted:
			problems = append(problems, fmt.Sprintf("%s's marker does not carry the original TTLs (too many to fit); take over with that run's state directory instead (copy it here and run apply)", h.Provider))
			continue
		case m.loweredTo != lowerTo:
			problems = append(problems, fmt.Sprintf("%s's marker says plan %s lowered TTLs to %ds; the spec says ttl.lower_to %ds: set it back to take over", h.Provider, id, m.loweredTo, lowerTo))
			continue
		}
		h.Original = map[string]uint32{}
		for _, s := range h.RRsets {
			key := s.Name + " " + s.Type
			ttl, listed := m.listed[key]
			if !listed {
				ttl = m.rest
			}
			// Only an RRset served at lowered_to can have been lowered.
			if s.Type != "SOA" && max(s.TTL, h.ServedAbove[key]) == lowerTo && ttl > lowerTo {
				h.Original[key] = ttl
			}
		}
		if o.DSTTL == 0 {
			o.PriorDSTTL = max(o.PriorDSTTL, m.dsTTL)
		}
	}
	if !found && len(problems) == 0 {
		problems = append(problems, fmt.Sprintf("no host serves %s TXT: no move is under way to take over (plan without --take-over)", MarkerName(spec.Zone)))
	}
	if len(problems) > 0 {
		return fmt.Errorf("take over plan %s: %w", id, notSafe(problems))
	}
	o.TakeOver = id
	return nil
}
