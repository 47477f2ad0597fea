package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/checks"
)

// query sends one question to a lab server and insists on NOERROR; for an
// authoritative server (recursive false) also on the AA flag.
func (l *Lab) query(ctx context.Context, r Role, name string, qtype uint16, recursive bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = recursive
	m.SetEdns0(1232, true)
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	resp, _, err := c.ExchangeContext(ctx, m, l.Addr(r))
	if err != nil {
		return nil, fmt.Errorf("lab: %s (%s) %s/%s: %w", r, l.Addr(r), name, dns.TypeToString[qtype], err)
	}
	if resp.Rcode != dns.RcodeSuccess || (!recursive && !resp.Authoritative) {
		return resp, fmt.Errorf("lab: %s (%s) %s/%s: %s aa=%v", r, l.Addr(r), name, dns.TypeToString[qtype], dns.RcodeToString[resp.Rcode], resp.Authoritative)
	}
	return resp, nil
}

// poll calls f until it succeeds or ctx ends, returning f's last error.
func poll(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (l *Lab) waitAnswer(ctx context.Context, r Role, name string, qtype uint16, recursive bool) error {
	return l.withLog(r, poll(ctx, func() error {
		if p := l.Procs[r]; !p.alive() {
			return fmt.Errorf("lab: %s exited; see %s", r, l.roleDir(r))
		}
		_, err := l.query(ctx, r, name, qtype, recursive)
		return err
	}))
}

// withLog adds the last lines of the server's logs to err, so that a
// server that will not start says why.
func (l *Lab) withLog(r Role, err error) error {
	if err == nil {
		return nil
	}
	var tail []string
	for _, name := range []string{"stdio.log", "named.log", "knot.log", "unbound.log"} {
		b, rerr := os.ReadFile(filepath.Join(l.roleDir(r), name))
		if rerr != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 8 {
			lines = lines[len(lines)-8:]
		}
		tail = append(tail, name+":\n    "+strings.Join(lines, "\n    "))
	}
	if len(tail) == 0 {
		return err
	}
	return fmt.Errorf("%w\n  %s", err, strings.Join(tail, "\n  "))
}

// waitSigned waits until the server serves a signed DNSKEY RRset and a
// signed SOA for zone.
func (l *Lab) waitSigned(ctx context.Context, r Role, zone string) error {
	return l.withLog(r, poll(ctx, func() error {
		for _, t := range []uint16{dns.TypeDNSKEY, dns.TypeSOA} {
			m, err := l.query(ctx, r, zone, t, false)
			if err != nil {
				return err
			}
			if !checks.HasType(m.Answer, dns.TypeRRSIG) {
				return fmt.Errorf("lab: %s serves %s %s unsigned", r, zone, dns.TypeToString[t])
			}
		}
		return nil
	}))
}

// LiveDS returns SHA-256 DS records for every KSK (SEP flag) that the
// role's server serves for zone, with the lab's delegation TTL.
func (l *Lab) LiveDS(ctx context.Context, r Role, zone string) ([]dns.RR, error) {
	m, err := l.query(ctx, r, zone, dns.TypeDNSKEY, false)
	if err != nil {
		return nil, err
	}
	var out []dns.RR
	for _, rr := range m.Answer {
		k, ok := rr.(*dns.DNSKEY)
		if !ok || k.Flags&dns.SEP == 0 {
			continue
		}
		ds := k.ToDS(dns.SHA256)
		ds.Hdr.Ttl = uint32(seconds(l.Config.DelegationTTL))
		out = append(out, ds)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lab: %s serves no KSK for %s", r, zone)
	}
	return out, nil
}

// Update replaces the RRset (owner, rrtype) in zone at the role's server
// with rrs (none: delete it), as an RFC 2136 update signed with the named
// TSIG key. Servers ignore the deletion of an apex NS or SOA RRset (RFC
// 2136 section 3.4.2.4): use AddRR and DeleteRR there.
func (l *Lab) Update(ctx context.Context, r Role, zone, keyName, owner string, rrtype uint16, rrs []dns.RR) error {
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: dns.Fqdn(owner), Rrtype: rrtype, Class: dns.ClassINET}}})
	if len(rrs) > 0 {
		m.Insert(rrs)
	}
	return l.send(ctx, r, keyName, m, "update "+owner+" "+dns.TypeToString[rrtype])
}

