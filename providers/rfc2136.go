package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/libdns/libdns"
	"github.com/libdns/rfc2136"
	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/internal/wait"
)

// TSIG is a key for RFC 2136 updates and zone transfers.
type TSIG struct {
	Name      string
	Algorithm string // hmac-sha256, ...
	Secret    string // base64
}

// RFC2136Host is a DNS host reached by RFC 2136 updates and AXFR, signed
// with a TSIG key: libdns/rfc2136 for reading and writing records, plus a
// safer TTL change (see SetTTLs).
type RFC2136Host struct {
	*rfc2136.Provider
	// importsKeys: the server keeps a DNSKEY added by an update (the
	// spec's dnskey_import, for Knot with dnskey-management incremental).
	importsKeys bool
}

// NewRFC2136Host returns a DNS host at server (host:port).
func NewRFC2136Host(server string, key TSIG) *RFC2136Host {
	return &RFC2136Host{Provider: &rfc2136.Provider{KeyName: key.Name, KeyAlg: key.Algorithm, Key: key.Secret, Server: server}}
}

// WithDNSKEYImport says the server keeps a DNSKEY added by an update.
func (h *RFC2136Host) WithDNSKEYImport(on bool) *RFC2136Host {
	h.importsKeys = on
	return h
}

// ImportsDNSKEYs is what the spec declares of the server (WithDNSKEYImport).
func (h *RFC2136Host) ImportsDNSKEYs() bool { return h.importsKeys }

// ChangeDNSKEYs adds and removes apex DNSKEYs by their exact data in one
// update; the server's own keys are not named, so not touched.
func (h *RFC2136Host) ChangeDNSKEYs(ctx context.Context, zone string, add, remove []string, ttl uint32) error {
	return h.update(ctx, dns.Fqdn(zone), []Replacement{{Name: dns.Fqdn(zone), Type: "DNSKEY", TTL: ttl, From: remove, To: add}})
}

// Batches splits replacements into RFC 2136 messages under the TCP limit,
// each RRset's deletes and adds in the same message.
func (h *RFC2136Host) Batches(reps []Replacement) [][]Replacement {
	return batchBy(reps, rfc2136Budget, rfc2136Cost)
}

// rfc2136InFlight is how many update messages go to a server at once.
// Knot DNS applies the updates queued for a zone together, in one
// transaction and one signing pass, so a deeper queue means fewer
// transactions (each one a journal entry, a zone adjustment and a
// transfer to every secondary); BIND applies them one after another, and
// a queue keeps it busy between them. Measured with Knot DNS 3.2 on 2
// cores, 100,000 TTL changes in 115 messages: 28 to 36 s one at a time,
// 20 s two at a time, 16.2 to 17.1 s four at a time, 15 to 21 s eight at
// a time, 13.5 to 14.1 s sixteen at a time, 13.2 s thirty-two at a time.
// In the whole lab's large-zone move, thirty-two at a time made it slower
// (one run: the new host's restore 19.6 s against 22 to 25, but BIND's
// lowering 20 s against 13 and Knot's 23 s against 15; apply 1.199 of its
// waits against 1.159 to 1.174). Sixty-four at a time, BIND 9.18 with its
// default settings reset update connections (lower-ttl stopped at batch
// 64 of 115, saying that 65,500 RRsets had changed and to apply again;
// that was before an update was sent again on a reset). A deeper queue
// buys Knot little and costs BIND. Sixteen 64 KB messages queued stay far
// inside the 45 s a message may take (the slowest reply, sixteen at a time
// against Knot: 2.2 s).
const rfc2136InFlight = 16

// InFlight is how many update messages may be sent to the server at once.
func (h *RFC2136Host) InFlight() int { return rfc2136InFlight }

