package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// onLine is an apply log that runs act (once) when a line contains mark.
type onLine struct {
	t    testing.TB
	mark string
	act  func()
	once sync.Once
}

func (w *onLine) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	if w.act != nil && strings.Contains(string(b), w.mark) {
		w.once.Do(w.act)
	}
	return len(b), nil
}

// A new server that goes down while the DS removal is waited out stops
// apply before switch-ns sends anything: the delegation stays with the old
// host, the error names the server as unreachable (not as a change made
// outside the run), and once the server is back, apply finishes the move.
// Validating resolvers never fail throughout.
func TestNewServerDownStopsBeforeSwitch(t *testing.T) {
	t.Parallel()
	l := freshLab(t, "127.79.0.0/24")
	specFile := writeSpec(t, l, "insecure-window", 10*time.Second)
	ctx := context.Background()
	pr, stopProber := watchResolvers(l)
	runApply := func(out *onLine) error {
		_, _, err := apply.Apply(ctx, apply.ApplyOptions{SpecFile: specFile, Env: os.Getenv, Out: out, Poll: 200 * time.Millisecond,
			NewEnv: func(ctx context.Context, s *spec.Spec) (plan.Env, error) {
				return plan.NewEnv(ctx, s, &tlog{t: t}, time.Second)
			}})
		return err
	}
	err := runApply(&onLine{t: t, mark: "wait-ds-gone: waiting until", act: func() {
		if err := l.Stop(ctx, lab.RoleNew2); err != nil {
			t.Error(err)
		}
	}})
	if err == nil {
		t.Fatal("apply went through a switch to a host with a server down")
	}
	for _, want := range []string{"switch-ns", "new server", l.Addr(lab.RoleNew2), "unreachable, so nothing was sent"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "changed outside this run") {
		t.Errorf("a dead server reported as a change of the delegation: %v", err)
	}
	a, err := checks.LoadAnchors(l.TrustAnchor)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := checks.New(checks.Options{Roots: []string{l.Addr(lab.RoleRoot)}, Anchors: &a, Timeout: time.Second}).Check(ctx, lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.ParentServers {
		if !slices.Equal(p.NS, lab.OldNS[:]) {
			t.Fatalf("parent %s delegates to %v after the stop, want the old servers %v", p.Server, p.NS, lab.OldNS)
		}
	}

	// Mid-move, both hosts serve the marker: a plan of the zone made now
	// (from another directory or machine) is refused, naming the move.
	if err := l.Start(ctx, lab.RoleNew2); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitInSync(ctx); err != nil {
		t.Fatal(err)
	}
	s, _, obs := observeSpec(t, specFile)
	for _, h := range []plan.HostState{obs.Old, obs.New} {
		if !strings.Contains(strings.Join(h.Marker, " "), "plan=") {
			t.Errorf("%s serves no marker mid-move: %v", h.Provider, h.Marker)
		}
	}
	if _, err := plan.Build(s, obs, time.Now()); err == nil || !strings.Contains(err.Error(), "a move of this zone is under way") {
		t.Errorf("a plan made mid-move: %v", err)
	}
	if err := runApply(&onLine{t: t}); err != nil {
		t.Fatalf("resumed apply: %v", err)
	}
	// The move over, no server serves the marker.
	for _, r := range []lab.Role{lab.RoleOld1, lab.RoleNew1, lab.RoleNew2} {
		m := new(dns.Msg)
		m.SetQuestion(plan.MarkerName(lab.Zone), dns.TypeTXT)
		in, err := dns.Exchange(m, l.Addr(r))
		if err != nil || len(in.Answer) != 0 {
			t.Errorf("%s after the move: %v %v", r, err, in)
		}
	}
	stopProber()
	if pr.failures() != 0 {
		t.Errorf("outage seen by the prober: %s", pr)
	}
	endState(t, l)
}

// A parent server frozen mid-move (SIGSTOP: it neither answers nor
// refuses) is reported as unreachable at a precondition, never as a
// change of the delegation made outside the run, and as not answering at
// a gate; thawed, the precondition and the gate hold again.
func TestFrozenParentIsUnreachableNotAChange(t *testing.T) {
	t.Parallel()
	l := freshLab(t, "127.80.0.0/24")
	ctx := context.Background()
	s, env, obs := observeSpec(t, writeSpec(t, l, "insecure-window", 10*time.Second))
	p, err := plan.Build(s, obs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pid := l.Procs[lab.RoleTLD2].PID
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// A signal is delivered in its own time: wait until the kernel says
	// the server is stopped, or it may still answer a question or two.
	stopped := func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		_, rest, _ := strings.Cut(string(b), ") ")
		return strings.HasPrefix(rest, "T")
	}
	for deadline := time.Now().Add(10 * time.Second); !stopped(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) did not stop", lab.RoleTLD2, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(thaw)
	for _, id := range []string{plan.StepRemoveDS, plan.StepSwitchNS} {
		_, res, silent := apply.Precondition(ctx, env, p, p.Step(id))
		if res.OK || len(silent) != 1 || !strings.Contains(silent[0], l.Addr(lab.RoleTLD2)) || !strings.Contains(res.Summary, "unreachable, so nothing was sent") || strings.Contains(res.Summary, "outside this run") {
			t.Errorf("%s with a frozen parent server: ok %t, silent %v: %s", id, res.OK, silent, res.Summary)
		}
	}
	// At a gate (here one the delegation as it is would pass): the
	// frozen server is named as not answering, the others as in place.
	gate := *p.Step(plan.StepSwitchNS)
	g := *gate.Gate
	g.Expect = lab.OldNS[:]
	gate.Gate = &g
	res := apply.EvalGate(ctx, env, p, &gate)
	if res.OK || !strings.Contains(res.Summary, l.Addr(lab.RoleTLD2)+" no answer") || !strings.Contains(res.Summary, l.Addr(lab.RoleTLD)+" yes") {
		t.Errorf("gate with a frozen parent server: ok %t: %s", res.OK, res.Summary)
	}
	thaw()
	if res := apply.EvalGate(ctx, env, p, &gate); !res.OK {
		t.Errorf("thawed, the gate: %s", res.Summary)
	}
	if _, res, silent := apply.Precondition(ctx, env, p, p.Step(plan.StepRemoveDS)); !res.OK || len(silent) != 0 {
		t.Errorf("thawed: ok %t, silent %v: %s", res.OK, silent, res.Summary)
	}
}

// observeSpec loads a spec and observes the live state it names.
func observeSpec(t *testing.T, file string) (*spec.Spec, plan.Env, *plan.Observed) {
	t.Helper()
	s, err := spec.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	env, err := plan.NewEnv(context.Background(), s, &tlog{t: t}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := plan.Observe(context.Background(), env, s)
	if err != nil {
		t.Fatal(err)
	}
	return s, env, obs
}
