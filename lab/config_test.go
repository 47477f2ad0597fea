package lab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestAddrs(t *testing.T) {
	tests := []struct {
		prefix string
		root   string
		err    string
	}{
		{DefaultPrefix, "127.60.0.1", ""},
		{"127.99.5.0/24", "127.99.5.1", ""},
		{"127.99.5.7/24", "127.99.5.1", ""},
		{"10.0.0.0/24", "", "inside 127.0.0.0/8"},
		{"127.0.0.0/16", "", "want a /24"},
		{"::1/128", "", "want a /24"},
		{"nonsense", "", `prefix "nonsense"`},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			a, err := Config{Prefix: tt.prefix}.Addrs()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a[RoleRoot].String() != tt.root || len(a) != len(roles) {
				t.Errorf("root at %s with %d servers", a[RoleRoot], len(a))
			}
		})
	}
}

// Every zone the lab writes parses, and the delegations carry the
// configured TTLs.
func TestZonesParse(t *testing.T) {
	c := Config{}.WithDefaults()
	l := &Lab{Config: c}
	var err error
	if l.Addrs, err = c.Addrs(); err != nil {
		t.Fatal(err)
	}
	for _, r := range roles {
		for _, z := range l.zones(r.role) {
			if z.text == "" {
				continue
			}
			zp := dns.NewZoneParser(strings.NewReader(z.text), z.Name, z.File)
			n := 0
			for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
				n++
				if rr.Header().Rrtype == dns.TypeNS && rr.Header().Name == Zone && z.Name == TLD && rr.Header().Ttl != 10 {
					t.Errorf("delegation NS TTL %d, want 10", rr.Header().Ttl)
				}
			}
			if err := zp.Err(); err != nil {
				t.Errorf("%s on %s: %v", z.Name, r.role, err)
			}
			if n < 3 {
				t.Errorf("%s on %s: %d records", z.Name, r.role, n)
			}
		}
	}
}

// NEW signs with ECDSA P-256 unless told otherwise; the policy Knot is
// given names the algorithm asked for, and Up refuses one it cannot
// configure before it starts anything.
func TestNewAlgorithm(t *testing.T) {
	if got := (Config{}).WithDefaults().NewAlgorithm; got != AlgorithmECDSA {
		t.Errorf("default NewAlgorithm = %q, want %q", got, AlgorithmECDSA)
	}
	for _, alg := range []string{AlgorithmECDSA, AlgorithmEd25519} {
		conf := filepath.Join(t.TempDir(), "knot.conf")
		if err := render("knot.conf.tmpl", conf, knotData{Name: "new1", Algorithm: alg}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		policy := string(b)[strings.Index(string(b), "policy:"):]
		if !strings.Contains(policy, "\n    algorithm: "+alg+"\n") {
			t.Errorf("policy for %s:\n%s", alg, policy)
		}
	}
	_, err := Up(context.Background(), Config{Prefix: "127.98.0.0/24", Dir: t.TempDir(), NewAlgorithm: "rsasha1"})
	if err == nil || !strings.Contains(err.Error(), `signing algorithm "rsasha1"`) {
		t.Errorf("Up with rsasha1: %v", err)
	}
}
