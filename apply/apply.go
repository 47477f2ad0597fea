package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// Workspace is where one zone's migration lives. Its state (the plan being
// applied, its journal and its lock) is in a per-zone state directory that
// does not depend on the current directory, so that two applies of one
// zone on one machine meet at the lock whatever output.dir each uses; its
// change logs are under output.dir.
type Workspace struct {
	Dir   string // output.dir/<zone>: change logs
	State string // <state dir>/<zone>: plan.json, journal.jsonl, lock
}

// WorkspaceFor returns the workspace of spec's zone, its state directory
// found in the process's environment.
func WorkspaceFor(spec *spec.Spec) Workspace { return workspaceFor(spec, os.Getenv) }

func workspaceFor(spec *spec.Spec, env func(string) string) Workspace {
	zone := strings.TrimSuffix(spec.Zone, ".")
	return Workspace{Dir: filepath.Join(spec.Output.Dir, zone), State: filepath.Join(StateRoot(spec, env), zone)}
}

// StateRoot is where migrate keeps every zone's state: output.state_dir,
// else $XDG_STATE_HOME/dnsmigrate, else ~/.local/state/dnsmigrate.
func StateRoot(spec *spec.Spec, env func(string) string) string {
	switch {
	case spec.Output.StateDir != "":
		return spec.Output.StateDir
	case env("XDG_STATE_HOME") != "":
		return filepath.Join(env("XDG_STATE_HOME"), "dnsmigrate")
	case env("HOME") != "":
		return filepath.Join(env("HOME"), ".local", "state", "dnsmigrate")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "dnsmigrate")
	}
	return filepath.Join("/var/lib", "dnsmigrate")
}

// Path names a change log of the workspace.
func (w Workspace) Path(name string) string { return filepath.Join(w.Dir, name) }

// StatePath names a file of the workspace's state.
func (w Workspace) StatePath(name string) string { return filepath.Join(w.State, name) }

// setAside renames the workspace's directories with suffix (a rolled
// back move's, whose lock no one holds).
func (w Workspace) setAside(suffix string) error {
	for _, d := range slices.Compact([]string{w.State, w.Dir}) {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		if err := os.Rename(d, d+suffix); err != nil {
			return fmt.Errorf("set aside %s: %w", d, err)
		}
	}
	return nil
}

// archive moves what the workspace's directories hold into ones named
// with suffix, all but the lock: an apply that archives a finished run
// keeps holding it.
func (w Workspace) archive(suffix string) error {
	for _, d := range slices.Compact([]string{w.State, w.Dir}) {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		if err := os.MkdirAll(d+suffix, 0o700); err != nil {
			return fmt.Errorf("archive %s: %w", d, err)
		}
		for _, e := range entries {
			if d == w.State && e.Name() == "lock" {
				continue
			}
			if err := os.Rename(filepath.Join(d, e.Name()), filepath.Join(d+suffix, e.Name())); err != nil {
				return fmt.Errorf("archive %s: %w", d, err)
			}
		}
	}
	return nil
}

// ApplyOptions says what to apply and how.
type ApplyOptions struct {
	SpecFile string // -f: plan now from the spec
	PlanFile string // or: a saved plan
	Env      func(string) string
	DryRun   bool
	Out      io.Writer // progress and manual-registrar instructions
	TTY      bool
	// Confirm is asked before a real run starts; nil means yes.
	Confirm func(*plan.Plan) bool
	// NewEnv builds the hosts, registrar and checker (tests swap it).
	NewEnv func(context.Context, *spec.Spec) (plan.Env, error)
	// Reverse moves the zone back (from and to swapped): a rollback, in a
	// workspace of its own; the forward plan's original TTLs are restored.
	Reverse bool
	// Force lets a records plan change more than the safety threshold.
	Force bool
	// TakeOver names the plan of a move begun elsewhere whose run is gone:
	// resumed from its journal if this state directory holds it, else
	// planned anew from the live state and its marker (TakeOver).
	TakeOver string
	// Words words how to resume a stopped run and roll it back (the
	// CLI's); nil leaves the commands out of the error and change log.
	Words Words
	// Test-only knobs.
	WaitScale float64
	Poll      time.Duration
	NoWatch   bool
}

// ErrDeclined says the user did not confirm.
var ErrDeclined = errors.New("not confirmed: nothing was changed")

