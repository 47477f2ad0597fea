package apply

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// servedHost is a memHost whose changes its DNS server serves at once,
// and whose every request takes took on the executor's clock (a host
// that signs slowly). A request first waits, in real time, until the
// journal holds after (the order the test gives the hosts' requests,
// which run at once).
type servedHost struct {
	*memHost
	setTTL func(string, uint32)
	clock  *SimClock
	took   time.Duration
	after  func() bool
}

func (h *servedHost) Replace(ctx context.Context, zone string, reps []providers.Replacement) error {
	for give := time.Now().Add(5 * time.Second); !h.after(); time.Sleep(time.Millisecond) {
		if time.Now().After(give) {
			return errors.New("the other host's change never ran beside this one")
		}
	}
	if err := h.memHost.Replace(ctx, zone, reps); err != nil {
		return err
	}
	for _, r := range reps {
		h.setTTL(r.Name, r.TTL)
	}
	return h.clock.Sleep(ctx, h.took)
}

// anchoredRun is lower-ttl at old (quick) and new (each request 30 s),
// then a 44 s wait-ttl anchored to old's change or, without anchor, to the
// step's end; newFailsAt makes new's request with that number fail.
// Unanchored, the hosts' changes run at once: old's second request waits
// until new's first batch has started (after old's first is done), and
// new's first until old's are done. Anchored, new starts once old is
// proven.
// oldAsked counts the questions old's server was asked, by name.
func anchoredRun(t *testing.T, anchor bool, newFailsAt int) (x *Executor, clock *SimClock, oldAsked func(string) int) {
	t.Helper()
	clock = NewSimClock(t0)
	j := MemoryJournal()
	oldDone := func() bool { return j.HasBatch(plan.StepLowerTTL, EvBatchDone, "old 2/2") }
	if anchor {
		oldDone = func() bool { return j.HasBatch(plan.StepLowerTTL, EvHostProven, "old") }
	}
	hosts := map[string]providers.Host{}
	servers := map[string][]string{}
	var changes []plan.TTLChange
	for _, name := range []string{"old", "new"} {
		mem, sets, ttls := memZone(6)
		mem.failAt = 0
		table := map[string]uint32{}
		for _, s := range sets {
			table[s.Name] = s.TTL
		}
		addr, asked, setTTL := udpAnswers(t, table)
		if name == "old" {
			oldAsked = asked
		}
		h := &servedHost{memHost: mem, setTTL: setTTL, clock: clock, after: func() bool {
			return anchor || len(mem.sent) == 0 || j.HasBatch(plan.StepLowerTTL, EvBatchStart, "new 1/2")
		}}
		if name == "new" {
			h.took, mem.failAt, h.after = 30*time.Second, newFailsAt, oldDone
		}
		hosts[name], servers[name] = h, []string{addr}
		changes = append(changes, plan.TTLChange{Provider: name, RRsets: sets, TTLs: ttls})
	}
	wait := plan.Step{ID: plan.StepWaitTTL, Action: plan.ActionWait, Wait: plan.Duration(44 * time.Second), Formula: "largest TTL at old 40s, + margin 10% = 44s"}
	if anchor {
		wait.Anchor = &plan.Anchor{Step: plan.StepLowerTTL, Provider: "old"}
	}
	p := &plan.Plan{Spec: &spec.Spec{Zone: "example.com.", Verify: spec.VerifySpec{GateTimeout: time.Minute}},
		Observed: &plan.Observed{Old: plan.HostState{Provider: "old", Servers: servers["old"]}, New: plan.HostState{Provider: "new", Servers: servers["new"]}},
		Steps: []plan.Step{
			{ID: plan.StepLowerTTL, Action: plan.ActionSetTTL, TTLs: changes, Gate: &plan.Gate{Check: plan.GateTTLServed, Timeout: plan.Duration(time.Minute)}},
			wait,
		}}
	env := plan.Env{Hosts: hosts, Checker: checks.New(checks.Options{Roots: servers["old"], Timeout: time.Second})}
	return &Executor{Plan: p, Env: env, Journal: j, Clock: clock, Poll: time.Second, Out: &strings.Builder{}}, clock, oldAsked
}

