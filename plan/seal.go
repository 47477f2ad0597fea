package plan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"reflect"
	"slices"
	"strings"

	"github.com/dnsmigrate/dnsmigrate/providers"
)

// PlanKeyVar is the environment variable whose value signs plans (plan)
// and is required to apply them (apply PLAN).
const PlanKeyVar = "MIGRATE_PLAN_KEY"

// minPlanKey is the shortest key accepted: 128 bits.
const minPlanKey = 16

// ErrPlanEdited says a saved plan is not what the planner made: it was
// edited, or damaged, after it was planned.
var ErrPlanEdited = errors.New("saved plan does not match its own inputs")

// Seal makes a plan tamper-evident. SHA256 is the digest of the plan's
// canonical content (its id is the first 12 hex digits); Parts are the
// digests of its spec, its observation and each step, so that an edit is
// named; HMAC signs SHA256 with MIGRATE_PLAN_KEY, so that a plan made in
// CI can be handed to whoever applies it.
type Seal struct {
	SHA256 string            `json:"sha256"`
	Parts  map[string]string `json:"parts"`
	HMAC   string            `json:"hmac_sha256,omitempty"`
}

// seal computes the plan's seal and id from its content. Bulk (both hosts'
// RRsets, each step's TTL changes and before/after lines) is encoded one
// item at a time, so that a plan of 100,000 RRsets is never held as one
// text. A signature is dropped: the content it signed is gone.
func (p *Plan) seal() {
	p.Seal = p.digests()
	p.ID = p.Seal.SHA256[:12]
}

// digests computes the seal of the plan as it is now, unsigned.
func (p *Plan) digests() *Seal {
	out := &Seal{Parts: map[string]string{}}
	whole := sha256.New()
	part := func(name string, write func(enc *json.Encoder)) {
		h := sha256.New()
		write(json.NewEncoder(h))
		sum := hex.EncodeToString(h.Sum(nil))
		out.Parts[name] = sum
		fmt.Fprintln(whole, name, sum)
	}
	header := *p
	header.ID, header.Seal, header.Spec, header.Observed, header.Steps = "", nil, nil, nil, nil
	part("header", func(enc *json.Encoder) { _ = enc.Encode(&header) })
	part("spec", func(enc *json.Encoder) { _ = enc.Encode(p.Spec) })
	part("observed", func(enc *json.Encoder) {
		if p.Observed == nil {
			return
		}
		obs := *p.Observed
		obs.Old.RRsets, obs.New.RRsets = nil, nil
		_ = enc.Encode(&obs)
		for _, sets := range [][]providers.RRset{p.Observed.Old.RRsets, p.Observed.New.RRsets} {
			encodeEach(enc, len(sets), func(i int) any { return sets[i] })
		}
	})
	for i, st := range p.Steps {
		part(stepPart(i, st.ID), func(enc *json.Encoder) {
			skeleton := st
			skeleton.Before, skeleton.After, skeleton.TTLs = nil, nil, nil
			_ = enc.Encode(&skeleton)
			encodeEach(enc, len(st.Before), func(i int) any { return st.Before[i] })
			encodeEach(enc, len(st.After), func(i int) any { return st.After[i] })
			encodeEach(enc, len(st.TTLs), func(i int) any { return []any{st.TTLs[i].Provider, st.TTLs[i].TTLs} })
			for _, c := range st.TTLs {
				encodeEach(enc, len(c.RRsets), func(i int) any { return c.RRsets[i] })
			}
		})
	}
	out.SHA256 = hex.EncodeToString(whole.Sum(nil))
	return out
}

func stepPart(i int, id string) string { return fmt.Sprintf("steps[%d] %s", i, id) }

// encodeEach encodes a count and then each of n items.
func encodeEach(enc *json.Encoder, n int, item func(i int) any) {
	_ = enc.Encode(n)
	for i := range n {
		_ = enc.Encode(item(i))
	}
}

// PlanKey reads MIGRATE_PLAN_KEY from env: nil when unset, an error
// naming the variable when it is too short to be a key.
func PlanKey(env func(string) string) ([]byte, error) {
	k := env(PlanKeyVar)
	if k == "" {
		return nil, nil
	}
	if len(k) < minPlanKey {
		return nil, fmt.Errorf("%s: %d bytes; want at least %d (128 bits), e.g. from `openssl rand -base64 32`", PlanKeyVar, len(k), minPlanKey)
	}
	return []byte(k), nil
}

// Sign signs the plan's seal with key.
func (p *Plan) Sign(key []byte) {
	if p.Seal == nil {
		p.seal()
	}
	p.Seal.HMAC = signature(key, p.Seal.SHA256)
}

func signature(key []byte, sum string) string {
	var m hash.Hash = hmac.New(sha256.New, key)
	m.Write([]byte(PlanFormat + " " + sum))
	return hex.EncodeToString(m.Sum(nil))
}

