package plan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// ErrNothingToDo says the live state already is the target.
var ErrNothingToDo = errors.New("nothing to do")

// CheckSaved refuses a saved plan that is not exactly what the planner
// makes of its own spec and observation, or (with MIGRATE_PLAN_KEY set)
// that the key did not sign.
func CheckSaved(saved *Plan, env func(string) string) error {
	key, err := PlanKey(env)
	if err != nil {
		return err
	}
	if err := saved.CheckSeal(key); err != nil {
		return err
	}
	return saved.CheckRebuild()
}

// OpenSaved reads a saved plan to apply: checked as CheckSaved does, with
// the secrets of its spec's providers read from vars. It returns the
// plan's spec too: the hosts and registrar apply builds are the ones it
// was planned with.
func OpenSaved(path string, vars func(string) string) (*spec.Spec, *Plan, error) {
	saved, read, err := readPlan(path)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckSaved(saved, vars); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	saved.read = read
	if err := saved.Spec.LoadSecrets(vars); err != nil {
		return nil, nil, err
	}
	return saved.Spec, saved, nil
}

// ProveAccess reads the secrets of the plan's providers from vars and
// proves that env reaches each of them (CheckAccess): a resumed run's
// credentials are proven before it sends anything.
func (p *Plan) ProveAccess(ctx context.Context, env Env, vars func(string) string) error {
	if err := p.Spec.LoadSecrets(vars); err != nil {
		return err
	}
	return CheckAccess(ctx, env, p.Spec)
}

// Prior is what a rollback takes from the forward move's plan (PriorOf):
// the TTLs to restore, the DS TTL caches may hold, and the weighted sets
// to end on.
type Prior struct {
	// Rollback says the plan is a move back (set by rollback, also when
	// this machine holds no forward plan).
	Rollback  bool
	restoreTo []TTLChange
	planID    string
	dsTTL     uint32
	routed    []providers.Route
}

// Fresh plans from the live state; a saved plan is used only if the
// live state has not drifted from what it observed.
func Fresh(ctx context.Context, env Env, spec *spec.Spec, saved *Plan, prior Prior, takeOver string) (*Plan, error) {
	obs, err := observe(ctx, env, spec, saved == nil)
	if err != nil {
		return nil, err
	}
	if obs.DSTTL == 0 && saved == nil {
		obs.PriorDSTTL = prior.dsTTL
	}
	if saved == nil {
		obs.PriorRouted = prior.routed
		obs.PriorPlan = prior.planID
		obs.Rollback = prior.Rollback
		if takeOver != "" {
			if err := TakeOver(obs, spec, takeOver); err != nil {
				return nil, err
			}
		}
	}
	if saved != nil {
		if problems := markerProblems(obs, spec.Zone, saved.ID, saved.Observed.TakeOver); len(problems) > 0 {
			return nil, notSafe(problems)
		}
		if err := saved.Observed.Drift(obs); err != nil {
			return nil, err
		}
		// Planned elsewhere, perhaps with other credentials: prove these.
		if problems := accessProblems(ctx, env, spec); len(problems) > 0 {
			return nil, errAccess(problems)
		}
		if saved.Nothing {
			return nil, ErrNothingToDo
		}
		return saved, nil
	}
	p, err := Build(spec, obs, time.Now())
	if err != nil {
		return nil, err
	}
	if p.Nothing {
		return nil, ErrNothingToDo
	}
	if len(prior.restoreTo) > 0 {
		p.restoreTTLs(prior.restoreTo)
	}
	return p, nil
}

// PriorOf is what a rollback takes from fp, the forward move's plan.
func PriorOf(fp *Plan) Prior {
	var prior Prior
	if st := fp.Step(StepRestoreTTL); st != nil {
		prior.restoreTo = slices.Clone(st.TTLs)
	}
	prior.restoreTo = append(prior.restoreTo, handedOverNS(fp)...)
	prior.dsTTL = fp.Observed.DSTTL
	prior.planID = fp.ID
	prior.routed = fp.Observed.Old.Routed
	return prior
}

// handedOverNS is what a rollback restores of the old host's apex NS set
// that the forward move handed over (and so left out of its restore-ttl):
// its own names, at its original TTL.
func handedOverNS(fp *Plan) []TTLChange {
	st := fp.Step(StepHandoverNS)
	if st == nil || len(st.Records) == 0 {
		return nil
	}
	r := st.Records[0]
	orig := fp.Observed.Old.ApexNSTTL
	if orig <= r.TTL {
		return nil
	}
	set := providers.RRset{Name: r.Name, Type: r.Type, TTL: r.TTL, Data: r.From}
	return []TTLChange{{Provider: st.Provider, RRsets: []providers.RRset{set}, TTLs: []uint32{orig}}}
}
