package hint

import (
	"errors"
	"testing"

	"github.com/dnsmigrate/dnsmigrate/apply"
)

func TestStop(t *testing.T) {
	undo := []apply.Undo{{Step: "switch-ns", How: "NS back"}, {Step: "remove-ds", How: "DS back"}}
	for _, tc := range []struct {
		name                 string
		stop                 apply.Stop
		wantResume, wantUndo string
	}{
		{"from a spec, nothing sent", apply.Stop{Source: apply.Source{SpecFile: "m.yaml"}},
			"migrate apply -f m.yaml --yes", "nothing was changed by this run"},
		{"a saved plan", apply.Stop{Source: apply.Source{SpecFile: "m.yaml", PlanFile: "p.json"}, Undo: undo},
			"migrate apply p.json --yes", "`migrate rollback -f m.yaml --yes` (plans the move back from the live state, keeping every wait). Done so far, newest first: switch-ns: NS back; remove-ds: DS back"},
		{"a rollback", apply.Stop{Source: apply.Source{SpecFile: "m.yaml", Reverse: true}},
			"migrate rollback -f m.yaml --yes", "nothing was changed by this run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.stop.Err = errors.New("x")
			resume, rollback := Stop(&tc.stop)
			if resume != tc.wantResume || rollback != tc.wantUndo {
				t.Errorf("got\n  %q\n  %q\nwant\n  %q\n  %q", resume, rollback, tc.wantResume, tc.wantUndo)
			}
		})
	}
}
