package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// PowerDNS Authoritative is the lab's third provider (PDNS): two servers
// answering from one SQLite database, the first with the HTTP API, both
// taking RFC 2136 updates and giving transfers to the provider's key.

// PDNSAPIPort is the port of the first PowerDNS server's HTTP API, on its
// own address.
const PDNSAPIPort = 8081

// PDNSServerID is the PowerDNS API's id of the server (its only one).
const PDNSServerID = "localhost"

// PDNSAPI is the base URL of the lab's PowerDNS HTTP API.
func (l *Lab) PDNSAPI() string {
	return fmt.Sprintf("http://%s:%d", l.Addrs[RolePDNS1], PDNSAPIPort)
}

func (l *Lab) pdnsDatabase() string { return filepath.Join(l.Config.Dir, "pdns.sqlite") }

type pdnsData struct {
	Name, Dir, Addr, Database string
	API                       bool
	APIKey                    string
	APIPort                   int
}

// setupPDNS creates the database both servers share: the schema Debian
// ships, the zones loaded from their files, example.lab. signed with a KSK
// and a ZSK (ECDSA P-256, as the other providers), CDS and CDNSKEY
// published, the provider's TSIG key allowed to update and transfer, and
// the serial raised on each change through the API or an update.
func (l *Lab) setupPDNS(ctx context.Context) error {
	schema, err := os.ReadFile("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
	if err != nil {
		return fmt.Errorf("lab: PowerDNS schema (package pdns-backend-sqlite3): %w", err)
	}
	// The TSIG key goes in by SQL on stdin: a secret is never an argument
	// (arguments are in error messages and the process table).
	k := l.Keys[KeyPDNS]
	key := fmt.Sprintf("INSERT INTO tsigkeys (name, algorithm, secret) VALUES ('%s', '%s', '%s');\n", k.Name, k.Algorithm, k.Secret)
	if _, err := runInput(ctx, string(schema)+key, "sqlite3", l.pdnsDatabase()); err != nil {
		return err
	}
	dir := l.roleDir(RolePDNS1)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("lab: %s: %w", RolePDNS1, err)
	}
	if err := l.writeZones(RolePDNS1); err != nil {
		return err
	}
	if err := render("pdns.conf.tmpl", filepath.Join(dir, "pdns.conf"), l.pdnsData(RolePDNS1)); err != nil {
		return err
	}
	util := func(args ...string) error {
		_, err := run(ctx, append([]string{"pdnsutil", "--config-dir=" + dir}, args...)...)
		return err
	}
	for _, z := range l.zones(RolePDNS1) {
		name := strings.TrimSuffix(z.Name, ".")
		steps := [][]string{
			{"load-zone", name, filepath.Join(dir, z.File)},
			{"set-meta", name, "TSIG-ALLOW-DNSUPDATE", k.Name},
			{"set-meta", name, "TSIG-ALLOW-AXFR", k.Name},
			{"set-meta", name, "SOA-EDIT-API", "DEFAULT"},
			{"set-meta", name, "SOA-EDIT-DNSUPDATE", "INCREASE"},
		}
		if z.Signed {
			steps = append(steps, []string{"secure-zone", name}, []string{"set-publish-cds", name}, []string{"set-publish-cdnskey", name})
		}
		for _, s := range steps {
			if err := util(s...); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Lab) pdnsData(r Role) pdnsData {
	return pdnsData{Name: string(r), Dir: l.roleDir(r), Addr: l.Addrs[r].String(), Database: l.pdnsDatabase(),
		API: r == RolePDNS1, APIKey: l.Keys[KeyPDNSAPI].Secret, APIPort: PDNSAPIPort}
}

// startPDNS starts one PowerDNS server on the shared database.
func (l *Lab) startPDNS(ctx context.Context, r Role) error {
	dir := l.roleDir(r)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("lab: %s: %w", r, err)
	}
	conf := filepath.Join(dir, "pdns.conf")
	if err := render("pdns.conf.tmpl", conf, l.pdnsData(r)); err != nil {
		return err
	}
	// pdns_server takes its config's directory: that is what its command
	// line shows, and what tells our process from another.
	return l.launch(ctx, r, dir, "pdns_server", "--config-dir="+dir)
}

// pdnsZones are the zones both PowerDNS servers serve.
func (l *Lab) pdnsZones() []zoneDef {
	c, a := l.Config, l.Addrs
	return []zoneDef{
		{Name: Zone, File: fileOf(Zone), Signed: true, UpdateKey: KeyPDNS, text: childZone(c, a, Zone, PDNSNS)},
		{Name: UnsignedZone, File: fileOf(UnsignedZone), UpdateKey: KeyPDNS, text: childZone(c, a, UnsignedZone, PDNSNS)},
	}
}
