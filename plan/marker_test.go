package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
)

func TestMarker(t *testing.T) {
	text := `"v=dnsmigrate1; plan=0123456789ab; started=2026-11-23T05:00:00.000Z; by=root@host"`
	if id := MarkerPlan([]string{text}); id != "0123456789ab" {
		t.Errorf("markerPlan: %q", id)
	}
	h := HostState{Provider: "old", RRsets: []providers.RRset{
		{Name: "www.example.com.", Type: "A", TTL: 60, Data: []string{"192.0.2.1"}},
		{Name: "_dnsmigrate.example.com.", Type: "TXT", TTL: 60, Data: []string{text}},
	}}
	takeMarker(&h, "example.com.")
	if len(h.RRsets) != 1 || h.RRsets[0].Type != "A" || len(h.Marker) != 1 {
		t.Fatalf("takeMarker: RRsets %v, marker %v", h.RRsets, h.Marker)
	}
	o := &Observed{Old: h, New: HostState{Provider: "new"}}
	if p := markerProblems(o, "example.com.", ""); len(p) != 1 || !strings.Contains(p[0], "plan 0123456789ab") || !strings.Contains(p[0], "old serves _dnsmigrate.example.com. TXT") {
		t.Errorf("another plan's marker: %v", p)
	}
	if p := markerProblems(o, "example.com.", "0123456789ab"); len(p) != 0 {
		t.Errorf("the marker of the move a rollback undoes: %v", p)
	}
}

// With the marker on, mark is the first step and unmark the one before
// final-verify, neither moving an earliest start.
func TestMarkerSteps(t *testing.T) {
	spec := testSpec("insecure-window")
	spec.Marker = true
	p, err := Build(spec, observed(3600, 86400, 3600, 172800, 86400, 900), t0)
	if err != nil {
		t.Fatal(err)
	}
	n := len(p.Steps)
	if p.Steps[0].ID != StepMark || p.Steps[n-2].ID != StepUnmark || p.Steps[n-1].ID != StepFinalVerify || p.Steps[n-2].Start != p.Steps[n-1].Start {
		var ids []string
		for _, st := range p.Steps {
			ids = append(ids, st.ID)
		}
		t.Errorf("steps %v", ids)
	}
	text := planText(t, p)
	if !strings.Contains(text, "+ mark") || !strings.Contains(text, "- unmark") || strings.Contains(text, "marker: off") {
		t.Errorf("plan text:\n%s", text)
	}
}

