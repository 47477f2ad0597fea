package plan

import "context"

// EvalGate asks a step's gate once, for tests outside the package.
func EvalGate(ctx context.Context, env Env, p *Plan, st *Step) GateResult {
	return evalGate(ctx, env, p, st, nil, nil)
}

// Precondition asks a step's precondition once, for tests outside the
// package.
func Precondition(ctx context.Context, env Env, p *Plan, st *Step) (bool, GateResult, []string) {
	return precondition(ctx, env, p, st)
}
