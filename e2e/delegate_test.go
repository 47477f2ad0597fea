package e2e

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
	"github.com/dnsmigrate/dnsmigrate/plan"
)

// `migrate lab up --delegate-to P` starts the lab with the zone delegated
// to provider P with P's DS; `migrate lab env` points `migrate check` at
// it, which finds the zone secure on P's name servers, every resolver of
// the lab (validating ones included) in MIGRATE_RESOLVER.
func TestLabDelegatedToEachProvider(t *testing.T) {
	labtest.Require(t)
	bin := buildMigrate(t)
	for _, tc := range []struct {
		to, prefix string
		ns         [2]string
	}{{lab.DelegateNew, "127.83.0.0/24", lab.NewNS}, {lab.DelegatePDNS, "127.84.0.0/24", lab.PDNSNS}} {
		t.Run(tc.to, func(t *testing.T) {
			t.Parallel()
			run := func(env []string, args ...string) string {
				t.Helper()
				cmd := exec.Command(bin, args...)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("migrate %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			_ = lab.Down(context.Background(), lab.Config{Prefix: tc.prefix})
			run(nil, "lab", "up", "--prefix", tc.prefix, "--ipv6=false", "--delegate-to", tc.to)
			t.Cleanup(func() { _ = lab.Down(context.Background(), lab.Config{Prefix: tc.prefix}) })
			var env []string
			for _, line := range strings.Split(run(nil, "lab", "env", "--prefix", tc.prefix), "\n") {
				if v, ok := strings.CutPrefix(line, "export "); ok {
					env = append(env, strings.ReplaceAll(v, "'", ""))
				}
			}
			l, err := lab.Open(lab.Config{Prefix: tc.prefix})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range lab.Resolvers {
				if r != lab.RoleSticky && !strings.Contains(strings.Join(env, "\n"), l.Addr(r)) {
					t.Errorf("lab env names no %s resolver (%s)", r, l.Addr(r))
				}
			}
			out := run(env, "check", lab.Zone)
			if !strings.Contains(out, "SECURE: 0 critical") || !strings.Contains(out, "NS "+tc.ns[0]+" "+tc.ns[1]) {
				t.Errorf("check of the lab delegated to %s:\n%s", tc.to, out)
			}
			if tc.to != lab.DelegateNew {
				return
			}
			// The scripts' contract: on Knot, the example moves the zone to
			// PowerDNS keeping it secure (planned here; e2e/multisigner_test.go
			// applies it).
			cmd := exec.Command(bin, "plan", "-f", "../examples/lab-multisigner.yaml", "--detailed-exitcode")
			cmd.Env = env
			b, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(b), "from new to pdns (dnssec: multi-signer)") || !strings.Contains(string(b), plan.StepImportZSK) {
				t.Errorf("migrate plan -f examples/lab-multisigner.yaml: %v\n%s", err, b)
			}
		})
	}
}
