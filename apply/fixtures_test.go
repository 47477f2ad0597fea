package apply

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// The fixtures apply's tests build plans from: the same spec and live
// state as the planner's own tests (plan's internal tests cannot import a
// package that imports plan, so the two are kept side by side).

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func testSpec(dnssec spec.DNSSECMethod) *spec.Spec {
	return &spec.Spec{Version: 1, Zone: "example.com.", Kind: "nameservers", DNSSEC: dnssec, File: "spec.yaml",
		From:         spec.Side{Provider: "old", Nameservers: []string{"ns1.old.example.net.", "ns2.old.example.net."}},
		To:           spec.Side{Provider: "new", Nameservers: []string{"ns1.new.example.org.", "ns2.new.example.org."}},
		Registrar:    spec.RegistrarSpec{Type: "manual"},
		TTL:          spec.TTLSpec{LowerTo: 300 * time.Second, Restore: true},
		SafetyMargin: "10%", Margin: spec.Margin{Percent: 10},
		Verify: spec.VerifySpec{Resolvers: []string{"192.0.2.53:53"}, GateTimeout: 30 * time.Minute},
		Output: spec.OutputSpec{Dir: "./migrations"}}
}

// observed is a live state as a real move would see it: hour-long TTLs,
// a day-long apex NS, a signed zone on both sides.
func observed(recordTTL, nsTTL, dnskeyTTL, parentNS, parentDS, neg uint32) *plan.Observed {
	host := func(name string, ns []string, ksk string) plan.HostState {
		return plan.HostState{Provider: name, Nameservers: ns, Servers: []string{"192.0.2.1:53", "192.0.2.2:53"},
			RRsets: []providers.RRset{
				{Name: "example.com.", Type: "A", TTL: recordTTL, Data: []string{"192.0.2.80"}},
				{Name: "example.com.", Type: "NS", TTL: nsTTL, Data: ns},
				{Name: "example.com.", Type: "SOA", TTL: 3600, Data: []string{"ns1. host. 1 2 3 4 5"}},
				{Name: "www.example.com.", Type: "A", TTL: 60, Data: []string{"192.0.2.80"}},
			},
			MaxTTL: max(recordTTL, nsTTL), ApexNSTTL: nsTTL, DNSKEYTTL: dnskeyTTL, KSKDS: []string{ksk}, Serials: []uint32{1, 1}}
	}
	return &plan.Observed{Time: t0, Parent: "com.", ParentServers: []string{"192.0.2.100:53", "192.0.2.101:53"},
		NS: []string{"ns1.old.example.net.", "ns2.old.example.net."}, NSTTL: parentNS,
		DS: []string{"11111 13 2 AAAA"}, DSTTL: parentDS, NegTTL: neg, Status: "secure",
		Old: host("old", []string{"ns1.old.example.net.", "ns2.old.example.net."}, "11111 13 2 AAAA"),
		New: host("new", []string{"ns1.new.example.org.", "ns2.new.example.org."}, "22222 13 2 BBBB"), Fingerprint: "f"}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n%s", path, got)
	}
}
