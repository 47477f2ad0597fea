package plan

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

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
func observed(recordTTL, nsTTL, dnskeyTTL, parentNS, parentDS, neg uint32) *Observed {
	host := func(name string, ns []string, ksk string) HostState {
		return HostState{Provider: name, Nameservers: ns, Servers: []string{"192.0.2.1:53", "192.0.2.2:53"},
			RRsets: []providers.RRset{
				{Name: "example.com.", Type: "A", TTL: recordTTL, Data: []string{"192.0.2.80"}},
				{Name: "example.com.", Type: "NS", TTL: nsTTL, Data: ns},
				{Name: "example.com.", Type: "SOA", TTL: 3600, Data: []string{"ns1. host. 1 2 3 4 5"}},
				{Name: "www.example.com.", Type: "A", TTL: 60, Data: []string{"192.0.2.80"}},
			},
			MaxTTL: max(recordTTL, nsTTL), ApexNSTTL: nsTTL, DNSKEYTTL: dnskeyTTL, KSKDS: []string{ksk}, Serials: []uint32{1, 1}}
	}
	return &Observed{Time: t0, Parent: "com.", ParentServers: []string{"192.0.2.100:53", "192.0.2.101:53"},
		NS: []string{"ns1.old.example.net.", "ns2.old.example.net."}, NSTTL: parentNS,
		DS: []string{"11111 13 2 AAAA"}, DSTTL: parentDS, NegTTL: neg, Status: "secure",
		Old: host("old", []string{"ns1.old.example.net.", "ns2.old.example.net."}, "11111 13 2 AAAA"),
		New: host("new", []string{"ns1.new.example.org.", "ns2.new.example.org."}, "22222 13 2 BBBB"), Fingerprint: "f"}
}

func TestPlanWaits(t *testing.T) {
	dsRemovedByHand := observed(3600, 86400, 3600, 172800, 86400, 900)
	dsRemovedByHand.DS, dsRemovedByHand.DSTTL = nil, 0
	dsRemovedByThisTool := observed(3600, 86400, 3600, 172800, 86400, 900)
	dsRemovedByThisTool.DS, dsRemovedByThisTool.DSTTL, dsRemovedByThisTool.PriorDSTTL = nil, 0, 7200
	// A Cloudflare-like old host: its API lists no apex NS, which its
	// servers serve with a day-long TTL that lower-ttl cannot reach.
	cloudflareLike := observed(3600, 86400, 3600, 3600, 3600, 900)
	cloudflareLike.Old.RRsets = slices.DeleteFunc(slices.Clone(cloudflareLike.Old.RRsets), func(s providers.RRset) bool { return s.Type == "NS" })
	cloudflareLike.Old.ApexNSTTL, cloudflareLike.Old.ServedNSTTL = 0, 86400
	// A server that serves (or signed) a longer TTL than the API says.
	servedAbove := observed(3600, 300, 3600, 172800, 86400, 900)
	servedAbove.Old.ServedAbove = map[string]uint32{"www.example.com. A": 7200}
	tests := []struct {
		name                            string
		o                               *Observed
		waitTTL, dsGone, waitNS, waitDS time.Duration
	}{
		// Old max TTL 86400 (apex NS) lowered to 300; DS 86400 + old DNSKEY
		// 3600; max(parent NS 172800, lowered apex NS 300) + old DNSKEY
		// 3600; max(DS 86400, neg 900) + new apex NS after lowering 300 +
		// new DNSKEY 3600. Each + 10%.
		{"typical com.", observed(3600, 86400, 3600, 172800, 86400, 900), 95040 * time.Second, 99000 * time.Second, 194040 * time.Second, 99330 * time.Second},
		// Everything already at or under lower_to: no wait-ttl.
		{"short TTLs", observed(60, 300, 300, 300, 300, 60), 0, 660 * time.Second, 660 * time.Second, 990 * time.Second},
		// The negative-caching TTL is longer than the DS TTL.
		{"long negative TTL", observed(60, 300, 300, 300, 300, 3600), 0, 660 * time.Second, 660 * time.Second, 4620 * time.Second},
		// No DS served at plan time: the parent's NS TTL 172800 stands in
		// for the DS TTL, never 0: (172800 + 3600) + 10%.
		{"DS removed by hand", dsRemovedByHand, 95040 * time.Second, 194040 * time.Second, 194040 * time.Second, 194370 * time.Second},
		// The run that removed it saw a DS TTL of 7200: (7200 + 3600) + 10%.
		{"DS removed by this tool", dsRemovedByThisTool, 95040 * time.Second, 11880 * time.Second, 194040 * time.Second, 12210 * time.Second},
		// Apex NS served at 86400, not lowerable: max(3600, 86400) + 3600.
		{"Cloudflare-like old host", cloudflareLike, 3960 * time.Second, 7920 * time.Second, 99000 * time.Second, 8250 * time.Second},
		// wait-ttl covers the served 7200 s, not only the API's 3600 s.
		{"served above the API", servedAbove, 7920 * time.Second, 99000 * time.Second, 194040 * time.Second, 99330 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(testSpec("insecure-window"), tt.o, t0)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]time.Duration{}
			for _, s := range p.Steps {
				got[s.ID] = time.Duration(s.Wait)
			}
			want := map[string]time.Duration{StepWaitTTL: tt.waitTTL, StepWaitDSGone: tt.dsGone, StepWaitNS: tt.waitNS, StepWaitDS: tt.waitDS}
			for id, w := range want {
				if got[id] != w {
					t.Errorf("%s = %s, want %s", id, got[id], w)
				}
			}
			var sum time.Duration
			for _, s := range p.Steps {
				if time.Duration(s.Start) != sum {
					t.Errorf("%s starts at +%s, want +%s", s.ID, time.Duration(s.Start), sum)
				}
				sum += time.Duration(s.Wait)
			}
			if time.Duration(p.TotalWait) != sum {
				t.Errorf("total %s, want %s", time.Duration(p.TotalWait), sum)
			}
		})
	}
}

