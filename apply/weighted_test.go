package apply

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/libdns/libdns"

	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"

	"github.com/dnsmigrate/dnsmigrate/providers"
)

func TestWeightedActions(t *testing.T) {
	p := weightedPlan(t)
	h := &weightedHost{}
	x := &Executor{Plan: p, Env: plan.Env{Hosts: map[string]providers.Host{"old": h}}, Journal: MemoryJournal()}
	ctx := context.Background()
	for _, id := range []string{"phase-1", "phase-2", "phase-3"} {
		if err := x.do(ctx, p.Step(id)); err != nil {
			t.Fatal(err)
		}
	}
	// A rollback puts plain sets back with the old values, through the weights.
	if err := x.setRoutes(ctx, "old", p.Step("phase-1").Undo); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"api.example.com. A ttl 60 dnsmigrate-old=90 [192.0.2.10] dnsmigrate-new=10 [198.51.100.10]",
		"api.example.com. A ttl 60 dnsmigrate-old=50 [192.0.2.10] dnsmigrate-new=50 [198.51.100.10]",
		"api.example.com. A ttl 60 plain [198.51.100.10]",
		"api.example.com. A ttl 60 plain [192.0.2.10]",
	}
	if strings.Join(h.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("host calls:\n%s\nwant\n%s", strings.Join(h.calls, "\n"), strings.Join(want, "\n"))
	}
}

// weightedHost records what a cutover asks of a host with weighted sets.
type weightedHost struct{ calls []string }

func (h *weightedHost) GetRecords(context.Context, string) ([]libdns.Record, error) { return nil, nil }
func (h *weightedHost) SetRecords(_ context.Context, _ string, r []libdns.Record) ([]libdns.Record, error) {
	h.calls = append(h.calls, "SetRecords (plain, not through weights)")
	return r, nil
}
func (h *weightedHost) SetWeighted(_ context.Context, _, name, rrtype string, ttl uint32, sets []providers.WeightedSet, plain []string) error {
	if len(sets) == 0 {
		h.calls = append(h.calls, fmt.Sprintf("%s %s ttl %d plain %v", name, rrtype, ttl, plain))
		return nil
	}
	var parts []string
	for _, s := range sets {
		parts = append(parts, fmt.Sprintf("%s=%d %v", s.ID, s.Weight, s.Values))
	}
	h.calls = append(h.calls, fmt.Sprintf("%s %s ttl %d %s", name, rrtype, ttl, strings.Join(parts, " ")))
	return nil
}

// weightedPlan is a records cutover of one name in three weighted phases
// at a host that answers with weighted sets.
func weightedPlan(t *testing.T) *plan.Plan {
	t.Helper()
	s := testSpec("insecure-window")
	s.Kind, s.Provider, s.Phases, s.Rollback = "records", "old", []int{10, 50, 100}, "auto"
	s.TTL.LowerTo = 60e9
	s.Changes = []spec.RecordChange{{Name: "api.example.com.", Type: "A", From: spec.Values{"192.0.2.10"}, To: spec.Values{"198.51.100.10"}}}
	o := observed(60, 300, 300, 300, 300, 60)
	o.Weighted = true
	o.Old.RRsets = append(o.Old.RRsets, providers.RRset{Name: "api.example.com.", Type: "A", TTL: 60, Data: []string{"192.0.2.10"}})
	p, err := plan.Build(s, o, t0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
