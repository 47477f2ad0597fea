package apply

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/internal/jsonio"
	"github.com/dnsmigrate/dnsmigrate/plan"
)

// ChangeLog is what happened, for the change ticket: built from the
// journal, so a run resumed after a crash still reports every step.
type ChangeLog struct {
	Zone       string       `json:"zone"`
	From       string       `json:"from"`
	To         string       `json:"to"`
	PlanID     string       `json:"plan_id"`
	DryRun     bool         `json:"dry_run"`
	Result     string       `json:"result"` // completed, stopped, failed, dry-run
	Error      string       `json:"error,omitempty"`
	Started    *Stamp       `json:"started,omitempty"`
	Finished   *Stamp       `json:"finished,omitempty"`
	Steps      []StepLog    `json:"steps"`
	Watchdog   *WatchReport `json:"watchdog,omitempty"`
	RolledBack string       `json:"rolled_back,omitempty"`
	// RetireOld is when the old host may be switched off: known once the
	// step it counts from is proven.
	RetireOld        *Stamp `json:"retire_old,omitempty"`
	RetireOldFormula string `json:"retire_old_formula,omitempty"`
	Resume           string `json:"resume,omitempty"`
	Rollback         string `json:"rollback,omitempty"`
	Mermaid          string `json:"mermaid"`
}

// StepLog is one step as it ran.
type StepLog struct {
	ID          string            `json:"id"`
	Action      plan.Action       `json:"action"`
	Summary     string            `json:"summary"`
	State       string            `json:"state"` // done, not started, stopped, failed
	Started     *Stamp            `json:"started,omitempty"`
	Finished    *Stamp            `json:"finished,omitempty"`
	Before      []string          `json:"before,omitempty"`
	After       []string          `json:"after,omitempty"`
	Notes       []string          `json:"notes,omitempty"`
	WaitPlanned plan.Duration     `json:"wait_planned,omitempty"`
	WaitTaken   plan.Duration     `json:"wait_taken,omitempty"`
	Formula     string            `json:"formula,omitempty"`
	Gate        string            `json:"gate,omitempty"`
	GateResult  string            `json:"gate_result,omitempty"`
	Evidence    []checks.Evidence `json:"evidence,omitempty"`
}

// BuildChangeLog puts plan and journal together: one pass over the
// journal, each event's mark on its step (started, done, proven, waited,
// failed) side by side, so that the reader sees every transition's rule
// in one place; hence its length.
func BuildChangeLog(p *plan.Plan, entries []Entry, wd *WatchReport, dryRun bool) *ChangeLog {
	t := p.Target()
	cl := &ChangeLog{Zone: t.Zone, From: t.From, To: t.To, PlanID: p.ID, DryRun: dryRun, Watchdog: wd, Result: "stopped"}
	if dryRun {
		cl.Result = "dry-run"
	}
	actual := map[string][2]time.Time{}
	for _, e := range entries {
		e := e
		switch {
		case e.Event == EvBegin && cl.Started == nil:
			cl.Started = &e.Time
		case e.Event == EvFinished:
			cl.Finished = &e.Time
			if !dryRun {
				cl.Result = "completed"
			}
		case e.Event == EvStopped:
			cl.Finished = &e.Time
			cl.Error = e.Detail
			if strings.HasPrefix(e.Detail, "failed") {
				cl.Result = "failed"
			}
		case e.Event == EvRolledBack:
			cl.RolledBack = e.Detail
		}
	}
	for _, st := range p.Steps {
		sl := StepLog{ID: st.ID, Action: st.Action, Summary: st.Summary, State: "not started", WaitPlanned: st.Wait, Formula: st.Formula}
		if st.Gate != nil {
			sl.Gate = st.Gate.Words()
		}
		if st.Done {
			sl.Notes = append(sl.Notes, "already in place when planned: action skipped")
		}
		var waitFrom *Stamp
		for _, e := range entries {
			if e.Step != st.ID {
				continue
			}
			e := e
			if sl.Started == nil {
				sl.Started = &e.Time
				sl.State = "started"
			}
			switch e.Event {
			case EvActionDone:
				sl.Before, sl.After = e.Before, e.After
				if e.Detail != "" {
					sl.Notes = append(sl.Notes, e.Detail)
				}
			case EvActionFail:
				sl.State = "failed"
				sl.Notes = append(sl.Notes, "action failed: "+e.Detail)
				sl.Evidence = e.Evidence
			case EvHostProven:
				sl.Notes = append(sl.Notes, "every server of "+e.Batch+" serves its change, at "+checks.Stamp(time.Time(e.Time))+": "+e.Detail)
			case EvGatePassed:
				sl.GateResult, sl.Evidence = "passed at "+checks.Stamp(time.Time(e.Time))+": "+e.Detail, e.Evidence
			case EvGateFailed:
				sl.State = "failed"
				sl.GateResult, sl.Evidence = "FAILED at "+checks.Stamp(time.Time(e.Time))+": "+e.Detail, e.Evidence
			case EvWaitStart:
				if e.Until != nil {
					from := Stamp(time.Time(*e.Until).Add(-time.Duration(st.Wait)))
					if e.Before != nil {
						// a test-scaled wait records its real length
						if d, err := time.ParseDuration(e.Before[0]); err == nil {
							from = Stamp(time.Time(*e.Until).Add(-d))
						}
					}
					waitFrom = &from
				}
				if e.Detail != "" {
					sl.Notes = append(sl.Notes, e.Detail)
				}
			case EvStepDone:
				sl.Finished, sl.State = &e.Time, "done"
				if waitFrom != nil {
					sl.WaitTaken = plan.Duration(time.Time(e.Time).Sub(time.Time(*waitFrom)).Round(time.Millisecond))
				}
			}
		}
		if sl.Started != nil {
			end := time.Time(*sl.Started)
			if sl.Finished != nil {
				end = time.Time(*sl.Finished)
			}
			actual[st.ID] = [2]time.Time{time.Time(*sl.Started), end}
		}
		cl.Steps = append(cl.Steps, sl)
		if r := p.RetireOld; r != nil && r.After == st.ID && sl.Finished != nil {
			at := Stamp(time.Time(*sl.Finished).Add(time.Duration(r.Delay)))
			cl.RetireOld = &at
		}
	}
	if p.RetireOld != nil {
		cl.RetireOldFormula = p.RetireOld.Formula
	}
	cl.Mermaid = p.Mermaid(actual)
	return cl
}

