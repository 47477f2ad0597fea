package lab

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/internal/jsonio"
)

//go:embed templates/*.tmpl
var templates embed.FS

// Key is a TSIG (or rndc) key of the lab. Its secret is written to File
// (mode 0600) and into the servers' configs, never to the state file.
type Key struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	File      string `json:"file"`
	Secret    string `json:"-"`
}

// Names of the lab's keys.
const (
	KeyAdmin     = "lab-admin"     // updates of the root zone (the lab's own bootstrap)
	KeyRegistrar = "registrar-key" // updates of lab. (the registrar's API)
	KeyOld       = "old-key"       // updates of example.lab. at OLD
	KeyNew       = "new-key"       // updates of example.lab. at NEW
	KeyPDNS      = "pdns-key"      // updates and transfers of example.lab. at PDNS
	KeyPDNSAPI   = "pdns-api-key"  // the PowerDNS HTTP API's key (X-API-Key)
	KeyXfer      = "xfer-key"      // zone transfers within a provider
	KeyRNDC      = "rndc-key"      // rndc to the BIND servers
)

// Lab is a running (or recorded) lab.
type Lab struct {
	Config Config              `json:"config"`
	Addrs  map[Role]netip.Addr `json:"addrs"`
	Procs  map[Role]Proc       `json:"procs"`
	Keys   map[string]Key      `json:"keys"`
	// TrustAnchor is the path of the root's DS in zone-file format.
	TrustAnchor string    `json:"trust_anchor"`
	Started     time.Time `json:"started"`
	// IPv6 says this lab runs the parent secondary on [::1]:53.
	IPv6 bool `json:"ipv6"`

	holdIPv6 bool // the IPv6 secondary is held behind (HoldIPv6)
}

// active lists the lab's servers in start order: every role, but the IPv6
// parent secondary only when this lab holds [::1]:53.
func (l *Lab) active() []Role {
	var out []Role
	for _, r := range roles {
		if r.role != RoleTLD6 || l.IPv6 {
			out = append(out, r.role)
		}
	}
	return out
}

const stateFile = "lab.json"

// Open reads the state of a lab started earlier, by this or another
// process. It does not check that the servers still run.
func Open(cfg Config) (*Lab, error) {
	cfg = cfg.WithDefaults()
	b, err := os.ReadFile(filepath.Join(cfg.Dir, stateFile))
	if errors.Is(err, fs.ErrPermission) {
		return nil, errNotOwner(err)
	}
	if err != nil {
		return nil, fmt.Errorf("lab: no lab recorded in %s (run `migrate lab up`): %w", cfg.Dir, err)
	}
	var l Lab
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("lab: read %s: %w", filepath.Join(cfg.Dir, stateFile), err)
	}
	for name, k := range l.Keys {
		s, err := os.ReadFile(k.File)
		if errors.Is(err, fs.ErrPermission) {
			return nil, errNotOwner(err)
		}
		if err != nil {
			return nil, fmt.Errorf("lab: read key %s: %w", name, err)
		}
		k.Secret = strings.TrimSpace(string(s))
		l.Keys[name] = k
	}
	return &l, nil
}

// errNotOwner says a lab's files cannot be read by this user: the lab is
// up, but it belongs to root.
func errNotOwner(err error) error {
	return fmt.Errorf("lab: %w: the lab belongs to the user who started it (root, as `lab up` needs); run this as root or with sudo", err)
}

