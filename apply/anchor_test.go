package apply

import (
	"context"
	"errors"
	"slices"
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
	sp := newServedPair(t, clock, 0)
	oldAsked = sp.asked["old"]
	var changes []plan.TTLChange
	for _, name := range []string{"old", "new"} {
		h, mem := sp.hosts[name].(*servedHost), sp.mems[name]
		h.after = func() bool {
			return anchor || len(mem.sent) == 0 || j.HasBatch(plan.StepLowerTTL, EvBatchStart, "new 1/2")
		}
		if name == "new" {
			h.took, mem.failAt, h.after = 30*time.Second, newFailsAt, oldDone
		}
		changes = append(changes, plan.TTLChange{Provider: name, RRsets: sp.sets[name], TTLs: sp.ttls[name]})
	}
	wait := plan.Step{ID: plan.StepWaitTTL, Action: plan.ActionWait, Wait: plan.Duration(44 * time.Second), Formula: "largest TTL at old 40s, + margin 10% = 44s"}
	if anchor {
		wait.Anchor = &plan.Anchor{Step: plan.StepLowerTTL, Provider: "old"}
	}
	x = sp.executor(clock, j, time.Second,
		plan.Step{ID: plan.StepLowerTTL, Action: plan.ActionSetTTL, TTLs: changes, Gate: &plan.Gate{Check: plan.GateTTLServed, Timeout: plan.Duration(time.Minute)}},
		wait)
	return x, clock, oldAsked
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

// A wait with further anchors (plan's AlsoFrom: RRsets with shorter TTLs,
// changed after those with the longest) ends at the latest of each proof
// plus its own wait; one not proven (a step done before this run) adds
// nothing.
func TestWaitEndsAtTheLatestOfItsAnchors(t *testing.T) {
	for _, c := range []struct {
		name           string
		longest, other time.Duration // when each change was proven, from t0; 0: never
		want           time.Duration
		from           string
	}{
		{"the others proven in time", time.Second, 20 * time.Second, 45 * time.Second, "; from when every server of old serves lower-ttl's change there)"},
		{"the others proven late", time.Second, 40 * time.Second, 56500 * time.Millisecond, "; from when every server of old serves lower-ttl's change there; and 16.5s (largest TTL 15s + margin) from when every server of old serves lower-ttl's change #2 there: ends later)"},
		{"the others never proven here", time.Second, 0, 45 * time.Second, "; from when every server of old serves lower-ttl's change there)"},
	} {
		clock := NewSimClock(t0)
		j := MemoryJournal()
		for label, at := range map[string]time.Duration{"old": c.longest, "old#2": c.other} {
			if at > 0 {
				j.Entries = append(j.Entries, Entry{Time: Stamp(t0.Add(at)), Step: plan.StepLowerTTL, Event: EvHostProven, Batch: label})
			}
		}
		j.Entries = append(j.Entries, Entry{Time: Stamp(t0.Add(50 * time.Second)), Step: plan.StepLowerTTL, Event: EvStepDone})
		clock.Sleep(context.Background(), 50*time.Second)
		wait := plan.Step{ID: plan.StepWaitTTL, Action: plan.ActionWait, Wait: plan.Duration(44 * time.Second), Formula: "largest TTL 40s + margin",
			Anchor:   &plan.Anchor{Step: plan.StepLowerTTL, Provider: "old"},
			AlsoFrom: []plan.Anchor{{Step: plan.StepLowerTTL, Provider: "old#2", Wait: plan.Duration(16500 * time.Millisecond), Formula: "largest TTL 15s + margin"}}}
		out := &strings.Builder{}
		x := &Executor{Plan: &plan.Plan{Steps: []plan.Step{{ID: plan.StepLowerTTL, Action: plan.ActionSetTTL}, wait}}, Journal: j, Clock: clock, Out: out}
		if err := x.wait(context.Background(), 1); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		e, _ := j.Last(plan.StepWaitTTL, EvWaitStart)
		if got := time.Time(*e.Until).Sub(t0); got != c.want {
			t.Errorf("%s: the wait ends at +%s, want +%s", c.name, got, c.want)
		}
		if line := "(largest TTL 40s + margin" + c.from; !strings.Contains(out.String(), line) {
			t.Errorf("%s: progress has no %q:\n%s", c.name, line, out)
		}
	}
}

// servedPair is old and new, each a memZone of 6 RRsets whose changes its
// own DNS server serves at once (servedHost; each request takes took on
// clock).
type servedPair struct {
	hosts   map[string]providers.Host
	servers map[string][]string
	mems    map[string]*memHost
	served  map[string]func(string, uint32)
	asked   map[string]func(string) int // questions its server was asked, by name
	sets    map[string][]providers.RRset
	ttls    map[string][]uint32
}

func newServedPair(t *testing.T, clock *SimClock, took time.Duration) *servedPair {
	sp := &servedPair{hosts: map[string]providers.Host{}, servers: map[string][]string{}, mems: map[string]*memHost{},
		served: map[string]func(string, uint32){}, asked: map[string]func(string) int{}, sets: map[string][]providers.RRset{}, ttls: map[string][]uint32{}}
	for _, name := range []string{"old", "new"} {
		mem, sets, ttls := memZone(6)
		mem.failAt = 0
		table := map[string]uint32{}
		for _, s := range sets {
			table[s.Name] = s.TTL
		}
		addr, asked, setTTL := udpAnswers(t, table)
		sp.hosts[name] = &servedHost{memHost: mem, setTTL: setTTL, clock: clock, took: took, after: func() bool { return true }}
		sp.servers[name], sp.mems[name], sp.served[name], sp.asked[name], sp.sets[name], sp.ttls[name] = []string{addr}, mem, setTTL, asked, sets, ttls
	}
	return sp
}

// executor runs steps against the pair, its gates polled every poll.
func (sp *servedPair) executor(clock Clock, j *Journal, poll time.Duration, steps ...plan.Step) *Executor {
	p := &plan.Plan{Spec: &spec.Spec{Zone: "example.com.", Verify: spec.VerifySpec{GateTimeout: time.Minute}},
		Observed: &plan.Observed{Old: plan.HostState{Provider: "old", Servers: sp.servers["old"]}, New: plan.HostState{Provider: "new", Servers: sp.servers["new"]}},
		Steps:    steps}
	env := plan.Env{Hosts: sp.hosts, Checker: checks.New(checks.Options{Roots: sp.servers["old"], Timeout: time.Second})}
	return &Executor{Plan: p, Env: env, Journal: j, Clock: clock, Poll: poll, Out: &strings.Builder{}}
}

// A set-ttl step whose first host's change comes in two, each anchoring
// the wait, proves each right after its batches; the next host starts
// once both are proven (the second's proof plus its own wait can end the
// wait later than the first's: the next host's signing would delay it).
func TestEachAnchoringChangeProvenOnItsOwn(t *testing.T) {
	clock := NewSimClock(t0)
	j := MemoryJournal()
	sp := newServedPair(t, clock, time.Second)
	old, ttls := sp.sets["old"], sp.ttls["old"]
	changes := []plan.TTLChange{{Provider: "old", RRsets: old[:1], TTLs: ttls[:1]}, {Provider: "old", RRsets: old[1:], TTLs: ttls[1:]},
		{Provider: "new", RRsets: sp.sets["new"], TTLs: sp.ttls["new"]}}
	wait := plan.Step{ID: plan.StepWaitTTL, Action: plan.ActionWait, Wait: plan.Duration(44 * time.Second), Formula: "44s",
		Anchor:   &plan.Anchor{Step: plan.StepLowerTTL, Provider: "old"},
		AlsoFrom: []plan.Anchor{{Step: plan.StepLowerTTL, Provider: "old#2", Wait: plan.Duration(16 * time.Second), Formula: "16s"}}}
	x := sp.executor(clock, j, time.Second,
		plan.Step{ID: plan.StepLowerTTL, Action: plan.ActionSetTTL, TTLs: changes, Gate: &plan.Gate{Check: plan.GateTTLServed, Timeout: plan.Duration(time.Minute)}},
		wait)
	if err := x.steps(context.Background()); err != nil {
		t.Fatal(err)
	}
	at := map[string]int{}
	for i, e := range j.Entries {
		if _, seen := at[e.Event+":"+e.Batch]; !seen {
			at[e.Event+":"+e.Batch] = i
		}
	}
	for _, want := range []string{"host-proven:old", "host-proven:old#2", "batch-done:old#2 2/2", "batch-start:new 1/2"} {
		if _, ok := at[want]; !ok {
			t.Fatalf("the journal has no %s: %+v", want, j.Entries)
		}
	}
	if at["batch-start:new 1/2"] < at["host-proven:old#2"] {
		t.Errorf("new started (entry %d) before old's second change was proven (entry %d)", at["batch-start:new 1/2"], at["host-proven:old#2"])
	}
	if at["host-proven:old#2"] < at["batch-done:old#2 2/2"] {
		t.Errorf("old#2 proven (entry %d) before its last batch was done (entry %d)", at["host-proven:old#2"], at["batch-done:old#2 2/2"])
	}
	if _, ok := at["host-proven:new"]; ok {
		t.Error("new's change, which no wait runs from, was proven on its own")
	}
	// What proved each of old's changes on its own also proves it for the
	// step's gate: each RRset was asked once, the second change's too.
	for ci, c := range changes[:2] {
		for _, set := range c.RRsets {
			if n := sp.asked["old"](set.Name); n != 1 {
				t.Errorf("old's change %d: %s asked %d times, want once", ci+1, set.Name, n)
			}
		}
	}
	if e, ok := j.Last(plan.StepLowerTTL, EvHostProven); !ok || e.Detail != "5 of 5 RRset answers serve the new TTL with unchanged data" {
		t.Errorf("old#2's proof counts its own answers: %+v", e)
	}
}

// A change sent from an earlier step's proof (the old host's restore-ttl,
// from add-ds's) goes on during the wait between, and is proven there;
// its step only sends the rest. A run resumed mid-wait sends only what
// had not landed.
func TestChangeSentAheadDuringTheWait(t *testing.T) {
	for _, resumed := range []bool{false, true} {
		j := MemoryJournal()
		sp := newServedPair(t, NewSimClock(t0), 0)
		changes := []plan.TTLChange{{Provider: "old", RRsets: sp.sets["old"], TTLs: sp.ttls["old"], SendFrom: plan.StepAddDS},
			{Provider: "new", RRsets: sp.sets["new"], TTLs: sp.ttls["new"]}}
		j.Entries = append(j.Entries, Entry{Time: Stamp(time.Now()), Step: plan.StepAddDS, Event: EvStepDone})
		if resumed {
			// The first run sent old's first batch ahead, then stopped.
			j.Entries = append(j.Entries, Entry{Time: Stamp(time.Now()), Step: plan.StepRestoreTTL, Event: EvBatchStart, Batch: "old 1/2"},
				Entry{Time: Stamp(time.Now()), Step: plan.StepRestoreTTL, Event: EvBatchDone, Batch: "old 1/2"})
			for _, r := range changes[0].RRsets[:3] {
				sp.mems["old"].sets[r.Name+" A"] = providers.Replacement{Name: r.Name, Type: "A", TTL: 60, To: r.Data}
				sp.served["old"](r.Name, 60)
			}
		}
		x := sp.executor(RealClock{}, j, 50*time.Millisecond,
			plan.Step{ID: plan.StepAddDS, Action: plan.ActionVerify},
			plan.Step{ID: plan.StepWaitDS, Action: plan.ActionWait, Wait: plan.Duration(2 * time.Second), Formula: "2s"},
			plan.Step{ID: plan.StepRestoreTTL, Action: plan.ActionSetTTL, TTLs: changes, Gate: &plan.Gate{Check: plan.GateTTLServed, Timeout: plan.Duration(time.Minute)}})
		if err := x.steps(context.Background()); err != nil {
			t.Fatalf("resumed %t: %v", resumed, err)
		}
		x.aheadWG.Wait()
		at := map[string]int{}
		for i, e := range j.Entries {
			if k := e.Step + " " + e.Event + " " + e.Batch; at[k] == 0 {
				at[k] = i
			}
		}
		waited := at["wait-ds step-done "]
		for _, k := range []string{"restore-ttl batch-done old 2/2", "restore-ttl host-proven old"} {
			if i, ok := at[k]; !ok || i > waited {
				t.Errorf("resumed %t: %s at entry %d, wait-ds over at %d", resumed, k, i, waited)
			}
		}
		if i := at["restore-ttl batch-start new 1/2"]; i < waited {
			t.Errorf("resumed %t: new's change started (entry %d) before wait-ds was over (entry %d)", resumed, i, waited)
		}
		want := []int{3, 3}
		if resumed {
			want = []int{3} // its first batch landed before
		}
		if got := sp.mems["old"].sent; !slices.Equal(got, want) {
			t.Errorf("resumed %t: old was sent %v RRsets per request, want %v", resumed, got, want)
		}
		if _, ok := j.Last(plan.StepRestoreTTL, EvStepDone); !ok {
			t.Errorf("resumed %t: restore-ttl not done: %+v", resumed, j.Entries)
		}
	}
}

// The test-only WaitScale scales every wait, a step's own and an
// also_from one alike; unset or 1, a wait is as planned.
func TestScaled(t *testing.T) {
	for _, c := range []struct {
		scale float64
		want  time.Duration
	}{{0, 40 * time.Second}, {1, 40 * time.Second}, {0.5, 20 * time.Second}, {0.001, 40 * time.Millisecond}} {
		if got := (&Executor{WaitScale: c.scale}).scaled(40 * time.Second); got != c.want {
			t.Errorf("scale %g: %s, want %s", c.scale, got, c.want)
		}
	}
}