func TestPlanSteps(t *testing.T) {
	tests := []struct {
		name   string
		dnssec spec.DNSSECMethod
		edit   func(*Observed)
		ids    string
		done   string
	}{
		{"signed", "insecure-window", nil, "lower-ttl wait-ttl remove-ds wait-ds-gone switch-ns wait-ns add-ds wait-ds restore-ttl final-verify", ""},
		{"unsigned", "unsigned", func(o *Observed) { o.DS = nil }, "lower-ttl wait-ttl switch-ns wait-ns restore-ttl final-verify", ""},
		{"DS already removed (a resumed or reversed move)", "insecure-window", func(o *Observed) { o.DS = nil }, "lower-ttl wait-ttl remove-ds wait-ds-gone switch-ns wait-ns add-ds wait-ds restore-ttl final-verify", "remove-ds"},
		{"nothing to do", "insecure-window", func(o *Observed) {
			o.NS, o.DS = []string{"ns1.new.example.org.", "ns2.new.example.org."}, []string{"22222 13 2 BBBB"}
		}, "", ""},
		{"old host's apex NS in its API: handed over", "insecure-window", handsOver, "lower-ttl wait-ttl remove-ds wait-ds-gone switch-ns handover-ns wait-ns add-ds wait-ds restore-ttl final-verify", ""},
		{"new host still names the old servers (a rolled-back handover)", "insecure-window", func(o *Observed) {
			handsOver(o)
			o.New.ApexNS = o.Old.Nameservers
		}, "reclaim-ns lower-ttl wait-ttl remove-ds wait-ds-gone switch-ns handover-ns wait-ns add-ds wait-ds restore-ttl final-verify", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := observed(3600, 86400, 3600, 172800, 86400, 900)
			if tt.edit != nil {
				tt.edit(o)
			}
			p, err := Build(testSpec(tt.dnssec), o, t0)
			if err != nil {
				t.Fatal(err)
			}
			var ids, done []string
			for _, s := range p.Steps {
				ids = append(ids, s.ID)
				if s.Done {
					done = append(done, s.ID)
				}
			}
			if strings.Join(ids, " ") != tt.ids || strings.Join(done, " ") != tt.done || p.Nothing != (tt.ids == "") {
				t.Errorf("steps %v (done %v, nothing %v)", ids, done, p.Nothing)
			}
		})
	}
}

