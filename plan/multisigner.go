package plan

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// dnssec: multi-signer (RFC 8901, model 2). The zone stays secure for the
// whole move: each host keeps its own KSK and ZSK and also publishes the
// other's ZSK, so that a resolver holding either host's DNSKEY set
// validates the answers of both; the parent publishes a DS for each KSK
// while both hosts serve. Then the delegation moves, the old DS goes, and
// the imported ZSKs go. Every step is proven at every server, every wait
// printed with its formula.

// multiSigner adds the steps after lower-ttl and wait-ttl: import-zsk,
// wait-dnskey, add-ds, wait-ds, switch-ns (and handover-ns), wait-ns,
// remove-old-ds, wait-ds-gone, remove-old-zsk, wait-dnskey-gone.
func (n *nsPlan) multiSigner() {
	o, ttls := n.o, n.ttls
	oldKeys, newKeys := o.Old.ZSK, o.New.ZSK
	dnskeyTTL := max(o.Old.DNSKEYTTL, o.New.DNSKEYTTL)
	// Imported already: each host's DNSKEY set holds the other's ZSK (its
	// ZSK list holds only the keys it signs with).
	imported := func(h HostState, keys []string) bool { return containsAll(h.DNSKEYs, keys) }
	n.p.add(Step{ID: StepImportZSK, Action: ActionSetDNSKEY, Done: imported(o.Old, newKeys) && imported(o.New, oldKeys),
		Summary: fmt.Sprintf("publish %s's ZSK at %s and %s's at %s, so that either host's DNSKEY set validates both hosts' answers", o.New.Provider, o.Old.Provider, o.Old.Provider, o.New.Provider),
		Before:  keyLines(o.Old.Provider, o.Old.ZSK, o.New.Provider, o.New.ZSK), After: keyLines(o.Old.Provider, union(o.Old.ZSK, newKeys), o.New.Provider, union(o.New.ZSK, oldKeys)),
		DNSKEYs:  []KeyChange{{Provider: o.Old.Provider, Add: newKeys, TTL: o.Old.DNSKEYTTL}, {Provider: o.New.Provider, Add: oldKeys, TTL: o.New.DNSKEYTTL}},
		Gate:     &Gate{Check: GateDNSKEYServed, Servers: n.hostServers, Timeout: n.gateTimeout},
		Rollback: "remove the imported ZSKs again (migrate rollback does it)"})
	n.p.add(Step{ID: StepWaitDNSKEY, Action: ActionWait, Summary: "let caches drop the DNSKEY sets that lack the other host's ZSK",
		Wait: n.wait(secs(dnskeyTTL)), Formula: n.formula(secs(dnskeyTTL), fmt.Sprintf("largest DNSKEY TTL served before the change: max(%s %ds, %s %ds)", o.Old.Provider, o.Old.DNSKEYTTL, o.New.Provider, o.New.DNSKEYTTL))})

	both, keys := union(o.Old.KSKDS, o.New.KSKDS), append(slices.Clone(o.Old.KSK), o.New.KSK...)
	n.p.add(Step{ID: StepAddDS, Action: ActionSetDS, Done: containsAll(o.DS, o.New.KSKDS),
		Summary: fmt.Sprintf("publish the DS of %s's KSK beside %s's at the registrar", o.New.Provider, o.Old.Provider),
		Before:  o.DS, After: both, DS: both, Keys: keys,
		Gate:     &Gate{Check: GateDSServed, Servers: o.ParentServers, Expect: both, Timeout: n.gateTimeout},
		Rollback: "publish only the old DS again: " + strings.Join(o.DS, "; ")})
	base, words := secs(ttls.ds), ttls.dsWords
	if len(o.DS) == 0 {
		base, words = secs(max(ttls.ds, o.NegTTL)), fmt.Sprintf("max(%s, negative-caching TTL of %s %ds)", ttls.dsWords, o.Parent, o.NegTTL)
	}
	n.p.add(Step{ID: StepWaitDS, Action: ActionWait, Summary: "let resolvers fetch the DS set with both KSKs",
		Wait: n.wait(base), Formula: n.formula(base, words)})

	n.switchNS()
	nsBase := secs(max(o.NSTTL, ttls.oldNS) + ttls.oldMax)
	n.p.add(Step{ID: StepWaitNS, Action: ActionWait, Summary: fmt.Sprintf("let resolvers move to %s and drop the answers %s signed (both stay valid meanwhile)", o.New.Provider, o.Old.Provider),
		Wait: n.wait(nsBase), Formula: n.formula(nsBase, fmt.Sprintf("max(parent NS TTL %ds, %s apex NS TTL as served after lowering %ds%s) + largest TTL of data %s signs, after lowering, DNSKEY included %ds", o.NSTTL, o.Old.Provider, ttls.oldNS, ttls.oldNSNote, o.Old.Provider, ttls.oldMax))})

	n.p.add(Step{ID: StepRemoveOldDS, Action: ActionSetDS, Done: slices.Equal(o.DS, o.New.KSKDS),
		Summary: fmt.Sprintf("remove the DS of %s's KSK at the registrar", o.Old.Provider),
		Before:  both, After: o.New.KSKDS, DS: o.New.KSKDS, Keys: o.New.KSK,
		Gate:     &Gate{Check: GateDSServed, Servers: o.ParentServers, Expect: o.New.KSKDS, Timeout: n.gateTimeout},
		Rollback: "publish both DS again: " + strings.Join(both, "; ")})
	n.p.add(Step{ID: StepWaitDSGone, Action: ActionWait, Summary: "let validators drop the DS set that names the old KSK",
		Wait: n.wait(secs(ttls.ds)), Formula: n.formula(secs(ttls.ds), ttls.dsWords)})

	n.p.add(Step{ID: StepRemoveOldZSK, Action: ActionSetDNSKEY,
		Summary: fmt.Sprintf("stop publishing %s's ZSK at %s, and %s's at %s", o.Old.Provider, o.New.Provider, o.New.Provider, o.Old.Provider),
		Before:  keyLines(o.Old.Provider, union(o.Old.ZSK, newKeys), o.New.Provider, union(o.New.ZSK, oldKeys)), After: keyLines(o.Old.Provider, o.Old.ZSK, o.New.Provider, o.New.ZSK),
		DNSKEYs:  []KeyChange{{Provider: o.New.Provider, Remove: oldKeys, TTL: o.New.DNSKEYTTL}, {Provider: o.Old.Provider, Remove: newKeys, TTL: o.Old.DNSKEYTTL}},
		Gate:     &Gate{Check: GateDNSKEYServed, Servers: n.hostServers, Timeout: n.gateTimeout},
		Rollback: "publish the other host's ZSK again"})
	n.p.add(Step{ID: StepWaitDNSKEYGone, Action: ActionWait, Summary: "let caches drop the DNSKEY sets that still hold the other host's ZSK",
		Wait: n.wait(secs(dnskeyTTL)), Formula: n.formula(secs(dnskeyTTL), fmt.Sprintf("largest DNSKEY TTL served: max(%s %ds, %s %ds)", o.Old.Provider, o.Old.DNSKEYTTL, o.New.Provider, o.New.DNSKEYTTL))})
}

