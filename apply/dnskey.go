package apply

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
)

// setDNSKEYs sends a set-dnskey step's key changes, host by host.
func (x *Executor) setDNSKEYs(ctx context.Context, st *plan.Step) error {
	zone := x.Plan.Target().Zone
	for _, c := range st.DNSKEYs {
		k, ok := x.Env.Hosts[c.Provider].(providers.KeyImporter)
		if !ok || !k.ImportsDNSKEYs() {
			return fmt.Errorf("provider %s cannot publish another signer's DNSKEY", c.Provider)
		}
		if err := k.ChangeDNSKEYs(ctx, zone, c.Add, c.Remove, c.TTL); err != nil {
			return fmt.Errorf("provider %s: %w", c.Provider, err)
		}
	}
	return nil
}

// gateDNSKEY: every server of each host the step changes serves, in its
// DNSKEY set, every key the step adds there and none it removes.
func gateDNSKEY(ctx context.Context, env plan.Env, p *plan.Plan, st *plan.Step) GateResult {
	t := p.Target()
	type want struct {
		c      plan.KeyChange
		server string
	}
	var qs []checks.Question
	var wants []want
	for _, c := range st.DNSKEYs {
		for _, s := range t.ServersOf(c.Provider) {
			qs = append(qs, checks.Question{Server: s, Name: t.Zone, Type: dns.TypeDNSKEY, Plain: true})
			wants = append(wants, want{c, s})
		}
	}
	res := GateResult{OK: true}
	good := 0
	env.Checker.AskEach(ctx, qs, func(i int, r checks.Reply) {
		keys, _ := checks.RRsetOf(r, t.Zone, dns.TypeDNSKEY)
		w := wants[i]
		var missing, still []string
		for _, k := range w.c.Add {
			if !slices.Contains(keys, k) {
				missing = append(missing, keyTag(k))
			}
		}
		for _, k := range w.c.Remove {
			if slices.Contains(keys, k) {
				still = append(still, keyTag(k))
			}
		}
		e := checks.EvidenceOf(r, dns.TypeDNSKEY)
		switch {
		case !r.OK() || !r.Msg.Authoritative:
			res.OK = false
			e.AddNote("no authoritative answer")
		case len(missing)+len(still) > 0:
			res.OK = false
			if len(missing) > 0 {
				e.AddNote(w.c.Provider + " does not serve yet: " + strings.Join(missing, ", "))
			}
			if len(still) > 0 {
				e.AddNote(w.c.Provider + " still serves: " + strings.Join(still, ", "))
			}
		default:
			good++
		}
		res.Evidence = append(res.Evidence, e)
	})
	res.Summary = fmt.Sprintf("%d of %d server addresses serve the DNSKEY set the step makes", good, len(qs))
	res.Evidence = append(res.Evidence, skippedEvidence(p)...)
	return res
}

// keyTag names a key (DNSKEY data) by its tag and algorithm.
func keyTag(data string) string {
	rr, err := dns.NewRR(". 0 IN DNSKEY " + data)
	if err != nil {
		return data
	}
	k := rr.(*dns.DNSKEY)
	return fmt.Sprintf("key %d/%d", k.KeyTag(), k.Algorithm)
}
