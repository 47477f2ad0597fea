// Package lab runs a complete DNS hierarchy of real servers on loopback
// addresses: a signed root (BIND 9), a signed TLD that plays the registrar
// (BIND 9, RFC 2136 + TSIG), provider OLD (two BIND 9 servers), provider NEW
// (two Knot DNS servers), provider PDNS (two PowerDNS Authoritative servers
// on one database, with the HTTP API), four validating resolvers of four implementations
// (Unbound, BIND 9, Knot Resolver, PowerDNS Recursor) trusting the lab root's
// key, and two non-validating Unbound resolvers.
//
// Nothing in the lab talks to any address outside the configured prefix: the
// resolvers' only root hint is the lab root, and every server listens on and
// sends from its own loopback address.
package lab

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultPrefix is the loopback network the lab uses unless told otherwise.
const DefaultPrefix = "127.60.0.0/24"

// Zone names inside the lab.
const (
	TLD  = "lab."
	Zone = "example.lab." // signed on both providers
	// UnsignedZone is served unsigned by both providers.
	UnsignedZone = "unsigned.lab."
)

// Config says where the lab lives and how short its TTLs are.
type Config struct {
	// Prefix is a /24 inside 127.0.0.0/8; each server takes a fixed host
	// number in it (see Role).
	Prefix string
	// Dir holds generated configs, zones, keys, logs and the state file.
	// Empty: a directory under os.TempDir named after the prefix.
	Dir string
	// RecordTTL is the TTL of the child zone's records.
	RecordTTL time.Duration
	// ApexNSTTL is the TTL of the child zone's apex NS set: longer than
	// the records', as in most real zones, so that caches expire out of
	// step, the way that makes a hurried migration fail.
	ApexNSTTL time.Duration
	// DelegationTTL is the TTL of NS, glue and DS at the parents.
	DelegationTTL time.Duration
	// DNSKEYTTL is the TTL of the DNSKEY RRset of every zone but OLD's.
	DNSKEYTTL time.Duration
	// OldDNSKEYTTL is the DNSKEY TTL at provider OLD: longer than the
	// delegation's, as real zones' (3600 s against a lowered NS TTL) are,
	// so that a DS published too soon after the NS switch meets resolvers
	// still holding OLD's keys.
	OldDNSKEYTTL time.Duration
	// NegativeTTL is every zone's SOA minimum (negative caching).
	NegativeTTL time.Duration
	// StartTimeout bounds how long Up waits for the servers.
	StartTimeout time.Duration
	// DelegateTo is the provider the zone is delegated to, with its DS, when
	// the lab starts: DelegateOld (the default), DelegateNew or
	// DelegatePDNS.
	DelegateTo string
	// IPv6 asks for the parent secondary on [::1]:53 (RoleTLD6). Only one
	// lab on a machine can have it: a lab that finds it taken runs
	// without it (Lab.IPv6 says which).
	IPv6 bool
	// NewAlgorithm is the DNSSEC algorithm NEW's Knot DNS signs with:
	// AlgorithmECDSA (the default, as Cloudflare, Route 53 and most
	// hosts sign) or AlgorithmEd25519, cheaper to sign with (Knot alone
	// applied 100,000 TTL changes in 0.6 of ECDSA's time; the whole lab
	// move barely gained). BenchmarkLargeZone can take it, to tell the
	// host's signing from the tool's own time.
	NewAlgorithm string
}

// The algorithms NEW can sign with (Knot DNS's names for them).
const (
	AlgorithmECDSA   = "ecdsap256sha256"
	AlgorithmEd25519 = "ed25519"
)

// WithDefaults fills every zero field.
func (c Config) WithDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Dir == "" {
		c.Dir = filepath.Join(os.TempDir(), "dnsmigrate-lab-"+strings.NewReplacer("/", "_", ":", "_").Replace(c.Prefix))
	}
	if c.RecordTTL == 0 {
		c.RecordTTL = 15 * time.Second
	}
	if c.ApexNSTTL == 0 {
		c.ApexNSTTL = 40 * time.Second
	}
	if c.DelegationTTL == 0 {
		c.DelegationTTL = 10 * time.Second
	}
	if c.DNSKEYTTL == 0 {
		c.DNSKEYTTL = 20 * time.Second
	}
	if c.OldDNSKEYTTL == 0 {
		c.OldDNSKEYTTL = 30 * time.Second
	}
	if c.NegativeTTL == 0 {
		c.NegativeTTL = 5 * time.Second
	}
	if c.DelegateTo == "" {
		c.DelegateTo = DelegateOld
	}
	if c.NewAlgorithm == "" {
		c.NewAlgorithm = AlgorithmECDSA
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 45 * time.Second
	}
	return c
}