// Up starts the lab, or returns the one already running at cfg.Dir when
// every one of its servers is alive and answers. A half-dead lab is taken
// down and started afresh.
func Up(ctx context.Context, cfg Config) (*Lab, error) {
	cfg = cfg.WithDefaults()
	if l, err := Open(cfg); err == nil {
		if l.Healthy(ctx) == nil {
			return l, nil
		}
		if err := l.Down(ctx); err != nil {
			return nil, err
		}
	}
	if !slices.Contains(Delegations, cfg.DelegateTo) {
		return nil, fmt.Errorf("lab: delegate to %q: want one of %s", cfg.DelegateTo, strings.Join(Delegations, ", "))
	}
	if cfg.NewAlgorithm != AlgorithmECDSA && cfg.NewAlgorithm != AlgorithmEd25519 {
		return nil, fmt.Errorf("lab: NEW's signing algorithm %q: want %s or %s", cfg.NewAlgorithm, AlgorithmECDSA, AlgorithmEd25519)
	}
	for _, bin := range []string{"named", "knotd", "pdns_server", "pdnsutil", "sqlite3", "unbound", "kresd", "pdns_recursor", "rndc", "unbound-control", "rec_control", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("lab: %s is not installed (run `make deps`): %w", bin, err)
		}
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("lab: `lab up` needs root: it adds the lab's addresses to lo and binds port 53 on them; run it as root or with sudo")
	}
	addrs, err := cfg.Addrs()
	if err != nil {
		return nil, err
	}
	l := &Lab{Config: cfg, Addrs: addrs, Procs: map[Role]Proc{}, Keys: map[string]Key{}, Started: time.Now().UTC()}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if err := l.bootstrap(ctx); err != nil {
		// Leave nothing half-started behind.
		_ = l.Down(context.Background())
		return nil, err
	}
	return l, nil
}

func (l *Lab) bootstrap(ctx context.Context) error {
	c := l.Config
	if err := os.RemoveAll(c.Dir); err != nil {
		return fmt.Errorf("lab: clean %s: %w", c.Dir, err)
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, "keys"), 0o700); err != nil {
		return fmt.Errorf("lab: create %s: %w", c.Dir, err)
	}
	for _, name := range []string{KeyAdmin, KeyRegistrar, KeyOld, KeyNew, KeyPDNS, KeyPDNSAPI, KeyXfer, KeyRNDC} {
		if err := l.newKey(name); err != nil {
			return err
		}
	}
	if err := l.addAddrs(ctx); err != nil {
		return err
	}
	if c.IPv6 {
		got, err := takeIPv6(c.Dir)
		if err != nil {
			return err
		}
		l.IPv6 = got
	}
	// State first, so that Down can find whatever gets started.
	if err := l.save(); err != nil {
		return err
	}
	for _, r := range []Role{RoleRoot, RoleTLD, RoleTLD2, RoleTLD6, RoleOld1, RoleOld2} {
		if r == RoleTLD6 && !l.IPv6 {
			continue
		}
		if err := l.startBIND(ctx, r); err != nil {
			return err
		}
	}
	for _, r := range []Role{RoleNew1, RoleNew2} {
		if err := l.startKnot(ctx, r); err != nil {
			return err
		}
	}
	if err := l.setupPDNS(ctx); err != nil {
		return err
	}
	for _, r := range []Role{RolePDNS1, RolePDNS2} {
		if err := l.startPDNS(ctx, r); err != nil {
			return err
		}
	}
	for _, s := range []struct {
		role Role
		zone string
	}{{RoleRoot, "."}, {RoleTLD, TLD}, {RoleOld1, Zone}, {RoleNew1, Zone}, {RolePDNS1, Zone}, {RolePDNS2, Zone}} {
		if err := l.waitSigned(ctx, s.role, s.zone); err != nil {
			return err
		}
	}
	// Link the chain of trust the way a registry would: DS records made
	// from each child's live KSK, sent to the parent as RFC 2136 updates.
	tldDS, err := l.LiveDS(ctx, RoleTLD, TLD)
	if err != nil {
		return err
	}
	if err := l.Update(ctx, RoleRoot, ".", KeyAdmin, TLD, dns.TypeDS, tldDS); err != nil {
		return err
	}
	if err := l.publishDS(ctx); err != nil {
		return err
	}
	if err := l.writeTrustAnchor(ctx); err != nil {
		return err
	}
	if err := l.WaitInSync(ctx); err != nil {
		return err
	}
	for _, r := range []Role{RoleValidating, RolePlain, RoleSticky} {
		if err := l.startUnbound(ctx, r); err != nil {
			return err
		}
	}
	for _, start := range []func(context.Context) error{l.startBINDResolver, l.startKresd, l.startRecursor} {
		if err := start(ctx); err != nil {
			return err
		}
	}
	return l.save()
}

func (l *Lab) newKey(name string) error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("lab: key %s: %w", name, err)
	}
	k := Key{Name: name, Algorithm: "hmac-sha256", File: filepath.Join(l.Config.Dir, "keys", name+".secret"), Secret: base64.StdEncoding.EncodeToString(b)}
	if err := os.WriteFile(k.File, []byte(k.Secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("lab: write key %s: %w", name, err)
	}
	l.Keys[name] = k
	return nil
}

