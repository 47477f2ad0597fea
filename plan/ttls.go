package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// waitTTLs are the TTLs the nameserver waits rest on, each the largest a
// resolver may hold: served or signed at any server address, or said by
// the host's API. A TTL that was not observed is never taken as 0: it
// comes from a stated stand-in, or the plan is refused.
type waitTTLs struct {
	// ds is the DS TTL caches may hold, and dsWords where it came from.
	ds      uint32
	dsWords string
	// oldNS is the old host's apex NS TTL as served once lower-ttl is
	// done; oldNSNote says when the lowering cannot reach it.
	oldNS     uint32
	oldNSNote string
	// newNS is the same for the new host.
	newNS uint32
	// oldMax is the largest TTL the old host serves once lower-ttl is
	// done (DNSKEY included: it is never lowered).
	oldMax   uint32
	problems []string
}

func servedTTLs(o *Observed, zone string, lowerTo uint32) waitTTLs {
	var w waitTTLs
	switch {
	case o.DSTTL > 0:
		w.ds, w.dsWords = o.DSTTL, fmt.Sprintf("DS TTL at %s %ds", o.Parent, o.DSTTL)
	case o.PriorDSTTL > 0:
		w.ds, w.dsWords = o.PriorDSTTL, fmt.Sprintf("DS TTL %ds as served before this tool removed it (plan of that run)", o.PriorDSTTL)
	case o.NSTTL > 0:
		w.ds, w.dsWords = o.NSTTL, fmt.Sprintf("no DS served now; stand-in: the delegation NS TTL at %s %ds (a parent's DS TTL is typically at most its NS TTL)", o.Parent, o.NSTTL)
	default:
		w.problems = append(w.problems, fmt.Sprintf("the parent %s serves no DS and its NS TTL is 0: nothing stands in for the DS TTL that caches may hold", o.Parent))
	}
	h := o.Old
	var err string
	if w.oldNS, w.oldNSNote, err = nsAfterLowering(h, zone, lowerTo); err != "" {
		w.problems = append(w.problems, err)
	}
	if w.newNS, _, err = nsAfterLowering(o.New, zone, lowerTo); err != "" {
		w.problems = append(w.problems, err)
	}
	var longest uint32
	for _, s := range h.RRsets {
		if s.Type != "SOA" {
			longest = max(longest, h.ttlOf(s))
		}
	}
	w.oldMax = max(min(longest, lowerTo), w.oldNS, h.DNSKEYTTL)
	return w
}

// nsAfterLowering is a host's apex NS TTL as served once lower-ttl is
// done: lowered when its API lists the set, else as served.
func nsAfterLowering(h HostState, zone string, lowerTo uint32) (ttl uint32, note, problem string) {
	served := max(h.ApexNSTTL, h.ServedNSTTL)
	switch {
	case served == 0:
		return 0, "", fmt.Sprintf("the apex NS TTL of %s could not be observed: no server of it served its NS set", h.Provider)
	case !hasApexNS(h, zone):
		return served, "; the host's API lists no apex NS, so lower-ttl cannot lower it", ""
	}
	return min(served, lowerTo), "", ""
}

func hasApexNS(h HostState, zone string) bool {
	for _, s := range h.RRsets {
		if s.Type == "NS" && s.Name == zone {
			return true
		}
	}
	return false
}

// canHandOver says whether the old host's apex NS set can be changed to
// name the new servers: its API must list the set.
func canHandOver(o *Observed, zone string) bool {
	return hasApexNS(o.Old, zone) && len(o.Old.ApexNS) > 0
}

