package plan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
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
	cfg := lab.Config{Prefix: "127.72.0.0/24", IPv6: true}
	_ = lab.Down(ctx, cfg)
	l, err := lab.Up(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	if !l.IPv6 {
		t.Fatalf("another lab holds %s: this test needs it (stop the other lab)", lab.IPv6Addr)
	}
	spec := labSpec(t, l, "on")
	env, err := NewEnv(ctx, spec, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := Observe(ctx, env, spec)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(obs.ParentServers, lab.IPv6Addr) || len(obs.ParentServers) != 3 {
		t.Fatalf("parent servers %v, want the two IPv4 ones and %s", obs.ParentServers, lab.IPv6Addr)
	}
	p := &Plan{Spec: spec, Observed: obs}

	for _, tt := range []struct {
		name   string
		gate   *Gate
		change func() error
	}{
		{"DS removed", &Gate{Check: GateDSGone}, func() error { return l.SetDS(ctx, lab.Zone, nil) }},
		{"NS switched", &Gate{Check: GateNSServed, Expect: lab.NewNS[:]}, func() error {
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
			st := &Step{Gate: tt.gate}
			// The IPv4 secondary catches up; the IPv6 one must hold the gate.
			var r GateResult
			ipv4 := l.Addr(lab.RoleTLD2) + " yes"
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				if r = evalGate(ctx, env, p, st, nil); strings.Contains(r.Summary, ipv4) {
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
				r = evalGate(ctx, env, p, st, nil)
			}
			if !r.OK {
				t.Fatalf("after %s caught up: gate %s still fails: %s", lab.IPv6Addr, tt.gate.Check, r.Summary)
			}
		})
	}
}

// labSpec loads a nameservers spec for the lab's zone (OLD to NEW).
func labSpec(t *testing.T, l *lab.Lab, ipv6 string) *Spec {
	t.Helper()
	text := fmt.Sprintf(`version: 1
zone: %s
kind: nameservers
dnssec: insecure-window
from: {provider: old, nameservers: [%s, %s]}
to:   {provider: new, nameservers: [%s, %s]}
registrar:
  type: rfc2136
  server: %s
  tsig: {name: %s, algorithm: hmac-sha256, secret_file: %s}
providers:
  old: {type: rfc2136, server: %s, tsig: {name: %s, algorithm: hmac-sha256, secret_file: %s}}
  new: {type: rfc2136, server: %s, tsig: {name: %s, algorithm: hmac-sha256, secret_file: %s}}
ttl: {lower_to: 10s}
verify: {root: %s, trust_anchor: %s, resolvers: [%s], gate_timeout: 1m, ipv6: %s}
output: {dir: %s}
`, lab.Zone, lab.OldNS[0], lab.OldNS[1], lab.NewNS[0], lab.NewNS[1],
		l.Addr(lab.RoleTLD), l.Keys[lab.KeyRegistrar].Name, l.Keys[lab.KeyRegistrar].File,
		l.Addr(lab.RoleOld1), l.Keys[lab.KeyOld].Name, l.Keys[lab.KeyOld].File,
		l.Addr(lab.RoleNew1), l.Keys[lab.KeyNew].Name, l.Keys[lab.KeyNew].File,
		l.Addr(lab.RoleRoot), l.TrustAnchor, l.Addr(lab.RoleValidating), ipv6, filepath.Join(t.TempDir(), "migrations"))
	path := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
