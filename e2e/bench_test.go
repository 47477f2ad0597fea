package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// BenchmarkLabMigration moves the lab zone from OLD to NEW and reports the
// wall time divided by the sum of the mandated waits (target: at most
// 1.05): how little the tool adds to what DNS caching forces; then, for the
// reader, the same move by a hand runbook in a second lab. Run it once:
// go test -run '^$' -bench LabMigration -benchtime 1x ./plan
func BenchmarkLabMigration(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		l := freshLab(b, "127.70.0.0/24")
		cl, p, wall, err := migrate(b, l, writeSpec(b, l, "insecure-window", time.Minute), 1, 0)
		if err != nil {
			b.Fatal(err)
		}
		var waits time.Duration
		for _, s := range cl.Steps {
			waits += time.Duration(s.WaitPlanned)
		}
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(waits.Seconds(), "waits-s")
		b.ReportMetric(wall.Seconds()/waits.Seconds(), "ratio")
		b.ReportMetric(float64(p.failures()), "prober-failures")
		hand, hp := handRunbook(b, freshLab(b, "127.78.0.0/24"))
		b.ReportMetric(hand.Seconds(), "hand-runbook-wall-s")
		b.ReportMetric(wall.Seconds()/hand.Seconds(), "tool-vs-hand-runbook-ratio")
		b.ReportMetric(float64(hp.failures()), "hand-runbook-prober-failures")
		fmt.Fprintf(os.Stderr, "BenchmarkLabMigration: hand runbook: %s\n", hp)
	}
}

// handRunbook runs testdata/hand-runbook.sh (dig and nsupdate, one step
// after another, each wait the TTL dig shows) on l while a prober asks
// every resolver, and returns its wall time.
func handRunbook(b testing.TB, l *lab.Lab) (time.Duration, *prober) {
	b.Helper()
	key := func(name string) string { return l.Keys[name].Name + ":" + l.Keys[name].File }
	cmd := exec.Command("bash", "testdata/hand-runbook.sh")
	cmd.Env = append(os.Environ(), "ZONE="+lab.Zone, "LOWER_TO=10",
		"TLD="+l.Addr(lab.RoleTLD), "OLD="+l.Addr(lab.RoleOld1), "NEW="+l.Addr(lab.RoleNew1),
		"NEW_NS="+strings.Join(lab.NewNS[:], " "),
		"REG_KEY="+key(lab.KeyRegistrar), "OLD_KEY="+key(lab.KeyOld), "NEW_KEY="+key(lab.KeyNew))
	pr, stop := watchResolvers(l)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	stop()
	if err != nil {
		b.Fatalf("hand runbook: %v\n%s", err, out)
	}
	b.Logf("hand runbook:\n%s", out)
	return wall, pr
}