func (l *Lab) save() error {
	b, err := jsonio.Marshal(l)
	if err != nil {
		return fmt.Errorf("lab: encode state: %w", err)
	}
	p := filepath.Join(l.Config.Dir, stateFile)
	if err := os.WriteFile(p+".tmp", b, 0o644); err != nil {
		return fmt.Errorf("lab: write state: %w", err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return fmt.Errorf("lab: write state: %w", err)
	}
	return nil
}

// Addr is the role's server as host:port; the IPv6 parent secondary
// answers at [::1]:53 only.
func (l *Lab) Addr(r Role) string {
	if r == RoleTLD6 {
		return IPv6Addr
	}
	return net.JoinHostPort(l.Addrs[r].String(), "53")
}

// IPv6Addr is where RoleTLD6 answers: the only IPv6 address tests use.
const IPv6Addr = "[::1]:53"

func (l *Lab) roleDir(r Role) string { return filepath.Join(l.Config.Dir, string(r)) }

// addAddrs puts every lab address on lo as a /32: BIND listens only on
// addresses that exist on an interface.
func (l *Lab) addAddrs(ctx context.Context) error {
	for _, r := range roles {
		a := l.Addrs[r.role].String()
		out, err := run(ctx, "ip", "-o", "addr", "show", "dev", "lo")
		if err != nil {
			return err
		}
		if strings.Contains(out, " "+a+"/32") {
			continue
		}
		if _, err := run(ctx, "ip", "addr", "add", a+"/32", "dev", "lo"); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) delAddrs(ctx context.Context) {
	for _, r := range roles {
		_, _ = run(ctx, "ip", "addr", "del", l.Addrs[r.role].String()+"/32", "dev", "lo")
	}
}

// zoneDef is one zone on one server.
type zoneDef struct {
	Name, File string
	// Policy is the BIND dnssec-policy; Signed says the same for Knot.
	// Neither: the zone is served unsigned.
	Policy     string
	Signed     bool
	UpdateKey  string
	AlsoNotify string
	// Primary is the primary's address when this server is a secondary.
	Primary string
	text    string
}

func fileOf(zone string) string {
	if zone == "." {
		return "root.zone"
	}
	return strings.TrimSuffix(zone, ".") + ".zone"
}

// zones says which zones each server carries: the lab's whole topology.
func (l *Lab) zones(r Role) []zoneDef {
	c, a := l.Config, l.Addrs
	primary := func(name, policy, key string, secondary Role, text string) zoneDef {
		z := zoneDef{Name: name, File: fileOf(name), Policy: policy, Signed: policy != "", UpdateKey: key, text: text}
		if secondary != "" {
			z.AlsoNotify = a[secondary].String()
		}
		return z
	}
	secondary := func(name string, p Role) zoneDef {
		return zoneDef{Name: name, File: fileOf(name), Primary: a[p].String()}
	}
	switch r {
	case RoleRoot:
		return []zoneDef{primary(".", "lab", KeyAdmin, "", rootZone(c, a, l.IPv6))}
	case RoleTLD:
		z := primary(TLD, "lab-nsec3", KeyRegistrar, RoleTLD2, tldZone(c, a, l.IPv6, c.DelegateTo))
		if l.IPv6 {
			z.AlsoNotify += "; " + a[RoleTLD6].String()
		}
		return []zoneDef{z}
	case RoleTLD2:
		return []zoneDef{secondary(TLD, RoleTLD)}
	case RoleTLD6:
		z := secondary(TLD, RoleTLD)
		if l.holdIPv6 {
			// Lagging: its primary is an address nothing listens on, so it
			// keeps serving what it has and refuses NOTIFY from the real one.
			z.Primary = heldPrimary(a)
		}
		return []zoneDef{z}
	case RoleOld1:
		return []zoneDef{
			primary(Zone, "child", KeyOld, RoleOld2, childZone(c, a, Zone, OldNS)),
			primary(UnsignedZone, "", KeyOld, RoleOld2, childZone(c, a, UnsignedZone, OldNS)),
		}
	case RoleOld2:
		return []zoneDef{secondary(Zone, RoleOld1), secondary(UnsignedZone, RoleOld1)}
	case RoleNew1:
		return []zoneDef{
			primary(Zone, "lab", KeyNew, RoleNew2, childZone(c, a, Zone, NewNS)),
			primary(UnsignedZone, "", KeyNew, RoleNew2, childZone(c, a, UnsignedZone, NewNS)),
		}
	case RoleNew2:
		return []zoneDef{secondary(Zone, RoleNew1), secondary(UnsignedZone, RoleNew1)}
	case RolePDNS1, RolePDNS2:
		return l.pdnsZones()
	}
	return nil
}

// writeZones writes the zone files of a primary's zones.
func (l *Lab) writeZones(r Role) error {
	for _, z := range l.zones(r) {
		if z.text == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(l.roleDir(r), z.File), []byte(z.text), 0o644); err != nil {
			return fmt.Errorf("lab: %s: write zone: %w", r, err)
		}
	}
	return nil
}

type bindData struct {
	Name, Dir, Addr          string
	Keys                     []Key
	RNDCKey, XferKey         Key
	Zones                    []zoneDef
	DNSKEYTTL, DelegationTTL int
	OldDNSKEYTTL             int
	Notify, Transfers        bool
	// ListenV6 is the IPv6 address the server answers on, if any.
	ListenV6 string
}

func (l *Lab) renderBIND(r Role, hold bool) (string, error) {
	var keys []Key
	for _, n := range []string{KeyAdmin, KeyRegistrar, KeyOld, KeyXfer, KeyRNDC} {
		keys = append(keys, l.Keys[n])
	}
	d := bindData{
		Name: string(r), Dir: l.roleDir(r), Addr: l.Addrs[r].String(), Keys: keys,
		RNDCKey: l.Keys[KeyRNDC], XferKey: l.Keys[KeyXfer], Zones: l.zones(r),
		DNSKEYTTL: seconds(l.Config.DNSKEYTTL), DelegationTTL: seconds(l.Config.DelegationTTL),
		OldDNSKEYTTL: seconds(l.Config.OldDNSKEYTTL), Transfers: !hold,
	}
	if r == RoleTLD6 {
		d.ListenV6 = "::1"
	}
	for _, z := range d.Zones {
		d.Notify = d.Notify || (z.AlsoNotify != "" && !hold)
	}
	conf := filepath.Join(l.roleDir(r), "named.conf")
	return conf, render("named.conf.tmpl", conf, d)
}

func (l *Lab) startBIND(ctx context.Context, r Role) error {
	if err := os.MkdirAll(filepath.Join(l.roleDir(r), "keys"), 0o700); err != nil {
		return fmt.Errorf("lab: %s: %w", r, err)
	}
	if err := l.writeZones(r); err != nil {
		return err
	}
	conf, err := l.renderBIND(r, false)
	if err != nil {
		return err
	}
	if _, err := run(ctx, "named-checkconf", conf); err != nil {
		return err
	}
	return l.launch(ctx, r, conf, "named", "-f", "-n", "1", "-c", conf)
}

type knotData struct {
	Name, Dir, Addr, Peer string
	Keys                  []Key
	XferKey               Key
	UpdateKey             string
	DNSKEYTTL             int
	Zones                 []zoneDef
	// SigningThreads is how many threads Knot signs with: one per CPU,
	// as an operator of a large signed zone sets it (a TTL change of
	// 100,000 RRsets is 100,000 signatures; the default is one thread).
	SigningThreads int
	// Algorithm is the policy's signing algorithm (Config.NewAlgorithm).
	Algorithm string
}

func (l *Lab) startKnot(ctx context.Context, r Role) error {
	dir := l.roleDir(r)
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return fmt.Errorf("lab: %s: %w", r, err)
	}
	if err := l.writeZones(r); err != nil {
		return err
	}
	peer := RoleNew2
	if r == RoleNew2 {
		peer = RoleNew1
	}
	conf := filepath.Join(dir, "knot.conf")
	d := knotData{
		Name: string(r), Dir: dir, Addr: l.Addrs[r].String(), Peer: l.Addrs[peer].String(),
		Keys: []Key{l.Keys[KeyNew], l.Keys[KeyXfer]}, XferKey: l.Keys[KeyXfer], UpdateKey: KeyNew,
		DNSKEYTTL: seconds(l.Config.DNSKEYTTL), Zones: l.zones(r), SigningThreads: runtime.NumCPU(),
		Algorithm: l.Config.NewAlgorithm,
	}
	if err := render("knot.conf.tmpl", conf, d); err != nil {
		return err
	}
	if _, err := run(ctx, "knotc", "-c", conf, "conf-check"); err != nil {
		return err
	}
	return l.launch(ctx, r, conf, "knotd", "-c", conf)
}

