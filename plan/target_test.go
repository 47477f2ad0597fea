package plan

import (
	"slices"
	"testing"
	"time"
)

// Target gives apply what the plan acts on: the zone, its parent's
// servers, each host's servers, the registrar's TTLs and what the
// watchdog asks, from the plan's own spec and observation.
func TestTarget(t *testing.T) {
	o := observed(3600, 300, 300, 7200, 86400, 60)
	o.New.Servers = []string{"192.0.2.9:53"}
	o.Skipped = []string{"[2001:db8::1]:53"}
	p, err := Build(testSpec("insecure-window"), o, t0)
	if err != nil {
		t.Fatal(err)
	}
	got := p.Target()
	if got.Zone != "example.com." || got.Cutover || got.From != "old" || got.To != "new" || !slices.Equal(got.Nameservers, []string{"ns1.new.example.org.", "ns2.new.example.org."}) {
		t.Errorf("target %+v", got)
	}
	if !slices.Equal(got.ServersOf("new"), []string{"192.0.2.9:53"}) || !slices.Equal(got.ServersOf("old"), o.Old.Servers) {
		t.Errorf("servers of new %v, old %v", got.ServersOf("new"), got.ServersOf("old"))
	}
	if cut := got.ParentCut(); cut.Zone != "com." || len(cut.Servers) != 2 || cut.Servers[1].Addrs[0] != "192.0.2.101:53" {
		t.Errorf("parent cut %+v", cut)
	}
	if got.DSTTL != 86400*time.Second || got.NSTTL != 7200*time.Second || got.GateTimeout != 30*time.Minute || !slices.Equal(got.Skipped, o.Skipped) {
		t.Errorf("DS TTL %v, NS TTL %v, gate timeout %v, skipped %v", got.DSTTL, got.NSTTL, got.GateTimeout, got.Skipped)
	}
	// The zone has an apex A and a www A, no MX or TXT.
	want := [][2]string{{"example.com.", "SOA"}, {"example.com.", "A"}, {"www.example.com.", "A"}}
	if !slices.Equal(p.Watched(), want) {
		t.Errorf("watched %v, want %v", p.Watched(), want)
	}
	if st := (Step{Provider: "old"}); got.HostOf(&st) != "old" {
		t.Errorf("a step's own host: %q", got.HostOf(&st))
	}
	if st, rec := (Step{}), (Target{Provider: "cf"}); rec.HostOf(&st) != "cf" {
		t.Errorf("a step naming no host, in a records plan: %q", rec.HostOf(&st))
	}
	// No DS at the parent: a DS added later takes the NS TTL.
	o.DS, o.DSTTL = nil, 0
	if p.Target().DSTTL != 7200*time.Second {
		t.Errorf("DS TTL without a DS: %v, want the NS TTL", p.Target().DSTTL)
	}
}