// Replace changes whole RRsets in RFC 2136 messages of Batches' size, each
// atomic (an RRset's change is never split, so no RRset is ever absent),
// name compression on. libdns's SetRecords sends "delete
// RRset, add records", which Knot DNS 3.2 turns into a lost CNAME in a
// signed zone and ignores for the apex NS set (both seen in the lab).
// Here a CNAME is only added (an add replaces a CNAME), and every other
// record is deleted by its exact data and the new ones added.
func (h *RFC2136Host) Replace(ctx context.Context, zone string, reps []Replacement) error {
	batches := h.Batches(reps)
	for i, b := range batches {
		if err := h.update(ctx, dns.Fqdn(zone), b); err != nil {
			if len(batches) > 1 {
				return fmt.Errorf("%w (message %d of %d; %d before it were applied)", err, i+1, len(batches), i)
			}
			return err
		}
	}
	return nil
}

// update sends one RFC 2136 message with the replacements.
func (h *RFC2136Host) update(ctx context.Context, zone string, reps []Replacement) error {
	m := new(dns.Msg)
	m.SetUpdate(zone)
	m.Compress = true
	for _, r := range reps {
		parse := func(data string) (dns.RR, error) {
			rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", r.Name, r.TTL, r.Type, data))
			if err != nil {
				return nil, fmt.Errorf("rfc2136 %s: %s %s %q: %w", h.Server, r.Name, r.Type, data, err)
			}
			return rr, nil
		}
		// The new records, by their data, each parsed once: a record that
		// stays (all of a TTL change's) is deleted as a copy of its add
		// (Remove rewrites the copy's class and TTL).
		adds := make(map[string]dns.RR, len(r.To))
		for _, d := range r.To {
			rr, err := parse(d)
			if err != nil {
				return err
			}
			adds[d] = rr
		}
		// Delete what stays (so its TTL can change), add the new data,
		// then delete what goes: a name server never deletes the last
		// apex NS record (RFC 2136 3.4.2.4), so a whole NS set is
		// replaced by adding before deleting.
		remove := func(stays bool) error {
			if r.Type == "CNAME" {
				return nil
			}
			for _, d := range r.From {
				add, kept := adds[d]
				switch {
				case kept != stays:
				case kept:
					m.Remove([]dns.RR{dns.Copy(add)})
				default:
					old, err := parse(d)
					if err != nil {
						return err
					}
					m.Remove([]dns.RR{old})
				}
			}
			return nil
		}
		if err := remove(true); err != nil {
			return err
		}
		for _, d := range r.To {
			m.Insert([]dns.RR{adds[d]})
		}
		if err := remove(false); err != nil {
			return err
		}
	}
	keyName := dns.Fqdn(h.KeyName)
	m.SetTsig(keyName, dns.Fqdn(h.KeyAlg), 300, time.Now().Unix())
	// A server may take seconds to apply and sign a large update.
	c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{keyName: h.Key}, Timeout: 45 * time.Second}
	resp, err := exchangeUpdate(ctx, c, m, h.Server)
	if err != nil {
		return fmt.Errorf("rfc2136 %s: update %s: %w", h.Server, zone, err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("rfc2136 %s: update %s: %s", h.Server, zone, dns.RcodeToString[resp.Rcode])
	}
	return nil
}

// updateAttempts is how many times one update message is sent when the
// server closes or resets the connection before it replies.
const updateAttempts = 3

// exchangeUpdate sends an update and reads the reply, sending it again on
// a new connection when the server closed or reset the connection before
// replying (a busy server's quota, a middlebox): the message has no
// prerequisite and deletes and adds records by their exact data, so
// sending it again after it was applied changes nothing. A reply, whatever
// its rcode, and a timeout (the server may still be applying it) are not
// sent again.
func exchangeUpdate(ctx context.Context, c *dns.Client, m *dns.Msg, server string) (*dns.Msg, error) {
	for attempt := 1; ; attempt++ {
		// miekg/dns takes the TSIG record off the message it signs and
		// sends: each attempt sends a shallow copy, m keeps its own.
		sent := *m
		resp, _, err := c.ExchangeContext(ctx, &sent, server)
		if err == nil || !closedBeforeReply(err) {
			return resp, err
		}
		if attempt == updateAttempts {
			return nil, fmt.Errorf("%w (sent %d times, the connection closed before a reply each time)", err, attempt)
		}
		if werr := wait.Sleep(ctx, time.Duration(attempt*attempt)*100*time.Millisecond); werr != nil {
			return nil, fmt.Errorf("%w (then %w)", err, werr)
		}
	}
}

