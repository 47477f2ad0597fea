package plan

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// Observed is the live state a plan was made from, as read at the
// authoritative servers and through the hosts' APIs.
type Observed struct {
	Time          time.Time `json:"time"`
	Parent        string    `json:"parent"`
	ParentServers []string  `json:"parent_servers"`
	NS            []string  `json:"ns"`
	NSTTL         uint32    `json:"ns_ttl"`
	DS            []string  `json:"ds,omitempty"`
	DSTTL         uint32    `json:"ds_ttl"`
	// PriorDSTTL is the DS TTL the parent served before this tool removed
	// the DS, from the plan of the run that removed it (a rollback reads
	// the forward move's): the DS TTL caches may hold when none is served.
	PriorDSTTL uint32 `json:"prior_ds_ttl,omitempty"`
	// PriorRouted are the weighted sets the forward move found, from its
	// plan (a rollback of a records cutover reads it): the rollback ends
	// on them exactly, identifiers, weights and health checks.
	PriorRouted []providers.Route `json:"prior_routed,omitempty"`
	// PriorPlan is the forward move a rollback undoes: its marker is
	// expected at the hosts.
	PriorPlan string `json:"prior_plan,omitempty"`
	// Rollback: this is a move back (migrate rollback), with or without
	// the forward move's plan on this machine.
	Rollback bool `json:"rollback,omitempty"`
	// TakeOver is the plan whose move this one takes over from its marker
	// (TakeOver): its marker is expected at the hosts.
	TakeOver    string           `json:"take_over,omitempty"`
	NegTTL      uint32           `json:"neg_ttl"`
	Status      checks.Status    `json:"status"`
	Findings    []checks.Finding `json:"findings,omitempty"`
	Old         HostState        `json:"old"`
	New         HostState        `json:"new"`
	Fingerprint string           `json:"fingerprint"`
	// Skipped are server addresses not asked (verify.ipv6: auto, no route
	// from this machine): every gate lists them in its evidence.
	Skipped []string `json:"skipped,omitempty"`
	// Weighted says the records host answers with weighted sets.
	Weighted bool     `json:"weighted,omitempty"`
	Problems []string `json:"problems,omitempty"`
	// DNSSEC is the method dnssec: auto chose, and DNSSECWhy why.
	DNSSEC    spec.DNSSECMethod     `json:"dnssec,omitempty"`
	DNSSECWhy string                `json:"dnssec_why,omitempty"`
	Parents   []checks.ParentServer `json:"-"`
}

// HostState is one DNS host's zone: its records through its API and what
// its servers serve.
type HostState struct {
	Provider    string            `json:"provider"`
	Nameservers []string          `json:"nameservers"`
	Servers     []string          `json:"servers"`
	RRsets      []providers.RRset `json:"rrsets"`
	MaxTTL      uint32            `json:"max_ttl"`
	// ApexNSTTL is the apex NS TTL through the host's API (0: the API
	// lists no apex NS, as Cloudflare's does not); ServedNSTTL the
	// largest served or signed at any of its servers' addresses.
	ApexNSTTL   uint32 `json:"apex_ns_ttl"`
	ServedNSTTL uint32 `json:"served_ns_ttl,omitempty"`
	// ApexNS are the host's own apex NS names as its servers serve them.
	ApexNS []string `json:"apex_ns,omitempty"`
	// DNSKEYTTL is the largest DNSKEY TTL served or signed at any server.
	DNSKEYTTL uint32 `json:"dnskey_ttl,omitempty"`
	// ServedAbove lists RRsets ("name type") that a server serves (or
	// signs) with a longer TTL than the API says, with that TTL.
	ServedAbove map[string]uint32 `json:"served_above_api,omitempty"`
	// KSKDS are SHA-256 DS records of the KSKs that every server serves.
	KSKDS []string `json:"ksk_ds,omitempty"`
	// ZSK are the keys without the SEP flag that sign the host's answers
	// (its own, not another signer's it publishes), as data: a
	// multi-signer move publishes them at the other host.
	ZSK []string `json:"zsk,omitempty"`
	// DNSKEYs are every key every server serves, as data: its own and
	// another signer's it publishes.
	DNSKEYs []string `json:"dnskeys,omitempty"`
	// KSK are the DNSKEY records of those KSKs, as data, in KSKDS's order.
	KSK     []string            `json:"ksk,omitempty"`
	Serials []uint32            `json:"serials"`
	Glue    map[string][]string `json:"glue,omitempty"`
	// Routed are the names the host answers by rule (weighted sets,
	// aliases, other routing), read as themselves; not in RRsets.
	Routed []providers.Route `json:"routed,omitempty"`
	// Proxied are the names ("name type") the host answers from its own
	// edge (Cloudflare's proxy): their servers answer edge addresses.
	Proxied []string `json:"proxied,omitempty"`
	// Marker is the _dnsmigrate TXT the host serves: a move under way.
	Marker []string `json:"marker,omitempty"`
	// Original are the TTLs ("name type") RRsets had before the move
	// taken over lowered them, as its marker says.
	Original map[string]uint32 `json:"original_ttls,omitempty"`

	hostAnswers []checks.ChildServer
}

