package apply

import "fmt"

// Source is what a run was given: the spec (and the saved plan, if one
// was applied), forward or back. The CLI words the commands that run it
// again from this.
type Source struct {
	SpecFile string
	PlanFile string // a saved plan, applied as it is; empty: planned from the spec
	Reverse  bool   // a rollback
}

// Undo is one step whose change a run made, with how it is undone.
type Undo struct {
	Step string
	How  string
}

// Stop is the error of a run that ended before its last step: why, and
// what the run had done, newest first. Apply returns it; the CLI words
// how to resume and how to roll back (ApplyOptions.Words) and Apply puts
// those words in the error and the change log.
type Stop struct {
	Err    error
	PlanID string
	Source
	Undo []Undo
	// Resume and Rollback are the words Words gave for this stop.
	Resume, Rollback string
}

func (s *Stop) Error() string {
	if s.Resume == "" && s.Rollback == "" {
		return s.Err.Error()
	}
	return fmt.Sprintf("%v\n  to resume: %s\n  to roll back: %s", s.Err, s.Resume, s.Rollback)
}

func (s *Stop) Unwrap() error { return s.Err }

// Words renders a stop as the commands that resume it and roll it back.
type Words func(*Stop) (resume, rollback string)

// stop describes how the run ended (err) and what it had done.
func (x *Executor) stop(err error) *Stop {
	s := &Stop{Err: err, PlanID: x.Plan.ID, Source: x.Source}
	for i := len(x.Plan.Steps) - 1; i >= 0; i-- {
		st := x.Plan.Steps[i]
		if _, ok := x.Journal.Last(st.ID, EvActionDone); ok && st.Rollback != "" && !st.Done {
			s.Undo = append(s.Undo, Undo{Step: st.ID, How: st.Rollback})
		}
	}
	if x.Words != nil {
		s.Resume, s.Rollback = x.Words(s)
	}
	return s
}
