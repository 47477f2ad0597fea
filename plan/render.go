package plan

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/internal/jsonio"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// symbol is a one-character summary of a step, as Terraform shows
// changes: ~ change, - remove, + add, … wait, ✓ prove.
func (s Step) symbol() string {
	switch {
	case s.Done:
		return "="
	case s.Action == ActionWait:
		return "…"
	case s.Action == ActionVerify:
		return "✓"
	case s.Action == ActionSetDS && len(s.DS) == 0:
		return "-"
	case s.Action == ActionSetDS:
		return "+"
	case s.Action == ActionSetMarker && s.ID == StepUnmark:
		return "-"
	case s.Action == ActionSetMarker:
		return "+"
	}
	return "~"
}

// WriteText writes the plan for the change ticket.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	o, s := p.Observed, p.Spec
	if p.Nothing && s.Cutover() {
		fmt.Fprintf(&b, "Nothing to do: every one of the %d changes of %s is already in place at %s.\n", len(s.Changes), s.Zone, s.Provider)
		_, err := io.WriteString(w, b.String())
		return err
	}
	if p.Nothing {
		fmt.Fprintf(&b, "Nothing to do: %s is already delegated to %s %v", s.Zone, s.To.Provider, o.NS)
		if len(o.DS) > 0 {
			fmt.Fprintf(&b, " with DS %v", o.DS)
		}
		b.WriteString(".\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	hosts := []HostState{o.Old, o.New}
	if s.Cutover() {
		how := "in one change"
		if len(s.Phases) > 0 {
			how = fmt.Sprintf("in %d phases (%s)", len(s.Phases), phaseList(s.Phases))
		}
		fmt.Fprintf(&b, "Plan %s: cut %d RRsets of %s over at %s, %s (rollback: %s)\n", p.ID, len(s.Changes), s.Zone, s.Provider, how, orDefault(string(s.Rollback), string(spec.RollbackAuto)))
		hosts = hosts[:1]
	} else {
		dnssec := string(s.DNSSEC)
		if o.DNSSEC != "" {
			dnssec = fmt.Sprintf("%s: %s, as %s", s.DNSSEC, o.DNSSEC, o.DNSSECWhy)
		}
		fmt.Fprintf(&b, "Plan %s: move %s from %s to %s (dnssec: %s)\n", p.ID, s.Zone, s.From.Provider, s.To.Provider, dnssec)
	}
	fmt.Fprintf(&b, "Observed %s at the authoritative servers (fingerprint %s):\n", checks.Stamp(o.Time), o.Fingerprint)
	fmt.Fprintf(&b, "  parent %s, %d server addresses: NS %v ttl %ds, DS %v ttl %ds, negative-caching ttl %ds\n",
		o.Parent, len(o.ParentServers), o.NS, o.NSTTL, orNone(o.DS), o.DSTTL, o.NegTTL)
	for _, h := range hosts {
		fmt.Fprintf(&b, "  %s: %d servers, %d RRsets, largest TTL %ds, apex NS ttl %ds (API) %ds (served), DNSKEY ttl %ds (served), KSK DS %v\n",
			h.Provider, len(h.Servers), len(h.RRsets), h.MaxTTL, h.ApexNSTTL, h.ServedNSTTL, h.DNSKEYTTL, orNone(h.KSKDS))
	}
	if len(o.Skipped) > 0 {
		fmt.Fprintf(&b, "  not asked (no route from this machine; verify.ipv6: auto): %s\n", strings.Join(o.Skipped, ", "))
	}
	b.WriteString("\nSteps (= already done, ~ change, - remove, + add, … wait, ✓ prove):\n")
	for i, st := range p.Steps {
		fmt.Fprintf(&b, "%2d. %s %-13s at +%-7s %s\n", i+1, st.symbol(), st.ID, time.Duration(st.Start), st.Summary)
		if st.Action == ActionWait {
			fmt.Fprintf(&b, "      wait %s: %s\n", st.Wait, st.Formula)
			if st.Anchor != nil {
				fmt.Fprintf(&b, "      %s\n", st.Anchor.Words())
			}
			for _, a := range st.AlsoFrom {
				fmt.Fprintf(&b, "      %s\n", a.Words())
			}
		}
		if len(st.Before)+len(st.After) > 0 && st.Action != ActionSetTTL {
			fmt.Fprintf(&b, "      before: %s\n      after:  %s\n", strings.Join(orNone(st.Before), ", "), strings.Join(orNone(st.After), ", "))
		}
		if st.Action == ActionSetTTL && len(st.After) > 0 {
			fmt.Fprintf(&b, "      %d RRsets, e.g. %s -> %s\n", st.rrsetCount(), st.Before[0], st.After[0])
		}
		if st.Gate != nil {
			fmt.Fprintf(&b, "      proven when: %s at %d servers (timeout %s)\n", st.Gate.Words(), len(st.Gate.Servers), st.Gate.Timeout)
		}
		if st.Rollback != "" {
			fmt.Fprintf(&b, "      rollback: %s\n", st.Rollback)
		}
	}
	if !s.Cutover() && !s.Marker {
		fmt.Fprintf(&b, "\nmarker: off: no %s TXT is published during the move, so a plan or apply of this zone from another machine or state directory will not see it and may plan from lowered TTLs\n", MarkerName(s.Zone))
	}
	if names := insecureInZone(s, o); len(names) > 0 {
		fmt.Fprintf(&b, "\nname servers inside the zone: %s; while the zone is insecure (from remove-ds until resolvers hold the new DS), a resolver that keeps %s's NS set, refreshed by every answer, after those names' addresses have lapsed cannot reach the zone without asking the parent again (Knot Resolver 5.6 answered SERVFAIL so in the lab); dnssec: multi-signer keeps the zone secure throughout\n", strings.Join(names, " "), s.Zone)
	}
	fmt.Fprintf(&b, "\nMandated waits: %s in all; the window is at least %s plus the time gates take.\n", p.TotalWait, p.TotalWait)
	if r := p.RetireOld; r != nil {
		fmt.Fprintf(&b, "retire-old: %s may be switched off from +%s at the earliest: %s.\n", s.From.Provider, time.Duration(r.Earliest), r.Formula)
	}
	b.WriteString("\n" + p.Mermaid(nil))
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the plan as JSON, as saved by --out.
func (p *Plan) WriteJSON(w io.Writer) error {
	return jsonio.Write(w, p)
}

// Words says what proves a gate, for the plan and the change log.
func (g *Gate) Words() string {
	switch g.Check {
	case GateTTLServed:
		return "every server serves the new TTLs"
	case GateMarker:
		if g.Status == "absent" {
			return "no server of either host serves the marker"
		}
		return "every server of both hosts serves the marker naming this plan"
	case GateDSGone:
		return "every parent server proves there is no DS (NODATA with an NSEC/NSEC3 denial that validates with the parent's keys)"
	case GateNSServed:
		return "every parent server delegates to " + strings.Join(g.Expect, " ")
	case GateDSServed:
		return "every parent server serves exactly DS " + strings.Join(g.Expect, "; ")
	case GateDNSKEYServed:
		return "every server of each host serves, in its DNSKEY set, every key the step adds there and none it removes"
	case GateRecordsServed:
		return "every server serves the new data"
	case GateVerified:
		if g.Status == "secure" {
			return fmt.Sprintf("the zone is secure at every server, every resolver answers, and every validating one answers each watched name and the DNSKEY with AD (one still without AD %s after the gate began is named in a warning)", g.ADGrace)
		}
		return fmt.Sprintf("the zone is %s at every server and every resolver answers", g.Status)
	}
	return string(g.Check)
}

// orNone is s, or "none" when it is empty.
func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"none"}
	}
	return s
}

