package checks

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Verdict says where one server stands on a change.
type Verdict string

// The verdicts: a public contract.
const (
	// Updated: it answers the new value.
	Updated Verdict = "updated"
	// Pending: it answers the old value, legally, until its deadline.
	Pending Verdict = "pending"
	// Stale: it answers the old value after its deadline: a failure.
	Stale Verdict = "stale"
	// Error: it did not answer, or answered with an error RCODE.
	Error Verdict = "error"
	// Unexpected: it answers neither the old nor the new value.
	Unexpected Verdict = "unexpected"
)

// Change is what a propagation check looks for: NAME TYPE, changed at
// Since from Old (optional: without it, any other answer counts as old)
// to Expect.
type Change struct {
	Name   string
	Type   uint16
	Expect []string
	Old    []string
	Since  time.Time
	// OldTTL is the longest a cache may legally hold the old answer; zero:
	// the TTL the authoritative servers serve now.
	OldTTL time.Duration
	// ExpectAny and OldAny are further answers that count as the new or
	// the old value: a name answered by weighted sets answers one set at
	// a time. Same form as Expect and Old (sorted, lower case).
	ExpectAny, OldAny [][]string
}

// AddSets adds weighted sets' values as answers that count as new (to)
// or old (from).
func (c *Change) AddSets(to, from [][]string) error {
	for _, side := range []struct {
		in  [][]string
		out *[][]string
	}{{to, &c.ExpectAny}, {from, &c.OldAny}} {
		for _, vals := range side.in {
			ch, err := NewChange(c.Name, dns.TypeToString[c.Type], vals, nil, c.Since)
			if err != nil {
				return err
			}
			*side.out = append(*side.out, ch.Expect)
		}
	}
	return nil
}

// NewChange parses values (zone-file rdata such as "192.0.2.1" or
// "server2.example.net.") for name and type.
func NewChange(name, rrtype string, expect, old []string, since time.Time) (Change, error) {
	t, ok := dns.StringToType[strings.ToUpper(rrtype)]
	if !ok {
		return Change{}, fmt.Errorf("propagation: unknown record type %q", rrtype)
	}
	c := Change{Name: strings.ToLower(dns.Fqdn(name)), Type: t, Since: since}
	norm := func(vals []string) ([]string, error) {
		var out []string
		for _, v := range vals {
			rr, err := dns.NewRR(fmt.Sprintf("%s 0 IN %s %s", c.Name, dns.TypeToString[t], v))
			if err != nil || rr == nil {
				return nil, fmt.Errorf("propagation: %q is not %s data: %v", v, dns.TypeToString[t], err)
			}
			out = append(out, strings.ToLower(rrData(rr)))
		}
		sort.Strings(out)
		return slices.Compact(out), nil
	}
	var err error
	if c.Expect, err = norm(expect); err != nil {
		return Change{}, err
	}
	if len(c.Expect) == 0 {
		return Change{}, fmt.Errorf("propagation: no expected value")
	}
	if c.Old, err = norm(old); err != nil {
		return Change{}, err
	}
	return c, nil
}

