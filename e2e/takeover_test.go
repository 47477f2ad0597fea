package e2e

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// A move whose run is gone (its machine and state directory lost, here
// after the DS was removed) is refused from anywhere else until taken
// over; taken over from the marker alone, the rest of the move waits out
// the TTLs the first run lowered and restores them, and validating
// resolvers never fail.
func TestTakeOverFromTheMarkerAlone(t *testing.T) {
	t.Parallel()
	l := freshLab(t, "127.82.0.0/24")
	specFile := writeSpec(t, l, "insecure-window", 10*time.Second)
	ctx := context.Background()
	pr, stopProber := watchResolvers(l)

	elsewhere := t.TempDir()
	runApply := func(ctx context.Context, env func(string) string, takeOver string, out *onLine) error {
		_, _, err := apply.Apply(ctx, apply.ApplyOptions{SpecFile: specFile, Env: env, Out: out, Poll: 200 * time.Millisecond, TakeOver: takeOver,
			NewEnv: func(ctx context.Context, s *spec.Spec) (plan.Env, error) {
				return plan.NewEnv(ctx, s, &tlog{t: t}, time.Second)
			}})
		return err
	}
	onThisMachine := os.Getenv
	onAnother := func(k string) string {
		if k == spec.EnvName("output.state_dir") {
			return elsewhere
		}
		return os.Getenv(k)
	}
	runCtx, die := context.WithCancel(ctx)
	if err := runApply(runCtx, onThisMachine, "", &onLine{t: t, mark: "wait-ds-gone: waiting until", act: die}); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("the first run, stopped mid-move: %v", err)
	}
	s, _, _ := observeSpec(t, specFile)
	first, err := plan.ReadPlan(apply.WorkspaceFor(s).StatePath("plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	// An emptied journal is never taken for a finished move: the marker
	// says the move is under way.
	if err := os.Truncate(apply.WorkspaceFor(s).StatePath("journal.jsonl"), 0); err != nil {
		t.Fatal(err)
	}
	if err := runApply(ctx, onThisMachine, "", &onLine{t: t}); err == nil || !strings.Contains(err.Error(), "a move of this zone is under way") || !strings.Contains(err.Error(), "plan "+first.ID) {
		t.Fatalf("apply over an emptied journal mid-move: %v", err)
	}
	if err := os.RemoveAll(filepath.Dir(apply.WorkspaceFor(s).State)); err != nil {
		t.Fatal(err)
	}

	// From another machine: refused, naming the move and how to take it over.
	err = runApply(ctx, onAnother, "", &onLine{t: t})
	if err == nil || !strings.Contains(err.Error(), "plan "+first.ID) || !strings.Contains(err.Error(), "--take-over "+first.ID) {
		t.Fatalf("apply mid-move from another machine: %v", err)
	}
	// Taken over: the original TTLs and the TTL wait survive.
	s, _, obs := observeSpec(t, specFile)
	if err := plan.TakeOver(obs, s, first.ID); err != nil {
		t.Fatal(err)
	}
	next, err := plan.Build(s, obs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a, b := first.Step(plan.StepWaitTTL), next.Step(plan.StepWaitTTL); a.Wait != b.Wait || a.Wait == 0 {
		t.Errorf("wait-ttl taken over %s (%s), planned first %s", b.Wait, b.Formula, a.Wait)
	}
	if a, b := first.Step(plan.StepWaitDSGone), next.Step(plan.StepWaitDSGone); a.Wait != b.Wait {
		t.Errorf("wait-ds-gone taken over %s (%s), planned first %s", b.Wait, b.Formula, a.Wait)
	}
	if a, b := restoredTTLs(first), restoredTTLs(next); !maps.Equal(a, b) || len(a) == 0 {
		t.Errorf("restore-ttl taken over %v, planned first %v", b, a)
	}
	if err := runApply(ctx, onAnother, first.ID, &onLine{t: t}); err != nil {
		t.Fatalf("apply --take-over %s: %v", first.ID, err)
	}
	stopProber()
	if pr.failures() != 0 {
		t.Errorf("outage seen by the prober: %s", pr)
	}
	endState(t, l)
	// Every TTL is back as the first run found it, and no marker is left.
	_, _, after := observeSpec(t, specFile)
	for _, h := range [][2]plan.HostState{{first.Observed.Old, after.Old}, {first.Observed.New, after.New}} {
		if len(h[1].Marker) != 0 {
			t.Errorf("%s serves a marker after the move: %v", h[1].Provider, h[1].Marker)
		}
		was := map[string]providers.RRset{}
		for _, r := range h[0].RRsets {
			was[r.Name+" "+r.Type] = r
		}
		// (The old host's apex NS, handed over, names other servers now.)
		for _, r := range h[1].RRsets {
			if b, ok := was[r.Name+" "+r.Type]; ok && r.Type != "SOA" && slices.Equal(r.Data, b.Data) && r.TTL != b.TTL {
				t.Errorf("%s %s %s: TTL %d after the move, %d before", h[1].Provider, r.Name, r.Type, r.TTL, b.TTL)
			}
		}
	}
}

// restoredTTLs is what a plan's restore-ttl puts back, by host and RRset.
func restoredTTLs(p *plan.Plan) map[string]uint32 {
	out := map[string]uint32{}
	for _, c := range p.Step(plan.StepRestoreTTL).TTLs {
		for i, s := range c.RRsets {
			out[c.Provider+" "+s.Name+" "+s.Type] = c.TTLs[i]
		}
	}
	return out
}
