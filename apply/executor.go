package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// Executor applies a plan: for each step its action, then its gate polled
// at every server involved, every transition journaled before the next.
// Preview and apply share this one code path: a dry run is the same
// executor with a simulated clock, an unwritten journal, and actions and
// gate polling replaced by one read-only look at the live state.
type Executor struct {
	Plan    *plan.Plan
	Env     plan.Env
	Clock   Clock
	Journal *Journal
	Out     io.Writer // progress, one line per event unless TTY
	TTY     bool
	DryRun  bool
	// Poll is how often a gate is asked again once it has waited a while;
	// default 1s. Its first looks come sooner (pollAfter).
	Poll time.Duration
	// Watchdog asks resolvers every second while applying; nil: none.
	Watchdog *Watchdog
	// WaitScale shortens every wait: a test-only override to prove that
	// the prober sees an outage when waits are too short. 0 means 1.
	WaitScale float64
	// Source is what the run was given; Words, when set, words how to
	// resume a stop and roll it back (the CLI's).
	Source Source
	Words  Words

	outMu sync.Mutex // one progress line at a time (a step's hosts change at once)
	// begun holds, by step, the gate memos proveHost filled proving a
	// set-ttl step's changes one by one (numbered as the step's gate
	// numbers them): the step's own gate starts from all of them and does
	// not ask those servers again. begunMu guards it (hosts prove at once).
	begun   map[string][]*gateMemo
	begunMu sync.Mutex
	// ahead are the changes sent ahead of their step (sendAhead), by
	// step and label, and ahead's goroutines.
	ahead   map[string]chan struct{}
	aheadWG sync.WaitGroup
}

// ErrStopped says the run stopped safely between actions (Ctrl-C).
var ErrStopped = errors.New("stopped between actions")

func (x *Executor) now() time.Time { return x.Clock.Now().UTC() }

