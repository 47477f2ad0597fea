package plan

import (
	"strings"
	"testing"

	"github.com/dnsmigrate/dnsmigrate/providers"
)

func TestMarker(t *testing.T) {
	text := `"v=dnsmigrate1; plan=0123456789ab; started=2026-11-23T05:00:00.000Z; by=root@host"`
	if id := markerPlan([]string{text}); id != "0123456789ab" {
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
	var b strings.Builder
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "+ mark") || !strings.Contains(b.String(), "- unmark") || strings.Contains(b.String(), "marker: off") {
		t.Errorf("plan text:\n%s", b.String())
	}
}