// KSK is a KSK and its SHA-256 DS, as data.
type KSK struct {
	Key *dns.DNSKEY
	DS  string
}

// KSKs lists the KSKs (SEP flag) of a served DNSKEY set with the SHA-256
// DS a parent would publish for each.
func KSKs(keys []*dns.DNSKEY) []KSK {
	var out []KSK
	for _, k := range keys {
		if k.Flags&dns.SEP != 0 {
			out = append(out, KSK{k, checks.RRData(k.ToDS(dns.SHA256))})
		}
	}
	return out
}

// ttlOf is the longest TTL the host gives an RRset: through its API, or
// as any of its servers serves or signs it when that is longer, or as it
// was before the move taken over lowered it.
func (h HostState) ttlOf(s providers.RRset) uint32 {
	key := s.Name + " " + s.Type
	return max(s.TTL, h.ServedAbove[key], h.Original[key])
}

// dsTTL is the DS TTL caches may hold: as served, or as served before
// this tool removed the DS.
func (o *Observed) dsTTL() uint32 { return max(o.DSTTL, o.PriorDSTTL) }

// Env is what planning and applying talk to: the live DNS through a
// checker, and the hosts and registrar the spec names.
type Env struct {
	Checker   *checks.Checker
	Hosts     map[string]providers.Host
	Registrar providers.Registrar
	Now       func() time.Time
}

// Observe reads the live state for spec. Problems that make a migration
// unsafe are listed in Observed.Problems rather than returned as an error:
// an error means the state could not be read at all.
func Observe(ctx context.Context, env Env, spec *spec.Spec) (*Observed, error) {
	return observe(ctx, env, spec, true)
}

// observe reads the live state; without preflight (a saved plan's
// staleness test, which compares only the fingerprint) it leaves out the
// preflight checks and their zone parity, the costliest part of a large
// zone's observation: every RRset at every server.
func observe(ctx context.Context, env Env, spec *spec.Spec, withPreflight bool) (*Observed, error) {
	now := env.Now
	if now == nil {
		now = time.Now
	}
	o := &Observed{Time: now().UTC()}
	rep, err := env.Checker.Check(ctx, spec.Zone)
	if err != nil {
		return nil, fmt.Errorf("observe: %w", err)
	}
	o.Status, o.Findings, o.Parent = rep.Status, rep.Findings, rep.Parent
	o.Parents = rep.ParentServers
	for _, p := range rep.ParentServers {
		o.ParentServers = append(o.ParentServers, p.Server)
		if !p.Answered {
			o.Problems = append(o.Problems, fmt.Sprintf("parent server %s (%s) does not answer: %s", p.Name, p.Server, p.Error))
			continue
		}
		if o.NS == nil {
			o.NS, o.DS = p.NS, p.DS
		}
		o.NSTTL = max(o.NSTTL, p.NSTTL)
		o.DSTTL = max(o.DSTTL, p.DSTTL, p.DSOrigTTL)
		o.NegTTL = max(o.NegTTL, p.NegTTL)
	}
	if o.NS == nil {
		return nil, fmt.Errorf("observe: no server of %s answered for %s", rep.Parent, spec.Zone)
	}
	if o.NegTTL == 0 {
		// The parent served a DS, so no negative answer was seen: ask for
		// the parent's SOA to learn its negative-caching TTL.
		o.NegTTL = parentNegTTL(ctx, env.Checker, o.Parent, o.ParentServers)
	}
	if spec.Cutover() {
		for _, f := range o.Findings {
			if f.Severity == checks.Critical {
				o.Problems = append(o.Problems, fmt.Sprintf("the zone is broken now (%s: %s)", f.ID, f.Summary))
			}
		}
		if err := observeRecords(ctx, env, spec, o); err != nil {
			return nil, err
		}
		if withPreflight {
			o.Problems = append(o.Problems, accessProblems(ctx, env, spec)...)
		}
		o.Fingerprint = o.fingerprint()
		return o, nil
	}
	if err := observeHosts(ctx, env, spec, o); err != nil {
		return nil, err
	}
	chooseMethod(ctx, env, spec, o)
	if withPreflight {
		o.Problems = append(o.Problems, preflight(ctx, env, spec, o)...)
	}
	o.Skipped = env.Checker.Skipped()
	o.Fingerprint = o.fingerprint()
	return o, nil
}

