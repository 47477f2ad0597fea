package plan

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/dnsmigrate/dnsmigrate/internal/jsonio"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// Step ids: a public contract that users script against.
const (
	StepLowerTTL    = "lower-ttl"
	StepWaitTTL     = "wait-ttl"
	StepRemoveDS    = "remove-ds"
	StepWaitDSGone  = "wait-ds-gone"
	StepReclaimNS   = "reclaim-ns" // the new host names its own servers again (after a handed-over move was rolled back)
	StepSwitchNS    = "switch-ns"
	StepHandoverNS  = "handover-ns" // the old host's apex NS names the new servers
	StepWaitNS      = "wait-ns"
	StepAddDS       = "add-ds"
	StepWaitDS      = "wait-ds"
	StepRestoreTTL  = "restore-ttl"
	StepFinalVerify = "final-verify"
	// dnssec: multi-signer (multisigner.go)
	StepImportZSK      = "import-zsk"       // each host publishes the other's ZSK
	StepWaitDNSKEY     = "wait-dnskey"      // caches drop the DNSKEY sets without the other's ZSK
	StepRemoveOldDS    = "remove-old-ds"    // the parent keeps only the new KSK's DS
	StepRemoveOldZSK   = "remove-old-zsk"   // each host stops publishing the other's ZSK
	StepWaitDNSKEYGone = "wait-dnskey-gone" // caches drop the DNSKEY sets with it
)

// Action is what a step does. Everything apply does is described by its
// action and the step's data: nothing computed for display changes what
// runs.
type Action string

// The actions.
const (
	ActionSetTTL Action = "set-ttl" // TTLs at DNS hosts
	ActionWait   Action = "wait"    // let caches expire
	ActionSetDS  Action = "set-ds"  // DS at the registrar (none: remove)
	ActionSetNS  Action = "set-ns"  // NS and glue at the registrar
	ActionVerify Action = "verify"  // prove the end state
	// ActionSetDNSKEY adds and removes another signer's DNSKEYs at hosts.
	ActionSetDNSKEY Action = "set-dnskey"
	// kind: records
	ActionSetRecords Action = "set-records" // replace RRsets at the DNS host
	ActionHold       Action = "hold"        // stay, running the health checks
	ActionSetWeights Action = "set-weights" // weighted sets: old and new values, each with its share
)

// Check is what a gate proves, run against every server involved until it
// holds or the gate times out.
type Check string

// The checks.
const (
	GateTTLServed Check = "ttl-served" // every server of the hosts serves the RRsets at or under the TTLs
	GateDSGone    Check = "ds-gone"    // every parent server answers NODATA with NSEC/NSEC3 for the DS
	GateNSServed  Check = "ns-served"  // every parent server delegates to exactly the NS set
	GateDSServed  Check = "ds-served"  // every parent server serves exactly the DS set
	GateVerified  Check = "verified"   // the zone validates as expected and resolvers answer (with AD when signed)
	// GateDNSKEYServed: every server of each host serves the keys the step
	// adds there and none it removes.
	GateDNSKEYServed Check = "dnskey-served"
	// kind: records
	GateRecordsServed Check = "records-served" // every server of the host serves the new data
	GatePropagated    Check = "propagated"     // every resolver answers the new data (stale, unexpected or error fails at once)
	GateHealthy       Check = "healthy"        // every health check passes
	GateOldOrNew      Check = "old-or-new"     // weighted phase: every answer is the old or the new value, never an error
)

// Duration is a time.Duration written as "33s" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "33s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

func (d Duration) String() string { return time.Duration(d).String() }

// TTLChange is what a set-ttl step writes at one DNS host.
type TTLChange struct {
	Provider string            `json:"provider"`
	RRsets   []providers.RRset `json:"-"`    // as they are before the step
	TTLs     []uint32          `json:"ttls"` // TTL for RRsets[i] after it
	// SendFrom names an earlier step from whose proof the change is sent,
	// ahead of its own step, while the steps between run (a wait): its
	// step then only finishes and proves it. Empty: sent by its step.
	SendFrom string `json:"send_from,omitempty"`

	// How plan.json holds RRsets, each once (Save and ReadPlan): Observed[i]
	// is the index of RRsets[i] among its provider's observed RRsets, with
	// the TTL From[i] before the step; -1 for an RRset not as observed (its
	// data set by an earlier step, or another plan's), held whole in Own,
	// in order. A plan without Observed holds every RRset in Own.
	Observed []int             `json:"observed,omitempty"`
	From     []uint32          `json:"from,omitempty"`
	Own      []providers.RRset `json:"rrsets,omitempty"`
}

