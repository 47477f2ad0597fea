package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// TestIPv6ParentServerLags runs the lab with its third parent server on
// [::1]:53 and holds that server behind: the DS-gone and NS gates must not
// pass while it still serves the old delegation, and must pass once it
// catches up. Plan and gates ask it because verify.ipv6 asks every address.
func TestIPv6ParentServerLags(t *testing.T) {
	t.Parallel()
	labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := lab.Config{Prefix: "127.74.0.0/24", IPv6: true}
	_ = lab.Down(ctx, cfg)
	l, err := lab.Up(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	if !l.IPv6 {
		t.Fatalf("another lab holds %s: this test needs it (stop the other lab)", lab.IPv6Addr)
	}
	// verify.ipv6 is auto: this machine has a route to [::1].
	s, err := spec.Load(writeSpec(t, l, "insecure-window", time.Minute), nil)
	if err != nil {
		t.Fatal(err)
	}
	env, err := plan.NewEnv(ctx, s, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := plan.Observe(ctx, env, s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(obs.ParentServers, lab.IPv6Addr) || len(obs.ParentServers) != 3 {
		t.Fatalf("parent servers %v, want the two IPv4 ones and %s", obs.ParentServers, lab.IPv6Addr)
	}
	p := &plan.Plan{Spec: s, Observed: obs}

	for _, tt := range []struct {
		name   string
		gate   *plan.Gate
		change func() error
	}{
		{"DS removed", &plan.Gate{Check: plan.GateDSGone}, func() error { return l.SetDS(ctx, lab.Zone, nil) }},
		{"NS switched", &plan.Gate{Check: plan.GateNSServed, Expect: lab.NewNS[:]}, func() error {
			return env.Registrar.SetNS(ctx, lab.Zone, lab.NewNS[:], nil, 10*time.Second)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := l.HoldIPv6(ctx, true); err != nil {
				t.Fatal(err)
			}
			if err := tt.change(); err != nil {
				t.Fatal(err)
			}
			st := &plan.Step{Gate: tt.gate}
			// The IPv4 secondary catches up; the IPv6 one must hold the gate.
			var r apply.GateResult
			ipv4 := l.Addr(lab.RoleTLD2) + " yes"
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				if r = apply.EvalGate(ctx, env, p, st); strings.Contains(r.Summary, ipv4) {
					break
				}
			}
			if r.OK || !strings.Contains(r.Summary, ipv4) || !strings.Contains(r.Summary, lab.IPv6Addr+" not yet") {
				t.Fatalf("while %s lags: gate %s ok=%v: %s", lab.IPv6Addr, tt.gate.Check, r.OK, r.Summary)
			}
			if err := l.HoldIPv6(ctx, false); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !r.OK; time.Sleep(200 * time.Millisecond) {
				r = apply.EvalGate(ctx, env, p, st)
			}
			if !r.OK {
				t.Fatalf("after %s caught up: gate %s still fails: %s", lab.IPv6Addr, tt.gate.Check, r.Summary)
			}
		})
	}
}
