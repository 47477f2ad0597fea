package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
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
			if !hasType(m.Answer, dns.TypeRRSIG) {
				return fmt.Errorf("lab: %s serves %s %s unsigned", r, zone, dns.TypeToString[t])
			}
		}
		return nil
	}))
}

func hasType(rrs []dns.RR, t uint16) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			return true
		}
	}
	return false
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
// TSIG key.
func (l *Lab) Update(ctx context.Context, r Role, zone, keyName, owner string, rrtype uint16, rrs []dns.RR) error {
	k, ok := l.Keys[keyName]
	if !ok {
		return fmt.Errorf("lab: no key %q", keyName)
	}
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: dns.Fqdn(owner), Rrtype: rrtype, Class: dns.ClassINET}}})
	if len(rrs) > 0 {
		m.Insert(rrs)
	}
	tsigName := dns.Fqdn(k.Name)
	m.SetTsig(tsigName, dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{tsigName: k.Secret}}
	resp, _, err := c.ExchangeContext(ctx, m, l.Addr(r))
	if err != nil {
		return fmt.Errorf("lab: update %s %s at %s: %w", owner, dns.TypeToString[rrtype], l.Addr(r), err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("lab: update %s %s at %s: %s", owner, dns.TypeToString[rrtype], l.Addr(r), dns.RcodeToString[resp.Rcode])
	}
	return nil
}

// SetChildDS replaces the DS of example.lab. at the registry, as the
// registrar would, and waits until the registry serves it.
func (l *Lab) SetChildDS(ctx context.Context, ds []dns.RR) error {
	if err := l.Update(ctx, RoleTLD, TLD, KeyRegistrar, Zone, dns.TypeDS, ds); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, rr := range ds {
		want[rrData(rr)] = true
	}
	return poll(ctx, func() error {
		m, err := l.query(ctx, RoleTLD, Zone, dns.TypeDS, false)
		if err != nil && (m == nil || m.Rcode != dns.RcodeSuccess) {
			return err
		}
		got := map[string]bool{}
		for _, rr := range m.Answer {
			if rr.Header().Rrtype == dns.TypeDS {
				got[rrData(rr)] = true
			}
		}
		if len(got) != len(want) {
			return fmt.Errorf("lab: registry serves %d DS for %s, want %d", len(got), Zone, len(want))
		}
		for k := range want {
			if !got[k] {
				return fmt.Errorf("lab: registry does not serve DS %s yet", k)
			}
		}
		return nil
	})
}

func rrData(rr dns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
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

func (l *Lab) serial(ctx context.Context, r Role) (uint32, error) {
	m, err := l.query(ctx, r, Zone, dns.TypeSOA, false)
	if err != nil {
		return 0, err
	}
	for _, rr := range m.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("lab: %s answered no SOA for %s", r, Zone)
}

// WaitInSync waits until each provider's secondary serves its primary's
// serial of example.lab.
func (l *Lab) WaitInSync(ctx context.Context) error {
	for _, pair := range [][2]Role{{RoleOld1, RoleOld2}, {RoleNew1, RoleNew2}} {
		err := poll(ctx, func() error {
			p, err := l.serial(ctx, pair[0])
			if err != nil {
				return err
			}
			s, err := l.serial(ctx, pair[1])
			if err != nil {
				return err
			}
			if p != s {
				return fmt.Errorf("lab: %s serves serial %d, %s serves %d", pair[0], p, pair[1], s)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
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
	zone := ""
	switch r {
	case RoleRoot:
		zone = "."
	case RoleTLD:
		zone = TLD
	case RoleOld1, RoleOld2, RoleNew1, RoleNew2:
		zone = Zone
	}
	if err := l.launch(ctx, r, zone, p.Config, p.Args...); err != nil {
		return err
	}
	if zone == "" {
		return l.waitAnswer(ctx, r, Zone, dns.TypeSOA, true)
	}
	return nil
}

// FlushResolvers empties both resolvers' caches, bogus entries included
// (Unbound otherwise keeps a zone bogus for a minute whatever the TTLs).
func (l *Lab) FlushResolvers(ctx context.Context) error {
	for _, r := range []Role{RoleValidating, RolePlain} {
		conf := filepath.Join(l.roleDir(r), "unbound.conf")
		for _, cmd := range [][]string{{"flush_zone", "."}, {"flush_bogus"}, {"flush_negative"}, {"flush_infra", "all"}} {
			args := append([]string{"unbound-control", "-c", conf}, cmd...)
			if _, err := run(ctx, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// HoldTransfers stops (true) or resumes (false) zone transfers from OLD's
// primary to its secondary, so that a test can make their serials drift.
// Resuming asks the secondary to refresh at once.
func (l *Lab) HoldTransfers(ctx context.Context, hold bool) error {
	dir := l.roleDir(RoleOld1)
	z := bindZone{Name: Zone, File: "example.lab.zone", UpdateKey: KeyOld, AlsoNotify: l.Addrs[RoleOld2].String()}
	d := l.bindData(RoleOld1, z, false)
	d.Notify, d.Transfers = !hold, !hold
	if err := render("named.conf.tmpl", filepath.Join(dir, "named.conf"), d); err != nil {
		return err
	}
	if _, err := l.rndc(ctx, RoleOld1, "reconfig"); err != nil {
		return err
	}
	if hold {
		return nil
	}
	if _, err := l.rndc(ctx, RoleOld2, "refresh", strings.TrimSuffix(Zone, ".")); err != nil {
		return err
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
		{"LAB_ROOT", l.Addr(RoleRoot)},
		{"LAB_TRUST_ANCHOR", l.TrustAnchor},
		{"LAB_REGISTRAR", l.Addr(RoleTLD)},
		{"LAB_OLD_SERVERS", join(RoleOld1, RoleOld2)},
		{"LAB_OLD_NS", strings.Join(OldNS[:], ",")},
		{"LAB_NEW_SERVERS", join(RoleNew1, RoleNew2)},
		{"LAB_NEW_NS", strings.Join(NewNS[:], ",")},
		{"LAB_RESOLVER_VALIDATING", l.Addr(RoleValidating)},
		{"LAB_RESOLVER_PLAIN", l.Addr(RolePlain)},
	}
	for _, k := range []struct{ prefix, name string }{{"REGISTRAR", KeyRegistrar}, {"OLD", KeyOld}, {"NEW", KeyNew}} {
		key := l.Keys[k.name]
		out = append(out,
			EnvVar{"LAB_" + k.prefix + "_TSIG_NAME", key.Name},
			EnvVar{"LAB_" + k.prefix + "_TSIG_ALGORITHM", key.Algorithm},
			EnvVar{"LAB_" + k.prefix + "_TSIG_SECRET_FILE", key.File})
	}
	return out
}
