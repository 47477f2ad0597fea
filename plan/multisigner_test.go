package plan

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// multiSignerObserved is the planner tests' live state with a ZSK at each
// host.
func multiSignerObserved() *Observed {
	o := observed(3600, 86400, 3600, 172800, 86400, 900)
	o.Old.ZSK, o.New.ZSK = []string{"256 3 13 OLDZSK"}, []string{"256 3 13 NEWZSK"}
	o.Old.KSK, o.New.KSK = []string{"257 3 13 OLDKSK"}, []string{"257 3 13 NEWKSK"}
	return o
}

// A multi-signer move: the steps in RFC 8901's order, each wait from its
// formula, the DS sets and imported keys as the steps send them.
func TestMultiSignerPlan(t *testing.T) {
	p, err := Build(testSpec("multi-signer"), multiSignerObserved(), t0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, st := range p.Steps {
		ids = append(ids, st.ID)
	}
	want := []string{StepLowerTTL, StepWaitTTL, StepImportZSK, StepWaitDNSKEY, StepAddDS, StepWaitDS, StepSwitchNS, StepWaitNS,
		StepRemoveOldDS, StepWaitDSGone, StepRemoveOldZSK, StepWaitDNSKEYGone, StepRestoreTTL, StepFinalVerify}
	if !slices.Equal(ids, want) {
		t.Fatalf("steps %v\nwant  %v", ids, want)
	}
	for _, w := range []struct {
		step string
		wait time.Duration
	}{
		// Old max TTL 86400 lowered to 300; DNSKEY 3600; DS 86400;
		// max(parent NS 172800, old apex NS after lowering 300) + the
		// largest TTL old serves after lowering (its DNSKEY, 3600).
		// Each + 10%.
		{StepWaitTTL, 95040 * time.Second}, {StepWaitDNSKEY, 3960 * time.Second}, {StepWaitDS, 95040 * time.Second},
		{StepWaitNS, 194040 * time.Second}, {StepWaitDSGone, 95040 * time.Second}, {StepWaitDNSKEYGone, 3960 * time.Second},
	} {
		if got := time.Duration(p.Step(w.step).Wait); got != w.wait {
			t.Errorf("%s waits %s, want %s (%s)", w.step, got, w.wait, p.Step(w.step).Formula)
		}
	}
	imp := p.Step(StepImportZSK).DNSKEYs
	if len(imp) != 2 || imp[0].Provider != "old" || !slices.Equal(imp[0].Add, []string{"256 3 13 NEWZSK"}) || imp[1].Provider != "new" || !slices.Equal(imp[1].Add, []string{"256 3 13 OLDZSK"}) {
		t.Errorf("import-zsk sends %+v", imp)
	}
	rm := p.Step(StepRemoveOldZSK).DNSKEYs
	if len(rm) != 2 || !slices.Equal(rm[0].Remove, []string{"256 3 13 OLDZSK"}) || rm[0].Provider != "new" || len(rm[0].Add) > 0 {
		t.Errorf("remove-old-zsk sends %+v", rm)
	}
	if ds := p.Step(StepAddDS).DS; !slices.Equal(ds, []string{"11111 13 2 AAAA", "22222 13 2 BBBB"}) || len(p.Step(StepAddDS).Keys) != 2 {
		t.Errorf("add-ds publishes %v with keys %v", ds, p.Step(StepAddDS).Keys)
	}
	if ds := p.Step(StepRemoveOldDS).DS; !slices.Equal(ds, []string{"22222 13 2 BBBB"}) {
		t.Errorf("remove-old-ds leaves %v", ds)
	}
	if st := p.Step(StepFinalVerify); st.Gate.Status != "secure" {
		t.Errorf("final-verify expects %q", st.Gate.Status)
	}
	if p.Step(StepRemoveDS) != nil {
		t.Error("a multi-signer move never takes the DS down")
	}
	// Each host already publishing the other's ZSK (a move resumed or
	// rolled back after import-zsk): import-zsk is done, not sent again.
	o := multiSignerObserved()
	o.Old.DNSKEYs = []string{"256 3 13 NEWZSK", "256 3 13 OLDZSK", "257 3 13 OLDKSK"}
	o.New.DNSKEYs = []string{"256 3 13 NEWZSK", "256 3 13 OLDZSK", "257 3 13 NEWKSK"}
	again, err := Build(testSpec("multi-signer"), o, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Step(StepImportZSK).Done || p.Step(StepImportZSK).Done {
		t.Errorf("import-zsk done: %t with the keys imported, %t without", again.Step(StepImportZSK).Done, p.Step(StepImportZSK).Done)
	}
}

// A multi-signer move is refused, saying why, when a host cannot publish
// another signer's key or the hosts sign with different algorithms.
func TestMultiSignerProblems(t *testing.T) {
	knot := providers.NewRFC2136Host("127.0.0.1:53", providers.TSIG{}).WithDNSKEYImport(true)
	bind := providers.NewRFC2136Host("127.0.0.1:53", providers.TSIG{})
	for _, tc := range []struct {
		name     string
		old, new providers.Host
		edit     func(o *Observed)
		want     string
	}{
		{"both import", knot, knot, nil, ""},
		{"the old host cannot", bind, knot, nil, "provider old cannot publish another signer's DNSKEY"},
		{"different algorithms", knot, knot, func(o *Observed) { o.New.ZSK, o.New.KSK = []string{"256 3 15 X"}, []string{"257 3 15 Y"} }, "old signs with algorithm [13] and new with [15]"},
		{"no ZSK", knot, knot, func(o *Observed) { o.New.ZSK = nil }, "the servers of new do not all serve one DNSKEY set with a KSK and a ZSK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := multiSignerObserved()
			if tc.edit != nil {
				tc.edit(o)
			}
			got := strings.Join(multiSignerProblems(context.Background(), Env{Hosts: map[string]providers.Host{"old": tc.old, "new": tc.new}}, "example.com.", o), "; ")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
		})
	}
}

// dnssec: auto chooses multi-signer when both hosts can, else
// insecure-window (unsigned for an unsigned zone), says why, and plans
// what it chose.
func TestDNSSECAuto(t *testing.T) {
	knot := providers.NewRFC2136Host("127.0.0.1:53", providers.TSIG{}).WithDNSKEYImport(true)
	bind := providers.NewRFC2136Host("127.0.0.1:53", providers.TSIG{})
	for _, tc := range []struct {
		name     string
		old, new providers.Host
		unsigned bool
		want     spec.DNSSECMethod
		why      string
		step     string // a step only that method has
	}{
		{"both import", knot, knot, false, spec.DNSSECMultiSigner, "both hosts can publish the other's key and sign with algorithm 13", StepImportZSK},
		{"the old host cannot", bind, knot, false, spec.DNSSECInsecureWindow, "multi-signer is not possible: dnssec is multi-signer but provider old cannot publish", StepRemoveDS},
		{"an unsigned zone", knot, knot, true, spec.DNSSECUnsigned, "the zone is not signed", StepSwitchNS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := multiSignerObserved()
			if tc.unsigned {
				o.DS, o.DSTTL, o.Old.KSKDS, o.New.KSKDS, o.Old.KSK, o.New.KSK = nil, 0, nil, nil, nil, nil
			}
			s := testSpec(spec.DNSSECAuto)
			chooseMethod(context.Background(), Env{Hosts: map[string]providers.Host{"old": tc.old, "new": tc.new}}, s, o)
			if o.DNSSEC != tc.want || !strings.Contains(o.DNSSECWhy, tc.why) {
				t.Fatalf("auto chose %q (%s), want %q (%s)", o.DNSSEC, o.DNSSECWhy, tc.want, tc.why)
			}
			p, err := Build(s, o, t0)
			if err != nil {
				t.Fatal(err)
			}
			if p.Step(tc.step) == nil {
				t.Errorf("the plan has no %s step", tc.step)
			}
			text := planText(t, p)
			if want := "(dnssec: auto: " + string(tc.want) + ", as "; !strings.Contains(text, want) {
				t.Errorf("the plan does not say what auto chose (%q): %s", want, strings.SplitN(text, "\n", 2)[0])
			}
		})
	}
}