type unboundData struct {
	Name, Dir, Addr, RootHints, TrustAnchor string
	Validating                              bool
	CacheMinTTL                             int
}

func (l *Lab) startUnbound(ctx context.Context, r Role) error {
	dir := l.roleDir(r)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lab: %s: %w", r, err)
	}
	hints := filepath.Join(dir, "root.hints")
	if err := os.WriteFile(hints, []byte(rootHints(l.Addrs)), 0o644); err != nil {
		return fmt.Errorf("lab: %s: write root hints: %w", r, err)
	}
	conf := filepath.Join(dir, "unbound.conf")
	d := unboundData{Name: string(r), Dir: dir, Addr: l.Addrs[r].String(), RootHints: hints, TrustAnchor: l.TrustAnchor, Validating: r == RoleValidating}
	if r == RoleSticky {
		// A resolver that breaks the TTL contract, as some do: it keeps
		// answers an hour. Propagation checks must call it stale.
		d.CacheMinTTL = 3600
	}
	if err := render("unbound.conf.tmpl", conf, d); err != nil {
		return err
	}
	if _, err := run(ctx, "unbound-checkconf", conf); err != nil {
		return err
	}
	if err := l.launch(ctx, r, conf, "unbound", "-d", "-c", conf); err != nil {
		return err
	}
	// A resolver is ready when it resolves the lab zone through the lab.
	return l.waitAnswer(ctx, r, Zone, dns.TypeSOA, true)
}

