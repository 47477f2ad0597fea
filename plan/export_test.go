package plan

import "context"

// EvalGate asks a step's gate once, for tests outside the package.
func EvalGate(ctx context.Context, env Env, p *Plan, st *Step) GateResult {
	return evalGate(ctx, env, p, st, nil, nil)
}