// CheckSeal proves the plan is the content it was sealed with and, with a
// key, that the key signed it. An edit is named by its part.
func (p *Plan) CheckSeal(key []byte) error {
	if p.Seal == nil {
		return fmt.Errorf("%w: it carries no seal (made by an older migrate?); run migrate plan again", ErrPlanEdited)
	}
	if key != nil {
		switch {
		case p.Seal.HMAC == "":
			return fmt.Errorf("%w: %s is set but the plan is not signed; plan it again with the same %s", ErrPlanEdited, PlanKeyVar, PlanKeyVar)
		case !hmac.Equal([]byte(p.Seal.HMAC), []byte(signature(key, p.Seal.SHA256))):
			return fmt.Errorf("%w: its signature (seal.hmac_sha256) was not made with this %s: it was planned with another key or edited", ErrPlanEdited, PlanKeyVar)
		}
	}
	now := p.digests()
	names := make([]string, 0, len(now.Parts)+len(p.Seal.Parts))
	for n := range now.Parts {
		names = append(names, n)
	}
	for n := range p.Seal.Parts {
		if _, ok := now.Parts[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var changed []string
	for _, n := range names {
		if now.Parts[n] != p.Seal.Parts[n] {
			changed = append(changed, n)
		}
	}
	if len(changed) > 0 {
		return fmt.Errorf("%w: %s changed after it was planned (its SHA-256 is not the sealed one)", ErrPlanEdited, strings.Join(changed, ", "))
	}
	if now.SHA256 != p.Seal.SHA256 || p.ID != now.SHA256[:12] {
		return fmt.Errorf("%w: its id or seal.sha256 was changed after it was planned", ErrPlanEdited)
	}
	return nil
}

// CheckRebuild re-runs the planner on the plan's own spec and observation
// and refuses unless it makes exactly the saved plan: no wait shorter than
// its formula, no DS or NS the observation does not give, whoever edited
// the file and whatever seal they wrote. The observation itself must be
// what its fingerprint says (the fingerprint is then compared with the
// live state).
func (p *Plan) CheckRebuild() error {
	if p.Observed == nil || p.Spec == nil {
		return fmt.Errorf("%w: it has no spec or observation", ErrPlanEdited)
	}
	if fp := p.Observed.fingerprint(); fp != p.Observed.Fingerprint {
		return fmt.Errorf("%w: observed: its records, NS, DS, keys or TTLs are not the ones its fingerprint %s was taken of", ErrPlanEdited, p.Observed.Fingerprint)
	}
	obs := *p.Observed
	spec := *p.Spec
	rebuilt, err := build(&spec, &obs, p.Created)
	if err != nil {
		return fmt.Errorf("%w: its spec and observation no longer plan: %v", ErrPlanEdited, err)
	}
	if len(rebuilt.Steps) != len(p.Steps) {
		return fmt.Errorf("%w: steps: the plan has %d, its spec and observation make %d", ErrPlanEdited, len(p.Steps), len(rebuilt.Steps))
	}
	for i := range p.Steps {
		if f, saved, want, ok := firstDiff(p.Steps[i], rebuilt.Steps[i]); ok {
			return fmt.Errorf("%w: steps[%d] %s: %s is %s in the plan; its own spec and observation make %s", ErrPlanEdited, i, p.Steps[i].ID, f, saved, want)
		}
	}
	for _, f := range []struct {
		name      string
		saved, re any
	}{{"total_wait", p.TotalWait, rebuilt.TotalWait}, {"nothing_to_do", p.Nothing, rebuilt.Nothing}, {"retire_old", p.RetireOld, rebuilt.RetireOld}, {"on_failure", p.OnFailure, rebuilt.OnFailure}} {
		if !sameJSON(f.saved, f.re) {
			return fmt.Errorf("%w: %s is %s in the plan; its own spec and observation make %s", ErrPlanEdited, f.name, jsonText(f.saved), jsonText(f.re))
		}
	}
	return nil
}

// firstDiff names the first field (by its JSON name) where two steps
// differ, with both values as JSON.
func firstDiff(saved, rebuilt Step) (field, a, b string, differ bool) {
	t := reflect.TypeOf(saved)
	va, vb := reflect.ValueOf(saved), reflect.ValueOf(rebuilt)
	for i := range t.NumField() {
		x, y := va.Field(i).Interface(), vb.Field(i).Interface()
		if sameJSON(x, y) && sameRRsets(x, y) {
			continue
		}
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" {
			name = t.Field(i).Name
		}
		return name, jsonText(x), jsonText(y), true
	}
	return "", "", "", false
}

// sameJSON compares two values as the plan file holds them: an empty
// list or map is the same as none (the file leaves both out).
func sameJSON(x, y any) bool {
	a, errA := json.Marshal(x)
	b, errB := json.Marshal(y)
	empty := func(s []byte) bool { return string(s) == "null" || string(s) == "{}" || string(s) == "[]" }
	return errA == nil && errB == nil && (string(a) == string(b) || empty(a) && empty(b))
}

// sameRRsets compares what JSON leaves out of TTL changes: the RRsets
// each changes (the plan file refers to them by index).
func sameRRsets(x, y any) bool {
	a, ok := x.([]TTLChange)
	if !ok {
		return true
	}
	b := y.([]TTLChange)
	for i := range a {
		if !reflect.DeepEqual(a[i].RRsets, b[i].RRsets) {
			return false
		}
	}
	return true
}

// jsonText is a value as the plan file writes it, cut short when long.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