// The marker carries the TTLs lower-ttl lowers: a plan that takes the
// move over from the marker alone, mid-move (TTLs lowered, DS removed),
// waits out and restores exactly what the first plan would have.
func TestTakeOverFromMarker(t *testing.T) {
	spec := testSpec("insecure-window")
	spec.Marker = true
	first, err := Build(spec, observed(3600, 86400, 3600, 172800, 86400, 900), t0)
	if err != nil {
		t.Fatal(err)
	}
	mark := first.Step(StepMark)
	if got, want := mark.Marker[0].TTLs, []string{"lowered_to=300; ds_ttl=86400; ttl=86400", "ttl=3600: @/A"}; !slices.Equal(got, want) {
		t.Errorf("old host's marker TTLs %q, want %q", got, want)
	}
	if !slices.Equal(first.Step(StepUnmark).Marker[0].TTLs, mark.Marker[0].TTLs) {
		t.Errorf("unmark removes another marker than mark publishes: %q", first.Step(StepUnmark).Marker[0].TTLs)
	}
	// Mid-move: the first run lowered the TTLs, removed the DS and died.
	midMove := func(lowerTo uint32, ttls ...[]string) *Observed {
		o := observed(3600, 86400, 3600, 172800, 86400, 900)
		o.DS, o.DSTTL = nil, 0
		for i, h := range []*HostState{&o.Old, &o.New} {
			for j := range h.RRsets {
				if s := &h.RRsets[j]; s.Type != "SOA" && s.TTL > lowerTo {
					s.TTL = lowerTo
				}
			}
			if i < len(ttls) {
				h.Marker = []string{MarkerData(first.ID, t0, "ops@a", ttls[i])}
			}
		}
		return o
	}
	marked := [][]string{mark.Marker[0].TTLs, mark.Marker[1].TTLs}
	if _, err := Build(spec, midMove(300, marked...), t0); err == nil || !strings.Contains(err.Error(), "--take-over "+first.ID) {
		t.Errorf("a plan made mid-move without --take-over: %v", err)
	}
	o := midMove(300, marked...)
	if err := TakeOver(o, spec, first.ID); err != nil {
		t.Fatal(err)
	}
	next, err := Build(spec, o, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{StepWaitTTL, StepWaitDSGone, StepWaitNS, StepWaitDS} {
		if a, b := first.Step(id), next.Step(id); a.Wait != b.Wait {
			t.Errorf("%s: %s taken over, %s planned first (%s)", id, b.Wait, a.Wait, b.Formula)
		}
	}
	restored := func(p *Plan) map[string]uint32 {
		out := map[string]uint32{}
		for _, c := range p.Step(StepRestoreTTL).TTLs {
			for i, s := range c.RRsets {
				out[c.Provider+" "+s.Name+" "+s.Type] = c.TTLs[i]
			}
		}
		return out
	}
	if a, b := restored(first), restored(next); !maps.Equal(a, b) || len(a) == 0 {
		t.Errorf("restore-ttl taken over %v, planned first %v", b, a)
	}
	// Not sent again, but proven: its gate asks for every lowered RRset.
	if st := next.Step(StepLowerTTL); !st.Done || !strings.Contains(st.Summary, "4 of them lowered already by plan "+first.ID) || len(st.TTLs) != 2 || len(st.TTLs[0].RRsets) != 2 {
		t.Errorf("lower-ttl of TTLs lowered already: done %t, %q, %+v", st.Done, st.Summary, st.TTLs)
	}
	if !next.Step(StepRemoveDS).Done || !strings.Contains(next.Step(StepWaitTTL).Formula, "marker of plan "+first.ID) {
		t.Errorf("remove-ds done %t; wait-ttl formula %q", next.Step(StepRemoveDS).Done, next.Step(StepWaitTTL).Formula)
	}
	if got := next.Step(StepMark).Marker[0]; !slices.Equal(got.From, o.Old.Marker) || !slices.Equal(got.TTLs, marked[0]) {
		t.Errorf("the take-over's mark replaces %q with TTLs %q; want %q and %q", got.From, got.TTLs, o.Old.Marker, marked[0])
	}

	refusals := []struct {
		name string
		o    *Observed
		id   string
		want string
	}{
		{"another plan", midMove(300, marked...), "0123456789ab", "serves the marker of plan " + first.ID + ", not 0123456789ab"},
		{"no marker", midMove(300), first.ID, "no move is under way"},
		{"other lower_to", midMove(300, marked...), first.ID, "set it back"},
		{"TTLs omitted", midMove(300, []string{"lowered_to=300; ds_ttl=86400; " + markerOmitted}), first.ID, "state directory"},
		{"old marker", midMove(300, nil), first.ID, "carries no TTLs"},
	}
	for _, r := range refusals {
		s := spec
		if r.name == "other lower_to" {
			c := *spec
			c.TTL.LowerTo = 600 * time.Second
			s = &c
		}
		if err := TakeOver(r.o, s, r.id); err == nil || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: %v, want %q", r.name, err, r.want)
		}
	}
}

// Too many distinct TTLs for a marker: it says so, and so does the plan.
func TestMarkerTTLsOmitted(t *testing.T) {
	h := HostState{Provider: "old"}
	for i := range 600 {
		h.RRsets = append(h.RRsets, providers.RRset{Name: fmt.Sprintf("host-%d.example.com.", i), Type: "A", TTL: uint32(400 + i%300), Data: []string{"192.0.2.1"}})
	}
	if ttls := markerTTLs(h, "example.com.", 300, 0); !markerOmits(ttls) || len(ttls) != 1 {
		t.Errorf("600 RRsets with 300 TTLs: %q", ttls)
	}
	h.RRsets = h.RRsets[:20]
	ttls := markerTTLs(h, "example.com.", 300, 0)
	if markerOmits(ttls) {
		t.Fatalf("20 RRsets: %q", ttls)
	}
	m, err := readMarkedTTLs(append([]string{"v=dnsmigrate1; plan=x"}, ttls...), "example.com.")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range h.RRsets {
		got, ok := m.listed[s.Name+" "+s.Type]
		if !ok {
			got = m.rest
		}
		if got != s.TTL {
			t.Errorf("%s: read back %d, want %d", s.Name, got, s.TTL)
		}
	}
	for _, s := range ttls {
		if len(s) > 255 {
			t.Errorf("a TXT string of %d bytes", len(s))
		}
	}
}