// WriteJSON writes the change log for machines.
func (c *ChangeLog) WriteJSON(w io.Writer) error {
	return jsonio.Write(w, c)
}

func stampOr(s *Stamp) string {
	if s == nil {
		return "-"
	}
	return checks.Stamp(time.Time(*s))
}

// WriteMarkdown writes the change log for the ticket.
func (c *ChangeLog) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	title := "Change log"
	if c.DryRun {
		title = "Dry run (nothing was changed)"
	}
	fmt.Fprintf(&b, "# %s: %s from %s to %s\n\n", title, c.Zone, c.From, c.To)
	fmt.Fprintf(&b, "- plan: `%s`\n- result: **%s**\n- started: %s\n- finished: %s\n", c.PlanID, c.Result, stampOr(c.Started), stampOr(c.Finished))
	if c.Started != nil && c.Finished != nil {
		fmt.Fprintf(&b, "- duration: %s\n", time.Time(*c.Finished).Sub(time.Time(*c.Started)).Round(time.Millisecond))
	}
	if c.Error != "" {
		fmt.Fprintf(&b, "- stopped because: %s\n", c.Error)
	}
	if c.RolledBack != "" {
		fmt.Fprintf(&b, "- rolled back: %s\n", c.RolledBack)
	}
	if c.RetireOldFormula != "" {
		fmt.Fprintf(&b, "- %s (the old host) may be switched off from: %s (%s)\n", c.From, stampOr(c.RetireOld), c.RetireOldFormula)
	}
	if c.Resume != "" {
		fmt.Fprintf(&b, "- to resume: `%s`\n", c.Resume)
	}
	if c.Rollback != "" {
		fmt.Fprintf(&b, "- to roll back: %s\n", c.Rollback)
	}
	b.WriteString("\nAll times are UTC.\n\n| # | step | state | started | finished | wait planned | wait taken |\n|---|---|---|---|---|---|---|\n")
	for i, s := range c.Steps {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s |\n", i+1, s.ID, s.State, stampOr(s.Started), stampOr(s.Finished), durOr(s.WaitPlanned), durOr(s.WaitTaken))
	}
	for i, s := range c.Steps {
		fmt.Fprintf(&b, "\n## %d. %s\n\n%s.\n\n", i+1, s.ID, s.Summary)
		if s.Formula != "" {
			fmt.Fprintf(&b, "- wait: %s\n", s.Formula)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		if len(s.Before)+len(s.After) > 0 {
			fmt.Fprintf(&b, "- before: %s\n- after: %s\n", strings.Join(orNone(s.Before), "; "), strings.Join(orNone(s.After), "; "))
		}
		if s.Gate != "" {
			fmt.Fprintf(&b, "- gate: %s\n", s.Gate)
		}
		if s.GateResult != "" {
			fmt.Fprintf(&b, "- gate result: %s\n", s.GateResult)
		}
		if len(s.Evidence) > 0 {
			b.WriteString("\n| server | question | rcode | flags | ttl | answer |\n|---|---|---|---|---|---|\n")
			for _, e := range s.Evidence {
				ttl := ""
				if e.TTL != nil {
					ttl = fmt.Sprint(*e.TTL)
				}
				ans := strings.Join(e.Answer, "<br>")
				if e.Error != "" {
					ans = "no answer: " + e.Error
				}
				if e.Note != "" {
					ans = strings.TrimPrefix(ans+"<br>"+e.Note, "<br>")
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", e.Server, e.Question, e.RCODE, e.Flags, ttl, strings.ReplaceAll(ans, "|", "\\|"))
			}
		}
	}
	if wd := c.Watchdog; wd != nil {
		fmt.Fprintf(&b, "\n## Watchdog\n\n%d rounds, %d queries to %s for %s: %d failures.\n", wd.Rounds, wd.Queries, strings.Join(wd.Resolvers, ", "), strings.Join(wd.Names, ", "), len(wd.Failures))
		if wd.Retried > 0 {
			fmt.Fprintf(&b, "Asked again at once after no answer: %d (a failure only if the second ask got none either).\n", wd.Retried)
		}
		for _, f := range wd.Failures {
			fmt.Fprintf(&b, "- %s %s %s: %s%s\n", checks.Stamp(time.Time(f.Time)), f.Evidence.Server, f.Evidence.Question, f.Evidence.RCODE, f.Evidence.Error)
		}
	}
	b.WriteString("\n## Timeline\n\n" + c.Mermaid)
	_, err := io.WriteString(w, b.String())
	return err
}

func durOr(d plan.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.String()
}

// orNone is s, or "none" when it is empty.
func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"none"}
	}
	return s
}