// Seen is one server's answer to a change, judged.
type Seen struct {
	Server   string   `json:"server"`
	Role     string   `json:"role"` // resolver or authoritative
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Verdict  Verdict  `json:"verdict"`
	Answer   []string `json:"answer,omitempty"`
	TTL      uint32   `json:"ttl,omitempty"`
	Deadline string   `json:"deadline,omitempty"` // UTC, ms
	Left     string   `json:"left,omitempty"`     // pending: time left before it must be updated
	RCODE    string   `json:"rcode,omitempty"`
	Meaning  string   `json:"rcode_meaning,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// Propagation asks every resolver and every authoritative server of the
// change's zone (found by iteration) for NAME TYPE, all at once within the
// checker's bound, and judges each answer at time now.
//
// A cache may legally show the old answer until Since plus the old TTL.
// A resolver's own reported TTL can bring its deadline earlier (it will
// refetch sooner), never later: a resolver that still shows the old answer
// after Since plus the authoritative TTL is stale, whatever TTL it claims.
func (c *Checker) Propagation(ctx context.Context, changes []Change, resolvers []string, now time.Time) ([]Seen, error) {
	var qs []Question
	var which []int
	var roles []string
	res := c.resolver()
	zones := map[string]Cut{} // each name is iterated to once per call
	for i, ch := range changes {
		zone, ok := zones[ch.Name]
		if !ok {
			var err error
			if zone, err = res.zoneOf(ctx, ch.Name, ch.Type); err != nil {
				return nil, fmt.Errorf("propagation: %s: %w", ch.Name, err)
			}
			zones[ch.Name] = zone
		}
		for _, a := range zone.Addrs() {
			qs = append(qs, Question{Server: a, Name: ch.Name, Type: ch.Type, Plain: true})
			which, roles = append(which, i), append(roles, "authoritative")
		}
		for _, r := range resolvers {
			qs = append(qs, Question{Server: WithPort(r), Name: ch.Name, Type: ch.Type, RD: true, Plain: true})
			which, roles = append(which, i), append(roles, "resolver")
		}
	}
	replies := askAll(ctx, c.client, qs)
	// The authoritative TTL of each change: the longest any of its
	// authoritative servers serves.
	authTTL := make([]time.Duration, len(changes))
	for k, r := range replies {
		if roles[k] == "authoritative" {
			_, ttl := answerOf(r)
			authTTL[which[k]] = max(authTTL[which[k]], time.Duration(ttl)*time.Second)
		}
	}
	out := make([]Seen, len(replies))
	for k, r := range replies {
		ch := changes[which[k]]
		limit := authTTL[which[k]]
		if ch.OldTTL > 0 {
			limit = ch.OldTTL
		}
		out[k] = judge(r, roles[k], ch, ch.Since.Add(limit), now)
	}
	return out, nil
}

// answerOf returns a reply's records of the asked type (at the end of any
// CNAME chain), as lower-case data, and their TTL.
func answerOf(r Reply) ([]string, uint32) {
	if !r.OK() {
		return nil, 0
	}
	var data []string
	var ttl uint32
	for _, rr := range r.Msg.Answer {
		if rr.Header().Rrtype == r.Type {
			data = append(data, strings.ToLower(rrData(rr)))
			ttl = max(ttl, rr.Header().Ttl)
		}
	}
	sort.Strings(data)
	return slices.Compact(data), ttl
}

func judge(r Reply, role string, ch Change, capAt, now time.Time) Seen {
	s := Seen{Server: r.Server, Role: role, Name: ch.Name, Type: dns.TypeToString[ch.Type]}
	if !r.OK() {
		s.Verdict, s.Error = Error, r.Err.Error()
		return s
	}
	s.RCODE = RcodeName(r.Msg.Rcode)
	if r.Msg.Rcode != dns.RcodeSuccess {
		s.Verdict, s.Meaning = Error, ExplainRcode(r.Msg.Rcode)
		return s
	}
	s.Answer, s.TTL = answerOf(r)
	switch {
	case slices.Equal(s.Answer, ch.Expect) || slices.ContainsFunc(ch.ExpectAny, func(e []string) bool { return slices.Equal(s.Answer, e) }):
		s.Verdict = Updated
		return s
	case len(ch.Old) > 0 && !slices.Equal(s.Answer, ch.Old) && !slices.ContainsFunc(ch.OldAny, func(e []string) bool { return slices.Equal(s.Answer, e) }):
		s.Verdict = Unexpected
		return s
	}
	deadline := capAt
	if role == "resolver" {
		if own := now.Add(time.Duration(s.TTL) * time.Second); own.Before(deadline) {
			deadline = own
		}
	}
	s.Deadline = Stamp(deadline)
	if now.After(capAt) {
		s.Verdict = Stale
		return s
	}
	s.Verdict = Pending
	s.Left = deadline.Sub(now).Round(time.Second).String()
	return s
}

// zoneOf finds, by iteration from the root, the zone cut whose servers
// answer authoritatively for name.
func (r *resolver) zoneOf(ctx context.Context, name string, qtype uint16) (Cut, error) {
	cut, reply, err := r.descend(ctx, name, qtype, 0)
	if err != nil {
		return cut, err
	}
	if !reply.Msg.Authoritative {
		return cut, fmt.Errorf("%s gave neither a referral nor an authoritative answer", reply.Server)
	}
	return cut, nil
}
