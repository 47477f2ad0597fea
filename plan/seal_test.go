package plan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// savedPlan plans a signed-zone move and reads it back from its file.
func savedPlan(t *testing.T, key []byte) (*Plan, string) {
	t.Helper()
	o := observed(3600, 86400, 3600, 172800, 86400, 900)
	o.Fingerprint = o.fingerprint()
	p, err := Build(testSpec("insecure-window"), o, t0)
	if err != nil {
		t.Fatal(err)
	}
	if key != nil {
		p.Sign(key)
	}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	return back, path
}

// A saved plan is applied only as the planner made it: an edit is named
// by the seal, and an edit whose seal was recomputed by the planner
// rebuilt from the plan's own spec and observation.
func TestSealedPlans(t *testing.T) {
	key := []byte("0123456789abcdef0123")
	for _, tt := range []struct {
		name   string
		edit   func(p *Plan)
		reseal bool
		key    []byte // apply's MIGRATE_PLAN_KEY
		signed bool   // planned with key
		want   string // "" : accepted
	}{
		{name: "as planned"},
		{name: "as planned, signed", key: key, signed: true},
		{name: "edited wait", edit: func(p *Plan) { p.Step(StepWaitTTL).Wait = 0 }, want: "steps[1] wait-ttl changed after it was planned"},
		{name: "edited wait, seal recomputed", edit: func(p *Plan) { p.Step(StepWaitTTL).Wait = 0 }, reseal: true, want: `steps[1] wait-ttl: wait is "0s" in the plan; its own spec and observation make "26h24m0s"`},
		{name: "edited DS, seal recomputed", edit: func(p *Plan) { p.Step(StepAddDS).DS = []string{"22222 13 2 0000"} }, reseal: true, want: "add-ds: ds is"},
		{name: "edited observed TTL", edit: func(p *Plan) { p.Observed.DSTTL = 60 }, want: "observed changed after it was planned"},
		{name: "edited observed TTL, seal recomputed", edit: func(p *Plan) { p.Observed.DSTTL = 60 }, reseal: true, want: "observed: its records, NS, DS, keys or TTLs are not the ones its fingerprint"},
		{name: "edited observed TTL and fingerprint, seal recomputed", edit: func(p *Plan) {
			p.Observed.DSTTL = 60
			p.Observed.Fingerprint = p.Observed.fingerprint()
		}, reseal: true, want: "steps[3] wait-ds-gone: wait is"},
		{name: "edited spec", edit: func(p *Plan) { p.Spec.TTL.LowerTo = 1e9 }, want: "spec changed after it was planned"},
		{name: "edited spec, seal recomputed", edit: func(p *Plan) { p.Spec.TTL.LowerTo = 1e9 }, reseal: true, want: "steps[0] lower-ttl: summary is"},
		{name: "edited id", edit: func(p *Plan) { p.ID = "000000000000" }, want: "its id or seal.sha256 was changed"},
		{name: "unsigned, key set", key: key, want: "MIGRATE_PLAN_KEY is set but the plan is not signed"},
		{name: "signed with another key", key: []byte("another key of 16+ bytes"), signed: true, want: "was not made with this MIGRATE_PLAN_KEY"},
		{name: "signed, edited, seal recomputed", edit: func(p *Plan) { p.Step(StepWaitTTL).Wait = 0 }, reseal: true, key: key, signed: true, want: "not signed"},
		{name: "signed, applied without the key", signed: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var planKey []byte
			if tt.signed {
				planKey = key
			}
			p, _ := savedPlan(t, planKey)
			if tt.edit != nil {
				tt.edit(p)
			}
			if tt.reseal {
				p.seal()
			}
			env := func(k string) string {
				if k == PlanKeyVar {
					return string(tt.key)
				}
				return ""
			}
			err := CheckSaved(p, env)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatal("accepted")
			case tt.want != "" && (!strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "saved plan does not match its own inputs")):
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// A plan whose observation was edited consistently (steps, fingerprint
// and seal all recomputed) still meets the live state: drift names the
// TTL.
func TestDriftNamesTTLs(t *testing.T) {
	live := observed(3600, 86400, 3600, 172800, 86400, 900)
	live.Fingerprint = live.fingerprint()
	edited := observed(3600, 86400, 3600, 172800, 60, 900)
	edited.Fingerprint = edited.fingerprint()
	err := edited.Drift(live)
	if err == nil || !strings.Contains(err.Error(), "DS 60s") {
		t.Errorf("drift: %v", err)
	}
}

func TestPlanKeyTooShort(t *testing.T) {
	_, err := PlanKey(func(string) string { return "short" })
	if err == nil || !strings.Contains(err.Error(), PlanKeyVar) {
		t.Errorf("short key: %v", err)
	}
}

// Plans saved by earlier versions carry their observation's fingerprint,
// and apply compares it with the one it computes: its text must not
// change.
func TestFingerprintIsStable(t *testing.T) {
	if got, want := observed(3600, 86400, 3600, 172800, 86400, 900).fingerprint(), "bdc04c7fce59f194"; got != want {
		t.Fatalf("fingerprint %s, want %s (as earlier versions computed it)", got, want)
	}
}

// A plan opened from its file is kept as that file was checked, byte for
// byte, whatever its layout; a plan not read from a file is written as
// Save writes it.
func TestSaveAsRead(t *testing.T) {
	_, path := savedPlan(t, nil)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		t.Fatal(err)
	}
	laidOut := filepath.Join(t.TempDir(), "compact.json")
	if err := os.WriteFile(laidOut, compact.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, opened, err := OpenSaved(laidOut, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(t.TempDir(), "kept.json")
	if err := opened.SaveAsRead(kept); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(kept); !bytes.Equal(got, compact.Bytes()) {
		t.Errorf("SaveAsRead wrote %d bytes, not the %d of the file it was read from", len(got), compact.Len())
	}

	read, err := ReadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "fresh.json")
	if err := read.SaveAsRead(fresh); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(fresh); !bytes.Equal(got, b) {
		t.Errorf("SaveAsRead of a plan not opened as saved wrote other bytes than Save")
	}
}
