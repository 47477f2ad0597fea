package lab

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/miekg/dns"
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
}

const stateFile = "lab.json"

// Open reads the state of a lab started earlier, by this or another
// process. It does not check that the servers still run.
func Open(cfg Config) (*Lab, error) {
	cfg = cfg.WithDefaults()
	b, err := os.ReadFile(filepath.Join(cfg.Dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("lab: no lab recorded in %s (run `migrate lab up`): %w", cfg.Dir, err)
	}
	var l Lab
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("lab: read %s: %w", filepath.Join(cfg.Dir, stateFile), err)
	}
	for name, k := range l.Keys {
		s, err := os.ReadFile(k.File)
		if err != nil {
			return nil, fmt.Errorf("lab: read key %s: %w", name, err)
		}
		k.Secret = strings.TrimSpace(string(s))
		l.Keys[name] = k
	}
	return &l, nil
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
	for _, bin := range []string{"named", "knotd", "unbound", "rndc", "unbound-control", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("lab: %s is not installed (run `make deps`): %w", bin, err)
		}
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
	for _, name := range []string{KeyAdmin, KeyRegistrar, KeyOld, KeyNew, KeyXfer, KeyRNDC} {
		if err := l.newKey(name); err != nil {
			return err
		}
	}
	if err := l.addAddrs(ctx); err != nil {
		return err
	}
	// State first, so that Down can find whatever gets started.
	if err := l.save(); err != nil {
		return err
	}
	a := l.Addrs
	if err := l.startBIND(ctx, RoleRoot, bindZone{Name: ".", File: "root.zone", UpdateKey: KeyAdmin, text: rootZone(c, a)}, false); err != nil {
		return err
	}
	if err := l.startBIND(ctx, RoleTLD, bindZone{Name: TLD, File: "lab.zone", UpdateKey: KeyRegistrar, text: tldZone(c, a)}, true); err != nil {
		return err
	}
	if err := l.startBIND(ctx, RoleOld1, bindZone{Name: Zone, File: "example.lab.zone", UpdateKey: KeyOld, AlsoNotify: a[RoleOld2].String(), text: childZone(c, a, OldNS)}, false); err != nil {
		return err
	}
	if err := l.startBIND(ctx, RoleOld2, bindZone{Name: Zone, File: "example.lab.zone", Primary: a[RoleOld1].String()}, false); err != nil {
		return err
	}
	if err := l.startKnot(ctx, RoleNew1, a[RoleNew2].String(), false, childZone(c, a, NewNS)); err != nil {
		return err
	}
	if err := l.startKnot(ctx, RoleNew2, a[RoleNew1].String(), true, ""); err != nil {
		return err
	}
	for _, s := range []struct {
		role Role
		zone string
	}{{RoleRoot, "."}, {RoleTLD, TLD}, {RoleOld1, Zone}, {RoleNew1, Zone}} {
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
	childDS, err := l.LiveDS(ctx, RoleOld1, Zone)
	if err != nil {
		return err
	}
	if err := l.SetChildDS(ctx, childDS); err != nil {
		return err
	}
	if err := l.writeTrustAnchor(ctx); err != nil {
		return err
	}
	if err := l.WaitInSync(ctx); err != nil {
		return err
	}
	for _, r := range []Role{RoleValidating, RolePlain} {
		if err := l.startUnbound(ctx, r); err != nil {
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
	b, err := json.MarshalIndent(l, "", "  ")
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

// Addr is the role's server as host:port.
func (l *Lab) Addr(r Role) string { return net.JoinHostPort(l.Addrs[r].String(), "53") }

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

type bindZone struct {
	Name, File, UpdateKey, AlsoNotify, Primary string
	text                                       string
}

type bindData struct {
	Name, Dir, Addr          string
	Keys                     []Key
	RNDCKey, XferKey         Key
	Zones                    []bindZone
	DNSKEYTTL, DelegationTTL int
	NSEC3, Notify, Transfers bool
}

func (l *Lab) bindData(r Role, z bindZone, nsec3 bool) bindData {
	var keys []Key
	for _, n := range []string{KeyAdmin, KeyRegistrar, KeyOld, KeyXfer, KeyRNDC} {
		keys = append(keys, l.Keys[n])
	}
	return bindData{
		Name: string(r), Dir: l.roleDir(r), Addr: l.Addrs[r].String(), Keys: keys,
		RNDCKey: l.Keys[KeyRNDC], XferKey: l.Keys[KeyXfer], Zones: []bindZone{z},
		DNSKEYTTL: seconds(l.Config.DNSKEYTTL), DelegationTTL: seconds(l.Config.DelegationTTL),
		NSEC3: nsec3, Notify: z.AlsoNotify != "", Transfers: true,
	}
}

func (l *Lab) startBIND(ctx context.Context, r Role, z bindZone, nsec3 bool) error {
	dir := l.roleDir(r)
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return fmt.Errorf("lab: %s: %w", r, err)
	}
	if z.text != "" {
		if err := os.WriteFile(filepath.Join(dir, z.File), []byte(z.text), 0o644); err != nil {
			return fmt.Errorf("lab: %s: write zone: %w", r, err)
		}
	}
	conf := filepath.Join(dir, "named.conf")
	if err := render("named.conf.tmpl", conf, l.bindData(r, z, nsec3)); err != nil {
		return err
	}
	if _, err := run(ctx, "named-checkconf", conf); err != nil {
		return err
	}
	return l.launch(ctx, r, dns.Fqdn(z.Name), conf, "named", "-f", "-n", "1", "-c", conf)
}

type knotData struct {
	Name, Dir, Addr, Peer string
	Keys                  []Key
	XferKey               Key
	UpdateKey             string
	DNSKEYTTL             int
	Zones                 []bindZone
}

func (l *Lab) startKnot(ctx context.Context, r Role, peer string, secondary bool, zoneText string) error {
	dir := l.roleDir(r)
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return fmt.Errorf("lab: %s: %w", r, err)
	}
	z := bindZone{Name: Zone, File: "example.lab.zone"}
	if secondary {
		z.Primary = peer
	} else if err := os.WriteFile(filepath.Join(dir, z.File), []byte(zoneText), 0o644); err != nil {
		return fmt.Errorf("lab: %s: write zone: %w", r, err)
	}
	conf := filepath.Join(dir, "knot.conf")
	d := knotData{
		Name: string(r), Dir: dir, Addr: l.Addrs[r].String(), Peer: peer,
		Keys: []Key{l.Keys[KeyNew], l.Keys[KeyXfer]}, XferKey: l.Keys[KeyXfer], UpdateKey: KeyNew,
		DNSKEYTTL: seconds(l.Config.DNSKEYTTL), Zones: []bindZone{z},
	}
	if err := render("knot.conf.tmpl", conf, d); err != nil {
		return err
	}
	if _, err := run(ctx, "knotc", "-c", conf, "conf-check"); err != nil {
		return err
	}
	return l.launch(ctx, r, Zone, conf, "knotd", "-c", conf)
}

type unboundData struct {
	Name, Dir, Addr, RootHints, TrustAnchor string
	Validating                              bool
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
	if err := render("unbound.conf.tmpl", conf, d); err != nil {
		return err
	}
	if _, err := run(ctx, "unbound-checkconf", conf); err != nil {
		return err
	}
	if err := l.launch(ctx, r, "", conf, "unbound", "-d", "-c", conf); err != nil {
		return err
	}
	// A resolver is ready when it resolves the lab zone through the lab.
	return l.waitAnswer(ctx, r, Zone, dns.TypeSOA, true)
}

// launch starts the process, records it and waits until it answers for
// zone (authoritatively), unless zone is empty.
func (l *Lab) launch(ctx context.Context, r Role, zone, conf string, args ...string) error {
	p, err := start(l.roleDir(r), conf, args...)
	if err != nil {
		return err
	}
	l.Procs[r] = p
	if err := l.save(); err != nil {
		return err
	}
	if zone == "" {
		return nil
	}
	return l.waitAnswer(ctx, r, zone, dns.TypeSOA, false)
}

func render(name, path string, data any) error {
	t, err := template.ParseFS(templates, "templates/"+name)
	if err != nil {
		return fmt.Errorf("lab: template %s: %w", name, err)
	}
	f, err := os.Create(path)
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
	for _, r := range roles {
		p, ok := l.Procs[r.role]
		if !ok || !p.alive() {
			return fmt.Errorf("lab: %s (%s) is not running", r.role, l.Addr(r.role))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, r := range []Role{RoleRoot, RoleTLD, RoleOld1, RoleOld2, RoleNew1, RoleNew2} {
		zone := Zone
		switch r {
		case RoleRoot:
			zone = "."
		case RoleTLD:
			zone = TLD
		}
		if _, err := l.query(ctx, r, zone, dns.TypeSOA, false); err != nil {
			return err
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
