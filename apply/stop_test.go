package apply

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
)

// refusingHost refuses every change.
type refusingHost struct{ countingHost }

var errRefused = errors.New("refused by the host")

func (h *refusingHost) SetRecords(context.Context, string, []libdns.Record) ([]libdns.Record, error) {
	return nil, errRefused
}

// A run that fails returns a Stop: the cause (still matched by errors.Is),
// the plan and what the run was given; the words the CLI gives it are in
// the error and the change log, and none are made up without them.
func TestRunStops(t *testing.T) {
	// The read-back after the failed action asks the hosts' servers:
	// loopback ports nobody listens on.
	o := observed(3600, 300, 300, 300, 300, 60)
	o.Old.Servers, o.New.Servers = []string{"127.0.0.1:9"}, []string{"127.0.0.1:9"}
	p, err := plan.Build(testSpec("unsigned"), o, t0)
	if err != nil {
		t.Fatal(err)
	}
	src := Source{SpecFile: "spec.yaml", PlanFile: "plan.json"}
	words := func(s *Stop) (string, string) { return "RESUME " + s.PlanFile, "UNDO " + s.SpecFile }
	hosts := map[string]providers.Host{"old": &refusingHost{}, "new": &refusingHost{}}
	for _, tc := range []struct {
		name  string
		words Words
		want  []string
	}{
		{"with words", words, []string{errRefused.Error(), "to resume: RESUME plan.json", "to roll back: UNDO spec.yaml"}},
		{"without words", nil, []string{errRefused.Error()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := &Executor{Plan: p, Clock: NewSimClock(t0), Journal: MemoryJournal(),
				Env: plan.Env{Hosts: hosts, Checker: checks.New(checks.Options{Timeout: 100 * time.Millisecond})}, Out: &strings.Builder{}, Source: src, Words: tc.words}
			cl, err := x.Run(context.Background())
			var s *Stop
			if !errors.As(err, &s) || !errors.Is(err, errRefused) {
				t.Fatalf("run: %v (%T), want a Stop caused by the host's refusal", err, err)
			}
			if s.PlanID != p.ID || s.Source != src || len(s.Undo) != 0 {
				t.Errorf("stop of plan %q from %+v undo %v, want %q from %+v, nothing to undo", s.PlanID, s.Source, s.Undo, p.ID, src)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			wantResume, wantRollback := "", ""
			if tc.words != nil {
				wantResume, wantRollback = "RESUME plan.json", "UNDO spec.yaml"
			} else if strings.Contains(err.Error(), "to resume") {
				t.Errorf("without words, the error words a command: %q", err)
			}
			if cl.Resume != wantResume || cl.Rollback != wantRollback {
				t.Errorf("change log resume %q rollback %q, want %q %q", cl.Resume, cl.Rollback, wantResume, wantRollback)
			}
		})
	}
}

// A stop lists the steps whose change the journal shows sent, newest
// first, each with how it is undone; steps done before the run are not.
func TestStopUndo(t *testing.T) {
	p, err := plan.Build(testSpec("insecure-window"), observed(3600, 300, 300, 300, 300, 60), t0)
	if err != nil {
		t.Fatal(err)
	}
	j := MemoryJournal()
	var sent []string
	for _, st := range p.Steps {
		if st.Rollback != "" && !st.Done && len(sent) < 2 {
			j.Append(Entry{Time: Stamp(t0), Step: st.ID, Event: EvActionDone})
			sent = append(sent, st.ID)
		}
	}
	if len(sent) != 2 {
		t.Fatalf("the plan has %v to undo, want two steps", sent)
	}
	s := (&Executor{Plan: p, Journal: j}).stop(errRefused)
	if len(s.Undo) != 2 || s.Undo[0].Step != sent[1] || s.Undo[1].Step != sent[0] || s.Undo[0].How != p.Step(sent[1]).Rollback {
		t.Errorf("undo %+v, want %v newest first, each with its step's rollback", s.Undo, sent)
	}
}
