package providers_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/providers/providerstest"
)

// Every credential is proven with a request that changes nothing: the
// right key passes, a wrong secret or a key without update rights is
// refused naming the server, and no zone's serial moves.
func TestCheckAccessChangesNothing(t *testing.T) {
	l := shared.Get(t)
	ctx := context.Background()
	wrong := func(k providers.TSIG) providers.TSIG {
		k.Secret = "d3Jvbmcgc2VjcmV0IG9mIDMyIGJ5dGVzIGxvbmcgISE="
		return k
	}
	tld := l.Addr(lab.RoleTLD)
	cases := []struct {
		name    string
		checker providers.AccessChecker
		want    string // "" : accepted
	}{
		{"old host, its key", providers.NewRFC2136Host(l.Addr(lab.RoleOld1), key(l, lab.KeyOld)), ""},
		{"new host, its key", providers.NewRFC2136Host(l.Addr(lab.RoleNew1), key(l, lab.KeyNew)), ""},
		{"old host, wrong secret", providers.NewRFC2136Host(l.Addr(lab.RoleOld1), wrong(key(l, lab.KeyOld))), l.Addr(lab.RoleOld1)},
		{"new host, wrong secret", providers.NewRFC2136Host(l.Addr(lab.RoleNew1), wrong(key(l, lab.KeyNew))), l.Addr(lab.RoleNew1)},
		{"new host, another host's key", providers.NewRFC2136Host(l.Addr(lab.RoleNew1), key(l, lab.KeyOld)), l.Addr(lab.RoleNew1)},
		{"registrar, its key", providers.NewRFC2136Registrar(tld, "lab.", key(l, lab.KeyRegistrar)), ""},
		{"registrar, wrong secret", providers.NewRFC2136Registrar(tld, "lab.", wrong(key(l, lab.KeyRegistrar))), "registrar rfc2136 " + tld},
		{"registrar, a host's key", providers.NewRFC2136Registrar(tld, "lab.", key(l, lab.KeyOld)), "registrar rfc2136 " + tld},
	}
	serials := func() []uint32 {
		var out []uint32
		for _, z := range []struct {
			r    lab.Role
			zone string
		}{{lab.RoleOld1, lab.Zone}, {lab.RoleNew1, lab.Zone}, {lab.RoleTLD, "lab."}} {
			s, err := l.Serial(ctx, z.r, z.zone)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	before := serials()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.checker.CheckAccess(ctx, lab.Zone)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatal("accepted")
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q does not name %q", err, tt.want)
			}
		})
	}
	if after := serials(); !slices.Equal(before, after) {
		t.Errorf("serials moved from %v to %v: a check changed a zone", before, after)
	}
}

func TestRoute53DomainsCheckAccess(t *testing.T) {
	f := providerstest.NewDomains(t, nil)
	if err := domainsRegistrar(t, f.URL).CheckAccess(context.Background(), "example.com."); err != nil {
		t.Fatalf("the right credentials: %v", err)
	}
	r, err := providers.NewRoute53DomainsRegistrar(context.Background(), providers.AWSOptions{AccessKeyID: "AKIDWRONG", SecretAccessKey: "secret", Endpoint: f.URL, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CheckAccess(context.Background(), "example.com."); err == nil || !strings.Contains(err.Error(), "route53domains: read example.com") {
		t.Errorf("wrong credentials: %v", err)
	}
}