// handsOver gives both hosts the apex NS sets their servers serve.
func handsOver(o *Observed) {
	o.Old.ApexNS, o.New.ApexNS = o.Old.Nameservers, o.New.Nameservers
}

// With a handover, the old host's apex NS is not restored (it names the new
// servers now), and retire-old counts from the handover: max(parent NS
// 172800, lowered apex NS 300) + largest TTL old serves (DNSKEY 3600).
func TestPlanHandoverAndRetireOld(t *testing.T) {
	o := observed(3600, 86400, 3600, 172800, 86400, 900)
	handsOver(o)
	p, err := Build(testSpec("insecure-window"), o, t0)
	if err != nil {
		t.Fatal(err)
	}
	h := p.Step(StepHandoverNS)
	if h == nil || h.Provider != "old" || len(h.Records) != 1 || strings.Join(h.Records[0].To, " ") != "ns1.new.example.org. ns2.new.example.org." || h.Records[0].TTL != 300 {
		t.Fatalf("handover-ns = %+v", h)
	}
	for _, c := range p.Step(StepRestoreTTL).TTLs {
		for _, set := range c.RRsets {
			if c.Provider == "old" && set.Type == "NS" {
				t.Errorf("restore-ttl puts the old host's handed-over apex NS back: %+v", set)
			}
		}
	}
	r := p.RetireOld
	wantDelay := Duration(194040 * time.Second) // (172800 + 3600) + 10%
	if r == nil || r.After != StepHandoverNS || r.Delay != wantDelay || r.Earliest != h.Start+wantDelay || !strings.Contains(r.Formula, "handover-ns") {
		t.Errorf("retire-old = %+v, want %s after handover-ns", r, wantDelay)
	}
}

