package plan_test

import (
	"testing"
	"time"
)

// BenchmarkLabMigration moves the lab zone from OLD to NEW and reports the
// wall time divided by the sum of the mandated waits (target: at most
// 1.15): how little the tool adds to what DNS caching forces. Run it once:
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
	}
}
