package apply

import (
	"testing"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/plan"
)

// A record gate that waits names the servers not yet in the target state.
func TestGateProgressNamesServers(t *testing.T) {
	failed := GateResult{Evidence: []checks.Evidence{{Server: "192.0.2.2:53"}, {Server: "192.0.2.1:53"}, {Server: "192.0.2.2:53"}}}
	for _, tt := range []struct {
		action plan.Action
		want   string
	}{
		{plan.ActionSetTTL, "; not yet at 192.0.2.1:53, 192.0.2.2:53"},
		{plan.ActionSetRecords, "; not yet at 192.0.2.1:53, 192.0.2.2:53"},
		{plan.ActionSetDS, ""}, // a parent gate's summary names its servers
	} {
		if got := behind(&plan.Step{Action: tt.action}, failed); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.action, got, tt.want)
		}
	}
}