// chooseMethod decides what dnssec: auto means for this move, and why.
func chooseMethod(ctx context.Context, env Env, s *spec.Spec, o *Observed) {
	if s.DNSSEC != spec.DNSSECAuto {
		return
	}
	problems := multiSignerProblems(ctx, env, s.Zone, o)
	switch {
	case len(o.DS) == 0 && len(o.Old.KSKDS) == 0:
		o.DNSSEC, o.DNSSECWhy = spec.DNSSECUnsigned, "the zone is not signed: no DS at the parent, no KSK at "+o.Old.Provider
	case len(problems) == 0:
		o.DNSSEC, o.DNSSECWhy = spec.DNSSECMultiSigner, fmt.Sprintf("both hosts can publish the other's key and sign with algorithm %s: the zone stays secure throughout", strings.Join(algorithms(o.Old), ","))
	default:
		o.DNSSEC, o.DNSSECWhy = spec.DNSSECInsecureWindow, "multi-signer is not possible: "+strings.Join(problems, "; ")
	}
}

// method is the DNSSEC method the move uses: the spec's, or what auto
// chose.
func method(s *spec.Spec, o *Observed) spec.DNSSECMethod {
	if s.DNSSEC == spec.DNSSECAuto {
		return o.DNSSEC
	}
	return s.DNSSEC
}

