// Package hint words, for the user, the commands that resume a stopped
// run and roll it back: the CLI is the only place that names them.
package hint

import (
	"strings"

	"github.com/dnsmigrate/dnsmigrate/apply"
)

// Stop returns the command that resumes the stopped run s and how to roll
// back what it had done.
func Stop(s *apply.Stop) (resume, rollback string) {
	switch {
	case s.Reverse:
		resume = "migrate rollback -f " + s.SpecFile + " --yes"
	case s.PlanFile != "":
		resume = "migrate apply " + s.PlanFile + " --yes"
	default:
		resume = "migrate apply -f " + s.SpecFile + " --yes"
	}
	if len(s.Undo) == 0 {
		return resume, "nothing was changed by this run"
	}
	undo := make([]string, len(s.Undo))
	for i, u := range s.Undo {
		undo[i] = u.Step + ": " + u.How
	}
	return resume, "`migrate rollback -f " + s.SpecFile + " --yes` (plans the move back from the live state, keeping every wait). Done so far, newest first: " + strings.Join(undo, "; ")
}