// BenchmarkLargeZone measures the lab zone with BENCH_RRSETS (default
// 100,000) more RRsets at both hosts: plan (wall and peak heap), one poll
// of the TTL gate, apply --dry-run, then the whole move and its rollback
// against their mandated waits, each with the prober asking every
// resolver throughout. BENCH_NEW_ALGORITHM=ed25519 has NEW's Knot sign
// with Ed25519 instead of ECDSA P-256, to tell the host's signing from the
// tool's own time. Run it once:
// go test -run '^$' -bench LargeZone -benchtime 1x -timeout 2h ./e2e
func BenchmarkLargeZone(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("BENCH_RRSETS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	for b.Loop() {
		l := freshLabOf(b, lab.Config{Prefix: "127.77.0.0/24", NewAlgorithm: os.Getenv("BENCH_NEW_ALGORITHM")})
		b.Logf("NEW signs with %s", l.Config.NewAlgorithm)
		start := time.Now()
		addBulk(b, l, n)
		b.Logf("%d RRsets added at both hosts in %s", n, time.Since(start).Round(time.Second))
		specFile := writeSpec(b, l, "insecure-window", 10*time.Minute)
		s, err := spec.Load(specFile, nil)
		if err != nil {
			b.Fatal(err)
		}
		// Each question bounded as migrate apply bounds it (--timeout's
		// default): the watchdog halts the move on a resolver that gives
		// no answer within it twice, and tests use a shorter one only to
		// run their faults quickly.
		newEnv := func(ctx context.Context, s *spec.Spec) (plan.Env, error) {
			return plan.NewEnv(ctx, s, &tlog{t: b}, checks.DefaultTimeout)
		}
		env, err := newEnv(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		peak := labtest.HeapPeak()
		start = time.Now()
		obs, err := plan.Observe(ctx, env, s)
		if err != nil {
			b.Fatal(err)
		}
		p, err := plan.Build(s, obs, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "plan-s")
		b.ReportMetric(peak()/(1<<20), "plan-peak-MB")
		// The move applies this plan, saved (migrate plan --out, then
		// migrate apply plan.json in the window): planning is plan-s.
		planFile := filepath.Join(b.TempDir(), "plan.json")
		if err := p.Save(planFile); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		r := apply.EvalGate(ctx, env, p, p.Step(plan.StepLowerTTL))
		b.ReportMetric(time.Since(start).Seconds(), "ttl-gate-poll-s")
		b.Logf("one TTL-gate poll before lowering: %s", r.Summary)
		start = time.Now()
		if _, _, err := apply.Apply(ctx, apply.ApplyOptions{SpecFile: specFile, Env: os.Getenv, DryRun: true, Out: &tlog{t: b}, NewEnv: newEnv}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "dry-run-s")
		for _, reverse := range []bool{false, true} {
			pr, stop := watchResolvers(l)
			start = time.Now()
			from := apply.ApplyOptions{PlanFile: planFile}
			if reverse {
				from = apply.ApplyOptions{SpecFile: specFile} // migrate rollback -f spec.yaml
			}
			cl, ws, err := apply.Apply(ctx, apply.ApplyOptions{SpecFile: from.SpecFile, PlanFile: from.PlanFile, Env: os.Getenv, Out: &tlog{t: b}, Reverse: reverse, Poll: pollFor(b),
				NewEnv: newEnv})
			wall := time.Since(start)
			stop()
			if err != nil {
				b.Fatalf("apply (reverse %t): %v", reverse, err)
			}
			var waits time.Duration
			for _, st := range cl.Steps {
				waits += time.Duration(st.WaitPlanned)
			}
			name := "apply"
			if reverse {
				name = "rollback"
			}
			b.ReportMetric(wall.Seconds()/waits.Seconds(), name+"-ratio")
			b.ReportMetric(wall.Seconds(), name+"-s")
			// What the hosts take to accept the changes is theirs (each
			// RRset re-signed as it lands); the rest is the tool's.
			hosts := hostTime(b, readJournal(b, ws.StatePath("journal.jsonl")), start, waitSpans(cl))
			b.ReportMetric(hosts.Seconds(), name+"-host-updates-s")
			b.ReportMetric((wall-hosts).Seconds()/waits.Seconds(), name+"-without-host-updates-ratio")
			b.ReportMetric(float64(pr.failures()), name+"-prober-failures")
			if cl.Watchdog != nil {
				// Questions the watchdog asked again after no answer.
				b.ReportMetric(float64(cl.Watchdog.Retried), name+"-watchdog-asked-again")
			}
			// Outside the benchmark's log, which keeps only its start.
			fmt.Fprintf(os.Stderr, "BenchmarkLargeZone: %s: %s\n", name, pr)
			fmt.Fprintf(os.Stderr, "BenchmarkLargeZone: %s: started %s, ended %s\n", name, start.Format("15:04:05.000"), start.Add(wall).Format("15:04:05.000"))
			for _, st := range cl.Steps {
				if st.Started != nil && st.Finished != nil {
					fmt.Fprintf(os.Stderr, "BenchmarkLargeZone: %s: %s from %s took %s (wait planned %s)\n", name, st.ID, time.Time(*st.Started).Local().Format("15:04:05.000"),
						time.Time(*st.Finished).Sub(time.Time(*st.Started)).Round(100*time.Millisecond), time.Duration(st.WaitPlanned))
				}
			}
		}
	}
}

// waitSpans are the times a run's mandated waits covered: each from where
// it ran from (its anchor) for its planned length (an anchored wait may end
// later, with the step it ran beside: that part is not a wait's).
func waitSpans(cl *apply.ChangeLog) [][2]time.Time {
	var out [][2]time.Time
	for _, st := range cl.Steps {
		if st.WaitPlanned > 0 && st.Finished != nil {
			from := time.Time(*st.Finished).Add(-time.Duration(st.WaitTaken))
			out = append(out, [2]time.Time{from, from.Add(time.Duration(st.WaitPlanned))})
		}
	}
	return out
}

// hostTime is how long the hosts took to answer the batches of changes a
// run sent after start, outside its waits: the time covered by some
// batch under way (from its start to its done in the journal entries;
// two hosts' batches at once count once), less what a wait ran beside it
// (a wait anchored inside lower-ttl runs while the new host takes its
// changes).
func hostTime(b testing.TB, entries []apply.Entry, start time.Time, waits [][2]time.Time) time.Duration {
	b.Helper()
	began := map[string]time.Time{}
	var spans [][2]time.Time
	for _, e := range entries {
		at := time.Time(e.Time)
		if at.Before(start.Add(-time.Millisecond)) {
			continue
		}
		key := e.Step + " " + e.Batch
		switch e.Event {
		case apply.EvBatchStart:
			began[key] = at
		case apply.EvBatchDone:
			if t0, ok := began[key]; ok {
				spans = append(spans, [2]time.Time{t0, at})
			}
		}
	}
	if len(spans) == 0 {
		b.Fatal("the journal holds no batch sent in this run")
	}
	slices.SortFunc(spans, func(x, y [2]time.Time) int { return x[0].Compare(y[0]) })
	var sum time.Duration
	cover := func(from, to time.Time) {
		sum += to.Sub(from)
		for _, w := range waits {
			if f, t := maxTime(from, w[0]), minTime(to, w[1]); t.After(f) {
				sum -= t.Sub(f)
			}
		}
	}
	cur := spans[0]
	for _, sp := range spans[1:] {
		if sp[0].After(cur[1]) {
			cover(cur[0], cur[1])
			cur = sp
			continue
		}
		cur[1] = maxTime(cur[1], sp[1])
	}
	cover(cur[0], cur[1])
	return sum
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