// Mermaid draws the plan as a gantt chart: planned times, and, given the
// steps' actual start and end, what happened beside them.
func (p *Plan) Mermaid(actual map[string][2]time.Time) string {
	var b strings.Builder
	b.WriteString("```mermaid\ngantt\n    title " + p.Spec.Zone + " migration\n    dateFormat x\n    axisFormat %H:%M:%S\n")
	b.WriteString("    section planned\n")
	var origin time.Time
	for _, st := range p.Steps {
		if a, ok := actual[st.ID]; ok && (origin.IsZero() || a[0].Before(origin)) {
			origin = a[0]
		}
	}
	if origin.IsZero() {
		origin = p.Created
	}
	for _, st := range p.Steps {
		start := origin.Add(time.Duration(st.Start))
		d := time.Duration(st.Wait)
		if d < time.Second {
			d = time.Second
		}
		fmt.Fprintf(&b, "    %s :%s, %d, %d\n", st.ID, "p-"+st.ID, start.UnixMilli(), start.Add(d).UnixMilli())
	}
	if len(actual) > 0 {
		b.WriteString("    section actual\n")
		for _, st := range p.Steps {
			a, ok := actual[st.ID]
			if !ok {
				continue
			}
			end := a[1]
			if end.Sub(a[0]) < time.Second {
				end = a[0].Add(time.Second)
			}
			fmt.Fprintf(&b, "    %s :%s, %d, %d\n", st.ID, "a-"+st.ID, a[0].UnixMilli(), end.UnixMilli())
		}
	}
	b.WriteString("```\n")
	return b.String()
}

// phaseList writes phases as "10%, 50%, 100%".
func phaseList(phases []int) string {
	out := make([]string, len(phases))
	for i, pct := range phases {
		out[i] = fmt.Sprintf("%d%%", pct)
	}
	return strings.Join(out, ", ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
