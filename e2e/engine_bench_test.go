package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
	"github.com/miekg/dns"
)

// engineQuestions is the question set both engines answer: the lab zone's
// names and some that do not exist, n in all.
func engineQuestions(n int) [][2]string {
	names := []string{"", "www.", "mail.", "sip.", "ns1.", "ns2.", "nx1.", "nx2."}
	types := []string{"A", "MX", "TXT", "SOA"}
	var out [][2]string
	for i := range n {
		out = append(out, [2]string{names[i%len(names)] + lab.Zone, types[(i/len(names))%len(types)]})
	}
	return out
}

// dnsperfRate runs Debian's dnsperf over the questions against server,
// with max in flight, and returns its questions per second.
func dnsperfRate(b *testing.B, server string, qs [][2]string, inFlight int) float64 {
	b.Helper()
	bin, err := exec.LookPath("dnsperf")
	if err != nil {
		b.Fatalf("dnsperf is not installed (make deps installs it): %v", err)
	}
	f := filepath.Join(b.TempDir(), "questions")
	var data []byte
	for _, q := range qs {
		data = fmt.Appendf(data, "%s %s\n", q[0], q[1])
	}
	if err := os.WriteFile(f, data, 0o644); err != nil {
		b.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(server)
	out, err := exec.Command(bin, "-s", host, "-p", port, "-d", f, "-n", "1", "-c", "1", "-T", "1", "-q", strconv.Itoa(inFlight), "-t", "2").CombinedOutput()
	if err != nil {
		b.Fatalf("dnsperf: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Queries per second:\s+([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		b.Fatalf("dnsperf said:\n%s", out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// BenchmarkEngineVsDnsperf answers the same 5,000 questions with the
// engine and with dnsperf, side by side, against the lab's Unbound (as a
// resolver, unpaced for the measurement) and against one authoritative
// server (BIND, OLD), 64 in flight each. It reports the engine's rate, as
// a ratio of dnsperf's first, and its allocations per question.
func BenchmarkEngineVsDnsperf(b *testing.B) {
	l := shared.Get(b)
	qs := engineQuestions(5000)
	for _, target := range []struct {
		name   string
		server string
		rd     bool
	}{{"unbound", l.Addr(lab.RoleValidating), true}, {"authoritative", l.Addr(lab.RoleOld1), false}} {
		b.Run(target.name, func(b *testing.B) {
			c := checks.New(checks.Options{Roots: []string{l.Addr(lab.RoleRoot)}, Parallel: 64, Timeout: 2 * time.Second, ResolverRate: -1})
			var questions []checks.Question
			for _, q := range qs {
				// As dnsperf asks by default: no DO bit.
				questions = append(questions, checks.Question{Server: target.server, Name: q[0], Type: dns.StringToType[q[1]], RD: target.rd, Plain: true})
			}
			ctx := context.Background()
			c.AskAll(ctx, questions) // warm the caches and the sockets
			var ratios, engines, perfs, allocs []float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				start := time.Now()
				c.AskEach(ctx, questions, func(_ int, r checks.Reply) {
					if !r.OK() {
						b.Fatalf("engine: %v", r.Err)
					}
				})
				engine := float64(len(questions)) / time.Since(start).Seconds()
				runtime.ReadMemStats(&after)
				perf := dnsperfRate(b, target.server, qs, 64)
				engines, perfs, ratios = append(engines, engine), append(perfs, perf), append(ratios, engine/perf)
				allocs = append(allocs, float64(after.Mallocs-before.Mallocs)/float64(len(questions)))
			}
			b.ReportMetric(median(ratios), "ratio-to-dnsperf")
			b.ReportMetric(median(engines), "engine-q/s")
			b.ReportMetric(median(perfs), "dnsperf-q/s")
			b.ReportMetric(median(allocs), "allocs/question")
		})
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkEngineMemory streams 1,000, 10,000 and 100,000 questions to the
// lab's authoritative server through AskEach, keeping one verdict bit per
// question, and reports the peak heap above the start, sampled every
// millisecond: flat beyond the verdicts kept.
func BenchmarkEngineMemory(b *testing.B) {
	l := shared.Get(b)
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			c := checks.New(checks.Options{Roots: []string{l.Addr(lab.RoleRoot)}, Parallel: 64, Timeout: 2 * time.Second})
			var questions []checks.Question
			for _, q := range engineQuestions(n) {
				questions = append(questions, checks.Question{Server: l.Addr(lab.RoleOld1), Name: q[0], Type: dns.StringToType[q[1]]})
			}
			var peaks []float64
			for b.Loop() {
				peak := labtest.HeapPeak()
				ok := make([]bool, len(questions))
				c.AskEach(context.Background(), questions, func(i int, r checks.Reply) { ok[i] = r.OK() })
				mb := peak() / (1 << 20)
				if slices.Contains(ok, false) {
					b.Fatal("a question went unanswered")
				}
				peaks = append(peaks, mb)
			}
			b.ReportMetric(median(peaks), "peak-MB")
		})
	}
}
