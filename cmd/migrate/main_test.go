package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
)

const prefix = "127.62.0.0/24"

var shared = labtest.New(prefix)

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// migrate runs the CLI in-process and returns its exit status and output.
func migrate(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := migrate(t, "version")
	if code != 0 || !strings.HasPrefix(out, "migrate ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	code, out, _ = migrate(t, "--help")
	for _, want := range []string{"check", "lab", "version", "MIGRATE_"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("--help (exit %d) does not mention %q:\n%s", code, want, out)
		}
	}
	// A move whose run is gone can be taken over from anywhere.
	for _, cmd := range []string{"plan", "apply", "rollback"} {
		if code, out, _ := migrate(t, cmd, "--help"); code != 0 || !strings.Contains(out, "--take-over PLAN-ID") {
			t.Errorf("%s --help (exit %d) does not offer --take-over PLAN-ID:\n%s", cmd, code, out)
		}
	}
}

// Usage errors exit 1 with a message that names what is wrong, before
// any query is sent or anything is changed.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no zone", []string{"check"}, "accepts 1 arg"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"unknown flag", []string{"check", "--nope", "example.lab."}, "unknown flag: --nope"},
		{"bad timeout", []string{"check", "--root", "127.62.0.250", "--timeout", "0s", "example.lab."}, "--timeout must be positive"},
		{"missing trust anchor", []string{"check", "--root", "127.62.0.250", "--trust-anchor", "/nonexistent/root.ds", "example.lab."}, "/nonexistent/root.ds"},
		{"prefix outside loopback", []string{"lab", "up", "--prefix", "10.0.0.0/24"}, "want a /24 inside 127.0.0.0/8"},
		{"break without a lab", []string{"lab", "break", "--prefix", "127.63.0.0/24", "ds-mismatch"}, "no lab recorded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := migrate(t, tt.args...)
			if code != exitError || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, errs, tt.want)
			}
		})
	}
}

func labArgs(l *lab.Lab) []string {
	return []string{"--root", l.Addr(lab.RoleRoot), "--trust-anchor", l.TrustAnchor,
		"--resolver", l.Addr(lab.RoleValidating), "--resolver", l.Addr(lab.RolePlain), "--timeout", "1s"}
}

func TestCheckExitCodes(t *testing.T) {
	l := shared.Get(t)
	code, out, errs := migrate(t, append([]string{"check"}, append(labArgs(l), lab.Zone)...)...)
	if code != exitOK || !strings.HasPrefix(out, "example.lab. SECURE") {
		t.Fatalf("healthy: exit %d\n%s%s", code, out, errs)
	}

	if code, _, errs := migrate(t, "lab", "break", "--prefix", prefix, "nonsense"); code != exitError || !strings.Contains(errs, `unknown fault "nonsense"`) {
		t.Errorf("lab break nonsense: exit %d %q", code, errs)
	}
	code, out, _ = migrate(t, "lab", "break", "--prefix", prefix, lab.FaultDSMismatch)
	if code != 0 {
		t.Fatalf("lab break: exit %d %s", code, out)
	}
	t.Cleanup(func() {
		if code, _, errs := migrate(t, "lab", "repair", "--prefix", prefix); code != 0 {
			t.Errorf("lab repair: %s", errs)
		}
	})
	must(t, l.FlushResolvers(context.Background()))
	code, out, _ = migrate(t, append([]string{"check", "--json"}, append(labArgs(l), lab.Zone)...)...)
	if code != exitCritical {
		t.Errorf("broken DS: exit %d, want 3", code)
	}
	var rep checks.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	if rep.Status != checks.Bogus || !rep.Has(checks.DSMismatch) || !rep.Has(checks.ValidationFailure) {
		t.Errorf("broken DS: %s %+v", rep.Status, rep.Findings)
	}

	code, out, _ = migrate(t, "lab", "repair", "--prefix", prefix)
	if code != 0 || !strings.Contains(out, "repaired") {
		t.Fatalf("lab repair: exit %d %s", code, out)
	}
	if code, out, _ := migrate(t, append([]string{"check"}, append(labArgs(l), lab.Zone)...)...); code != exitOK {
		t.Errorf("after repair: exit %d\n%s", code, out)
	}
}