// send signs an update with the named TSIG key and sends it over TCP.
func (l *Lab) send(ctx context.Context, r Role, keyName string, m *dns.Msg, what string) error {
	k, ok := l.Keys[keyName]
	if !ok {
		return fmt.Errorf("lab: no key %q", keyName)
	}
	tsigName := dns.Fqdn(k.Name)
	m.SetTsig(tsigName, dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{tsigName: k.Secret}}
	resp, _, err := c.ExchangeContext(ctx, m, l.Addr(r))
	if err != nil {
		return fmt.Errorf("lab: %s at %s: %w", what, l.Addr(r), err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("lab: %s at %s: %s", what, l.Addr(r), dns.RcodeToString[resp.Rcode])
	}
	return nil
}

// AddRR adds one record to zone at the role's server (RFC 2136, TSIG).
func (l *Lab) AddRR(ctx context.Context, r Role, zone, keyName string, rr dns.RR) error {
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	m.Insert([]dns.RR{rr})
	return l.send(ctx, r, keyName, m, "add "+rr.String())
}

// DeleteRR deletes one record from zone at the role's server.
func (l *Lab) DeleteRR(ctx context.Context, r Role, zone, keyName string, rr dns.RR) error {
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	m.Remove([]dns.RR{rr})
	return l.send(ctx, r, keyName, m, "delete "+rr.String())
}

// SetDS replaces the DS of a child of lab. at the registry's primary, as
// the registrar would, and waits until the primary serves it (none: the
// DS is removed).
func (l *Lab) SetDS(ctx context.Context, zone string, ds []dns.RR) error {
	zone = dns.Fqdn(zone)
	if err := l.Update(ctx, RoleTLD, TLD, KeyRegistrar, zone, dns.TypeDS, ds); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, rr := range ds {
		want[checks.RRData(rr)] = true
	}
	return poll(ctx, func() error {
		m, err := l.query(ctx, RoleTLD, zone, dns.TypeDS, false)
		if err != nil && (m == nil || m.Rcode != dns.RcodeSuccess) {
			return err
		}
		got := map[string]bool{}
		for _, rr := range m.Answer {
			if rr.Header().Rrtype == dns.TypeDS {
				got[checks.RRData(rr)] = true
			}
		}
		if len(got) != len(want) {
			return fmt.Errorf("lab: registry serves %d DS for %s, want %d", len(got), zone, len(want))
		}
		for k := range want {
			if !got[k] {
				return fmt.Errorf("lab: registry does not serve DS %s yet", k)
			}
		}
		return nil
	})
}

// writeTrustAnchor writes the root's KSK as a DS in zone-file format: the
// lab's answer to the IANA root anchor.
func (l *Lab) writeTrustAnchor(ctx context.Context) error {
	ds, err := l.LiveDS(ctx, RoleRoot, ".")
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, rr := range ds {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	l.TrustAnchor = filepath.Join(l.Config.Dir, "root.ds")
	if err := os.WriteFile(l.TrustAnchor, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("lab: write trust anchor: %w", err)
	}
	return nil
}

// Serial is the SOA serial the role's server serves for zone.
func (l *Lab) Serial(ctx context.Context, r Role, zone string) (uint32, error) {
	m, err := l.query(ctx, r, zone, dns.TypeSOA, false)
	if err != nil {
		return 0, err
	}
	for _, rr := range m.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("lab: %s answered no SOA for %s", r, zone)
}

// WaitInSync waits until every secondary serves its primary's serial of
// each zone they share.
func (l *Lab) WaitInSync(ctx context.Context) error {
	for _, role := range l.active() {
		r := struct{ role Role }{role}
		for _, z := range l.zones(r.role) {
			if z.Primary == "" || (r.role == RoleTLD6 && l.holdIPv6) {
				continue
			}
			primary := l.roleAt(z.Primary)
			err := poll(ctx, func() error {
				p, err := l.Serial(ctx, primary, z.Name)
				if err != nil {
					return err
				}
				s, err := l.Serial(ctx, r.role, z.Name)
				if err != nil {
					return err
				}
				if p != s {
					return fmt.Errorf("lab: %s serves %s serial %d, %s serves %d", primary, z.Name, p, r.role, s)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Lab) roleAt(addr string) Role {
	for r, a := range l.Addrs {
		if a.String() == addr {
			return r
		}
	}
	return ""
}

// Stop stops one server; Start starts it again with the same config.
func (l *Lab) Stop(ctx context.Context, r Role) error {
	p, ok := l.Procs[r]
	if !ok {
		return fmt.Errorf("lab: no server %q", r)
	}
	return p.stop(ctx)
}

// Start restarts a server stopped by Stop and waits until it answers.
func (l *Lab) Start(ctx context.Context, r Role) error {
	p, ok := l.Procs[r]
	if !ok {
		return fmt.Errorf("lab: no server %q", r)
	}
	if p.alive() {
		return nil
	}
	if err := l.launch(ctx, r, p.Config, p.Args...); err != nil {
		return err
	}
	if IsResolver(r) {
		return l.waitAnswer(ctx, r, Zone, dns.TypeSOA, true)
	}
	return nil
}

// FlushResolvers empties every resolver's cache, bogus entries included
// (Unbound otherwise keeps a zone bogus for a minute whatever the TTLs).
func (l *Lab) FlushResolvers(ctx context.Context) error {
	for _, r := range Resolvers {
		if err := l.flushResolver(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// HoldTransfers stops (true) or resumes (false) NOTIFY and zone transfers
// from a BIND primary (RoleTLD or RoleOld1) to its secondary, so that a test
// can make the two drift apart. Resuming asks the secondary to refresh at
// once and waits until it has caught up.
func (l *Lab) HoldTransfers(ctx context.Context, primary Role, hold bool) error {
	if primary != RoleTLD && primary != RoleOld1 {
		return fmt.Errorf("lab: %s is not a BIND primary with a secondary", primary)
	}
	if _, err := l.renderBIND(primary, hold); err != nil {
		return err
	}
	if _, err := l.rndc(ctx, primary, "reconfig"); err != nil {
		return err
	}
	if hold {
		return nil
	}
	secondary := map[Role]Role{RoleTLD: RoleTLD2, RoleOld1: RoleOld2}[primary]
	for _, z := range l.zones(secondary) {
		if _, err := l.rndc(ctx, secondary, "refresh", strings.TrimSuffix(z.Name, ".")); err != nil {
			return err
		}
	}
	return l.WaitInSync(ctx)
}

func (l *Lab) rndc(ctx context.Context, r Role, args ...string) (string, error) {
	k := l.Keys[KeyRNDC]
	keyFile := filepath.Join(l.roleDir(r), "rndc.key")
	if err := os.WriteFile(keyFile, []byte(fmt.Sprintf("key %q { algorithm %s; secret %q; };\n", k.Name, k.Algorithm, k.Secret)), 0o600); err != nil {
		return "", fmt.Errorf("lab: write rndc key: %w", err)
	}
	return run(ctx, append([]string{"rndc", "-k", keyFile, "-s", l.Addrs[r].String(), "-p", "953"}, args...)...)
}

// EnvVar is one line of `migrate lab env`.
type EnvVar struct{ Name, Value string }

// Env lists what scripts need to talk to the lab: addresses, TSIG key names
// and the files holding their secrets, and the trust anchor. Never a secret.
func (l *Lab) Env() []EnvVar {
	join := func(rs ...Role) string {
		var s []string
		for _, r := range rs {
			s = append(s, l.Addr(r))
		}
		return strings.Join(s, ",")
	}
	out := []EnvVar{
		{"LAB_DIR", l.Config.Dir},
		{"LAB_ZONE", Zone},
		{"LAB_UNSIGNED_ZONE", UnsignedZone},
		{"LAB_ROOT", l.Addr(RoleRoot)},
		{"LAB_TRUST_ANCHOR", l.TrustAnchor},
		{"LAB_REGISTRAR", l.Addr(RoleTLD)},
		{"LAB_PARENT_SERVERS", join(RoleTLD, RoleTLD2)},
		{"LAB_OLD_SERVERS", join(RoleOld1, RoleOld2)},
		{"LAB_OLD_NS", strings.Join(OldNS[:], ",")},
		{"LAB_NEW_SERVERS", join(RoleNew1, RoleNew2)},
		{"LAB_NEW_NS", strings.Join(NewNS[:], ",")},
		{"LAB_PDNS_SERVERS", join(RolePDNS1, RolePDNS2)},
		{"LAB_PDNS_NS", strings.Join(PDNSNS[:], ",")},
		{"LAB_PDNS_API", l.PDNSAPI()},
		{"LAB_PDNS_API_KEY_FILE", l.Keys[KeyPDNSAPI].File},
		{"LAB_DELEGATED_TO", l.Config.DelegateTo},
		{"LAB_RESOLVER_VALIDATING", l.Addr(RoleValidating)},
		{"LAB_RESOLVER_PLAIN", l.Addr(RolePlain)},
		{"LAB_RESOLVER_STICKY", l.Addr(RoleSticky)},
		{"LAB_RESOLVER_BIND", l.Addr(RoleBINDRes)},
		{"LAB_RESOLVER_KRESD", l.Addr(RoleKresd)},
		{"LAB_RESOLVER_RECURSOR", l.Addr(RoleRecursor)},
		{"LAB_RESOLVERS_VALIDATING", join(ValidatingResolvers...)},
	}
	// Every honest resolver: the four validating implementations and the
	// plain one (not the sticky one, which breaks the TTL contract).
	resolvers := join(append(slices.Clone(ValidatingResolvers), RolePlain)...)
	// What `migrate check` reads from the environment, aimed at the lab.
	out = append(out,
		EnvVar{"MIGRATE_ROOT", l.Addr(RoleRoot)},
		EnvVar{"MIGRATE_TRUST_ANCHOR", l.TrustAnchor},
		EnvVar{"MIGRATE_RESOLVER", resolvers})
	// What a migration spec reads from the environment (examples/lab-*.yaml).
	out = append(out,
		EnvVar{"MIGRATE_VERIFY_ROOT", l.Addr(RoleRoot)},
		EnvVar{"MIGRATE_VERIFY_TRUST_ANCHOR", l.TrustAnchor},
		EnvVar{"MIGRATE_VERIFY_RESOLVERS", resolvers},
		EnvVar{"MIGRATE_REGISTRAR_SERVER", l.Addr(RoleTLD)},
		EnvVar{"MIGRATE_REGISTRAR_TSIG_SECRET_FILE", l.Keys[KeyRegistrar].File},
		EnvVar{"MIGRATE_PROVIDERS_OLD_SERVER", l.Addr(RoleOld1)},
		EnvVar{"MIGRATE_PROVIDERS_OLD_TSIG_SECRET_FILE", l.Keys[KeyOld].File},
		EnvVar{"MIGRATE_PROVIDERS_NEW_SERVER", l.Addr(RoleNew1)},
		EnvVar{"MIGRATE_PROVIDERS_NEW_TSIG_SECRET_FILE", l.Keys[KeyNew].File},
		EnvVar{"MIGRATE_PROVIDERS_PDNS_ENDPOINT", l.PDNSAPI()},
		EnvVar{"MIGRATE_PROVIDERS_PDNS_TOKEN_FILE", l.Keys[KeyPDNSAPI].File})
	for _, k := range []struct{ prefix, name string }{{"REGISTRAR", KeyRegistrar}, {"OLD", KeyOld}, {"NEW", KeyNew}, {"PDNS", KeyPDNS}} {
		key := l.Keys[k.name]
		out = append(out,
			EnvVar{"LAB_" + k.prefix + "_TSIG_NAME", key.Name},
			EnvVar{"LAB_" + k.prefix + "_TSIG_ALGORITHM", key.Algorithm},
			EnvVar{"LAB_" + k.prefix + "_TSIG_SECRET_FILE", key.File})
	}
	return out
}

// Faults the lab can show on purpose, named after the finding each makes
// `migrate check` report.
const (
	FaultDSMismatch     = "ds-mismatch"     // the registry serves a DS that matches no key of example.lab.
	FaultLameDelegation = "lame-delegation" // OLD's secondary is stopped
)

// Faults lists what Break accepts.
var Faults = []string{FaultDSMismatch, FaultLameDelegation}

// Break puts one fault into the lab and flushes the resolvers, so they
// show it at once rather than after their caches expire; Repair takes
// every fault out.
func (l *Lab) Break(ctx context.Context, fault string) error {
	if err := l.inject(ctx, fault); err != nil {
		return err
	}
	return l.FlushResolvers(ctx)
}

func (l *Lab) inject(ctx context.Context, fault string) error {
	switch fault {
	case FaultDSMismatch:
		ds, err := l.LiveDS(ctx, RoleOld1, Zone)
		if err != nil {
			return err
		}
		bad := dns.Copy(ds[0]).(*dns.DS)
		bad.Digest = strings.Repeat("0", len(bad.Digest)-2) + "AA"
		if err := l.SetDS(ctx, Zone, []dns.RR{bad}); err != nil {
			return err
		}
		return l.WaitInSync(ctx)
	case FaultLameDelegation:
		return l.Stop(ctx, RoleOld2)
	}
	return fmt.Errorf("lab: unknown fault %q (want one of %s)", fault, strings.Join(Faults, ", "))
}

// Repair starts any stopped server, puts back the DS made from the live
// KSK of the provider the lab started delegated to (OLD by default), waits until secondaries catch up and flushes the resolvers.
func (l *Lab) Repair(ctx context.Context) error {
	for _, r := range l.active() {
		if err := l.Start(ctx, r); err != nil {
			return err
		}
	}
	if err := l.save(); err != nil {
		return err
	}
	if err := l.publishDS(ctx); err != nil {
		return err
	}
	if err := l.WaitInSync(ctx); err != nil {
		return err
	}
	return l.FlushResolvers(ctx)
}

// publishDS sets the registry's DS for example.lab. to the DS of the live
// KSK of the provider the zone is delegated to: the lab's healthy state.
func (l *Lab) publishDS(ctx context.Context) error {
	_, signer := delegated(l.Config.DelegateTo)
	ds, err := l.LiveDS(ctx, signer, Zone)
	if err != nil {
		return err
	}
	return l.SetDS(ctx, Zone, ds)
}

// UpdateMessages counts the RFC 2136 update messages a server accepted for
// zone, from its own log: the provider's and the registrar's change
// history, to prove no change was sent twice. BIND logs every record of a
// message with the client's address and port (a message without update
// records logs none), Knot one line per message (and says when one made
// no change).
func (l *Lab) UpdateMessages(r Role, zone string) (int, error) {
	zone = strings.TrimSuffix(dns.Fqdn(zone), ".")
	switch r {
	case RoleNew1:
		b, err := os.ReadFile(filepath.Join(l.roleDir(r), "knot.log"))
		if err != nil {
			return 0, fmt.Errorf("lab: %w", err)
		}
		// A message that changed nothing (a prerequisite-only update that
		// proves a key) is not part of the change history.
		return strings.Count(string(b), "["+zone+".] DDNS, processing") - strings.Count(string(b), "["+zone+".] DDNS, finished, no changes to the zone were made"), nil
	case RoleTLD, RoleOld1, RoleRoot:
		b, err := os.ReadFile(filepath.Join(l.roleDir(r), "named.log"))
		if err != nil {
			return 0, fmt.Errorf("lab: %w", err)
		}
		messages := map[string]bool{}
		for _, line := range strings.Split(string(b), "\n") {
			i := strings.Index(line, ": updating zone '"+zone+"/IN'")
			j := strings.Index(line, "update: client @")
			if i < 0 || j < 0 {
				continue
			}
			// "client @0x.. ADDR#PORT/key NAME": one TCP connection per message.
			fields := strings.Fields(line[j:i])
			if len(fields) >= 4 {
				messages[fields[3]] = true
			}
		}
		return len(messages), nil
	}
	return 0, fmt.Errorf("lab: %s takes no updates", r)
}