// Apply runs (or resumes, or dry-runs) a migration and writes its change
// logs. It returns the change log even when the run stops.
func Apply(ctx context.Context, o ApplyOptions) (*ChangeLog, Workspace, error) {
	if o.Env == nil {
		o.Env = os.Getenv
	}
	spec, saved, err := toApply(o)
	if err != nil {
		return nil, Workspace{}, err
	}
	for _, w := range spec.SecretFileWarnings() {
		if o.Out != nil {
			fmt.Fprintln(o.Out, "warning: "+w)
		}
	}
	ws := workspaceFor(spec, o.Env)
	if saved != nil {
		ws = ws.onThisMachine(spec.Zone, o.Env)
	}
	forward := ws
	var prior plan.Prior
	if o.Reverse {
		if saved != nil {
			return nil, ws, errors.New("rollback takes the spec (-f), not a saved plan")
		}
		ws, prior = reverse(spec, ws)
	}
	env, err := o.NewEnv(ctx, spec)
	if err != nil {
		return nil, ws, err
	}
	x := &Executor{Env: env, Out: o.Out, TTY: o.TTY, DryRun: o.DryRun, Poll: o.Poll, WaitScale: o.WaitScale, Words: o.Words,
		Source: Source{SpecFile: spec.File, PlanFile: o.PlanFile, Reverse: o.Reverse}}

	if o.DryRun {
		return dryRun(ctx, x, ws, spec, saved, prior, o.TakeOver)
	}

	if err := os.MkdirAll(ws.State, 0o700); err != nil {
		return nil, ws, fmt.Errorf("apply: state directory: %w", err)
	}
	lock, err := TakeLock(ws.StatePath("lock"))
	if err != nil {
		return nil, ws, err
	}
	defer func() { _ = lock.Release() }()
	p, j, err := resumable(ctx, env, ws, saved, o)
	if err == nil && j == nil {
		p, j, err = begin(ctx, env, ws, spec, saved, prior, o)
	}
	if err != nil {
		return nil, ws, err
	}
	defer j.Close()
	x.Plan, x.Clock, x.Journal = p, RealClock{}, j
	if !o.NoWatch && len(p.Target().Resolvers) > 0 {
		x.Watchdog = NewWatchdog(env.Checker, p)
	}
	cl, err := x.Run(ctx)
	if werr := writeChangeLogs(ws, "changelog", cl); werr != nil && err == nil {
		err = werr
	}
	if err == nil && o.Reverse {
		// The forward move is undone: set its unfinished journal aside so
		// that a later apply plans afresh instead of resuming it.
		if rerr := forward.setAside("-rolled-back-" + time.Now().UTC().Format("20060102T150405Z")); rerr != nil {
			err = fmt.Errorf("rollback: %w", rerr)
		}
	}
	return cl, ws, err
}

// reverse turns spec into its move back (from and to swapped, or each
// change's values), in a workspace of its own, with what it takes from
// the forward move's plan when this machine holds it.
func reverse(spec *spec.Spec, forward Workspace) (Workspace, plan.Prior) {
	spec.Reverse()
	ws := Workspace{Dir: forward.Dir + ".rollback", State: forward.State + ".rollback"}
	var prior plan.Prior
	if fp, err := plan.ReadPlan(forward.StatePath("plan.json")); err == nil {
		prior = plan.PriorOf(fp)
	}
	prior.Rollback = true
	return ws, prior
}

// dryRun walks the plan on a simulated clock, changing nothing, and
// writes the change log it would write.
func dryRun(ctx context.Context, x *Executor, ws Workspace, spec *spec.Spec, saved *plan.Plan, prior plan.Prior, takeOver string) (*ChangeLog, Workspace, error) {
	p, err := plan.Fresh(ctx, x.Env, spec, saved, prior, takeOver)
	if err != nil {
		return nil, ws, err
	}
	x.Plan, x.Clock, x.Journal = p, NewSimClock(time.Now()), MemoryJournal()
	x.Watchdog = NewWatchdog(x.Env.Checker, p)
	x.Watchdog.Round(ctx, time.Now()) // one read-only round: the resolvers answer now
	cl, err := x.Run(ctx)
	if werr := writeChangeLogs(ws, "dry-run-changelog", cl); werr != nil && err == nil {
		err = werr
	}
	return cl, ws, err
}