// pack fills the change's file form from RRsets against the provider's
// observed RRsets.
func (c TTLChange) pack(observed []providers.RRset, index map[string]int) TTLChange {
	c.Observed, c.From, c.Own = nil, nil, nil
	for _, s := range c.RRsets {
		j, ok := index[s.Name+" "+s.Type]
		if ok && sameButTTL(observed[j], s) {
			c.Observed, c.From = append(c.Observed, j), append(c.From, s.TTL)
			continue
		}
		c.Observed, c.From, c.Own = append(c.Observed, -1), append(c.From, 0), append(c.Own, s)
	}
	if len(c.Own) == len(c.RRsets) {
		c.Observed, c.From = nil, nil
	}
	c.RRsets = nil
	return c
}

// unpack rebuilds RRsets from the change's file form.
func (c *TTLChange) unpack(observed []providers.RRset) error {
	if len(c.Observed) == 0 {
		c.RRsets, c.Own = c.Own, nil
		return nil
	}
	if len(c.From) != len(c.Observed) {
		return fmt.Errorf("%d observed RRsets but %d TTLs before", len(c.Observed), len(c.From))
	}
	c.RRsets = make([]providers.RRset, 0, len(c.Observed))
	own := 0
	for i, j := range c.Observed {
		switch {
		case j == -1 && own < len(c.Own):
			c.RRsets = append(c.RRsets, c.Own[own])
			own++
		case j >= 0 && j < len(observed):
			s := observed[j]
			s.TTL = c.From[i]
			c.RRsets = append(c.RRsets, s)
		default:
			return fmt.Errorf("RRset %d refers to %d, which %s's observed RRsets do not hold", i, j, c.Provider)
		}
	}
	c.Observed, c.From, c.Own = nil, nil, nil
	return nil
}

func sameButTTL(a, b providers.RRset) bool {
	a.TTL = b.TTL
	return reflect.DeepEqual(a, b)
}

// observedOf returns the provider's observed RRsets.
func (o *Observed) observedOf(provider string) []providers.RRset {
	switch provider {
	case o.Old.Provider:
		return o.Old.RRsets
	case o.New.Provider:
		return o.New.RRsets
	}
	return nil
}

// Gate is the proof a step must show before the next one starts.
type Gate struct {
	Check   Check    `json:"check"`
	Servers []string `json:"servers"`
	Expect  []string `json:"expect,omitempty"`
	Status  string   `json:"status,omitempty"` // for verified: secure or insecure
	// Recursive: the servers are resolvers, asked with recursion desired.
	Recursive bool     `json:"recursive,omitempty"`
	Timeout   Duration `json:"timeout"`
	// ADGrace (verified, secure) is how long after the gate began a
	// validating resolver may still answer without AD before the gate
	// passes with a warning naming it: the longest TTL the zone serves.
	ADGrace Duration `json:"ad_grace,omitempty"`
}

