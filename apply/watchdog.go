package apply

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/plan"
)

// WatchEvent is one failed watchdog answer.
type WatchEvent struct {
	Time     Stamp           `json:"time"`
	Evidence checks.Evidence `json:"evidence"`
}

// WatchReport is what the watchdog saw over a run.
type WatchReport struct {
	Resolvers []string `json:"resolvers"`
	Names     []string `json:"names"`
	Rounds    int      `json:"rounds"`
	Queries   int      `json:"queries"`
	// Retried counts the questions that got no answer and were asked
	// again at once (each is in Queries twice); a failure is only one
	// that got none the second time either, or a SERVFAIL or NXDOMAIN.
	Retried  int          `json:"retried,omitempty"`
	Failures []WatchEvent `json:"failures,omitempty"`
}

// Watchdog asks the configured resolvers, every interval, for the apex
// and a few of the zone's records, as users would. Any SERVFAIL, NXDOMAIN
// or timeout is recorded and reported to onFail, which halts the run. A
// question that gets no answer is asked once more at once, as a stub
// resolver retries: one lost datagram is not an outage, and halting a
// move for it (in an insecure window, say) would leave the zone where
// no operator wants it.
type Watchdog struct {
	checker *checks.Checker
	qs      []checks.Question
	mu      sync.Mutex
	report  WatchReport
}

// NewWatchdog watches the plan's watched names at every resolver.
func NewWatchdog(c *checks.Checker, p *plan.Plan) *Watchdog {
	w := &Watchdog{checker: c.Fork()} // its own budget: never behind a gate's questions
	t := p.Target()
	w.report.Resolvers = t.Resolvers
	for _, pk := range p.Watched() {
		w.report.Names = append(w.report.Names, pk[0]+" "+pk[1])
		for _, r := range t.Resolvers {
			w.qs = append(w.qs, checks.Question{Server: checks.WithPort(r), Name: pk[0], Type: dns.StringToType[pk[1]], RD: true})
		}
	}
	return w
}

// Round asks every question once (one that got no answer twice) and
// returns the failures.
func (w *Watchdog) Round(ctx context.Context, now time.Time) []WatchEvent {
	replies := w.checker.AskAll(ctx, w.qs)
	if ctx.Err() != nil {
		return nil // stopping: an unanswered query is ours, not the resolver's
	}
	var again []checks.Question
	var at []int
	for i, r := range replies {
		if !r.OK() {
			again = append(again, w.qs[i])
			at = append(at, i)
		}
	}
	if len(again) > 0 {
		for k, r := range w.checker.AskAll(ctx, again) {
			replies[at[k]] = r
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	var fails []WatchEvent
	for _, r := range replies {
		if r.OK() && r.Msg.Rcode == dns.RcodeSuccess {
			continue
		}
		fails = append(fails, WatchEvent{Time: Stamp(now.UTC()), Evidence: checks.EvidenceOf(r)})
	}
	w.mu.Lock()
	w.report.Rounds++
	w.report.Queries += len(w.qs) + len(again)
	w.report.Retried += len(again)
	w.report.Failures = append(w.report.Failures, fails...)
	w.mu.Unlock()
	return fails
}

// Run asks a round every interval until ctx ends.
func (w *Watchdog) Run(ctx context.Context, interval time.Duration, onFail func([]WatchEvent)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if fails := w.Round(ctx, time.Now()); len(fails) > 0 {
			onFail(fails)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Report returns what the watchdog saw so far.
func (w *Watchdog) Report() WatchReport {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.report
	r.Failures = append([]WatchEvent(nil), r.Failures...)
	return r
}

// ErrWatchdog is the cause of a run halted by the watchdog.
type ErrWatchdog struct{ Events []WatchEvent }

func (e *ErrWatchdog) Error() string {
	ev := e.Events[0].Evidence
	what := ev.RCODE
	if ev.Error != "" {
		what = ev.Error
	}
	return fmt.Sprintf("watchdog: resolver %s answered %s for %s (%d failures in this round)", ev.Server, what, ev.Question, len(e.Events))
}