// keeps says what a move's DNSSEC method keeps: the zone signed on both
// hosts, and secure throughout (multi-signer).
func keeps(s *spec.Spec, o *Observed) (signed, secure bool) {
	m := method(s, o)
	return m == spec.DNSSECInsecureWindow || m == spec.DNSSECMultiSigner, m == spec.DNSSECMultiSigner
}

// insecureInZone lists the name servers the zone moves to that are inside
// the zone itself (ns1.example.com. for example.com.), when the move has
// an insecure window: a resolver that keeps the zone's NS set, refreshed
// by every answer that carries it, after those names' addresses have
// lapsed cannot reach the zone without asking the parent again, and Knot
// Resolver 5.6 answered SERVFAIL so in the lab's rollbacks onto BIND
// (README, "Knot Resolver after an insecure window"). Nil otherwise.
func insecureInZone(s *spec.Spec, o *Observed) []string {
	if s.Cutover() || method(s, o) != spec.DNSSECInsecureWindow {
		return nil
	}
	var out []string
	for _, n := range s.To.Nameservers {
		if dns.IsSubDomain(s.Zone, n) {
			out = append(out, n)
		}
	}
	return out
}

// multiSignerProblems says why a multi-signer move cannot be planned: a
// host that cannot publish another signer's key, signers of different
// algorithms (RFC 4035 2.2, RFC 8901), no KSK or ZSK to work with.
func multiSignerProblems(ctx context.Context, env Env, zone string, o *Observed) []string {
	var out []string
	for _, h := range []HostState{o.Old, o.New} {
		host := env.Hosts[h.Provider]
		if !providers.ImportsDNSKEYs(host) {
			out = append(out, fmt.Sprintf("dnssec is multi-signer but provider %s cannot publish another signer's DNSKEY (for an rfc2136 server that can, as Knot with dnskey-management: incremental, set dnskey_import: true); use insecure-window", h.Provider))
		} else if r, ok := host.(multiSignerReadier); ok {
			if err := r.MultiSignerReady(ctx, zone); err != nil {
				out = append(out, fmt.Sprintf("dnssec is multi-signer but provider %s is not ready: %v", h.Provider, err))
			}
		}
		if len(h.KSKDS) == 0 || len(h.ZSK) == 0 {
			out = append(out, fmt.Sprintf("dnssec is multi-signer but the servers of %s do not all serve one DNSKEY set with a KSK and a ZSK", h.Provider))
		}
	}
	if a, b := algorithms(o.Old), algorithms(o.New); len(a) > 0 && len(b) > 0 && !slices.Equal(a, b) {
		out = append(out, fmt.Sprintf("dnssec is multi-signer but %s signs with algorithm %v and %s with %v: both hosts must use the same algorithm (RFC 4035 2.2, RFC 8901); use insecure-window", o.Old.Provider, a, o.New.Provider, b))
	}
	return out
}

// multiSignerReadier is a host whose zone must be set up before it takes
// another signer's key (Cloudflare's multi-signer DNSSEC setting).
type multiSignerReadier interface {
	MultiSignerReady(ctx context.Context, zone string) error
}

// algorithms are the algorithms of a host's keys, sorted.
func algorithms(h HostState) []string {
	var out []string
	for _, k := range append(slices.Clone(h.KSK), h.ZSK...) {
		if f := strings.Fields(k); len(f) > 2 && !slices.Contains(out, f[2]) {
			out = append(out, f[2])
		}
	}
	slices.Sort(out)
	return out
}

// keyLines shows two hosts' DNSKEYs (their ZSKs) in a step's before and
// after lines, each key by its data's start.
func keyLines(p1 string, k1 []string, p2 string, k2 []string) []string {
	var out []string
	for _, side := range []struct {
		provider string
		keys     []string
	}{{p1, k1}, {p2, k2}} {
		for _, k := range side.keys {
			out = append(out, side.provider+": DNSKEY "+k)
		}
	}
	return out
}

// containsAll reports whether have holds every one of want.
func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
