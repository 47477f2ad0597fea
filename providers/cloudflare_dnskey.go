package providers

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/miekg/dns"
)

// Cloudflare's multi-signer DNSSEC (RFC 8901 model 2): with the zone's
// DNSSEC setting dnssec_multi_signer on (PATCH /zones/{id}/dnssec), the
// zone takes DNSKEY records at its apex (another signer's ZSK), which
// Cloudflare serves and signs beside its own keys. Proven against the
// local fake, written from the API reference and the multi-signer set-up
// guide; see the README.

// cfDNSSEC is the zone's DNSSEC setting as the API gives it.
type cfDNSSEC struct {
	Status      string `json:"status"`
	MultiSigner bool   `json:"dnssec_multi_signer"`
}

// ImportsDNSKEYs: Cloudflare publishes another signer's DNSKEY once the
// zone's multi-signer DNSSEC is on (MultiSignerReady says when it is not).
func (h *CloudflareHost) ImportsDNSKEYs() bool { return true }

// MultiSignerReady says what keeps the zone from taking another signer's
// key: DNSSEC not active, or multi-signer DNSSEC off. The move does not
// turn it on itself: it changes how Cloudflare signs the zone (a ZSK of
// its own beside the KSK), which the operator decides.
func (h *CloudflareHost) MultiSignerReady(ctx context.Context, zone string) error {
	z, err := h.zone(ctx, zone)
	if err != nil {
		return err
	}
	var d cfDNSSEC
	if err := h.do(ctx, "GET", "/zones/"+z.ID+"/dnssec", nil, nil, &d); err != nil {
		return err
	}
	if d.Status != "active" || !d.MultiSigner {
		return fmt.Errorf("cloudflare: zone %s has DNSSEC %q with dnssec_multi_signer %t: turn multi-signer DNSSEC on first (DNS > Settings, or PATCH /zones/%s/dnssec {\"status\":\"active\",\"dnssec_multi_signer\":true})", cfZone(zone), d.Status, d.MultiSigner, z.ID)
	}
	return nil
}

// ChangeDNSKEYs adds the keys as apex DNSKEY records and deletes the
// DNSKEY records holding the keys to remove.
func (h *CloudflareHost) ChangeDNSKEYs(ctx context.Context, zone string, add, remove []string, ttl uint32) error {
	if err := h.MultiSignerReady(ctx, zone); err != nil {
		return err
	}
	z, recs, err := h.records(ctx, zone)
	if err != nil {
		return err
	}
	// The zone's view (Replace's) no longer holds what is sent here.
	defer h.applied(z.ID, cfBatchResult{}, false)
	have := map[string]string{} // key data -> record id
	for _, r := range recs {
		if r.Type == "DNSKEY" {
			have[normalDNSKEY(r.Content)] = r.ID
		}
	}
	for _, k := range add {
		if _, ok := have[normalDNSKEY(k)]; ok {
			continue
		}
		rr, err := dns.NewRR(dns.Fqdn(zone) + " 0 IN DNSKEY " + k)
		if err != nil {
			return fmt.Errorf("cloudflare: DNSKEY %q: %w", k, err)
		}
		key := rr.(*dns.DNSKEY)
		body := map[string]any{"type": "DNSKEY", "name": cfZone(zone), "ttl": max(ttl, 60),
			"data": map[string]any{"flags": key.Flags, "protocol": key.Protocol, "algorithm": key.Algorithm, "public_key": key.PublicKey}}
		if err := h.do(ctx, "POST", "/zones/"+z.ID+"/dns_records", nil, body, nil); err != nil {
			return err
		}
	}
	for _, k := range remove {
		id, ok := have[normalDNSKEY(k)]
		if !ok {
			continue
		}
		if err := h.do(ctx, "DELETE", "/zones/"+z.ID+"/dns_records/"+url.PathEscape(id), nil, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// isCFSigning says a listed record is a signer's (DNSKEY), held apart
// from the zone's records.
func isCFSigning(r cfRecord) bool { return strings.EqualFold(r.Type, "DNSKEY") }
