package plan

import (
	"context"
	"strings"
	"testing"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// Zone parity carries what a host answers by rule: weighted sets and
// aliases at the old host must stand identically at the new one.
func TestParityCarriesRoutedNames(t *testing.T) {
	weighted := providers.Route{Name: "backend.example.com.", Type: "CNAME", TTL: 60, Sets: []providers.WeightedSet{
		{ID: "lb-a", Weight: 10, Values: []string{"lb-a.example.net."}, HealthCheckID: "hc-a"},
		{ID: "lb-b", Weight: 10, Values: []string{"lb-b.example.net."}, HealthCheckID: "hc-b"}}}
	alias := providers.Route{Name: "example.com.", Type: "A", Other: []string{"alias to lb.example.net. (hosted zone Z1, evaluate target health false)"}}
	heavier := weighted
	heavier.Sets = []providers.WeightedSet{weighted.Sets[0], {ID: "lb-b", Weight: 20, Values: []string{"lb-b.example.net."}, HealthCheckID: "hc-b"}}
	cases := []struct {
		name     string
		old, new []providers.Route
		want     []string
	}{
		{"same rules", []providers.Route{weighted, alias}, []providers.Route{alias, weighted}, nil},
		{"new host has none", []providers.Route{weighted, alias}, nil, []string{
			`zone parity: old answers backend.example.com. CNAME by rule (weighted set "lb-a" weight 10 [lb-a.example.net.] health check hc-a; weighted set "lb-b" weight 10 [lb-b.example.net.] health check hc-b); the new provider has no such rule`,
			`zone parity: old answers example.com. A by rule (alias to lb.example.net. (hosted zone Z1, evaluate target health false)); the new provider has no such rule`}},
		{"other weights", []providers.Route{weighted}, []providers.Route{heavier}, []string{"zone parity: backend.example.com. CNAME is answered by different rules"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := &Observed{Old: HostState{Provider: "old", Routed: c.old}, New: HostState{Provider: "new", Routed: c.new}}
			env := Env{Checker: checks.New(checks.Options{Roots: []string{"127.0.0.1:1"}})}
			got := parity(context.Background(), env, &spec.Spec{Zone: "example.com."}, o)
			if len(got) != len(c.want) {
				t.Fatalf("parity: %q, want %q", got, c.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], c.want[i]) {
					t.Errorf("parity: %q, want %q", got[i], c.want[i])
				}
			}
		})
	}
}
