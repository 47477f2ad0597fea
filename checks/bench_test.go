package checks_test

import (
	"context"
	"testing"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
)

// BenchmarkCheckLab measures a whole `migrate check` of the lab's signed
// zone: iteration from the root, every parent and zone server, validation
// and two resolvers. It reports how many DNS messages one check sends.
func BenchmarkCheckLab(b *testing.B) {
	l := shared.Get(b)
	c := checker(b, l, nil)
	ctx := context.Background()
	before := c.Client().Sent()
	for b.Loop() {
		rep, err := c.Check(ctx, lab.Zone)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Status != checks.Secure {
			b.Fatalf("status %s", rep.Status)
		}
	}
	b.ReportMetric(float64(c.Client().Sent()-before)/float64(b.N), "queries/op")
}