// reclaimStep is needed when the new host's apex NS still names the other
// host's servers, as after a move handed over and then rolled back: it
// makes the new host name its own servers again, before anything else.
func reclaimStep(spec *spec.Spec, o *Observed, to []string, lowerTo uint32, gateTimeout Duration) *Step {
	h := o.New
	if !needsReclaim(h, spec.Zone, to) {
		return nil
	}
	// At the lowered TTL: lower-ttl leaves this set alone, restore-ttl
	// puts its TTL back.
	ttl := min(max(h.ApexNSTTL, h.ServedNSTTL), lowerTo)
	return &Step{ID: StepReclaimNS, Action: ActionSetRecords, Provider: h.Provider,
		Summary: fmt.Sprintf("make %s's apex NS name its own servers again (it was handed over to %s)", h.Provider, o.Old.Provider),
		Before:  h.ApexNS, After: to,
		Records:  []providers.Replacement{{Name: spec.Zone, Type: "NS", TTL: ttl, From: h.ApexNS, To: to}},
		Gate:     &Gate{Check: GateRecordsServed, Servers: h.Servers, Timeout: gateTimeout},
		Rollback: fmt.Sprintf("%s's apex NS back to %s", h.Provider, strings.Join(h.ApexNS, " "))}
}

// needsReclaim: the new host's apex NS, as its servers serve it, names
// servers other than its own.
func needsReclaim(h HostState, zone string, to []string) bool {
	return len(h.ApexNS) > 0 && !slices.Equal(h.ApexNS, to) && hasApexNS(h, zone)
}

// RetireOld says when the old host may be switched off: once no resolver
// can still be sent to it or hold anything only it can answer.
type RetireOld struct {
	// After is the step from whose proof the delay counts.
	After string `json:"after"`
	// Delay is how long after that step's proof the old host is needed.
	Delay Duration `json:"delay"`
	// Earliest is the earliest retire time from the start of apply.
	Earliest Duration `json:"earliest"`
	Formula  string   `json:"formula"`
}

// retireOld: the old apex NS TTL as served, counted from when the old
// host stopped naming itself (or, when it cannot be made to, from the
// delegation switch), plus the largest TTL it serves.
func retireOld(o *Observed, spec *spec.Spec, w waitTTLs, handover bool, m spec.Margin) *RetireOld {
	base := time.Duration(max(w.oldNS, o.NSTTL)+w.oldMax) * time.Second
	r := &RetireOld{After: StepSwitchNS, Delay: Duration(m.Add(base))}
	from := "the delegation switch (" + StepSwitchNS + " proven)"
	if handover {
		r.After, from = StepHandoverNS, "when it stopped naming itself ("+StepHandoverNS+" proven)"
	}
	r.Formula = fmt.Sprintf("%s + max(parent NS TTL %ds, %s apex NS TTL as served %ds) + largest TTL %s serves %ds = %s, + margin %s = %s",
		from, o.NSTTL, o.Old.Provider, w.oldNS, o.Old.Provider, w.oldMax, base, m, m.Add(base))
	if !handover {
		r.Formula += fmt.Sprintf("; %s's apex NS cannot be changed through its API, so resolvers that trust the child's NS set (RFC 2181 5.4.1) keep asking it while it names itself: remove the zone (or its NS set) at %s at this time, not later", o.Old.Provider, o.Old.Provider)
	}
	return r
}

func ttlLine(provider string, s providers.RRset, ttl uint32) string {
	return provider + ": " + setTTL(s.Name, s.Type, ttl)
}

// setTTL is how a step's before and after lines show an RRset's TTL.
func setTTL(name, rrtype string, ttl uint32) string {
	return name + " " + rrtype + " ttl " + strconv.FormatUint(uint64(ttl), 10)
}

// maxTTLLines bounds the before and after lines a set-ttl step keeps for
// the plan text, the journal and the change log: the step's TTL changes
// hold every RRset (100,000 of them would make one journal line of 16 MB,
// past what a resumed run reads back).
const maxTTLLines = 20

// capLines keeps the first maxTTLLines lines and counts the rest.
func capLines(lines []string) []string {
	if len(lines) <= maxTTLLines {
		return lines
	}
	return append(slices.Clip(lines[:maxTTLLines]), fmt.Sprintf("and %d more RRsets", len(lines)-maxTTLLines))
}

// rrsetCount is the number of RRsets a set-ttl step changes.
func (st *Step) rrsetCount() int {
	n := 0
	for _, c := range st.TTLs {
		n += len(c.RRsets)
	}
	return n
}