// Step is one thing apply does. Waits are steps of their own, anchored to
// the moment the previous step's gate passed.
type Step struct {
	ID      string `json:"id"`
	Action  Action `json:"action"`
	Summary string `json:"summary"`
	// Provider is the DNS host a set-records step changes (empty: the
	// records spec's provider).
	Provider string `json:"provider,omitempty"`
	// Done says the live state already satisfied the step when planned:
	// its action is skipped, its gate still proven, its wait still taken.
	Done bool `json:"already_done,omitempty"`

	Before []string `json:"before,omitempty"`
	After  []string `json:"after,omitempty"`

	TTLs []TTLChange         `json:"ttls,omitempty"`
	NS   []string            `json:"ns,omitempty"`
	Glue map[string][]string `json:"glue,omitempty"`
	DS   []string            `json:"ds,omitempty"`
	// Keys are the DNSKEYs the DS records digest, where known.
	Keys []string `json:"keys,omitempty"`
	// Records are the RRsets a set-records step replaces; Moved are all
	// the replacements made up to and including a phase.
	Records []providers.Replacement `json:"records,omitempty"`
	// Routes are how the host answers each name after a weighted phase,
	// set by set; Undo how a rollback puts the old side back.
	Routes []providers.Route `json:"routes,omitempty"`
	Undo   []providers.Route `json:"undo,omitempty"`
	// Weight is the new values' share, in percent, of a set-weights step.
	Weight int                     `json:"weight,omitempty"`
	Moved  []providers.Replacement `json:"moved,omitempty"`

	Wait    Duration `json:"wait,omitempty"`
	Formula string   `json:"formula,omitempty"`
	// Anchor, on a wait, is the moment it runs from when that is not the
	// end of the step before it.
	Anchor *Anchor `json:"anchor,omitempty"`
	// AlsoFrom are further moments the wait runs from, each for its own
	// Wait: it ends at the latest of them all (RRsets with shorter TTLs,
	// changed after the anchor's, need only their own TTLs waited out).
	AlsoFrom []Anchor `json:"also_from,omitempty"`
	Gate     *Gate    `json:"gate,omitempty"`

	// DNSKEYs are what a set-dnskey step changes at each host.
	DNSKEYs []KeyChange `json:"dnskeys,omitempty"`

	// Marker is what a marker step does at each host (marker.go).
	Marker []MarkerChange `json:"marker,omitempty"`
	// Health are the checks a hold runs at their intervals, and a healthy
	// gate asks once.
	Health []spec.HealthCheck `json:"health,omitempty"`

	Rollback string `json:"rollback,omitempty"`
	// Start is the earliest time the step can start, from the start of apply.
	Start Duration `json:"earliest_start"`
}

// Anchor is a moment inside a set-ttl step that a wait runs from: when
// the step's change at Provider is proven at every server of that host.
// The step proves that host's change before it goes on at the next host,
// so the wait runs while the step changes a host no resolver asks yet.
type Anchor struct {
	Step string `json:"step"`
	// Provider names the change as ChangeLabels does: the provider, or
	// "provider#2" for the step's second change at it.
	Provider string `json:"provider"`
	// Wait and Formula, on an AlsoFrom anchor, are how long the wait runs
	// from it, and why.
	Wait    Duration `json:"wait,omitempty"`
	Formula string   `json:"formula,omitempty"`
}

// Words says when the wait starts, for the plan and the journal.
func (a *Anchor) Words() string {
	provider, n, second := strings.Cut(a.Provider, "#")
	change := "change"
	if second {
		change = "change #" + n
	}
	w := fmt.Sprintf("from when every server of %s serves %s's %s there", provider, a.Step, change)
	if a.Wait > 0 {
		w = fmt.Sprintf("and %s (%s) %s", a.Wait, a.Formula, w)
	}
	return w
}

// ChangeLabels names a set-ttl step's changes as the journal does: by
// provider, the second and later change at one provider "provider#n".
func ChangeLabels(changes []TTLChange) []string {
	seen := map[string]int{}
	labels := make([]string, len(changes))
	for i, c := range changes {
		seen[c.Provider]++
		labels[i] = c.Provider
		if n := seen[c.Provider]; n > 1 {
			labels[i] = fmt.Sprintf("%s#%d", c.Provider, n)
		}
	}
	return labels
}

// KeyChange is another signer's DNSKEYs added to (and removed from) one
// host's DNSKEY set, as DNSKEY data, with the TTL the host gives them.
type KeyChange struct {
	Provider string   `json:"provider"`
	Add      []string `json:"add,omitempty"`
	Remove   []string `json:"remove,omitempty"`
	TTL      uint32   `json:"ttl"`
}

