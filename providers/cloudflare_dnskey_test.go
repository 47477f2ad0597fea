package providers_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/providers/providerstest"
)

// Another signer's ZSK at Cloudflare (multi-signer DNSSEC, against the
// fake): refused, naming the setting, while the zone's multi-signer
// DNSSEC is off; then added once as an apex DNSKEY record (data, not
// content, as the API takes it), not listed among the zone's records,
// and removed.
func TestCloudflareForeignDNSKEY(t *testing.T) {
	ctx := context.Background()
	f := providerstest.NewCloudflare(t, "tok", []string{"zone:read", "dns:edit"},
		providerstest.CloudflareRecord{Type: "A", Name: "example.com", Content: "192.0.2.1", TTL: 300})
	h := cfHost(t, f, "tok")
	key := "256 3 13 " + strings.Repeat("A", 86) + "=="
	if !providers.ImportsDNSKEYs(h) {
		t.Fatal("Cloudflare cannot publish another signer's DNSKEY")
	}
	err := h.ChangeDNSKEYs(ctx, "example.com.", []string{key}, nil, 300)
	if err == nil || !strings.Contains(err.Error(), "dnssec_multi_signer false") {
		t.Errorf("with multi-signer DNSSEC off: %v", err)
	}
	if got := f.Contents("DNSKEY", "example.com"); len(got) != 0 {
		t.Errorf("a DNSKEY record was created with multi-signer DNSSEC off: %v", got)
	}
	f.SetDNSSEC("active", true)
	if err := h.MultiSignerReady(ctx, "example.com."); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time changes nothing
		if err := h.ChangeDNSKEYs(ctx, "example.com.", []string{key}, nil, 300); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.Contents("DNSKEY", "example.com"); !slices.Equal(got, []string{key + " ttl 300"}) {
		t.Errorf("DNSKEY records %v, want the key once", got)
	}
	rrs, err := providers.Records(ctx, "cf", h, "example.com.")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range providers.Group(rrs) {
		if s.Type == "DNSKEY" {
			t.Errorf("the foreign key is listed among the zone's records: %v", s)
		}
	}
	if err := h.ChangeDNSKEYs(ctx, "example.com.", nil, []string{key}, 300); err != nil {
		t.Fatal(err)
	}
	if got := f.Contents("DNSKEY", "example.com"); len(got) != 0 {
		t.Errorf("DNSKEY records after removal: %v", got)
	}
}