func (x *Executor) log(format string, args ...any) {
	if x.Out != nil {
		x.outMu.Lock()
		defer x.outMu.Unlock()
		fmt.Fprintf(x.Out, "%s %s\n", x.now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
}

func (x *Executor) journal(e Entry) error {
	e.Time = Stamp(x.now())
	return x.Journal.Append(e)
}

// Run applies the plan from wherever the journal says it stopped.
func (x *Executor) Run(ctx context.Context) (*ChangeLog, error) {
	if x.Poll == 0 {
		x.Poll = time.Second
	}
	ctx, halt := context.WithCancelCause(ctx)
	defer halt(nil)
	if len(x.Journal.Entries) == 0 {
		if err := x.journal(Entry{Event: EvBegin, Detail: "plan " + x.Plan.ID + " by " + whoRuns()}); err != nil {
			return nil, err
		}
	} else {
		x.log("resuming plan %s from its journal (%d entries)", x.Plan.ID, len(x.Journal.Entries))
	}
	if x.Watchdog != nil && !x.DryRun {
		go x.Watchdog.Run(ctx, time.Second, func(ev []WatchEvent) {
			for _, e := range ev {
				_ = x.journal(Entry{Event: EvWatchdog, Detail: "failed answer", Evidence: []checks.Evidence{e.Evidence}})
			}
			halt(&ErrWatchdog{Events: ev})
		})
	}
	sctx, stopAhead := context.WithCancel(ctx)
	err := x.steps(sctx)
	stopAhead() // a run that stops leaves no change going on
	x.aheadWG.Wait()
	if err == nil && context.Cause(ctx) != nil && !errors.Is(context.Cause(ctx), context.Canceled) {
		err = context.Cause(ctx)
	}
	switch {
	case err == nil:
		err = x.journal(Entry{Event: EvFinished})
		if x.DryRun {
			x.log("dry run finished: nothing was changed")
		} else if t := x.Plan.Target(); t.Cutover {
			x.log("finished: %d changes of %s are in place at %s", t.Changes, t.Zone, t.Provider)
		} else {
			x.log("finished: %s is on %s", t.Zone, t.To)
		}
	default:
		var wd *ErrWatchdog
		if errors.As(context.Cause(ctx), &wd) {
			err = wd
		}
		reason := "stopped: " + err.Error()
		if !errors.Is(err, ErrStopped) {
			reason = "failed: " + err.Error()
		}
		if x.Plan.OnFailure == spec.RollbackAuto && !x.DryRun && !errors.Is(err, ErrStopped) {
			if rerr := x.rollbackRecords(context.WithoutCancel(ctx)); rerr != nil {
				reason += "; " + rerr.Error()
			} else {
				reason += "; rolled back automatically: every moved name is on its old value"
				err = fmt.Errorf("%w; rolled back automatically: every moved name is on its old value", err)
			}
		}
		_ = x.journal(Entry{Event: EvStopped, Detail: reason})
		err = x.stop(err)
	}
	return x.ChangeLog(), err
}

// ChangeLog returns the change log of what the journal holds so far.
func (x *Executor) ChangeLog() *ChangeLog {
	var wd *WatchReport
	if x.Watchdog != nil {
		r := x.Watchdog.Report()
		wd = &r
	}
	cl := BuildChangeLog(x.Plan, x.Journal.Entries, wd, x.DryRun)
	if cl.Result != "completed" && !x.DryRun {
		s := x.stop(nil)
		cl.Resume, cl.Rollback = s.Resume, s.Rollback
	}
	return cl
}

func (x *Executor) steps(ctx context.Context) error {
	for i := range x.Plan.Steps {
		st := &x.Plan.Steps[i]
		if _, done := x.Journal.Last(st.ID, EvStepDone); done {
			continue
		}
		if err := ctx.Err(); err != nil {
			return stopErr(ctx)
		}
		x.sendAhead(ctx, i)
		var err error
		if st.Action == plan.ActionWait || st.Action == plan.ActionHold {
			err = x.wait(ctx, i)
		} else {
			err = x.act(ctx, st)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sendAhead starts, beside step i, the changes of later steps that are
// sent from the proof of a step done already (plan.TTLChange.SendFrom):
// one goroutine per host, its changes in order, each batch journaled
// under its own step as that step would, each change then proven at its
// host's servers (journaled host-proven). Its step waits for them, then
// sends whatever did not land (so a change that failed ahead, or a run
// resumed, is finished there).
func (x *Executor) sendAhead(ctx context.Context, i int) {
	if x.DryRun {
		return
	}
	for j := i + 1; j < len(x.Plan.Steps); j++ {
		st := &x.Plan.Steps[j]
		if _, done := x.Journal.Last(st.ID, EvStepDone); done {
			continue
		}
		labels := plan.ChangeLabels(st.TTLs)
		order, chains := hostChains(st.TTLs, func(ci int) bool {
			c := st.TTLs[ci]
			if c.SendFrom == "" || x.ahead[st.ID+" "+labels[ci]] != nil {
				return false
			}
			_, proven := x.Journal.Last(c.SendFrom, EvStepDone)
			return proven
		})
		for _, provider := range order {
			var done []chan struct{}
			for _, ci := range chains[provider] {
				if x.ahead == nil {
					x.ahead = map[string]chan struct{}{}
				}
				ch := make(chan struct{})
				x.ahead[st.ID+" "+labels[ci]], done = ch, append(done, ch)
			}
			x.aheadWG.Add(1)
			go func() {
				defer x.aheadWG.Done()
				for n, ci := range chains[provider] {
					c := st.TTLs[ci]
					x.log("%s: %s: sent ahead, from %s's proof", st.ID, labels[ci], c.SendFrom)
					reps, err := providers.TTLChanges(c.RRsets, c.TTLs)
					if err == nil {
						err = x.sendBatches(ctx, st, labels[ci], provider, reps, nil)
					}
					if err == nil {
						// Proven here, not asked again by the step's gate.
						err = x.proveHost(ctx, st, ci, labels[ci])
					}
					if err != nil {
						x.log("%s: %s: sent ahead, stopped: %v (%s sends what did not land)", st.ID, labels[ci], err, st.ID)
					}
					close(done[n])
				}
			}()
		}
	}
}

func stopErr(ctx context.Context) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return ErrStopped
}

// wait lets caches expire. The wait is anchored to the moment the step
// before it was proven (journaled), so a restart never shortens it.
func (x *Executor) wait(ctx context.Context, i int) error {
	st := &x.Plan.Steps[i]
	d := x.scaled(time.Duration(st.Wait))
	var until time.Time
	words := st.Formula // and, for an anchored wait, where it runs from
	if e, ok := x.Journal.Last(st.ID, EvWaitStart); ok && e.Until != nil {
		until = time.Time(*e.Until)
		if strings.HasPrefix(e.Detail, st.Formula) {
			words = e.Detail
		}
	} else {
		var from string
		until, from = x.until(i, d)
		u := Stamp(until)
		words += from
		e := Entry{Step: st.ID, Event: EvWaitStart, Until: &u, Detail: words}
		if d != time.Duration(st.Wait) {
			e.Before = []string{d.String()}
			e.Detail = fmt.Sprintf("TEST OVERRIDE: waits scaled by %g to %s; %s", x.WaitScale, d, st.Formula)
		}
		if err := x.journal(e); err != nil {
			return err
		}
	}
	x.log("%s: waiting until %s (%s)", st.ID, until.Format("15:04:05.000"), words)
	last := ""
	health := x.holdChecks(st)
	for {
		if err := health(ctx); err != nil {
			return err
		}
		left := until.Sub(x.now())
		if left <= 0 {
			break
		}
		if x.TTY {
			fmt.Fprintf(x.Out, "\r  %s: %s left   ", st.ID, left.Round(time.Second))
		} else if s := left.Round(10 * time.Second).String(); s != last && left > 5*time.Second {
			last = s
			x.log("%s: %s left", st.ID, left.Round(time.Second))
		}
		if err := x.Clock.Sleep(ctx, min(left, time.Second)); err != nil {
			if x.TTY {
				fmt.Fprintln(x.Out)
			}
			return stopErr(ctx)
		}
	}
	if x.TTY {
		fmt.Fprintln(x.Out)
	}
	x.log("%s: done", st.ID)
	return x.journal(Entry{Step: st.ID, Event: EvStepDone})
}

// scaled is a wait of d under the test-only WaitScale.
func (x *Executor) scaled(d time.Duration) time.Duration {
	if x.WaitScale > 0 && x.WaitScale != 1 {
		return time.Duration(float64(d) * x.WaitScale)
	}
	return d
}

// until is when wait step i, of d, ends (from words where it runs from):
// d from where its plan.Anchor says, once the journal records that moment,
// else from when the step before it was proven (now, for the first step);
// later if one of its AlsoFrom moments, with its own wait, ends later.
func (x *Executor) until(i int, d time.Duration) (until time.Time, from string) {
	st := &x.Plan.Steps[i]
	proven := func(a *plan.Anchor) (time.Time, bool) {
		if a == nil {
			return time.Time{}, false
		}
		e, ok := x.Journal.LastBatch(a.Step, EvHostProven, a.Provider)
		return time.Time(e.Time), ok
	}
	switch at, ok := proven(st.Anchor); {
	case ok:
		until, from = at.Add(d), "; "+st.Anchor.Words()
	case i > 0:
		if e, ok := x.Journal.Last(x.Plan.Steps[i-1].ID, EvStepDone); ok {
			until = time.Time(e.Time).Add(d)
			break
		}
		fallthrough
	default:
		until = x.now().Add(d)
	}
	for _, a := range st.AlsoFrom {
		at, ok := proven(&a)
		if !ok {
			continue
		}
		if end := at.Add(x.scaled(time.Duration(a.Wait))); end.After(until) {
			until, from = end, fmt.Sprintf("%s; %s: ends later", from, a.Words())
		}
	}
	return until, from
}

// anchored reports whether a wait of the plan runs from when step's
// change labelled label (plan.ChangeLabels) is proven.
func (x *Executor) anchored(step, label string) bool {
	for _, st := range x.Plan.Steps {
		for _, a := range slices.Concat(st.AlsoFrom, ptrs(st.Anchor)) {
			if a.Step == step && a.Provider == label {
				return true
			}
		}
	}
	return false
}

// ptrs is a's value as a slice of zero or one.
func ptrs(a *plan.Anchor) []plan.Anchor {
	if a == nil {
		return nil
	}
	return []plan.Anchor{*a}
}

// proveHost polls the gate of one change of a set-ttl step (st.TTLs[ci],
// journaled as label) until every server of its host serves it, and
// journals that moment, once: a wait anchored there runs from it while
// the step goes on at the next host.
func (x *Executor) proveHost(ctx context.Context, st *plan.Step, ci int, label string) error {
	if st.Gate == nil || x.Journal.HasBatch(st.ID, EvHostProven, label) {
		return nil
	}
	deadline := x.now().Add(time.Duration(st.Gate.Timeout))
	// Numbered as the step's gate numbers its answers: what is proven
	// here needs no asking there.
	memo := newGateMemo()
	x.begunMu.Lock()
	if x.begun == nil {
		x.begun = map[string][]*gateMemo{}
	}
	x.begun[st.ID] = append(x.begun[st.ID], memo)
	x.begunMu.Unlock()
	only := func(i int) bool { return i == ci }
	for attempt := 1; ; attempt++ {
		r := gateTTL(ctx, x.Env, x.Plan, st, memo, only)
		if r.OK {
			x.log("%s: %s proven: %s", st.ID, label, r.Summary)
			return x.journal(Entry{Step: st.ID, Event: EvHostProven, Batch: label, Detail: r.Summary, Evidence: r.Evidence})
		}
		if r.Fatal || x.now().After(deadline) {
			return fmt.Errorf("%s does not serve the change at every server within %s: %s%s", label, st.Gate.Timeout, r.Summary, behind(st, r))
		}
		if err := x.Clock.Sleep(ctx, x.pollAfter(attempt)); err != nil {
			return err
		}
	}
}

// holdChecks returns what a hold runs at each tick: every health check, at
// its interval, failing the step when one fails more often than allowed.
// Other waits get a function that does nothing.
func (x *Executor) holdChecks(st *plan.Step) func(context.Context) error {
	if st.Action != plan.ActionHold || len(st.Health) == 0 {
		return func(context.Context) error { return nil }
	}
	checks := st.Health
	next := make([]time.Time, len(checks))
	fails := make([]int, len(checks))
	return func(ctx context.Context) error {
		for i, h := range checks {
			if x.now().Before(next[i]) {
				continue
			}
			next[i] = x.now().Add(h.Interval)
			r := checkHealth(ctx, []spec.HealthCheck{h})
			if r.OK {
				continue
			}
			fails[i]++
			x.log("%s: health check failed (%d of %d allowed): %s", st.ID, fails[i], h.FailuresAllowed, r.Summary)
			_ = x.journal(Entry{Step: st.ID, Event: EvGateFailed, Detail: fmt.Sprintf("health: %s (failure %d, %d allowed)", r.Summary, fails[i], h.FailuresAllowed)})
			if fails[i] > h.FailuresAllowed && !x.DryRun {
				return fmt.Errorf("step %s: health check failed %d times: %s", st.ID, fails[i], r.Summary)
			}
		}
		return nil
	}
}

// since says when each name of a records cutover was changed: the moment
// its phase's change was journaled as done.
func (x *Executor) since() map[string]time.Time {
	out := map[string]time.Time{}
	for _, st := range x.Plan.Steps {
		if st.Action != plan.ActionSetRecords && st.Action != plan.ActionSetWeights {
			continue
		}
		if e, ok := x.Journal.Last(st.ID, EvActionDone); ok {
			for _, r := range st.Records {
				out[r.Name+" "+r.Type] = time.Time(e.Time)
			}
		}
	}
	return out
}

// rollbackRecords puts back the old values of every name a records
// cutover moved (rollback: auto), and proves it at every server.
func (x *Executor) rollbackRecords(ctx context.Context) error {
	var moved []providers.Replacement
	var undo []providers.Route
	var provider string
	for _, st := range x.Plan.Steps {
		if (st.Action != plan.ActionSetRecords && st.Action != plan.ActionSetWeights) || st.ID == plan.StepRestoreTTL {
			continue
		}
		if _, ok := x.Journal.Last(st.ID, EvActionStart); ok {
			moved, undo, provider = st.Moved, st.Undo, x.Plan.Target().HostOf(&st)
		}
	}
	if len(moved) == 0 {
		return nil
	}
	back := make([]providers.Replacement, len(moved))
	var names []string
	for i, m := range moved {
		back[i] = m.Reverse()
		names = append(names, m.Name+" "+m.Type)
	}
	x.log("rollback: putting back the old values of %s", strings.Join(names, ", "))
	if len(undo) > 0 {
		if err := x.setRoutes(ctx, provider, undo); err != nil {
			return fmt.Errorf("rollback: %w", err)
		}
	} else if err := x.replace(ctx, provider, back); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	deadline := x.now().Add(x.Plan.Target().GateTimeout)
	for {
		served, proxied := splitProxied(back)
		r := gateAPI(ctx, x.Env, x.Plan, proxied, false, gateRecords(ctx, x.Env, served, x.Plan.Target().Old.Servers, nil))
		if r.OK {
			return x.journal(Entry{Event: EvRolledBack, Detail: "old values back at every server: " + strings.Join(names, ", "), Evidence: r.Evidence})
		}
		if x.now().After(deadline) {
			return fmt.Errorf("rollback: the old values are not served everywhere: %s", r.Summary)
		}
		if err := x.Clock.Sleep(ctx, x.Poll); err != nil {
			return err
		}
	}
}

// replace puts plain record sets in place at the records host, as
// providers.Replace does (a host with weighted sets changes the TTL of a
// weighted name set by set, and refuses to make it plain).
func (x *Executor) replace(ctx context.Context, name string, reps []providers.Replacement) error {
	host, ok := x.Env.Hosts[name]
	if !ok {
		return fmt.Errorf("no host for provider %q", name)
	}
	return providers.Replace(ctx, name, host, x.Plan.Target().Zone, reps)
}

// setTTLs sends a set-ttl step's changes: each host's in the plan's order
// (a rollback's restore-ttl changes one host twice: the forward TTLs,
// then the handed-over apex NS; each change has batches of its own in
// the journal), the hosts at once once the first host's first batch is
// journaled done (see fanOut). A host whose change anchors a wait is
// proven right after its batches; when that is the first host, it goes
// alone until each of its changes a wait runs from is proven (the wait
// runs from that proof: the others' signing would only slow it on shared
// CPUs, and runs under the wait instead).
// In a rollback (the plan's observed.rollback) the hosts go one after the
// other, as its wait-ttl runs from lower-ttl's end: plan's nsPlan.lower
// gives the counts of Knot Resolver SERVFAILs both choices were kept for.
func (x *Executor) setTTLs(ctx context.Context, st *plan.Step) error {
	labels := plan.ChangeLabels(st.TTLs)
	order, chains := hostChains(st.TTLs, func(int) bool { return true })
	reps := make([][]providers.Replacement, len(st.TTLs))
	for i, c := range st.TTLs {
		var err error
		if reps[i], err = providers.TTLChanges(c.RRsets, c.TTLs); err != nil {
			return fmt.Errorf("provider %s: %w", c.Provider, err)
		}
	}
	// anchors: a wait runs from the change's proof (not the step's last
	// change: the step's own gate proves that one).
	anchors := func(i int) bool { return i < len(st.TTLs)-1 && x.anchored(st.ID, labels[i]) }
	// The first host's last change that anchors a wait: it goes alone
	// until that one is proven (the longest TTLs, then its others).
	lastAnchor := -1
	for _, ci := range chains[order[0]] {
		if anchors(ci) {
			lastAnchor = ci
		}
	}
	f := &fanOut{lead: make(chan struct{}), until: leadFirstBatch}
	switch {
	case x.Plan.Observed != nil && x.Plan.Observed.Rollback:
		f.until = leadDone
	case anchors(chains[order[0]][0]):
		f.until = leadProven
	}
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for n, provider := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n == 0 {
				defer f.reached(leadDone)
			} else {
				<-f.lead
			}
			for _, ci := range chains[provider] {
				if ahead := x.ahead[st.ID+" "+labels[ci]]; ahead != nil {
					<-ahead
				}
				err := x.sendBatches(ctx, st, labels[ci], provider, reps[ci], f)
				if err == nil && anchors(ci) {
					if err = x.proveHost(ctx, st, ci, labels[ci]); err == nil && ci == lastAnchor {
						f.reached(leadProven)
					}
				}
				if err != nil {
					f.failed.Store(true)
					errs[n] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// hostChains groups the indexes of a step's changes that keep accepts by
// host, each host's in plan order, and the hosts in the order of their
// first change: each chain is sent one change after the other, the
// chains side by side.
func hostChains(changes []plan.TTLChange, keep func(ci int) bool) (order []string, chains map[string][]int) {
	chains = map[string][]int{}
	for ci, c := range changes {
		if !keep(ci) {
			continue
		}
		if len(chains[c.Provider]) == 0 {
			order = append(order, c.Provider)
		}
		chains[c.Provider] = append(chains[c.Provider], ci)
	}
	return order, chains
}

// leadPoint is how far a step's first host goes alone before the other
// hosts start their changes.
type leadPoint int

const (
	// leadFirstBatch: until its first batch is journaled done (or found
	// done): a journal that cannot be written, or a host that refuses
	// the change, stops the step with one request out, not one at each
	// host.
	leadFirstBatch leadPoint = iota
	// leadProven: until every server of it serves each of its changes
	// that a wait runs from (a wait's end is that proof plus the wait:
	// the others' signing would only delay it on shared CPUs, and runs
	// under the wait instead).
	leadProven
	// leadDone: until it has ended, one host after the other; also where
	// a first host that fails lets the others go (to stop them).
	leadDone
)

// fanOut paces the hosts of one step that change at once: the first host
// goes alone until it reaches until, then the others start. A host that
// fails stops the others between batches.
type fanOut struct {
	failed atomic.Bool
	lead   chan struct{} // closed when the others may start
	once   sync.Once
	until  leadPoint
}

// reached says a host got to point p. Only the first host's count: the
// others run only once it has let them (and leadDone always lets them).
func (f *fanOut) reached(p leadPoint) {
	if f != nil && (p == f.until || p == leadDone) {
		f.once.Do(func() { close(f.lead) })
	}
}

func (f *fanOut) halted() bool { return f != nil && f.failed.Load() }

// sendBatches sends a step's replacements at a host in the batches its
// transport allows, journaling each: on a resume, a batch journaled done
// is not sent again, and one started but not journaled done is read back
// from the host and sent again only if it is not in place. Up to the
// host's InFlight batches are out at once, but the first this run sends
// goes alone: a host that refuses the change (a wrong key) gets one
// request, not a window of them. A failure stops sending, lets the
// batches already out land and journals them, and says how many RRsets
// were changed; apply or rollback finishes. label names the change in
// the journal ("old", or "old#2" for a step's second change at that
// host). f paces it beside other hosts' changes (nil: none).
func (x *Executor) sendBatches(ctx context.Context, st *plan.Step, label, provider string, reps []providers.Replacement, f *fanOut) error {
	host, ok := x.Env.Hosts[provider]
	if !ok {
		return fmt.Errorf("no host for provider %q", provider)
	}
	zone := x.Plan.Target().Zone
	batches := providers.Batches(host, reps)
	// Read back once, for however many batches a stop left started.
	served := sync.OnceValues(func() (map[string]providers.RRset, error) { return hostSets(ctx, provider, host, zone) })
	var (
		mu      sync.Mutex
		changed int
		failed  error // the first failure, in batch order
		failAt  = len(batches)
		sending bool // failed is the host's, not the journal's
		out     sync.WaitGroup
		slots   = make(chan struct{}, providers.InFlight(host))
		alone   = true
	)
	// landed journals batch key's n RRsets as changed and returns how
	// many of the step's have landed so far.
	landed := func(key string, n int, detail string) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		changed += n
		if detail == "" {
			detail = fmt.Sprintf("%d RRsets (%d of %d)", n, changed, len(reps))
		}
		if err := x.journal(Entry{Step: st.ID, Event: EvBatchDone, Batch: key, Detail: detail}); err != nil {
			return changed, err
		}
		f.reached(leadFirstBatch)
		return changed, nil
	}
	fail := func(i int, err error, send bool) {
		mu.Lock()
		defer mu.Unlock()
		if i < failAt {
			failAt, failed, sending = i, err, send
		}
	}
	stopped := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return failed != nil
	}
	for i, b := range batches {
		key := fmt.Sprintf("%s %d/%d", label, i+1, len(batches))
		if x.Journal.HasBatch(st.ID, EvBatchDone, key) {
			mu.Lock()
			changed += len(b)
			mu.Unlock()
			f.reached(leadFirstBatch)
			continue
		}
		// A slot first: with one in flight, the batch before has landed
		// (or failed) before this one is looked at.
		slots <- struct{}{}
		if stopped() {
			break
		}
		if f.halted() {
			out.Wait()
			mu.Lock()
			defer mu.Unlock()
			return fmt.Errorf("%d of the %d RRsets at %s were changed, then it stopped before batch %d of %d: another host's change failed", changed, len(reps), provider, i+1, len(batches))
		}
		if x.Journal.HasBatch(st.ID, EvBatchStart, key) {
			if sets, err := served(); err == nil && inPlace(sets, b) {
				<-slots
				if _, err := landed(key, len(b), fmt.Sprintf("%d RRsets found in place after a restart: not sent again", len(b))); err != nil {
					fail(i, err, false)
					break
				}
				continue
			}
		}
		if err := x.journal(Entry{Step: st.ID, Event: EvBatchStart, Batch: key}); err != nil {
			fail(i, err, false)
			break
		}
		out.Add(1)
		go func() {
			defer out.Done()
			defer func() { <-slots }()
			bctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			err := providers.Replace(bctx, provider, host, zone, b)
			cancel()
			if err != nil {
				fail(i, err, true)
				return
			}
			n, err := landed(key, len(b), "")
			if err != nil {
				fail(i, err, false)
				return
			}
			if len(batches) > 1 {
				x.log("%s: %s: batch %d of %d sent (%d of %d RRsets)", st.ID, provider, i+1, len(batches), n, len(reps))
			}
		}()
		if alone {
			out.Wait()
			alone = false
		}
	}
	out.Wait()
	if failed != nil && !sending {
		return failed
	}
	if failed != nil {
		// changed counts every batch that landed, those sent beside the
		// failed one too: the journal says which.
		return fmt.Errorf("%w; %d of the %d RRsets at %s were changed before (batch %d of %d failed): apply again (or roll back) to finish", failed, changed, len(reps), provider, failAt+1, len(batches))
	}
	return nil
}

// hostSets reads the host's zone back as RRsets by "name type".
func hostSets(ctx context.Context, provider string, host providers.Host, zone string) (map[string]providers.RRset, error) {
	read, err := providers.ReadRRsets(ctx, provider, host, zone)
	if err != nil {
		return nil, err
	}
	sets := make(map[string]providers.RRset, len(read))
	for _, s := range read {
		sets[s.Name+" "+s.Type] = s
	}
	return sets, nil
}

// inPlace reports whether every replacement of a batch is among the
// host's sets: its new data at its new TTL.
func inPlace(sets map[string]providers.RRset, reps []providers.Replacement) bool {
	for _, r := range reps {
		s := sets[strings.ToLower(r.Name)+" "+r.Type]
		if !slices.Equal(s.Data, plan.Normalize(r.Name, r.Type, r.To)) || len(r.To) > 0 && s.TTL != r.TTL {
			return false
		}
	}
	return true
}

// setRoutes makes the host answer each name as its route says, through
// its weighted sets.
func (x *Executor) setRoutes(ctx context.Context, name string, routes []providers.Route) error {
	w, ok := x.Env.Hosts[name].(providers.Weighter)
	if !ok {
		return fmt.Errorf("provider %s has no weighted record sets", name)
	}
	for _, r := range routes {
		if err := providers.SetRoute(ctx, w, x.Plan.Target().Zone, r); err != nil {
			return err
		}
	}
	return nil
}

// act performs a step's action (unless done), then proves its gate.
func (x *Executor) act(ctx context.Context, st *plan.Step) error {
	_, actionDone := x.Journal.Last(st.ID, EvActionDone)
	switch {
	case st.Action == plan.ActionVerify || actionDone:
	case st.Done:
		if err := x.journal(Entry{Step: st.ID, Event: EvActionDone, Detail: "already in place when planned: not sent"}); err != nil {
			return err
		}
	case x.DryRun:
		if err := x.journal(Entry{Step: st.ID, Event: EvActionDone, Before: st.Before, After: st.After, Detail: "dry run: would " + st.Summary}); err != nil {
			return err
		}
	default:
		if _, started := x.Journal.Last(st.ID, EvActionStart); started {
			// Stopped during the action: read the live state back before
			// deciding whether to send it again, giving secondaries a few
			// seconds to catch up with a change that did go out.
			if r := x.readBack(ctx, st); r.OK {
				x.log("%s: found in place after a restart; not sent again", st.ID)
				if err := x.journal(Entry{Step: st.ID, Event: EvActionDone, Before: st.Before, After: st.After, Detail: "found in place after a restart: not sent again", Evidence: r.Evidence}); err != nil {
					return err
				}
				actionDone = true
			}
		}
		if !actionDone {
			inPlace, pre, err := x.precondition(ctx, st)
			if err != nil {
				return err
			}
			switch {
			case !pre.OK:
				_ = x.journal(Entry{Step: st.ID, Event: EvActionFail, Detail: "precondition: " + pre.Summary, Evidence: pre.Evidence})
				return fmt.Errorf("step %s: precondition: %s", st.ID, pre.Summary)
			case inPlace:
				x.log("%s: %s; not sent", st.ID, pre.Summary)
				if err := x.journal(Entry{Step: st.ID, Event: EvActionDone, Before: st.Before, After: st.After, Detail: pre.Summary + ": not sent", Evidence: pre.Evidence}); err != nil {
					return err
				}
				return x.gate(ctx, st)
			}
			if err := x.journal(Entry{Step: st.ID, Event: EvActionStart}); err != nil {
				return err
			}
			x.log("%s: %s", st.ID, st.Summary)
			// An action, once started, runs to its end: Ctrl-C stops
			// between actions, never inside one. Each request inside it
			// has its own bound (a host's batch 60 s; a registrar polls
			// its operations up to 15 minutes); this one catches the rest.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), actionTimeout)
			err = x.do(actx, st)
			cancel()
			if err != nil {
				r := evalGate(context.WithoutCancel(ctx), x.Env, x.Plan, st, x.since(), nil)
				_ = x.journal(Entry{Step: st.ID, Event: EvActionFail, Detail: fmt.Sprintf("%v; read back: %s", err, r.Summary), Evidence: r.Evidence})
				return fmt.Errorf("step %s: %w", st.ID, err)
			}
			if err := x.journal(Entry{Step: st.ID, Event: EvActionDone, Before: st.Before, After: st.After}); err != nil {
				return err
			}
		}
	}
	return x.gate(ctx, st)
}

// precondition asks until every server answers, or the step's gate
// timeout passes: a server that does not answer is retried, and then
// reported as unreachable, before anything is sent.
func (x *Executor) precondition(ctx context.Context, st *plan.Step) (bool, GateResult, error) {
	timeout := x.Plan.Target().GateTimeout
	if st.Gate != nil {
		timeout = time.Duration(st.Gate.Timeout)
	}
	began := x.now()
	var lastLog time.Time
	for {
		inPlace, res, silent := precondition(ctx, x.Env, x.Plan, st)
		if len(silent) == 0 || x.DryRun {
			return inPlace, res, nil
		}
		waited := x.now().Sub(began)
		if waited >= timeout {
			res.Summary = fmt.Sprintf("%s; asked for %s", res.Summary, waited.Round(time.Second))
			return false, res, nil
		}
		if x.now().Sub(lastLog) >= progressEvery {
			x.log("%s: precondition: no answer yet from %s; asking again until %s", st.ID, strings.Join(silent, ", "), began.Add(timeout).Format("15:04:05"))
			lastLog = x.now()
		}
		if err := x.Clock.Sleep(ctx, x.Poll); err != nil {
			return false, res, stopErr(ctx)
		}
	}
}

// behind names the servers a failed record gate holds evidence from: the
// ones not yet in the target state (a parent gate's summary names its
// servers itself).
func behind(st *plan.Step, r GateResult) string {
	if st.Action != plan.ActionSetTTL && st.Action != plan.ActionSetRecords {
		return ""
	}
	var servers []string
	for _, e := range r.Evidence {
		if e.Server != "" && !slices.Contains(servers, e.Server) {
			servers = append(servers, e.Server)
		}
	}
	if len(servers) == 0 {
		return ""
	}
	slices.Sort(servers)
	return "; not yet at " + strings.Join(servers, ", ")
}

// firstPoll is how soon a gate looks again after its first look: most
// changes reach every server within a second or two of the action (a
// NOTIFY, which Knot sends about a second after an update, and a
// transfer), so the next looks come 25 ms, then half as long again each
// time (37, 56, 84 ms ...), up to Poll: a gate that holds at once costs
// about what it takes, not a whole Poll, and one that holds a second
// later is seen within about a third of that. A change that takes longer
// is asked about once a Poll, as before.
const firstPoll = 25 * time.Millisecond

// pollAfter is how long a gate waits after its attempt-th look.
func (x *Executor) pollAfter(attempt int) time.Duration {
	d := firstPoll
	for i := 1; i < attempt && d < x.Poll; i++ {
		d = d * 3 / 2
	}
	return min(d, x.Poll)
}

// progressEvery is how often a gate or precondition that waits says so.
const progressEvery = 10 * time.Second

// actionTimeout bounds one step's action as a whole.
const actionTimeout = 20 * time.Minute

// readBack polls the step's gate for up to 10 s (or its timeout), each
// poll asking only what the earlier ones did not prove.
func (x *Executor) readBack(ctx context.Context, st *plan.Step) GateResult {
	deadline := x.now().Add(min(10*time.Second, time.Duration(st.Gate.Timeout)))
	memo := newGateMemo()
	for {
		r := evalGate(ctx, x.Env, x.Plan, st, x.since(), memo)
		if r.OK || x.now().After(deadline) || x.Clock.Sleep(ctx, x.Poll) != nil {
			return r
		}
	}
}

// gate polls the step's gate until it holds, or fails after its timeout.
// A dry run looks once and records what it saw.
func (x *Executor) gate(ctx context.Context, st *plan.Step) error {
	if st.Gate == nil {
		return x.journal(Entry{Step: st.ID, Event: EvStepDone})
	}
	if x.DryRun {
		r := evalGate(ctx, x.Env, x.Plan, st, x.since(), nil)
		if err := x.journal(Entry{Step: st.ID, Event: EvGatePassed, Detail: "dry run, read-only look at the live state now: " + r.Summary, Evidence: r.Evidence}); err != nil {
			return err
		}
		x.log("%s: would prove %s (now: %s)", st.ID, st.Gate.Words(), r.Summary)
		return x.journal(Entry{Step: st.ID, Event: EvStepDone})
	}
	deadline := x.now().Add(time.Duration(st.Gate.Timeout))
	last := ""
	began := x.now()
	lastLog := began
	memo := newGateMemo()
	x.begunMu.Lock()
	for _, m := range x.begun[st.ID] {
		memo.merge(m)
	}
	x.begunMu.Unlock()
	for attempt := 1; ; attempt++ {
		since := x.since()
		since[gateStartKey(st.ID)] = began
		r := evalGate(ctx, x.Env, x.Plan, st, since, memo)
		if r.OK {
			x.log("%s: proven: %s", st.ID, r.Summary)
			if err := x.journal(Entry{Step: st.ID, Event: EvGatePassed, Detail: fmt.Sprintf("%s (attempt %d)", r.Summary, attempt), Evidence: r.Evidence}); err != nil {
				return err
			}
			return x.journal(Entry{Step: st.ID, Event: EvStepDone})
		}
		if r.Summary != last || x.now().Sub(lastLog) >= progressEvery {
			x.log("%s: not yet (%s of %s): %s%s", st.ID, x.now().Sub(began).Round(time.Second), st.Gate.Timeout, r.Summary, behind(st, r))
			last, lastLog = r.Summary, x.now()
		}
		if r.Fatal {
			_ = x.journal(Entry{Step: st.ID, Event: EvGateFailed, Detail: fmt.Sprintf("%s (attempt %d): waiting cannot help", r.Summary, attempt), Evidence: r.Evidence})
			return fmt.Errorf("step %s: gate %s failed: %s", st.ID, st.Gate.Check, r.Summary)
		}
		if x.now().After(deadline) {
			_ = x.journal(Entry{Step: st.ID, Event: EvGateFailed, Detail: fmt.Sprintf("%s after %d attempts over %s", r.Summary, attempt, st.Gate.Timeout), Evidence: r.Evidence})
			return fmt.Errorf("step %s: gate %s did not hold within %s: %s", st.ID, st.Gate.Check, st.Gate.Timeout, r.Summary)
		}
		if err := x.Clock.Sleep(ctx, x.pollAfter(attempt)); err != nil {
			return stopErr(ctx)
		}
	}
}

// do sends a step's change.
func (x *Executor) do(ctx context.Context, st *plan.Step) error {
	t := x.Plan.Target()
	zone := t.Zone
	switch st.Action {
	case plan.ActionSetTTL:
		return x.setTTLs(ctx, st)
	case plan.ActionSetDS:
		var ds []providers.DelegationSigner
		for i, d := range st.DS {
			rr, err := dns.NewRR(zone + " 0 IN DS " + d)
			if err != nil {
				return fmt.Errorf("DS %q: %w", d, err)
			}
			s := providers.DelegationSigner{DS: rr.(*dns.DS)}
			if i < len(st.Keys) {
				if k, err := dns.NewRR(zone + " 0 IN DNSKEY " + st.Keys[i]); err == nil {
					s.Key = k.(*dns.DNSKEY)
				}
			}
			ds = append(ds, s)
		}
		return x.Env.Registrar.SetDS(ctx, zone, ds, t.DSTTL)
	case plan.ActionSetNS:
		glue := map[string][]netip.Addr{}
		for n, addrs := range st.Glue {
			for _, a := range addrs {
				ip, err := netip.ParseAddr(strings.TrimSpace(a))
				if err != nil {
					return fmt.Errorf("glue %s %q: %w", n, a, err)
				}
				glue[n] = append(glue[n], ip)
			}
		}
		return x.Env.Registrar.SetNS(ctx, zone, st.NS, glue, t.NSTTL)
	case plan.ActionSetRecords:
		if len(st.Routes) > 0 {
			return x.setRoutes(ctx, t.HostOf(st), st.Routes)
		}
		return x.sendBatches(ctx, st, t.HostOf(st), t.HostOf(st), st.Records, nil)
	case plan.ActionSetWeights:
		return x.setRoutes(ctx, t.HostOf(st), st.Routes)
	case plan.ActionSetMarker:
		return x.setMarker(ctx, st)
	case plan.ActionSetDNSKEY:
		return x.setDNSKEYs(ctx, st)
	}
	return fmt.Errorf("unknown action %q", st.Action)
}