// launch starts the process, records it and, for an authoritative server,
// waits until it answers for its first zone.
func (l *Lab) launch(ctx context.Context, r Role, conf string, args ...string) error {
	p, err := start(l.roleDir(r), conf, args...)
	if err != nil {
		return err
	}
	l.Procs[r] = p
	if err := l.save(); err != nil {
		return err
	}
	zones := l.zones(r)
	if len(zones) == 0 {
		return nil
	}
	return l.waitAnswer(ctx, r, zones[0].Name, dns.TypeSOA, false)
}

func render(name, path string, data any) error {
	t, err := template.ParseFS(templates, "templates/"+name)
	if err != nil {
		return fmt.Errorf("lab: template %s: %w", name, err)
	}
	// Configs hold TSIG secrets: readable by their owner only.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("lab: write %s: %w", path, err)
	}
	if err := t.Execute(f, data); err != nil {
		f.Close()
		return fmt.Errorf("lab: render %s: %w", path, err)
	}
	return f.Close()
}

// Healthy reports the first server that is not running or not answering.
func (l *Lab) Healthy(ctx context.Context) error {
	for _, r := range l.active() {
		p, ok := l.Procs[r]
		if !ok || !p.alive() {
			return fmt.Errorf("lab: %s (%s) is not running", r, l.Addr(r))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, r := range l.active() {
		for _, z := range l.zones(r) {
			if _, err := l.query(ctx, r, z.Name, dns.TypeSOA, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// Down stops every server the lab started, removes its loopback addresses
// and its directory. Running it on a lab that is already down is harmless.
func (l *Lab) Down(ctx context.Context) error {
	var errs []error
	for i := len(roles) - 1; i >= 0; i-- {
		if p, ok := l.Procs[roles[i].role]; ok {
			errs = append(errs, p.stop(ctx))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	l.delAddrs(ctx)
	if l.IPv6 {
		if err := releaseIPv6(l.Config.Dir); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(l.Config.Dir); err != nil {
		return fmt.Errorf("lab: remove %s: %w", l.Config.Dir, err)
	}
	return nil
}

// Down takes down the lab recorded at cfg.Dir, if any.
func Down(ctx context.Context, cfg Config) error {
	l, err := Open(cfg)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return l.Down(ctx)
}
