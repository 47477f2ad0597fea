package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// buildMigrate is the CLI, compiled once for the tests that run it as a
// process (to kill it, or to measure it whole).
func buildMigrate(t testing.TB) string {
	t.Helper()
	bin, err := migrateBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// migrateBinary compiles ../cmd/migrate into binDir, the first time only.
var migrateBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "migrate")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/migrate").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func readJournal(t testing.TB, path string) []apply.Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []apply.Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e apply.Entry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// killPoint says when to kill apply: when the journal shows event for
// step, after delay.
type killPoint struct {
	step, event string
	delay       time.Duration
	sig         syscall.Signal
}

// TestCrashAndResume kills `migrate apply` with SIGKILL at every step
// boundary, in the middle of every wait and once in the middle of an
// action, and runs it again each time. The migration must end as an
// uninterrupted one does, with no change sent twice (the journal and the
// servers' own logs agree) and no wait shortened.
func TestCrashAndResume(t *testing.T) {
	t.Parallel()
	l := freshLab(t, "127.67.0.0/24")
	bin := buildMigrate(t)
	specFile := writeSpec(t, l, "insecure-window", time.Minute)
	s, err := spec.Load(specFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	journal := apply.WorkspaceFor(s).Path("journal.jsonl")
	points := []killPoint{
		{plan.StepLowerTTL, apply.EvStepDone, 0, syscall.SIGKILL},
		{plan.StepWaitTTL, apply.EvWaitStart, 3 * time.Second, syscall.SIGKILL},
		{plan.StepWaitTTL, apply.EvWaitStart, 6 * time.Second, syscall.SIGINT}, // Ctrl-C in a wait
		{plan.StepRemoveDS, apply.EvStepDone, 0, syscall.SIGKILL},
		{plan.StepWaitDSGone, apply.EvWaitStart, 5 * time.Second, syscall.SIGKILL},
		{plan.StepSwitchNS, apply.EvActionStart, 0, syscall.SIGKILL},
		{plan.StepWaitNS, apply.EvWaitStart, 2 * time.Second, syscall.SIGKILL},
		{plan.StepAddDS, apply.EvStepDone, 0, syscall.SIGKILL},
		{plan.StepWaitDS, apply.EvWaitStart, 2 * time.Second, syscall.SIGKILL},
		{plan.StepRestoreTTL, apply.EvActionDone, 0, syscall.SIGKILL},
	}
	entries := crashAndResume(t, bin, specFile, journal, points)
	endState(t, l)

	// Ctrl-C stopped the run between actions, and said so.
	stopped := 0
	for _, e := range entries {
		if e.Event == apply.EvStopped && strings.Contains(e.Detail, "stopped between actions") {
			stopped++
		}
	}
	if stopped != 1 {
		t.Errorf("%d journal entries say the run stopped between actions, want 1 (the SIGINT)", stopped)
	}
	// The journal: each change started once, each wait whole.
	p, err := plan.ReadPlan(apply.WorkspaceFor(s).Path("plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	eachChangeOnce(t, p, entries, points)
	sentOnce(t, l)
	md, err := os.ReadFile(apply.WorkspaceFor(s).Path("changelog.md"))
	if err != nil || !strings.Contains(string(md), "result: **completed**") {
		t.Errorf("change log after resumes: %v\n%s", err, md)
	}
}

// crashAndResume runs `migrate apply -f specFile` again and again, killing
// it at each point in turn, until its journal says finished; it returns
// the journal.
func crashAndResume(t *testing.T, bin, specFile, journal string, points []killPoint) []apply.Entry {
	t.Helper()
	kills := 0
	for run := 0; run < len(points)+3; run++ {
		cmd := exec.Command(bin, "apply", "-f", specFile, "--yes")
		logf, err := os.Create(filepath.Join(t.TempDir(), "apply.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var point *killPoint
		if kills < len(points) {
			point = &points[kills]
		}
		killed := false
	watch:
		for {
			select {
			case err := <-exited:
				if !killed && err != nil {
					b, _ := os.ReadFile(logf.Name())
					t.Fatalf("apply failed on run %d: %v\n%s", run, err, b)
				}
				break watch
			case <-time.After(20 * time.Millisecond):
			}
			if point == nil || killed {
				continue
			}
			for _, e := range readJournal(t, journal) {
				if e.Step == point.step && e.Event == point.event {
					time.Sleep(point.delay)
					_ = cmd.Process.Signal(point.sig)
					killed = true
					kills++
					t.Logf("run %d: %s after %s %s + %s", run, point.sig, point.step, point.event, point.delay)
					break
				}
			}
		}
		logf.Close()
		entries := readJournal(t, journal)
		if len(entries) > 0 && entries[len(entries)-1].Event == apply.EvFinished {
			break
		}
	}
	if kills != len(points) {
		t.Errorf("killed %d times, want %d", kills, len(points))
	}
	entries := readJournal(t, journal)
	if len(entries) == 0 || entries[len(entries)-1].Event != apply.EvFinished {
		t.Fatalf("the migration did not finish; journal: %+v", entries)
	}
	return entries
}

// eachChangeOnce checks a resumed run's journal: each change started once
// (twice where a kill hit between its start and its send), each wait
// whole.
func eachChangeOnce(t *testing.T, p *plan.Plan, entries []apply.Entry, points []killPoint) {
	t.Helper()
	starts := map[string]int{}
	for _, e := range entries {
		if e.Event == apply.EvActionStart {
			starts[e.Step]++
		}
	}
	// A kill between the journal's action-start and the message leaving
	// leaves nothing at the server: the resumed run reads back, finds
	// nothing and sends it, so that step may start twice in the journal.
	// The servers' own logs (sentOnce below) are the truth about sends.
	midAction := map[string]bool{}
	for _, pt := range points {
		if pt.event == apply.EvActionStart {
			midAction[pt.step] = true
		}
	}
	cl := apply.BuildChangeLog(p, entries, nil, false)
	for _, st := range cl.Steps {
		switch st.Action {
		case plan.ActionVerify:
		case plan.ActionWait:
			if time.Duration(st.WaitTaken) < time.Duration(st.WaitPlanned) {
				t.Errorf("step %s waited %s, less than the %s planned", st.ID, st.WaitTaken, st.WaitPlanned)
			}
		default:
			if n := starts[st.ID]; n != 1 && !(midAction[st.ID] && n == 2) {
				t.Errorf("step %s started %d times, want 1 (2 when killed mid-action)", st.ID, n)
			}
		}
	}
}

// TestCrashAndResumeMultiSigner kills a keep-secure move (Knot ->
// PowerDNS) at its own step boundaries, mid-wait and mid-action, and Ctrl-C
// once: it ends as an uninterrupted one does, each change started once
// (twice where killed mid-action), no wait shortened, and the registry's
// and Knot's own logs show every change received once.
func TestCrashAndResumeMultiSigner(t *testing.T) {
	labtest.Require(t)
	t.Parallel()
	l := labDelegatedTo(t, "127.90.0.0/24", lab.DelegateNew)
	bin := buildMigrate(t)
	specFile := writeMultiSignerSpec(t, l, false)
	s, err := spec.Load(specFile, nil)
	must(t, err)
	journal := apply.WorkspaceFor(s).Path("journal.jsonl")
	points := []killPoint{
		{plan.StepImportZSK, apply.EvStepDone, 0, syscall.SIGKILL},
		{plan.StepWaitDNSKEY, apply.EvWaitStart, 3 * time.Second, syscall.SIGKILL},
		{plan.StepAddDS, apply.EvActionStart, 0, syscall.SIGKILL},
		{plan.StepWaitDS, apply.EvWaitStart, 2 * time.Second, syscall.SIGKILL},
		// After handover-ns, not switch-ns: a kill at a step's end may
		// land after the next step's action-start, which a wait never has.
		{plan.StepHandoverNS, apply.EvStepDone, 0, syscall.SIGKILL},
		{plan.StepWaitNS, apply.EvWaitStart, 5 * time.Second, syscall.SIGINT},
		{plan.StepRemoveOldDS, apply.EvStepDone, 0, syscall.SIGKILL},
		{plan.StepRemoveOldZSK, apply.EvActionStart, 0, syscall.SIGKILL},
		{plan.StepWaitDNSKEYGone, apply.EvWaitStart, 3 * time.Second, syscall.SIGKILL},
	}
	entries := crashAndResume(t, bin, specFile, journal, points)
	p, err := plan.ReadPlan(apply.WorkspaceFor(s).Path("plan.json"))
	must(t, err)
	eachChangeOnce(t, p, entries, points)
	signerEndState(t, l, lab.RolePDNS1, lab.PDNSNS, lab.RoleNew1, lab.RolePDNS1)
	// The registry: 1 update at lab start, then add-ds, switch-ns,
	// remove-old-ds. Knot: the marker, lower-ttl, import-zsk, handover-ns,
	// remove-old-zsk, restore-ttl, no marker.
	for _, c := range []struct {
		role lab.Role
		zone string
		want int
	}{{lab.RoleTLD, lab.TLD, 4}, {lab.RoleNew1, lab.Zone, 7}} {
		if n, err := l.UpdateMessages(c.role, c.zone); err != nil || n != c.want {
			t.Errorf("%s took %d update messages for %s (err %v), want %d", c.role, n, c.zone, err, c.want)
		}
	}
}