// `eval "$(migrate lab env)"` aims migrate check at the lab through the
// MIGRATE_* environment, and prints no secret.
func TestLabEnvDrivesCheck(t *testing.T) {
	l := shared.Get(t)
	code, out, errs := migrate(t, "lab", "env", "--prefix", prefix)
	if code != 0 {
		t.Fatalf("lab env: %s", errs)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok || !strings.HasPrefix(line, "export ") {
			t.Fatalf("lab env line %q is not `export NAME=value`", line)
		}
		vars[name] = value
	}
	for _, k := range l.Keys {
		if strings.Contains(out, k.Secret) {
			t.Fatalf("lab env prints the secret of %s", k.Name)
		}
	}
	if vars["LAB_ROOT"] != l.Addr(lab.RoleRoot) || vars["MIGRATE_ROOT"] != l.Addr(lab.RoleRoot) {
		t.Errorf("LAB_ROOT=%q MIGRATE_ROOT=%q, want %s", vars["LAB_ROOT"], vars["MIGRATE_ROOT"], l.Addr(lab.RoleRoot))
	}
	for _, name := range []string{"MIGRATE_ROOT", "MIGRATE_TRUST_ANCHOR", "MIGRATE_RESOLVER"} {
		t.Setenv(name, vars[name])
	}
	code, out, errs = migrate(t, "check", "--json", lab.Zone)
	if code != exitOK {
		t.Fatalf("check from the environment: exit %d %s", code, errs)
	}
	var rep checks.Report
	must(t, json.Unmarshal([]byte(out), &rep))
	if len(rep.Resolvers) != len(lab.ValidatingResolvers)+1 || rep.Path[0] != "." || rep.ParentServers[0].Server != l.Addr(lab.RoleTLD) {
		t.Errorf("check did not use the environment's root and resolvers: %+v", rep)
	}
}

func TestLabUpIsIdempotent(t *testing.T) {
	l := shared.Get(t)
	before := l.Procs[lab.RoleRoot].PID
	code, out, errs := migrate(t, "lab", "up", "--prefix", prefix)
	if code != 0 {
		t.Fatalf("lab up: %s", errs)
	}
	again, err := lab.Open(lab.Config{Prefix: prefix})
	must(t, err)
	if again.Procs[lab.RoleRoot].PID != before {
		t.Errorf("lab up restarted a running lab (%s)", out)
	}
}

func TestCheckUnreachableRoot(t *testing.T) {
	labtest.Require(t)
	// Nothing listens on this loopback address: the check cannot run.
	code, _, errs := migrate(t, "check", "--root", "127.62.0.250", "--timeout", "200ms", "example.lab.")
	if code != exitError || !strings.Contains(errs, "127.62.0.250:53") {
		t.Errorf("exit %d, stderr %q; want 1 naming the root server", code, errs)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLabUpDown(t *testing.T) {
	labtest.Require(t)
	const p = "127.63.0.0/24"
	// --ipv6=false: [::1]:53 is for the one test that needs it.
	code, _, errs := migrate(t, "lab", "up", "--prefix", p, "--ipv6=false")
	t.Cleanup(func() { _ = lab.Down(context.Background(), lab.Config{Prefix: p}) })
	if code != 0 {
		t.Fatalf("lab up: %s", errs)
	}
	l, err := lab.Open(lab.Config{Prefix: p})
	must(t, err)
	must(t, l.Healthy(context.Background()))
	if !hasLoopback(t, "127.63.0.1/32") {
		t.Fatal("lab up did not add 127.63.0.1 to lo")
	}
	if code, _, errs := migrate(t, "lab", "down", "--prefix", p); code != 0 {
		t.Fatalf("lab down: %s", errs)
	}
	if err := l.Healthy(context.Background()); err == nil {
		t.Error("servers still answer after lab down")
	}
	if hasLoopback(t, "127.63.0.1/32") {
		t.Error("lab down left 127.63.0.1 on lo")
	}
	if _, err := os.Stat(l.Config.Dir); !os.IsNotExist(err) {
		t.Errorf("lab down left %s: %v", l.Config.Dir, err)
	}
	if code, _, _ := migrate(t, "lab", "down", "--prefix", p); code != 0 {
		t.Error("lab down on a lab that is down should succeed")
	}
}

func hasLoopback(t *testing.T, cidr string) bool {
	t.Helper()
	out, err := exec.Command("ip", "-o", "addr", "show", "dev", "lo").CombinedOutput()
	must(t, err)
	return strings.Contains(string(out), " "+cidr+" ")
}

// As a user other than root, `lab up` says it needs root before it tries
// anything, and `lab env` of a running lab says the lab is root's rather
// than that it is not up.
func TestLabAsNonRoot(t *testing.T) {
	l := shared.Get(t)
	dir := t.TempDir()
	spare := t.TempDir()
	// The test's own temporary directory is its owner's only: open it
	// (and the two in it) to the other user.
	for _, d := range []string{filepath.Dir(dir), dir, spare} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "migrate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	as := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		if os.Geteuid() == 0 {
			cmd = exec.Command("runuser", append([]string{"-u", "nobody", "--", bin}, args...)...)
		}
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := as("lab", "up", "--prefix", "127.81.0.0/24", "--dir", spare, "--ipv6=false")
	if err == nil || !strings.Contains(out, "`lab up` needs root") {
		t.Errorf("lab up as non-root: %v\n%s", err, out)
	}
	out, err = as("lab", "env", "--prefix", l.Config.Prefix, "--dir", l.Config.Dir)
	if err == nil || !strings.Contains(out, "permission denied") || !strings.Contains(out, "run this as root or with sudo") || strings.Contains(out, "run `migrate lab up`") {
		t.Errorf("lab env as non-root: %v\n%s", err, out)
	}
}