// A wait anchored to one host's change runs from when every server of
// that host serves it, proven while the step goes on at the next host;
// unanchored, it runs from the step's end. The proof is journaled once:
// a run stopped at the next host and resumed keeps the wait's start.
// (events: the journal's events with each host's batches apart, in
// order.)
func TestWaitRunsFromTheAnchoringHostsProof(t *testing.T) {
	for _, c := range []struct {
		anchor     bool
		newFailsAt int
		// want: the wait's end and new's change done, from t0; the
		// journal's events in order.
		until, newDone time.Duration
		events         string
	}{
		{true, 0, 44 * time.Second, 60 * time.Second, "old: batch-start:old 1/2 batch-done:old 1/2 batch-start:old 2/2 batch-done:old 2/2 host-proven:old | new: batch-start:new 1/2 batch-done:new 1/2 batch-start:new 2/2 batch-done:new 2/2 | action-start action-done gate-passed step-done wait-start step-done"},
		{false, 0, 104 * time.Second, 60 * time.Second, "old: batch-start:old 1/2 batch-done:old 1/2 batch-start:old 2/2 batch-done:old 2/2 | new: batch-start:new 1/2 batch-done:new 1/2 batch-start:new 2/2 batch-done:new 2/2 | action-start action-done gate-passed step-done wait-start step-done"},
		{true, 2, 44 * time.Second, 70 * time.Second, "old: batch-start:old 1/2 batch-done:old 1/2 batch-start:old 2/2 batch-done:old 2/2 host-proven:old | new: batch-start:new 1/2 batch-done:new 1/2 batch-start:new 2/2 batch-start:new 2/2 batch-done:new 2/2 | action-start action-failed action-start action-done gate-passed step-done wait-start step-done"},
	} {
		x, clock, oldAsked := anchoredRun(t, c.anchor, c.newFailsAt)
		err := x.steps(context.Background())
		if c.newFailsAt > 0 {
			if err == nil || !strings.Contains(err.Error(), "batch 2 of 2 failed") {
				t.Fatalf("anchor %t, new fails: %v", c.anchor, err)
			}
			err = x.steps(context.Background())
		}
		if err != nil {
			t.Fatalf("anchor %t: %v", c.anchor, err)
		}
		var old, new, rest []string
		var until time.Time
		proven, newStarts := -1, -1
		for i, e := range x.Journal.Entries {
			if e.Event == EvHostProven && proven < 0 {
				proven = i
			}
			if e.Batch == "new 1/2" && newStarts < 0 {
				newStarts = i
			}
			switch host, _, _ := strings.Cut(e.Batch, " "); host {
			case "old":
				old = append(old, e.Event+":"+e.Batch)
			case "new":
				new = append(new, e.Event+":"+e.Batch)
			default:
				rest = append(rest, e.Event)
			}
			if e.Event == EvWaitStart {
				until = time.Time(*e.Until)
			}
		}
		if got := "old: " + strings.Join(old, " ") + " | new: " + strings.Join(new, " ") + " | " + strings.Join(rest, " "); got != c.events {
			t.Errorf("anchor %t, new fails at %d: journal\n%s\nwant\n%s", c.anchor, c.newFailsAt, got, c.events)
		}
		if c.anchor && newStarts < proven {
			t.Errorf("anchor %t, new fails at %d: new's change started (entry %d) before old was proven (entry %d)", c.anchor, c.newFailsAt, newStarts, proven)
		}
		// What proved old for the anchor also proves it for the step's
		// gate: each of its RRsets was asked once. (A failed change is
		// read back at every server before the run stops: not counted.)
		for _, set := range x.Plan.Steps[0].TTLs[0].RRsets {
			if n := oldAsked(set.Name); n != 1 && c.newFailsAt == 0 {
				t.Errorf("anchor %t, new fails at %d: old was asked %s %d times, want once", c.anchor, c.newFailsAt, set.Name, n)
			}
		}
		// The progress line says where the wait runs from, on the run
		// that starts it and on a resumed one.
		line := "wait-ttl: waiting until " + until.Format("15:04:05.000") + " (largest TTL at old 40s, + margin 10% = 44s)"
		if c.anchor {
			line = strings.TrimSuffix(line, ")") + "; from when every server of old serves lower-ttl's change there)"
		}
		if out := x.Out.(*strings.Builder).String(); !strings.Contains(out, line+"\n") {
			t.Errorf("anchor %t, new fails at %d: progress has no line %q:\n%s", c.anchor, c.newFailsAt, line, out)
		}
		if c.anchor && c.newFailsAt == 0 {
			// A resumed run (the journal holds the wait's start) says it too.
			x.Out = &strings.Builder{}
			if err := x.wait(context.Background(), 1); err != nil {
				t.Fatal(err)
			}
			if out := x.Out.(*strings.Builder).String(); !strings.Contains(out, line+"\n") {
				t.Errorf("resumed: progress has no line %q:\n%s", line, out)
			}
		}
		if got := until.Sub(t0); got != c.until {
			t.Errorf("anchor %t, new fails at %d: the wait ends at +%s, want +%s", c.anchor, c.newFailsAt, got, c.until)
		}
		// The run ends when the later of the wait and new's change does.
		if end, want := clock.Now().Sub(t0), max(c.until, c.newDone); end < want || end > want+2*time.Second {
			t.Errorf("anchor %t, new fails at %d: the run ended at +%s, want about +%s", c.anchor, c.newFailsAt, end, want)
		}
	}
}

// A rollback's plan is marked as one, whether or not this machine holds
// the forward move's plan: its wait-ttl is not anchored (plan's
// TestWaitTTLAnchoredWhileNewIsNotAsked).
func TestReverseMarksTheRollback(t *testing.T) {
	dir := t.TempDir()
	ws := Workspace{Dir: dir, State: dir}
	if _, prior := reverse(testSpec("insecure-window"), ws); !prior.Rollback {
		t.Error("a rollback without the forward plan is not marked as one")
	}
	p, err := plan.Build(testSpec("insecure-window"), observed(3600, 86400, 3600, 172800, 86400, 900), t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Save(ws.StatePath("plan.json")); err != nil {
		t.Fatal(err)
	}
	if _, prior := reverse(testSpec("insecure-window"), ws); !prior.Rollback {
		t.Error("a rollback with the forward plan is not marked as one")
	}
}
