package checks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// A zone served by several signers (RFC 8901, model 2: each DNS host
// signs with its own KSK and ZSK and also publishes the other hosts'
// ZSKs; the parent holds a DS for each KSK) has a DNSKEY set per host, by
// design. The check groups the servers by the KSKs they serve (a signer),
// validates each server against its own DNSKEY set and the parent's DS
// set (validateZone), and asks what multi-signer adds: that a resolver
// holding any signer's DNSKEY set can validate every other signer's
// signatures, that every signer's KSK has a DS, and that all sign with
// one algorithm.

// signer is one group of servers serving the same KSKs.
type signer struct {
	ksk     string // the KSKs' data, sorted, joined: the group's identity
	keys    []*dns.DNSKEY
	servers []ChildServer
	// signing are the keys (by data) that sign its SOA and NS RRsets.
	signing map[string]*dns.DNSKEY
}

// names lists the signer's server addresses.
func (s signer) names() string {
	var out []string
	for _, c := range s.servers {
		out = append(out, c.Server)
	}
	return strings.Join(out, ", ")
}

// kskTags describes the signer's KSKs as "tag/algorithm".
func (s signer) kskTags() string {
	var out []string
	for _, k := range s.keys {
		if k.Flags&dns.SEP != 0 {
			out = append(out, fmt.Sprintf("%d/%d", k.KeyTag(), k.Algorithm))
		}
	}
	return strings.Join(out, " ")
}

// signersOf groups the answering servers by the KSKs they serve.
func signersOf(zone string, servers []ChildServer) []signer {
	var out []signer
	for _, c := range servers {
		if !c.dnskey.OK() {
			continue
		}
		set := rrset(c.dnskey.Msg.Answer, zone, dns.TypeDNSKEY)
		keys := ofType[*dns.DNSKEY](set)
		var ksk []string
		for _, k := range keys {
			if k.Flags&dns.SEP != 0 {
				ksk = append(ksk, rrData(k))
			}
		}
		if len(ksk) == 0 {
			continue
		}
		slices.Sort(ksk)
		id := strings.Join(ksk, "|")
		i := slices.IndexFunc(out, func(s signer) bool { return s.ksk == id })
		if i < 0 {
			out = append(out, signer{ksk: id, keys: keys, signing: map[string]*dns.DNSKEY{}})
			i = len(out) - 1
		}
		s := &out[i]
		s.servers = append(s.servers, c)
		for _, k := range c.SigningKeys() {
			s.signing[rrData(k)] = k
		}
	}
	return out
}

// multiSigner reports whether the signers serve the zone together: there
// are several, and one publishes a key another signs with (an import,
// not a server left behind with other keys).
func multiSigner(signers []signer) bool {
	if len(signers) < 2 {
		return false
	}
	for i, holder := range signers {
		for j, other := range signers {
			if i == j {
				continue
			}
			for data := range other.signing {
				if slices.ContainsFunc(holder.keys, func(k *dns.DNSKEY) bool { return rrData(k) == data }) {
					return true
				}
			}
		}
	}
	return false
}

// multiSignerFindings reports what makes a multi-signer zone fail some
// resolvers: a signer's ZSK missing from another signer's DNSKEY set (a
// resolver that cached that set cannot validate the first signer's
// answers), and signers using different algorithms.
func (a *analysis) multiSignerFindings(signers []signer) {
	var summary []string
	for _, s := range signers {
		summary = append(summary, fmt.Sprintf("KSK %s at %s", s.kskTags(), s.names()))
	}
	a.add(Finding{ID: MultiSigner, Severity: Info,
		Summary: fmt.Sprintf("%s is served by %d signers (RFC 8901): %s; each server's DNSKEY set is its signer's", a.zone, len(signers), strings.Join(summary, "; ")),
		Fix:     "Nothing to do while the move runs; when it ends, remove the old signer's DS and keys."})
	// Each server's own DNSKEY set must hold every key the other signers
	// sign with: a resolver may have cached the set of any server.
	for _, holder := range signers {
		for _, other := range signers {
			if holder.ksk == other.ksk {
				continue
			}
			for data, k := range other.signing {
				var lacking []string
				var ev []Evidence
				for _, c := range holder.servers {
					keys := ofType[*dns.DNSKEY](rrset(c.dnskey.Msg.Answer, a.zone, dns.TypeDNSKEY))
					if slices.ContainsFunc(keys, func(h *dns.DNSKEY) bool { return rrData(h) == data }) {
						continue
					}
					lacking = append(lacking, c.Server)
					e := EvidenceOf(c.dnskey, dns.TypeDNSKEY)
					e.AddNote(fmt.Sprintf("lacks the key %d/%d that %s signs with", k.KeyTag(), k.Algorithm, other.names()))
					ev = append(ev, e)
				}
				if len(lacking) == 0 {
					continue
				}
				who := strings.Join(lacking, ", ")
				a.add(Finding{ID: MultiSignerIncomplete, Severity: Critical,
					Summary: fmt.Sprintf("a resolver holding the DNSKEY set of %s (KSK %s) cannot validate the answers of %s: their ZSK %d/%d is missing from that set",
						who, holder.kskTags(), other.names(), k.KeyTag(), k.Algorithm),
					Fix:      fmt.Sprintf("Add the DNSKEY %q to the zone at %s (each signer must publish every other signer's ZSK).", data, who),
					Evidence: append(ev, EvidenceOf(other.servers[0].soa, dns.TypeSOA, dns.TypeRRSIG))})
			}
		}
	}
	algs := map[uint8][]string{}
	for _, s := range signers {
		for _, k := range s.keys {
			if k.Flags&dns.SEP != 0 && !slices.Contains(algs[k.Algorithm], s.names()) {
				algs[k.Algorithm] = append(algs[k.Algorithm], s.names())
			}
		}
	}
	if len(algs) > 1 {
		var parts []string
		for alg, who := range algs {
			parts = append(parts, fmt.Sprintf("algorithm %d (%s) at %s", alg, dns.AlgorithmToString[alg], strings.Join(who, "; ")))
		}
		slices.Sort(parts)
		a.add(Finding{ID: MultiSignerAlgorithmMismatch, Severity: Critical,
			Summary: fmt.Sprintf("the signers of %s use different algorithms: %s; a zone must be signed with every algorithm its DNSKEY set holds (RFC 4035 2.2, RFC 8901)", a.zone, strings.Join(parts, ", ")),
			Fix:     "Have every signer sign with one algorithm (re-key one of them) before serving the zone together."})
	}
}

// dsIncomplete is the finding for servers of a multi-signer zone whose
// signer's KSK has no DS at the parent: validators that reach them find no
// key the parent vouches for, and answer SERVFAIL.
func (a *analysis) dsIncomplete(dsEv Evidence, mismatch []Evidence) Finding {
	var who []string
	for _, e := range mismatch {
		for _, s := range a.signers {
			if slices.ContainsFunc(s.servers, func(c ChildServer) bool { return c.Server == e.Server }) {
				who = append(who, fmt.Sprintf("%s (KSK %s)", e.Server, s.kskTags()))
			}
		}
	}
	return Finding{ID: DSIncomplete, Severity: Critical,
		Summary:  fmt.Sprintf("the parent publishes no DS for the KSK of a signer of %s whose servers it delegates to: %s; validators that ask them answer SERVFAIL", a.zone, strings.Join(who, ", ")),
		Fix:      "Add a DS for that signer's KSK at the registrar, beside the others, or take its servers out of the NS set until it is published.",
		Evidence: append([]Evidence{dsEv}, mismatch...)}
}