// observeHosts reads both hosts at once: each read is a zone transfer (or
// an API listing) and every server's answers, and neither needs the other.
// The old host's error comes first, as one after the other would give it.
func observeHosts(ctx context.Context, env Env, s *spec.Spec, o *Observed) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, side := range []spec.Side{s.From, s.To} {
		h := []*HostState{&o.Old, &o.New}[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = observeHost(ctx, env, s, side, h)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func parentNegTTL(ctx context.Context, c *checks.Checker, parent string, servers []string) uint32 {
	var qs []checks.Question
	for _, s := range servers {
		qs = append(qs, checks.Question{Server: s, Name: parent, Type: dns.TypeSOA})
	}
	var neg uint32
	for _, r := range c.AskAll(ctx, qs) {
		if !r.OK() {
			continue
		}
		for _, rr := range r.Msg.Answer {
			if soa, ok := rr.(*dns.SOA); ok {
				neg = max(neg, min(soa.Hdr.Ttl, soa.Minttl))
			}
		}
	}
	return neg
}

// fingerprint covers what apply relies on: the delegation, the keys and
// both hosts' records with their TTLs (not the SOA, whose serial moves
// with every signature refresh).
func (o *Observed) fingerprint() string {
	h := sha256.New()
	b := bufio.NewWriterSize(h, 64<<10)
	fmt.Fprintf(b, "ns %v\nds %v\nold %v\nnew %v\n", o.NS, o.DS, o.Old.KSKDS, o.New.KSKDS)
	// The TTLs every wait is computed from, as the live state serves them.
	fmt.Fprintf(b, "ttl ns %d ds %d neg %d\n", o.NSTTL, o.DSTTL, o.NegTTL)
	for _, hs := range []HostState{o.Old, o.New} {
		fmt.Fprintf(b, "%s ttl apex-ns %d served-ns %d dnskey %d\n", hs.Provider, hs.ApexNSTTL, hs.ServedNSTTL, hs.DNSKEYTTL)
	}
	for _, hs := range []HostState{o.Old, o.New} {
		var line []byte
		for _, s := range hs.RRsets {
			if s.Type == "SOA" {
				continue
			}
			// "provider name type ttl [data ...]", as %v prints a slice,
			// written without fmt: a large zone has 100,000 of these.
			line = append(line[:0], hs.Provider...)
			line = append(append(line, ' '), s.Name...)
			line = append(append(line, ' '), s.Type...)
			line = strconv.AppendUint(append(line, ' '), uint64(s.TTL), 10)
			line = append(line, " ["...)
			for i, d := range s.Data {
				if i > 0 {
					line = append(line, ' ')
				}
				line = append(line, d...)
			}
			_, _ = b.Write(append(line, "]\n"...))
		}
		for _, r := range hs.Routed {
			fmt.Fprintf(b, "%s %s %s %d routed %v\n", hs.Provider, r.Name, r.Type, r.TTL, r.Describe())
		}
	}
	_ = b.Flush()
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Drift compares a fresh observation with the one a plan was made from.
func (o *Observed) Drift(now *Observed) error {
	if o.Fingerprint == now.Fingerprint {
		return nil
	}
	var diffs []string
	if !slices.Equal(o.NS, now.NS) {
		diffs = append(diffs, fmt.Sprintf("parent NS %v, now %v", o.NS, now.NS))
	}
	if !slices.Equal(o.DS, now.DS) {
		diffs = append(diffs, fmt.Sprintf("parent DS %v, now %v", o.DS, now.DS))
	}
	if !slices.Equal(o.Old.KSKDS, now.Old.KSKDS) || !slices.Equal(o.New.KSKDS, now.New.KSKDS) {
		diffs = append(diffs, "a provider's keys changed")
	}
	if o.NSTTL != now.NSTTL || o.DSTTL != now.DSTTL || o.NegTTL != now.NegTTL {
		diffs = append(diffs, fmt.Sprintf("parent TTLs NS %ds DS %ds negative %ds, now %ds %ds %ds", o.NSTTL, o.DSTTL, o.NegTTL, now.NSTTL, now.DSTTL, now.NegTTL))
	}
	for _, h := range [][2]HostState{{o.Old, now.Old}, {o.New, now.New}} {
		was, is := h[0], h[1]
		if was.ApexNSTTL != is.ApexNSTTL || was.ServedNSTTL != is.ServedNSTTL || was.DNSKEYTTL != is.DNSKEYTTL {
			diffs = append(diffs, fmt.Sprintf("%s's apex NS TTL %ds (served %ds) and DNSKEY TTL %ds, now %ds (%ds) and %ds",
				was.Provider, was.ApexNSTTL, was.ServedNSTTL, was.DNSKEYTTL, is.ApexNSTTL, is.ServedNSTTL, is.DNSKEYTTL))
		}
	}
	if len(diffs) == 0 {
		diffs = append(diffs, "a provider's records or TTLs changed")
	}
	return fmt.Errorf("saved plan is stale: the live state has drifted since %s (%s); run migrate plan again", o.Time.Format(time.RFC3339), strings.Join(diffs, "; "))
}

// accessProblems proves every credential the move will use, each host's
// and the registrar's, with a request that changes nothing (a host whose
// zone was read through its API has proven its own already).
func accessProblems(ctx context.Context, env Env, spec *spec.Spec) []string {
	var out []string
	names := []string{spec.From.Provider, spec.To.Provider}
	if spec.Cutover() {
		names = []string{spec.Provider}
	}
	for _, name := range names {
		if c, ok := env.Hosts[name].(providers.AccessChecker); ok {
			if err := c.CheckAccess(ctx, spec.Zone); err != nil {
				out = append(out, fmt.Sprintf("providers.%s: its credentials were refused, so nothing would be changed: %v", name, err))
			}
		}
	}
	if c, ok := env.Registrar.(providers.AccessChecker); ok && !spec.Cutover() {
		if err := c.CheckAccess(ctx, spec.Zone); err != nil {
			out = append(out, fmt.Sprintf("registrar (%s): its credentials were refused, so remove-ds, switch-ns and add-ds would fail mid-move: %v", spec.Registrar.Type, err))
		}
	}
	return out
}

// errAccess refuses a move whose credentials were refused.
// CheckAccess proves spec's credentials at every host it names with a
// request that changes nothing: nil, or an error listing each refusal.
func CheckAccess(ctx context.Context, env Env, spec *spec.Spec) error {
	if problems := accessProblems(ctx, env, spec); len(problems) > 0 {
		return errAccess(problems)
	}
	return nil
}

func errAccess(problems []string) error {
	return fmt.Errorf("%w: credentials refused before any change:\n  - %s", ErrNotSafe, strings.Join(problems, "\n  - "))
}

// notSafe refuses a plan, listing every reason.
func notSafe(problems []string) error {
	return fmt.Errorf("%w:\n  - %s", ErrNotSafe, strings.Join(problems, "\n  - "))
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// anyMatch reports whether a DS at the parent points to one of the KSKs,
// whatever its digest type: the tag and algorithm must match and the
// digest must be the key's for that digest type (checked by the checker's
// ds-mismatch finding); here tag and algorithm suffice as a cross-check.
func anyMatch(ds, ksk []string) bool {
	for _, d := range ds {
		f := strings.Fields(d)
		for _, k := range ksk {
			g := strings.Fields(k)
			if len(f) > 2 && len(g) > 2 && f[0] == g[0] && f[1] == g[1] {
				return true
			}
		}
	}
	return false
}

// apiParity compares both hosts' APIs: every rule and RRset of the old
// host (but the ones skip leaves out) must be at the new one, the same.
func apiParity(o *Observed, skip func(providers.RRset) bool) []string {
	newSets := map[string][]string{}
	for _, s := range o.New.RRsets {
		if !skip(s) {
			newSets[s.Name+" "+s.Type] = s.Data
		}
	}
	var out []string
	newRouted := map[string][]string{}
	for _, r := range o.New.Routed {
		newRouted[r.Name+" "+r.Type] = r.Describe()
	}
	for _, r := range o.Old.Routed {
		k := r.Name + " " + r.Type
		if got, ok := newRouted[k]; !ok {
			out = append(out, fmt.Sprintf("zone parity: %s answers %s by rule (%s); the new provider has no such rule", o.Old.Provider, k, strings.Join(r.Describe(), "; ")))
		} else if !slices.Equal(got, r.Describe()) {
			out = append(out, fmt.Sprintf("zone parity: %s is answered by different rules: old %v, new %v", k, r.Describe(), got))
		}
	}
	for _, s := range o.Old.RRsets {
		if skip(s) {
			continue
		}
		k := s.Name + " " + s.Type
		if got, ok := newSets[k]; !ok {
			out = append(out, fmt.Sprintf("zone parity: the new provider has no %s (old: %v)", k, s.Data))
		} else if !slices.Equal(got, s.Data) {
			out = append(out, fmt.Sprintf("zone parity: %s differs: old %v, new %v", k, s.Data, got))
		}
	}
	return out
}

// parity proves that the new host serves every RRset the old one has,
// identically, through its API and on every new server. It also asks every
// old server, to learn the TTL each RRset is really served (or signed)
// with: a wait must cover that, not only what the API says. Both sides
// are read in one pass (by zone transfer, else by question), so that each
// server is asked once; hence its length.
func parity(ctx context.Context, env Env, spec *spec.Spec, o *Observed) []string {
	skip := func(s providers.RRset) bool { return s.Type == "SOA" || (s.Type == "NS" && s.Name == spec.Zone) }
	out := apiParity(o, skip)
	more := 0
	differs := func(line string) {
		if len(out) >= 12 {
			more++
			return
		}
		out = append(out, line)
	}
	servedAbove := func(set providers.RRset, ttl uint32) {
		if ttl > set.TTL {
			if o.Old.ServedAbove == nil {
				o.Old.ServedAbove = map[string]uint32{}
			}
			k := set.Name + " " + set.Type
			o.Old.ServedAbove[k] = max(o.Old.ServedAbove[k], ttl)
		}
	}
	// Each old server for the TTL it really serves every RRset with (not
	// the SOA), each new server for the data of every RRset parity covers:
	// by zone transfer where the host allows it, else question by question.
	var qs []checks.Question
	type want struct {
		data []string
		set  providers.RRset
		old  bool
	}
	var wants []want
	for _, side := range []struct {
		host    HostState
		servers []string
		old     bool
	}{{o.Old, o.Old.Servers, true}, {o.Old, o.New.Servers, false}} {
		var sets []providers.RRset
		keys := map[string]int{}
		for _, s := range side.host.RRsets {
			if s.Type == "SOA" || (!side.old && skip(s)) {
				continue
			}
			keys[SetKey(s.Name, s.Type)] = len(sets)
			sets = append(sets, s)
		}
		provider := o.Old.Provider
		if !side.old {
			provider = o.New.Provider
		}
		ask := ByTransfer(ctx, env.Hosts[provider], spec.Zone, side.servers, func(int) bool { return false }, keys, func(j int, _ uint32, got ServedSets) {
			for i, s := range sets {
				g := got.At(i)
				if side.old {
					if g != nil {
						servedAbove(s, g.ServedTTL())
					}
					continue
				}
				if g == nil || !slices.Equal(g.Data, s.Data) {
					var data []string
					if g != nil {
						data = g.Data
					}
					differs(fmt.Sprintf("zone parity: new server %s serves %s as %v (zone transfer), old provider has %v", side.servers[j], s.Name+" "+s.Type, data, s.Data))
				}
			}
		})
		for _, j := range ask {
			for _, s := range sets {
				// Data only on the new side: no signature is judged there.
				qs = append(qs, checks.Question{Server: side.servers[j], Name: s.Name, Type: dns.StringToType[s.Type], Plain: !side.old})
				wants = append(wants, want{s.Data, s, side.old})
			}
		}
	}
	env.Checker.AskEach(ctx, qs, func(i int, r checks.Reply) {
		w := wants[i]
		if w.old {
			servedAbove(w.set, checks.ServedTTL(r, r.Name, r.Type))
			return
		}
		got, _ := checks.RRsetOf(r, r.Name, r.Type)
		if !r.OK() || !r.Msg.Authoritative || !slices.Equal(got, w.data) {
			e := checks.EvidenceOf(r)
			differs(fmt.Sprintf("zone parity: new server %s serves %s as %v (rcode %s%s), old provider has %v", r.Server, r.Question, got, e.RCODE, e.Error, w.data))
		}
	})
	if len(out) > 12 {
		more += len(out) - 12
		out = out[:12]
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("zone parity: and %d more differences", more))
	}
	return out
}

// ErrNotSafe wraps the preflight problems that stop a plan.
var ErrNotSafe = errors.New("preflight refused the migration")