// closedBeforeReply says the server closed or reset the connection before
// its reply came: the message may or may not have been applied.
func closedBeforeReply(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// RFC2136Registrar changes delegations with RFC 2136 updates to the parent
// zone's primary: the registry of a parent zone you control, as in the lab.
type RFC2136Registrar struct {
	parent string
	p      *rfc2136.Provider
}

// NewRFC2136Registrar returns a registrar that updates parent at server.
func NewRFC2136Registrar(server, parent string, key TSIG) *RFC2136Registrar {
	return &RFC2136Registrar{parent: dns.Fqdn(parent), p: &rfc2136.Provider{KeyName: key.Name, KeyAlg: key.Algorithm, Key: key.Secret, Server: server}}
}

// Capabilities: an RFC 2136 registrar does everything itself.
func (r *RFC2136Registrar) Capabilities() Capabilities {
	return Capabilities{DS: true, Glue: true, Automatic: true}
}

// SetNS replaces the NS set and the in-zone glue in one update message.
func (r *RFC2136Registrar) SetNS(ctx context.Context, zone string, ns []string, glue map[string][]netip.Addr, ttl time.Duration) error {
	zone = dns.Fqdn(zone)
	var recs []libdns.Record
	for _, n := range ns {
		recs = append(recs, libdns.RR{Name: libdns.RelativeName(zone, r.parent), TTL: ttl, Type: "NS", Data: dns.Fqdn(n)})
	}
	for _, n := range ns {
		if !dns.IsSubDomain(zone, n) {
			continue
		}
		addrs := glue[n]
		if len(addrs) == 0 {
			return fmt.Errorf("registrar rfc2136: %s is inside %s and needs glue, but no address was given", n, zone)
		}
		for _, a := range addrs {
			typ := "A"
			if a.Is6() {
				typ = "AAAA"
			}
			recs = append(recs, libdns.RR{Name: libdns.RelativeName(dns.Fqdn(n), r.parent), TTL: ttl, Type: typ, Data: a.String()})
		}
	}
	if _, err := r.p.SetRecords(ctx, r.parent, recs); err != nil {
		return fmt.Errorf("registrar rfc2136 %s: set NS of %s: %w", r.p.Server, zone, err)
	}
	return nil
}

// SetDS replaces (or with none, removes) the DS set.
func (r *RFC2136Registrar) SetDS(ctx context.Context, zone string, ds []DelegationSigner, ttl time.Duration) error {
	zone = dns.Fqdn(zone)
	name := libdns.RelativeName(zone, r.parent)
	if len(ds) == 0 {
		if _, err := r.p.DeleteRecords(ctx, r.parent, []libdns.Record{libdns.RR{Name: name, Type: "DS"}}); err != nil {
			return fmt.Errorf("registrar rfc2136 %s: remove DS of %s: %w", r.p.Server, zone, err)
		}
		return nil
	}
	var recs []libdns.Record
	for _, d := range ds {
		recs = append(recs, libdns.RR{Name: name, TTL: ttl, Type: "DS", Data: strings.TrimPrefix(d.DS.String(), d.DS.Hdr.String())})
	}
	if _, err := r.p.SetRecords(ctx, r.parent, recs); err != nil {
		return fmt.Errorf("registrar rfc2136 %s: set DS of %s: %w", r.p.Server, zone, err)
	}
	return nil
}