// begin starts a new migration: nothing is written before it is planned,
// checked against drift and confirmed; then its plan and an empty journal.
func begin(ctx context.Context, env plan.Env, ws Workspace, spec *spec.Spec, saved *plan.Plan, prior plan.Prior, o ApplyOptions) (*plan.Plan, *Journal, error) {
	p, err := plan.Fresh(ctx, env, spec, saved, prior, o.TakeOver)
	if err != nil {
		return nil, nil, err
	}
	if o.Confirm != nil && !o.Confirm(p) {
		return nil, nil, ErrDeclined
	}
	// A saved plan is kept as its file was checked.
	if err := p.SaveAsRead(ws.StatePath("plan.json")); err != nil {
		return nil, nil, err
	}
	j, err := OpenJournal(ws.StatePath("journal.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	return p, j, nil
}

// toApply reads what o says to apply: a spec, planned now, or a saved
// plan, checked against its seal and its own inputs, and its spec.
func toApply(o ApplyOptions) (*spec.Spec, *plan.Plan, error) {
	if o.PlanFile == "" {
		s, err := spec.Load(o.SpecFile, o.Env)
		if err != nil {
			return nil, nil, err
		}
		s.Force = o.Force // a saved plan was planned with its own
		return s, nil, nil
	}
	s, saved, err := plan.OpenSaved(o.PlanFile, o.Env)
	if err != nil {
		return nil, nil, err
	}
	if o.TakeOver != "" && o.TakeOver != saved.Target().TakeOver {
		return nil, nil, fmt.Errorf("%s: --take-over %s: a saved plan takes over only what it was planned to (migrate plan --take-over %s --out FILE)", o.PlanFile, o.TakeOver, o.TakeOver)
	}
	return s, saved, nil
}

// onThisMachine is where this machine keeps the runs of a saved plan: its
// spec is sealed as planned, but MIGRATE_OUTPUT_DIR and
// MIGRATE_OUTPUT_STATE_DIR decide where this machine keeps its runs.
func (w Workspace) onThisMachine(zone string, env func(string) string) Workspace {
	zone = strings.TrimSuffix(zone, ".")
	if dir := env(spec.EnvName("output.dir")); dir != "" {
		w.Dir = filepath.Join(dir, zone)
	}
	if dir := env(spec.EnvName("output.state_dir")); dir != "" {
		w.State = filepath.Join(dir, zone)
	}
	return w
}

// resumable returns the run under way in the workspace, its plan checked
// and its credentials proven, or no plan and no journal when there is
// none. A finished run (or an empty journal) is set aside first, under
// the lock the caller holds: no other apply can start in between.
func resumable(ctx context.Context, env plan.Env, ws Workspace, saved *plan.Plan, o ApplyOptions) (*plan.Plan, *Journal, error) {
	if _, err := os.Stat(ws.StatePath("journal.jsonl")); err != nil {
		return nil, nil, nil
	}
	j, err := OpenJournal(ws.StatePath("journal.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	p, err := resumedPlan(ctx, env, ws, saved, o, j)
	if p == nil || err != nil {
		j.Close()
		return nil, nil, err
	}
	return p, j, nil
}

// resumedPlan is the plan of the run journal j records, or nil once a
// finished run is set aside.
func resumedPlan(ctx context.Context, env plan.Env, ws Workspace, saved *plan.Plan, o ApplyOptions, j *Journal) (*plan.Plan, error) {
	if j.Finished() || len(j.Entries) == 0 {
		// The last migration finished: keep it aside, start anew.
		if err := ws.archive("-" + time.Now().UTC().Format("20060102T150405Z")); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		return nil, nil
	}
	// A run was under way: resume exactly its plan.
	p, err := plan.ReadPlan(ws.StatePath("plan.json"))
	if err != nil {
		return nil, fmt.Errorf("apply: a journal is in %s but its plan cannot be read: %w", ws.State, err)
	}
	if p.Seal != nil {
		key, err := plan.PlanKey(o.Env)
		if err != nil {
			return nil, err
		}
		if p.Seal.HMAC == "" {
			key = nil // planned by apply itself, from the spec
		}
		if err := p.CheckSeal(key); err != nil {
			return nil, fmt.Errorf("apply: %s: %w", ws.StatePath("plan.json"), err)
		}
	}
	if o.TakeOver != "" && o.TakeOver != p.ID && o.TakeOver != p.Target().TakeOver {
		return nil, fmt.Errorf("apply: --take-over %s, but %s holds the journal of plan %s, under way: resume it with `migrate apply %s`", o.TakeOver, ws.State, p.ID, ws.StatePath("plan.json"))
	}
	if saved != nil && saved.ID != p.ID {
		return nil, fmt.Errorf("apply: plan %s is under way in %s; resume it with `migrate apply %s` before applying plan %s", p.ID, ws.State, ws.StatePath("plan.json"), saved.ID)
	}
	if err := p.ProveAccess(ctx, env, o.Env); err != nil {
		return nil, err
	}
	return p, nil
}

func writeChangeLogs(ws Workspace, base string, cl *ChangeLog) error {
	if err := os.MkdirAll(ws.Dir, 0o755); err != nil {
		return fmt.Errorf("change log: %w", err)
	}
	var md, js strings.Builder
	if err := cl.WriteMarkdown(&md); err != nil {
		return err
	}
	if err := cl.WriteJSON(&js); err != nil {
		return err
	}
	if err := plan.WriteFileSync(ws.Path(base+".md"), []byte(md.String())); err != nil {
		return fmt.Errorf("change log: %w", err)
	}
	if err := plan.WriteFileSync(ws.Path(base+".json"), []byte(js.String())); err != nil {
		return fmt.Errorf("change log: %w", err)
	}
	return nil
}