func TestPlanRefusesProblems(t *testing.T) {
	o := observed(60, 300, 300, 300, 300, 60)
	o.Problems = []string{"zone parity: the new provider has no www.example.com. A"}
	_, err := Build(testSpec("insecure-window"), o, t0)
	if !IsNotSafe(err) || !strings.Contains(err.Error(), "zone parity") {
		t.Errorf("err = %v", err)
	}
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

// planText renders p as migrate plan prints it.
func planText(t *testing.T, p *Plan) string {
	t.Helper()
	var b strings.Builder
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestPlanText(t *testing.T) {
	p, err := Build(testSpec("insecure-window"), observed(3600, 86400, 3600, 172800, 86400, 900), t0)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.txt", []byte(planText(t, p)))
}

// An address verify.ipv6 auto did not ask is said in the plan and in the
// evidence every parent and TTL gate adds, never passed over in silence.
func TestSkippedAddressesAreSaid(t *testing.T) {
	o := observed(3600, 86400, 3600, 172800, 86400, 900)
	o.Skipped = []string{"[2001:db8::53]:53"}
	p, err := Build(testSpec("insecure-window"), o, t0)
	if err != nil {
		t.Fatal(err)
	}
	text := planText(t, p)
	if !strings.Contains(text, "not asked (no route from this machine; verify.ipv6: auto): [2001:db8::53]:53") {
		t.Errorf("plan text does not name the skipped address:\n%s", text)
	}
}

// A new host that still names the other host's servers (a handed-over
// move rolled back, then applied again): reclaim-ns writes its own names
// at the lowered TTL, lower-ttl never writes the other names back, and
// restore-ttl puts its own set back at its TTL.
func TestPlanReclaimsTheNewHostsApexNS(t *testing.T) {
	o := observed(3600, 86400, 3600, 172800, 86400, 900)
	handsOver(o)
	o.New.ApexNS = o.Old.Nameservers
	for i, s := range o.New.RRsets {
		if s.Type == "NS" {
			o.New.RRsets[i].Data = o.Old.Nameservers
		}
	}
	p, err := Build(testSpec("insecure-window"), o, t0)
	if err != nil {
		t.Fatal(err)
	}
	own := "ns1.new.example.org. ns2.new.example.org."
	r := p.Step(StepReclaimNS)
	if r == nil || r.Provider != "new" || strings.Join(r.Records[0].To, " ") != own || r.Records[0].TTL != 300 {
		t.Fatalf("reclaim-ns = %+v", r)
	}
	for _, c := range p.Step(StepLowerTTL).TTLs {
		for _, set := range c.RRsets {
			if c.Provider == "new" && set.Type == "NS" {
				t.Errorf("lower-ttl rewrites the new host's apex NS: %+v", set)
			}
		}
	}
	restored := false
	for _, c := range p.Step(StepRestoreTTL).TTLs {
		for i, set := range c.RRsets {
			if c.Provider == "new" && set.Type == "NS" {
				restored = strings.Join(set.Data, " ") == own && set.TTL == 300 && c.TTLs[i] == 86400
			}
		}
	}
	if !restored {
		t.Errorf("restore-ttl does not put the new host's own apex NS back at 86400: %+v", p.Step(StepRestoreTTL).TTLs)
	}
}

// observedWith is observed with n more RRsets at both hosts, each above
// lower_to.
func observedWith(n int) *Observed {
	o := observed(3600, 86400, 3600, 172800, 86400, 900)
	for _, h := range []*HostState{&o.Old, &o.New} {
		for i := range n {
			h.RRsets = append(h.RRsets, providers.RRset{Name: fmt.Sprintf("h%02d.example.com.", i), Type: "A", TTL: 3600, Data: []string{"192.0.2.1"}})
		}
	}
	return o
}

// A set-ttl step of many RRsets keeps 20 before and after lines and
// counts the rest (its TTL changes hold them all): the plan text counts
// every RRset, and the journal line of its action stays small.
func TestManyTTLLinesCapped(t *testing.T) {
	p, err := Build(testSpec("insecure-window"), observedWith(50), t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{StepLowerTTL, StepRestoreTTL} {
		st := p.Step(id)
		if st.rrsetCount() < 100 || len(st.Before) != 21 || len(st.After) != 21 || st.After[20] != fmt.Sprintf("and %d more RRsets", st.rrsetCount()-20) {
			t.Errorf("%s: %d RRsets, %d before and %d after lines, last %q", id, st.rrsetCount(), len(st.Before), len(st.After), st.After[len(st.After)-1])
		}
	}
	text := planText(t, p)
	if want := fmt.Sprintf("      %d RRsets, e.g. ", p.Step(StepLowerTTL).rrsetCount()); !strings.Contains(text, want) {
		t.Errorf("plan text lacks %q:\n%s", want, text)
	}
}

// plan.json holds each RRset once: a TTL change refers to the observed
// RRsets by index, an RRset not as observed (reclaim-ns data, another
// plan's) is held whole; reading the file back gives the same steps, and
// an index that the file's observed RRsets do not hold is refused.
func TestPlanFileHoldsEachRRsetOnce(t *testing.T) {
	p, err := Build(testSpec("insecure-window"), observedWith(30), t0)
	if err != nil {
		t.Fatal(err)
	}
	// An RRset whose data is not as observed is held whole.
	st := p.Step(StepRestoreTTL)
	st.TTLs[0].RRsets[0].Data = []string{"192.0.2.99"}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"name": "h07.example.com."`); n != 2 {
		t.Errorf("h07 is held %d times in plan.json, want 2 (once per host's observed RRsets)", n)
	}
	if !strings.Contains(string(b), "192.0.2.99") {
		t.Error("the RRset not as observed is not held whole")
	}
	back, err := ReadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range p.Steps {
		for k, c := range st.TTLs {
			got := back.Steps[i].TTLs[k]
			if got.Provider != c.Provider || !reflect.DeepEqual(got.TTLs, c.TTLs) || fmt.Sprint(got.RRsets) != fmt.Sprint(c.RRsets) || got.Observed != nil || got.Own != nil {
				t.Errorf("%s: ttls of %s read back: %+v, want %+v", st.ID, c.Provider, got, c)
			}
		}
	}
	bad := strings.Replace(string(b), `"observed": [`, `"observed": [`+"\n 99999,", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPlan(path); err == nil || !strings.Contains(err.Error(), "step lower-ttl: ttls of old") {
		t.Errorf("an index past the observed RRsets: %v", err)
	}
}

// A records plan's header says what a cutover does, at its one host: no
// from/to move, no second provider.
func TestRecordsPlanHeader(t *testing.T) {
	s := testSpec("")
	s.Kind, s.Provider, s.Phases, s.Rollback = "records", "old", []int{10, 100}, "auto"
	s.From, s.To = spec.Side{}, spec.Side{}
	s.Changes = []spec.RecordChange{{Name: "www.example.com.", Type: "A", From: spec.Values{"192.0.2.80"}, To: spec.Values{"192.0.2.81"}}}
	o := observed(3600, 86400, 3600, 172800, 86400, 900)
	o.New = HostState{}
	p, err := Build(s, o, t0)
	if err != nil {
		t.Fatal(err)
	}
	text := planText(t, p)
	if want := "cut 1 RRsets of example.com. over at old, in 2 phases (10%, 100%) (rollback: auto)"; !strings.Contains(text, want) {
		t.Errorf("header lacks %q:\n%s", want, text)
	}
	for _, bad := range []string{"move example.com. from", "(dnssec: )", "\n  : 0 servers"} {
		if strings.Contains(text, bad) {
			t.Errorf("records plan says %q:\n%s", bad, text)
		}
	}
}

// wait-ttl runs from when the old host serves the lowered TTLs, while
// lower-ttl goes on at the new host, only where no resolver asks the new
// host yet: not when the delegation or the old host's apex NS names one of
// its servers, nor when lower-ttl changes only the old host.
func TestWaitTTLAnchoredWhileNewIsNotAsked(t *testing.T) {
	newNS := []string{"ns1.new.example.org.", "ns2.new.example.org."}
	for _, c := range []struct {
		name   string
		change func(o *Observed)
		want   bool
	}{
		{"new host not asked", func(*Observed) {}, true},
		{"delegation names a new server", func(o *Observed) { o.NS = append(o.NS, newNS[0]) }, false},
		{"old apex NS names the new servers", func(o *Observed) { o.Old.ApexNS = newNS }, false},
		{"a rollback", func(o *Observed) { o.Rollback = true }, false},
		{"nothing to lower at new", func(o *Observed) {
			for i := range o.New.RRsets {
				o.New.RRsets[i].TTL = min(o.New.RRsets[i].TTL, 300)
			}
		}, false},
	} {
		o := observed(3600, 86400, 3600, 172800, 86400, 900)
		c.change(o)
		p, err := Build(testSpec("insecure-window"), o, t0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		a := p.Step(StepWaitTTL).Anchor
		if got := a != nil; got != c.want {
			t.Errorf("%s: wait-ttl anchored %t, want %t", c.name, got, c.want)
			continue
		}
		if a != nil && (a.Step != StepLowerTTL || a.Provider != "old" || p.Step(StepLowerTTL).TTLs[0].Provider != "old") {
			t.Errorf("%s: anchor %+v; lower-ttl's first change at %s", c.name, a, p.Step(StepLowerTTL).TTLs[0].Provider)
		}
	}
}

// Where the wait-ttl is anchored at the old host and its other RRsets are
// many, its RRsets with the longest TTL are lowered first, alone: the wait
// runs from their proof, and from the others' proof only for the others'
// longest TTL. Nothing is split where every RRset has the longest TTL,
// where the others are few (one request would hold them), or where the
// wait is not anchored (a rollback).
func TestLongestTTLsLoweredFirst(t *testing.T) {
	for _, c := range []struct {
		name    string
		change  func(*Observed)
		longest []string // the RRsets of old's first change; nil: no split
		also    time.Duration
	}{
		{"NS a day, the rest an hour", func(*Observed) {}, []string{"example.com. NS"}, 3960 * time.Second},
		{"the server serves a longer TTL than the API says", func(o *Observed) { o.Old.ServedAbove = map[string]uint32{"example.com. A": 86400} }, []string{"example.com. A", "example.com. NS"}, 3960 * time.Second},
		{"all alike", func(o *Observed) {
			for i := range o.Old.RRsets {
				if o.Old.RRsets[i].Type != "SOA" {
					o.Old.RRsets[i].TTL = 86400
				}
			}
		}, nil, 0},
		{"few others", func(o *Observed) { o.Old.RRsets = o.Old.RRsets[:len(o.Old.RRsets)-2] }, nil, 0},
		{"a rollback", func(o *Observed) { o.Rollback = true }, nil, 0},
	} {
		// Old: apex A 3600, NS 86400, SOA, www 600, and splitFrom-1 more
		// at 3600: splitFrom+1 RRsets besides the NS set, all above 300.
		o := observedWith(splitFrom - 1)
		o.Old.RRsets[3].TTL = 600
		c.change(o)
		p, err := Build(testSpec("insecure-window"), o, t0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		lower, wait := p.Step(StepLowerTTL), p.Step(StepWaitTTL)
		var first []string
		for _, s := range lower.TTLs[0].RRsets {
			first = append(first, s.Name+" "+s.Type)
		}
		if c.longest == nil {
			if len(wait.AlsoFrom) > 0 || len(lower.TTLs) > 2 {
				t.Errorf("%s: split: %v first, wait also from %+v", c.name, first, wait.AlsoFrom)
			}
			continue
		}
		if len(first) > 5 {
			first = append(first[:5], "...")
		}
		if !slices.Equal(first, c.longest) || len(lower.TTLs) != 3 || lower.TTLs[1].Provider != "old" || lower.TTLs[2].Provider != "new" {
			t.Errorf("%s: lower-ttl's first change %v (want %v), %d changes", c.name, first, c.longest, len(lower.TTLs))
			continue
		}
		if a := wait.AlsoFrom; len(a) != 1 || a[0].Provider != "old#2" || a[0].Step != StepLowerTTL || time.Duration(a[0].Wait) != c.also {
			t.Errorf("%s: wait-ttl also from %+v, want old#2 for %s", c.name, a, c.also)
		}
		var text strings.Builder
		if err := p.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if line := fmt.Sprintf("and %s (largest TTL of old's other RRsets", c.also); !strings.Contains(text.String(), line) {
			t.Errorf("%s: the plan's text has no %q", c.name, line)
		}
		if n := len(lower.TTLs[0].RRsets) + len(lower.TTLs[1].RRsets); n != splitFrom+2 {
			t.Errorf("%s: old's two changes hold %d RRsets, want %d", c.name, n, splitFrom+2)
		}
	}
}

// The old host's TTLs go back from add-ds's proof, under wait-ds (no
// resolver asks it after wait-ns); the new host's only after wait-ds. In a
// rollback the host left is the forward move's new host. Nothing is sent
// ahead where no wait lies between (unsigned).
func TestOldHostsTTLsRestoredUnderWaitDS(t *testing.T) {
	sendFrom := func(p *Plan) map[string]string {
		out := map[string]string{}
		for _, c := range p.Step(StepRestoreTTL).TTLs {
			out[c.Provider] += c.SendFrom + ";"
		}
		return out
	}
	fp, err := Build(testSpec("insecure-window"), observed(3600, 86400, 3600, 172800, 86400, 900), t0)
	if err != nil {
		t.Fatal(err)
	}
	if got := sendFrom(fp); got["old"] != "add-ds;" || got["new"] != ";" {
		t.Errorf("forward: restore-ttl sent from %v, want old's from add-ds", got)
	}
	unsigned := observed(3600, 86400, 3600, 172800, 86400, 900)
	unsigned.DS = nil
	up, err := Build(testSpec("unsigned"), unsigned, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got := sendFrom(up); got["old"] != ";" || got["new"] != ";" {
		t.Errorf("unsigned: restore-ttl sent from %v, want nothing ahead", got)
	}
	rs := testSpec("insecure-window")
	rs.Reverse()
	ro := observed(300, 300, 3600, 172800, 86400, 900)
	ro.Old, ro.New = ro.New, ro.Old
	ro.NS, ro.DS, ro.Rollback = ro.Old.Nameservers, ro.Old.KSKDS, true
	rp, err := Build(rs, ro, t0)
	if err != nil {
		t.Fatal(err)
	}
	rp.restoreTTLs(PriorOf(fp).restoreTo)
	if got := sendFrom(rp); got["new"] != "add-ds;" || got["old"] != ";" {
		t.Errorf("rollback: restore-ttl sent from %v, want new's (the host left) from add-ds", got)
	}
	if !strings.Contains(rp.Step(StepRestoreTTL).Summary, "new's from add-ds's proof") {
		t.Errorf("rollback: restore-ttl says %q", rp.Step(StepRestoreTTL).Summary)
	}
}

// A move with an insecure window onto name servers inside the zone says
// what Knot Resolver did with them in the lab, and that multi-signer
// avoids it; no other move says so.
func TestInsecureWindowOntoInZoneNameservers(t *testing.T) {
	inZone := []string{"ns1.example.com.", "ns2.example.com."}
	for _, tc := range []struct {
		name   string
		dnssec spec.DNSSECMethod
		chosen spec.DNSSECMethod // what auto chose
		to     []string
		want   []string
	}{
		{name: "insecure window, in the zone", dnssec: spec.DNSSECInsecureWindow, to: inZone, want: inZone},
		{name: "auto chose insecure window", dnssec: spec.DNSSECAuto, chosen: spec.DNSSECInsecureWindow, to: inZone, want: inZone},
		{name: "one of two in the zone", dnssec: spec.DNSSECInsecureWindow, to: []string{"ns1.example.com.", "ns.example.org."}, want: []string{"ns1.example.com."}},
		{name: "outside the zone", dnssec: spec.DNSSECInsecureWindow, to: []string{"ns1.new.example.org.", "ns2.new.example.org."}},
		{name: "a name that only ends alike", dnssec: spec.DNSSECInsecureWindow, to: []string{"ns1.notexample.com."}},
		{name: "multi-signer", dnssec: spec.DNSSECMultiSigner, to: inZone},
		{name: "auto chose multi-signer", dnssec: spec.DNSSECAuto, chosen: spec.DNSSECMultiSigner, to: inZone},
		{name: "unsigned", dnssec: spec.DNSSECUnsigned, to: inZone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSpec(tc.dnssec)
			s.To.Nameservers = tc.to
			o := observed(3600, 86400, 3600, 172800, 86400, 900)
			o.DNSSEC = tc.chosen
			if got := insecureInZone(s, o); !slices.Equal(got, tc.want) {
				t.Errorf("insecureInZone = %v, want %v", got, tc.want)
			}
		})
	}

	s := testSpec(spec.DNSSECInsecureWindow)
	s.To.Nameservers = inZone
	o := observed(3600, 86400, 3600, 172800, 86400, 900)
	o.New.Nameservers = inZone
	p, err := Build(s, o, t0)
	if err != nil {
		t.Fatal(err)
	}
	text := planText(t, p)
	want := "name servers inside the zone: ns1.example.com. ns2.example.com.; while the zone is insecure"
	if !strings.Contains(text, want) || !strings.Contains(text, "dnssec: multi-signer keeps the zone secure throughout") {
		t.Errorf("plan text does not say %q and what avoids it:\n%s", want, text)
	}
}
