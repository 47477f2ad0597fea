package providers

import (
	"context"
	"slices"
	"testing"
)

// Every type is found by its name, builds a host or registrar, and takes
// settings no other type's message would misname.
func TestRegistry(t *testing.T) {
	if got := HostTypeNames(); !slices.Equal(got, []string{"rfc2136", "cloudflare", "route53", "powerdns"}) {
		t.Errorf("host types %v", got)
	}
	if got := RegistrarTypeNames(); !slices.Equal(got, []string{"rfc2136", "route53domains", "manual"}) {
		t.Errorf("registrar types %v", got)
	}
	for _, ht := range HostTypes() {
		got, ok := LookupHost(ht.Name)
		if !ok || got.Name != ht.Name || got.New == nil || got.Display == "" || len(got.Settings) == 0 {
			t.Errorf("host type %q: %+v", ht.Name, got)
		}
		for _, req := range ht.Required {
			if !slices.Contains(ht.Settings, req) {
				t.Errorf("host type %q requires %q, which it does not take", ht.Name, req)
			}
		}
	}
	if _, ok := LookupHost("bind"); ok {
		t.Error("an unknown host type was found")
	}
	if cf, _ := LookupHost("cloudflare"); cf.Capabilities.MinTTL != 60 {
		t.Errorf("Cloudflare's shortest TTL %d, want 60", cf.Capabilities.MinTTL)
	}
	if r53, _ := LookupHost("route53"); !r53.Capabilities.Weighted || r53.Capabilities.ForeignDNSKEY {
		t.Error("Route 53 answers from weighted sets, and cannot publish another signer's DNSKEY")
	}
	if pdns, _ := LookupHost("powerdns"); !pdns.Capabilities.ForeignDNSKEY || !pdns.Capabilities.CDS || !slices.Contains(pdns.Required, SetEndpoint) {
		t.Errorf("PowerDNS: %+v, required %v", pdns.Capabilities, pdns.Required)
	}
	h, err := func() (Host, error) {
		ht, _ := LookupHost("rfc2136")
		return ht.New(context.Background(), HostConfig{Server: "127.0.0.1:53"})
	}()
	if _, ok := h.(*RFC2136Host); err != nil || !ok {
		t.Errorf("rfc2136 builds %T, %v", h, err)
	}
	rt, _ := LookupRegistrar("manual")
	if r, err := rt.New(context.Background(), RegistrarConfig{}); err != nil || r.Capabilities().Automatic {
		t.Errorf("manual registrar %+v, %v", r, err)
	}
	// Each registrar built reports the capabilities its entry declares.
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, rt := range RegistrarTypes() {
		r, err := rt.New(context.Background(), RegistrarConfig{Server: "127.0.0.1:53", Parent: "lab."})
		if err != nil {
			t.Errorf("registrar type %q: %v", rt.Name, err)
			continue
		}
		if r.Capabilities() != rt.Capabilities || !rt.Capabilities.DS {
			t.Errorf("registrar type %q declares %+v, its registrar reports %+v", rt.Name, rt.Capabilities, r.Capabilities())
		}
	}
}