// setADGrace gives a signed move's final-verify the longest TTL the new
// host serves once the move is done (as observed, or as restore-ttl puts
// it back; NS and DNSKEY included), with the margin: a resolver still
// without AD after that keeps refreshing what it cached while the zone
// was insecure.
func (p *Plan) setADGrace() {
	st := p.Step(StepFinalVerify)
	if st == nil || st.Gate == nil || st.Gate.Status != "secure" {
		return
	}
	h := p.Observed.New
	var longest uint32
	for _, s := range h.RRsets {
		longest = max(longest, h.ttlOf(s))
	}
	if r := p.Step(StepRestoreTTL); r != nil {
		for _, c := range r.TTLs {
			if c.Provider == h.Provider {
				longest = max(longest, slices.Max(append([]uint32{0}, c.TTLs...)))
			}
		}
	}
	longest = max(longest, h.ServedNSTTL, h.DNSKEYTTL)
	st.Gate.ADGrace = Duration(p.Spec.Margin.Add(time.Duration(longest) * time.Second))
}

// ttlSet are the TTL changes of a nameservers move: what lower-ttl lowers
// (with its before and after lines, and how many RRsets a move taken over
// lowered already), what restore-ttl puts back, and the largest TTL the
// old host had before lowering.
type ttlSet struct {
	lower, restore           []TTLChange
	lowered, already, oldMax uint32
	before, after            []string
}

// ttlChanges is every RRset above lower_to (as the API says, as any
// server serves it, or as a taken-over move's marker says it was), at
// both hosts: lowered, then restored.
func ttlChanges(o *Observed, zone string, to []string, lowerTo uint32, handover, reclaiming bool) ttlSet {
	var c ttlSet
	// lowered is whether lower-ttl changes s, and its TTL before.
	lowered := func(h HostState, s providers.RRset) (uint32, bool) {
		ttl := h.ttlOf(s)
		return ttl, s.Type != "SOA" && ttl > lowerTo
	}
	above := func(h HostState) (n int) {
		for _, s := range h.RRsets {
			if _, ok := lowered(h, s); ok {
				n++
			}
		}
		return n
	}
	// Sized once: a large zone's RRsets are not copied again and again
	// as these grow.
	n := [2]int{above(o.Old), above(o.New)}
	c.before, c.after = make([]string, 0, n[0]+n[1]), make([]string, 0, n[0]+n[1])
	for i, h := range []HostState{o.Old, o.New} {
		sets, back := make([]providers.RRset, 0, n[i]), make([]providers.RRset, 0, n[i])
		down, up := make([]uint32, 0, n[i]), make([]uint32, 0, n[i])
		for _, s := range h.RRsets {
			ttl, ok := lowered(h, s)
			if !ok {
				continue
			}
			// reclaim-ns writes the new host's own apex NS at the lowered
			// TTL: lower-ttl must not write the other host's names back.
			if reclaiming && h.Provider == o.New.Provider && s.Type == "NS" && s.Name == zone {
				s.TTL, s.Data = lowerTo, to
				back = append(back, s)
				up = append(up, ttl)
				continue
			}
			// Lowered already by the move taken over: proven, waited out
			// and restored; sent again only with others that are not.
			if max(s.TTL, h.ServedAbove[s.Name+" "+s.Type]) <= lowerTo {
				c.already++
			}
			sets = append(sets, s)
			down = append(down, lowerTo)
			c.before = append(c.before, ttlLine(h.Provider, s, ttl))
			c.after = append(c.after, ttlLine(h.Provider, s, lowerTo))
			c.lowered++
			if h.Provider == o.Old.Provider {
				c.oldMax = max(c.oldMax, ttl)
			}
			// The old host's apex NS, once handed over to the new
			// servers, is not put back: it names the new servers now.
			if handover && h.Provider == o.Old.Provider && s.Type == "NS" && s.Name == zone {
				continue
			}
			s.TTL = lowerTo
			back = append(back, s)
			up = append(up, ttl)
		}
		if len(sets) > 0 {
			c.lower = append(c.lower, TTLChange{Provider: h.Provider, RRsets: sets, TTLs: down})
		}
		if len(back) > 0 {
			c.restore = append(c.restore, TTLChange{Provider: h.Provider, RRsets: back, TTLs: up})
		}
	}
	return c
}
