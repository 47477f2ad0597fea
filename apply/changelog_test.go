package apply

import (
	"bytes"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/plan"
)

// A change log from a journal, resumed once, with a watchdog failure.
func TestChangeLogGolden(t *testing.T) {
	p, err := plan.Build(testSpec("insecure-window"), observed(60, 300, 300, 300, 300, 60), t0)
	if err != nil {
		t.Fatal(err)
	}
	at := func(s int) Stamp { return Stamp(t0.Add(time.Duration(s) * time.Second)) }
	until := at(2 + 330)
	e := []Entry{
		{Time: at(0), Event: EvBegin},
		{Time: at(0), Step: plan.StepLowerTTL, Event: EvActionDone, Detail: "already in place when planned: not sent"},
		{Time: at(1), Step: plan.StepLowerTTL, Event: EvStepDone},
		{Time: at(1), Step: plan.StepWaitTTL, Event: EvStepDone},
		{Time: at(1), Step: plan.StepRemoveDS, Event: EvActionStart},
		{Time: at(2), Step: plan.StepRemoveDS, Event: EvActionDone, Before: []string{"11111 13 2 AAAA"}},
		{Time: at(2), Step: plan.StepRemoveDS, Event: EvGatePassed, Detail: "192.0.2.100:53 yes, 192.0.2.101:53 yes (attempt 1)"},
		{Time: at(2), Step: plan.StepRemoveDS, Event: EvStepDone},
		{Time: at(3), Step: plan.StepWaitDSGone, Event: EvWaitStart, Until: &until},
		{Time: at(100), Event: EvStopped, Detail: "stopped: stopped between actions"},
	}
	wd := &WatchReport{Resolvers: []string{"192.0.2.53:53"}, Names: []string{"example.com. SOA"}, Rounds: 100, Queries: 100}
	cl := BuildChangeLog(p, e, wd, false)
	cl.Resume = "migrate apply -f spec.yaml --yes"
	var md, js bytes.Buffer
	if err := cl.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := cl.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	golden(t, "changelog.md", md.Bytes())
	golden(t, "changelog.json", js.Bytes())
	if cl.Result != "stopped" || cl.Steps[2].State != "done" || cl.Steps[3].State != "started" {
		t.Errorf("result %s, states %s %s", cl.Result, cl.Steps[2].State, cl.Steps[3].State)
	}
}
