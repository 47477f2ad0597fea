package providers

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// WeightedSet is one weighted record set of a name: its identifier, its
// weight (a share of the sum of the name's weights), its values and the
// health check Route 53 consults before answering with it.
type WeightedSet struct {
	ID            string   `json:"id"`
	Weight        int64    `json:"weight"`
	Values        []string `json:"values"`
	HealthCheckID string   `json:"health_check_id,omitempty"`
}

// Route says how a host answers one name and type: plainly with Values,
// by the weighted sets Sets (read and written as themselves), or by a rule
// dnsmigrate reads but never changes (Other: an alias, failover, latency,
// geolocation or multivalue routing, described in words).
type Route struct {
	Name   string        `json:"name"`
	Type   string        `json:"type"`
	TTL    uint32        `json:"ttl,omitempty"`
	Values []string      `json:"values,omitempty"`
	Sets   []WeightedSet `json:"sets,omitempty"`
	Other  []string      `json:"other,omitempty"`
}

// SetValues is every value any of the name's weighted sets answers with,
// sorted.
func (r Route) SetValues() []string {
	var out []string
	for _, s := range r.Sets {
		out = append(out, s.Values...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Describe is the routing in words, one line per set, without the TTL,
// for parity and plans.
func (r Route) Describe() []string {
	out := slices.Clone(r.Other)
	for _, s := range r.Sets {
		d := fmt.Sprintf("weighted set %q weight %d %v", s.ID, s.Weight, s.Values)
		if s.HealthCheckID != "" {
			d += " health check " + s.HealthCheckID
		}
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// unchangeable refuses a change to a name answered by a rule dnsmigrate
// does not change.
func (r Route) unchangeable() error {
	if len(r.Other) == 0 {
		return nil
	}
	return fmt.Errorf("%s %s is answered by a rule dnsmigrate does not change (%s)", r.Name, r.Type, strings.Join(r.Other, "; "))
}

// Router is an optional interface for a host that answers some names by
// rule. Records leaves those names out of a host's plain records; Routed
// lists them as themselves (Sets or Other, never Values).
type Router interface {
	Routed(ctx context.Context, zone string) ([]Route, error)
}

// SetRoute makes host answer as r says, through its weighted sets.
func SetRoute(ctx context.Context, w Weighter, zone string, r Route) error {
	return w.SetWeighted(ctx, zone, r.Name, r.Type, r.TTL, r.Sets, r.Values)
}
