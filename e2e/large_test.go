package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// bulkRRsets is well past one RFC 2136 message for every TTL change.
const bulkRRsets = 5000

// addBulk gives the lab zone the same n more RRsets at OLD and at NEW, at a
// TTL above the spec's lower_to, so that lower-ttl and restore-ttl change
// all of them at both hosts.
func addBulk(t testing.TB, l *lab.Lab, n int) {
	t.Helper()
	ctx := context.Background()
	var reps []providers.Replacement
	for i := range n {
		reps = append(reps, providers.Replacement{Name: fmt.Sprintf("bulk%04d.%s", i, lab.Zone), Type: "A", TTL: 15, To: []string{fmt.Sprintf("198.%d.%d.%d", 18+i/62500, (i/250)%250, i%250+1)}})
	}
	for _, h := range []struct {
		role lab.Role
		key  string
	}{{lab.RoleOld1, lab.KeyOld}, {lab.RoleNew1, lab.KeyNew}} {
		k := l.Keys[h.key]
		host := providers.NewRFC2136Host(l.Addr(h.role), providers.TSIG{Name: k.Name, Algorithm: k.Algorithm, Secret: k.Secret})
		if err := host.Replace(ctx, lab.Zone, reps); err != nil {
			t.Fatalf("add %d RRsets at %s: %v", n, h.role, err)
		}
	}
	if err := l.WaitInSync(ctx); err != nil {
		t.Fatal(err)
	}
}

// runKilled runs the CLI with args; when the journal shows point's event
// for its step, it kills the run with point's signal. It reports whether
// it killed it.
func runKilled(t *testing.T, bin, journal string, point *killPoint, args ...string) bool {
	t.Helper()
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(t.TempDir(), "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		select {
		case err := <-exited:
			if err != nil {
				b, _ := os.ReadFile(logf.Name())
				t.Fatalf("%v: %v\n%s", args, err, b)
			}
			return false
		case <-time.After(20 * time.Millisecond):
		}
		if point == nil {
			continue
		}
		for _, e := range readJournal(t, journal) {
			if e.Step == point.step && e.Event == point.event {
				_ = cmd.Process.Signal(point.sig)
				<-exited
				t.Logf("%v: %s after %s %s", args, point.sig, point.step, point.event)
				return true
			}
		}
	}
}

// TestLargeZoneMovesInBatches moves the lab zone with 5,000 more RRsets,
// well past one RFC 2136 message, from OLD to NEW and back. Every TTL
// change goes in several messages, each journaled; the forward run is
// killed right after a batch of lower-ttl is journaled and resumed, and
// never sends again a batch journaled done. Both runs end as a small
// zone's do.
func TestLargeZoneMovesInBatches(t *testing.T) {
	t.Parallel()
	l := freshLab(t, "127.76.0.0/24")
	addBulk(t, l, bulkRRsets)
	bin := buildMigrate(t)
	specFile := writeSpec(t, l, "insecure-window", 2*time.Minute)
	s, err := spec.Load(specFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws := apply.WorkspaceFor(s)
	journal := ws.Path("journal.jsonl")
	if !runKilled(t, bin, journal, &killPoint{step: plan.StepLowerTTL, event: apply.EvBatchDone, sig: syscall.SIGKILL}, "apply", "-f", specFile, "--yes") {
		t.Fatal("the forward run ended before its first batch was journaled")
	}
	runKilled(t, bin, journal, nil, "apply", "-f", specFile, "--yes")
	entries := readJournal(t, journal)
	if len(entries) == 0 || entries[len(entries)-1].Event != apply.EvFinished {
		t.Fatalf("the forward move did not finish: %+v", entries[len(entries)-1])
	}
	endState(t, l)
	// A batch journaled done is never sent again; only the one the kill
	// may have cut mid-way can start twice (read back, then sent again).
	started, done := map[string]int{}, map[string]int{}
	batches := map[string]int{}
	for _, e := range entries {
		switch e.Event {
		case apply.EvBatchStart:
			started[e.Step+" "+e.Batch]++
			batches[e.Step]++
		case apply.EvBatchDone:
			done[e.Step+" "+e.Batch]++
		}
	}
	twice := 0
	for k, n := range started {
		if done[k] != 1 {
			t.Errorf("batch %s journaled done %d times", k, done[k])
		}
		if n > 1 {
			twice++
		}
	}
	if twice > 1 {
		t.Errorf("%d batches started twice; only the one cut by the kill may", twice)
	}
	// lower-ttl and restore-ttl each change 5,000 RRsets at both hosts.
	for _, step := range []string{plan.StepLowerTTL, plan.StepRestoreTTL} {
		if batches[step] < 4 {
			t.Errorf("%s went in %d batch requests, want several per host", step, batches[step])
		}
	}

	runKilled(t, bin, "", nil, "rollback", "-f", specFile, "--yes")
	back := readJournal(t, filepath.Join(ws.Dir+".rollback", "journal.jsonl"))
	if len(back) == 0 || back[len(back)-1].Event != apply.EvFinished {
		t.Fatalf("the rollback did not finish")
	}
	// Back on OLD, every bulk RRset at its own TTL again.
	c := checks.New(checks.Options{Roots: []string{l.Addr(lab.RoleRoot)}, Timeout: time.Second})
	var qs []checks.Question
	for _, i := range []int{0, bulkRRsets / 2, bulkRRsets - 1} {
		qs = append(qs, checks.Question{Server: l.Addr(lab.RoleOld1), Name: fmt.Sprintf("bulk%04d.%s", i, lab.Zone), Type: dns.TypeA})
	}
	for _, r := range c.AskAll(context.Background(), qs) {
		if data, ttl := checks.RRsetOf(r, r.Name, r.Type); len(data) != 1 || ttl != 15 {
			t.Errorf("%s at OLD after the rollback: %v ttl %d, want its value at TTL 15", r.Name, data, ttl)
		}
	}
}
