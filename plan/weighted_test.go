package plan

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

func weightedPlan(t *testing.T) *Plan {
	t.Helper()
	s := testSpec("insecure-window")
	s.Kind, s.Provider, s.Phases, s.Rollback = "records", "old", []int{10, 50, 100}, "auto"
	s.TTL.LowerTo = 60e9
	s.Changes = []spec.RecordChange{{Name: "api.example.com.", Type: "A", From: spec.Values{"192.0.2.10"}, To: spec.Values{"198.51.100.10"}}}
	o := observed(60, 300, 300, 300, 300, 60)
	o.Weighted = true
	o.Old.RRsets = append(o.Old.RRsets, providers.RRset{Name: "api.example.com.", Type: "A", TTL: 60, Data: []string{"192.0.2.10"}})
	p := &Plan{Format: PlanFormat, Version: PlanVersion, Spec: s, Observed: o}
	buildRecords(p, s, o)
	return p
}

func TestWeightedPhases(t *testing.T) {
	p := weightedPlan(t)
	var got []string
	for _, st := range p.Steps {
		got = append(got, fmt.Sprintf("%s:%s:%d", st.ID, st.Action, st.Weight))
	}
	want := "lower-ttl:set-ttl:0 wait-ttl:wait:0 health-check:verify:0 phase-1:set-weights:10 verify-phase-1:verify:0 hold-phase-1:hold:0 phase-2:set-weights:50 verify-phase-2:verify:0 hold-phase-2:hold:0 phase-3:set-records:0 verify-phase-3:verify:0 hold-phase-3:hold:0 restore-ttl:set-records:0 final-verify:verify:0"
	if strings.Join(got, " ") != want {
		t.Errorf("steps:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if g := p.Step("verify-phase-1").Gate; g.Check != GateOldOrNew || !g.Recursive {
		t.Errorf("a partly weighted phase must accept old or new answers from resolvers: %+v", g)
	}
	if g := p.Step("verify-phase-3").Gate; g.Check != GatePropagated {
		t.Errorf("the last phase must wait for the new values: %+v", g)
	}
}

// Rolling a records cutover back swaps each change's values: names that
// moved go back, names that did not are already where the rollback ends.
func TestRollbackSwapsRecordValues(t *testing.T) {
	s := testSpec("insecure-window")
	s.Kind, s.Provider, s.Phases, s.Rollback, s.TTL.LowerTo = "records", "old", []int{100}, "auto", 60e9
	s.Changes = []spec.RecordChange{
		{Name: "a.example.com.", Type: "A", From: spec.Values{"192.0.2.1"}, To: spec.Values{"198.51.100.1"}},
		{Name: "b.example.com.", Type: "A", From: spec.Values{"192.0.2.2"}, To: spec.Values{"198.51.100.2"}},
	}
	for i := range s.Changes { // what Apply does for a rollback
		c := &s.Changes[i]
		c.From, c.To = c.To, c.From
	}
	o := observed(60, 300, 300, 300, 300, 60)
	o.Old.RRsets = append(o.Old.RRsets,
		providers.RRset{Name: "a.example.com.", Type: "A", TTL: 60, Data: []string{"198.51.100.1"}}, // moved
		providers.RRset{Name: "b.example.com.", Type: "A", TTL: 60, Data: []string{"192.0.2.2"}})    // not moved
	p := &Plan{Spec: s, Observed: o}
	buildRecords(p, s, o)
	var moved []string
	for _, r := range p.Step("phase-1").Records {
		if strings.Join(r.From, ",") != strings.Join(r.To, ",") {
			moved = append(moved, r.Name+" "+strings.Join(r.From, ",")+" -> "+strings.Join(r.To, ","))
		}
	}
	if strings.Join(moved, "|") != "a.example.com. 198.51.100.1 -> 192.0.2.1" {
		t.Errorf("rollback moves %v", moved)
	}
}

// A records plan carries what apply needs without reading the spec: each
// change step its host, each hold and the health gate the checks, the
// plan what a failure does; an edited policy is refused.
func TestRecordsStepsCarryWhatApplyNeeds(t *testing.T) {
	s := testSpec("insecure-window")
	s.Kind, s.Provider, s.Phases, s.Rollback = "records", "old", []int{50, 100}, "manual"
	s.Health = []spec.HealthCheck{{Type: "http", URL: "http://127.0.0.1:9/", Interval: time.Second}}
	s.Changes = []spec.RecordChange{{Name: "api.example.com.", Type: "A", From: spec.Values{"192.0.2.10"}, To: spec.Values{"198.51.100.10"}}}
	o := observed(60, 300, 300, 300, 300, 60)
	o.Old.RRsets = append(o.Old.RRsets, providers.RRset{Name: "api.example.com.", Type: "A", TTL: 3600, Data: []string{"192.0.2.10"}})
	o.Fingerprint = o.fingerprint()
	p, err := Build(s, o, t0)
	if err != nil {
		t.Fatal(err)
	}
	if p.OnFailure != spec.RollbackManual {
		t.Errorf("on_failure %q, want manual", p.OnFailure)
	}
	holds := 0
	for _, st := range p.Steps {
		switch {
		case st.Action == ActionSetRecords || st.Action == ActionSetWeights:
			if st.Provider != "old" {
				t.Errorf("%s names host %q, want old", st.ID, st.Provider)
			}
		case st.Action == ActionHold || st.ID == StepHealthCheck:
			holds++
			if len(st.Health) != 1 || st.Health[0].URL != "http://127.0.0.1:9/" {
				t.Errorf("%s carries health checks %+v", st.ID, st.Health)
			}
		}
	}
	if holds < 2 {
		t.Errorf("%d hold and health steps, want the health check and a hold at least", holds)
	}
	p.OnFailure = spec.RollbackAuto
	if err := p.CheckRebuild(); err == nil || !strings.Contains(err.Error(), "on_failure") {
		t.Errorf("an edited failure policy: %v", err)
	}
}