// Plan is the only input of apply: self-contained, versioned, and
// carrying a fingerprint of the live state it was made from.
type Plan struct {
	Format   string     `json:"format"`
	Version  int        `json:"version"`
	ID       string     `json:"id"`
	Created  time.Time  `json:"created"`
	Spec     *spec.Spec `json:"spec"`
	Observed *Observed  `json:"observed"`
	Steps    []Step     `json:"steps"`
	// TotalWait is the sum of the mandated waits.
	TotalWait Duration `json:"total_wait"`
	// Nothing is true when the live state is already the target.
	Nothing bool `json:"nothing_to_do,omitempty"`
	// RetireOld says when the old host may be switched off (nameservers).
	RetireOld *RetireOld `json:"retire_old,omitempty"`
	// OnFailure is what apply does when a records cutover fails: auto puts
	// the old values back at once, manual stops.
	OnFailure spec.RollbackPolicy `json:"on_failure,omitempty"`
	// Seal holds the SHA-256 of the plan's content and of each part, and
	// its signature when MIGRATE_PLAN_KEY was set (seal.go).
	Seal *Seal `json:"seal,omitempty"`

	// read is the file a saved plan was read from, as OpenSaved checked
	// it, until SaveAsRead writes it.
	read []byte
}

// Format and version of plan files.
const (
	PlanFormat  = "dnsmigrate-plan"
	PlanVersion = 1
)

// Step returns the step with id, or nil.
func (p *Plan) Step(id string) *Step {
	for i := range p.Steps {
		if p.Steps[i].ID == id {
			return &p.Steps[i]
		}
	}
	return nil
}

// Save writes the plan as indented JSON, each RRset once: a TTL change
// refers to the observed RRsets it changes (TTLChange.Observed).
func (p *Plan) Save(path string) error {
	packed := *p
	packed.Steps = slices.Clone(p.Steps)
	indexes := map[string]map[string]int{}
	for i, st := range packed.Steps {
		if len(st.TTLs) == 0 || p.Observed == nil {
			continue
		}
		packed.Steps[i].TTLs = make([]TTLChange, len(st.TTLs))
		for k, c := range st.TTLs {
			sets := p.Observed.observedOf(c.Provider)
			if indexes[c.Provider] == nil {
				indexes[c.Provider] = make(map[string]int, len(sets))
				for j, s := range sets {
					indexes[c.Provider][s.Name+" "+s.Type] = j
				}
			}
			packed.Steps[i].TTLs[k] = c.pack(sets, indexes[c.Provider])
		}
	}
	b, err := jsonio.Marshal(&packed)
	if err != nil {
		return fmt.Errorf("plan: encode: %w", err)
	}
	if err := WriteFileSync(path, append(b, '\n')); err != nil {
		return fmt.Errorf("plan: write %s: %w", path, err)
	}
	return nil
}

// SaveAsRead writes a plan OpenSaved read as its file was, byte for byte
// (a 100,000-RRset plan is not encoded again: 0.08 s, not 1 s); any other
// plan as Save writes it.
func (p *Plan) SaveAsRead(path string) error {
	if p.read == nil {
		return p.Save(path)
	}
	if err := WriteFileSync(path, p.read); err != nil {
		return fmt.Errorf("plan: write %s: %w", path, err)
	}
	p.read = nil
	return nil
}

// ReadPlan reads a saved plan and checks its format and version.
func ReadPlan(path string) (*Plan, error) {
	p, _, err := readPlan(path)
	return p, err
}

// readPlan is ReadPlan, with the file's bytes.
func readPlan(path string) (*Plan, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("plan: %w", err)
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, nil, fmt.Errorf("plan: %s: %w", path, err)
	}
	if p.Format != PlanFormat || p.Version != PlanVersion {
		return nil, nil, fmt.Errorf("plan: %s is not a dnsmigrate plan of version %d (format %q, version %d)", path, PlanVersion, p.Format, p.Version)
	}
	if p.Spec == nil || p.Observed == nil || len(p.Steps) == 0 && !p.Nothing {
		return nil, nil, fmt.Errorf("plan: %s is incomplete", path)
	}
	for i := range p.Steps {
		for k := range p.Steps[i].TTLs {
			c := &p.Steps[i].TTLs[k]
			if err := c.unpack(p.Observed.observedOf(c.Provider)); err != nil {
				return nil, nil, fmt.Errorf("plan: %s: step %s: ttls of %s: %w", path, p.Steps[i].ID, c.Provider, err)
			}
		}
	}
	return &p, b, nil
}

// writeFileSync writes a file atomically (temp file, fsync, rename).
func WriteFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