// The providers a lab can start with the zone delegated to.
const (
	DelegateOld  = "old"  // BIND 9
	DelegateNew  = "new"  // Knot DNS
	DelegatePDNS = "pdns" // PowerDNS
)

// Delegations lists them.
var Delegations = []string{DelegateOld, DelegateNew, DelegatePDNS}

// delegated is the zone's name servers and the role whose KSK the DS is
// made from, for a DelegateTo.
func delegated(to string) (ns [2]string, signer Role) {
	switch to {
	case DelegateNew:
		return NewNS, RoleNew1
	case DelegatePDNS:
		return PDNSNS, RolePDNS1
	}
	return OldNS, RoleOld1
}

// Role names one server of the lab.
type Role string

// The lab's servers. The number is the host part of its address.
const (
	RoleRoot Role = "root" // .1  BIND 9, signed root zone
	RoleTLD  Role = "tld"  // .2  BIND 9, primary of signed lab., the registrar
	RoleTLD2 Role = "tld2" // .3  BIND 9, secondary of lab.
	// RoleTLD6 is a third secondary of lab. that answers on [::1]:53 only
	// (its IPv4 address .4 serves transfers and NOTIFY): the one IPv6
	// address tests may use, so only one lab at a time runs it.
	RoleTLD6       Role = "tld6"
	RoleOld1       Role = "old1"          // .11 BIND 9 primary of example.lab. (provider OLD)
	RoleOld2       Role = "old2"          // .12 BIND 9 secondary of example.lab.
	RoleNew1       Role = "new1"          // .21 Knot DNS primary of example.lab. (provider NEW)
	RoleNew2       Role = "new2"          // .22 Knot DNS secondary of example.lab.
	RolePDNS1      Role = "pdns1"         // .31 PowerDNS Authoritative with the HTTP API (provider PDNS)
	RolePDNS2      Role = "pdns2"         // .32 PowerDNS Authoritative on the same database
	RoleValidating Role = "validating"    // .53 Unbound, validating
	RolePlain      Role = "plain"         // .54 Unbound, not validating
	RoleSticky     Role = "sticky"        // .55 Unbound, keeps every answer an hour whatever its TTL
	RoleBINDRes    Role = "bind-resolver" // .56 BIND 9, validating resolver
	RoleKresd      Role = "kresd"         // .57 Knot Resolver, validating
	RoleRecursor   Role = "recursor"      // .58 PowerDNS Recursor, validating
)

// ValidatingResolvers are the lab's four validating implementations.
var ValidatingResolvers = []Role{RoleValidating, RoleBINDRes, RoleKresd, RoleRecursor}

// Resolvers are every resolver of the lab, validating or not.
var Resolvers = []Role{RoleValidating, RolePlain, RoleSticky, RoleBINDRes, RoleKresd, RoleRecursor}

// IsResolver reports whether the role is one of the lab's resolvers.
func IsResolver(r Role) bool { return slices.Contains(Resolvers, r) }

// Roles lists every server in start order.
var roles = []struct {
	role Role
	host byte
}{
	{RoleRoot, 1}, {RoleTLD, 2}, {RoleTLD2, 3}, {RoleTLD6, 4}, {RoleOld1, 11}, {RoleOld2, 12},
	{RoleNew1, 21}, {RoleNew2, 22}, {RolePDNS1, 31}, {RolePDNS2, 32}, {RoleValidating, 53}, {RolePlain, 54}, {RoleSticky, 55},
	{RoleBINDRes, 56}, {RoleKresd, 57}, {RoleRecursor, 58},
}

// Addrs maps each role to its loopback address.
func (c Config) Addrs() (map[Role]netip.Addr, error) {
	p, err := netip.ParsePrefix(c.Prefix)
	if err != nil {
		return nil, fmt.Errorf("lab: prefix %q: %w", c.Prefix, err)
	}
	if !p.Addr().Is4() || p.Bits() != 24 || !netip.MustParsePrefix("127.0.0.0/8").Contains(p.Addr()) {
		return nil, fmt.Errorf("lab: prefix %q: want a /24 inside 127.0.0.0/8", c.Prefix)
	}
	base := p.Masked().Addr().As4()
	out := make(map[Role]netip.Addr, len(roles))
	for _, r := range roles {
		a := base
		a[3] = r.host
		out[r.role] = netip.AddrFrom4(a)
	}
	return out, nil
}

func seconds(d time.Duration) int { return int(d / time.Second) }
