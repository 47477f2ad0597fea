package spec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/spec/spectest"
)

const secret = spectest.Secret

func secretFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.secret")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every example loads; its secret files are replaced through MIGRATE_*.
func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v %v", files, err)
	}
	key := secretFile(t)
	anchor := filepath.Join(t.TempDir(), "root.ds")
	if err := os.WriteFile(anchor, []byte(". 10 IN DS 1 13 2 AA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Which secret files each example reads, replaced by a test file.
	overrides := map[string][]string{
		"lab-nameservers.yaml": {"MIGRATE_REGISTRAR_TSIG_SECRET_FILE", "MIGRATE_PROVIDERS_OLD_TSIG_SECRET_FILE", "MIGRATE_PROVIDERS_NEW_TSIG_SECRET_FILE", "MIGRATE_VERIFY_TRUST_ANCHOR"},
		"nameservers.yaml":     {"MIGRATE_PROVIDERS_NEW_TSIG_SECRET_FILE"},
		"lab-multisigner.yaml": {"MIGRATE_REGISTRAR_TSIG_SECRET_FILE", "MIGRATE_PROVIDERS_NEW_TSIG_SECRET_FILE", "MIGRATE_PROVIDERS_PDNS_TOKEN_FILE", "MIGRATE_VERIFY_TRUST_ANCHOR"},
		"records.yaml":         nil,
		"records-route53.yaml": nil,
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			names, ok := overrides[filepath.Base(f)]
			if !ok {
				t.Fatalf("no overrides listed for %s: add it to this test", f)
			}
			vars := map[string]string{"OLD_TSIG_SECRET": secret, "MAIN_TSIG_SECRET": secret}
			for _, name := range names {
				if name == "MIGRATE_VERIFY_TRUST_ANCHOR" {
					vars[name] = anchor
				} else {
					vars[name] = key
				}
			}
			s, err := Load(f, func(k string) string { return vars[k] })
			if err != nil {
				t.Fatal(err)
			}
			for name, p := range s.Providers {
				if p.Type == "rfc2136" && p.TSIG.Secret.Value() != secret {
					t.Errorf("secret of %s not loaded", name)
				}
			}
			if s.Margin.Percent != 10 {
				t.Errorf("margin not loaded: %+v", s.Margin)
			}
		})
	}
}

const base = spectest.Nameservers

func load(t *testing.T, text string, env map[string]string) (*Spec, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if env == nil {
		env = map[string]string{"OLD": secret, "NEW": secret}
	}
	return Load(p, func(k string) string { return env[k] })
}

func TestLoadDefaults(t *testing.T) {
	s, err := load(t, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.TTL.LowerTo != DefaultLowerTo || !s.TTL.Restore || s.Verify.GateTimeout != DefaultGateTimeout || s.Output.Dir != DefaultOutputDir || s.Margin.Percent != 10 {
		t.Errorf("defaults not applied: %+v %+v %+v %+v", s.TTL, s.Verify, s.Output, s.Margin)
	}
}

// Environment values are text: each is read as its field's type.
func TestLoadEnvTypes(t *testing.T) {
	s, err := load(t, base, map[string]string{"OLD": secret, "NEW": secret,
		"MIGRATE_TTL_RESTORE": "false", "MIGRATE_VERSION": "1", "MIGRATE_VERIFY_GATE_TIMEOUT": "90s", "MIGRATE_SAFETY_MARGIN": "20%"})
	if err != nil {
		t.Fatal(err)
	}
	if s.TTL.Restore || s.Version != 1 || s.Verify.GateTimeout != 90*time.Second || s.Margin.Percent != 20 {
		t.Errorf("env not applied: restore %t version %d gate_timeout %s margin %+v", s.TTL.Restore, s.Version, s.Verify.GateTimeout, s.Margin)
	}
}

func TestLoadEnvOverrides(t *testing.T) {
	s, err := load(t, base, map[string]string{"OLD": secret, "NEW": secret,
		"MIGRATE_VERIFY_ROOT": "127.60.0.1:53", "MIGRATE_TTL_LOWER_TO": "45s", "MIGRATE_VERIFY_RESOLVERS": "127.60.0.53:53,127.60.0.54:53"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Verify.Root != "127.60.0.1:53" || s.TTL.LowerTo != 45*time.Second || len(s.Verify.Resolvers) != 2 {
		t.Errorf("env not applied: root %q lower_to %s resolvers %v", s.Verify.Root, s.TTL.LowerTo, s.Verify.Resolvers)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		env  map[string]string
		want []string
	}{
		{"unknown field", func(s string) string { return s + "colour: blue\n" }, nil, []string{"colour: unknown field"}},
		{"unknown nested field", func(s string) string { return s + "output: {dir: x, format: md}\n" }, nil, []string{"output.format: unknown field"}},
		{"unknown provider field", func(s string) string {
			return strings.Replace(s, "server: 192.0.2.21,", "server: 192.0.2.21, token: x,", 1)
		}, nil, []string{"providers.new.token: unknown field"}},
		{"wrong type", func(s string) string { return s + "ttl: {lower_to: banana}\n" }, nil, []string{"lower_to"}},
		{"zone without dot", func(s string) string { return strings.Replace(s, "zone: example.com.", "zone: example.com", 1) }, nil, []string{`zone: "example.com" must end with a dot`}},
		{"name server without dot", func(s string) string { return strings.Replace(s, "ns1.new.example.org.]", "ns1.new.example.org]", 1) }, nil, []string{"to.nameservers[0]"}},
		{"undefined provider", func(s string) string { return strings.Replace(s, "provider: new,", "provider: nwe,", 1) }, nil, []string{`to.provider: "nwe" is not defined under providers (defined: new, old)`}},
		{"missing secret", base2, map[string]string{"OLD": secret}, []string{"providers.new.tsig.secret_env: environment variable NEW is empty or not set"}},
		{"secret not base64", base2, map[string]string{"OLD": secret, "NEW": "not base64!"}, []string{"providers.new.tsig: the secret is not base64"}},
		{"records without changes", func(s string) string { return strings.Replace(s, "kind: nameservers", "kind: records", 1) }, nil, []string{"provider: missing", "changes: missing"}},
		{"bad dnssec", func(s string) string { return strings.Replace(s, "insecure-window", "yolo", 1) }, nil, []string{`dnssec: "yolo"`}},
		{"bad registrar", func(s string) string { return strings.Replace(s, "{type: manual}", "{type: carrier-pigeon}", 1) }, nil, []string{"registrar.type"}},
		{"rfc2136 registrar without server or key", func(s string) string { return strings.Replace(s, "{type: manual}", "{type: rfc2136}", 1) }, nil, []string{"registrar.server: missing", "registrar.tsig.name: missing", "registrar.tsig: no secret"}},
		{"bad resolver", func(s string) string { return strings.Replace(s, "[192.0.2.53]", "[resolver.example.]", 1) }, nil, []string{"verify.resolvers[0]"}},
		{"bad margin", func(s string) string { return s + "safety_margin: lots\n" }, nil, []string{"safety_margin"}},
		{"same provider twice", func(s string) string { return strings.Replace(s, "provider: new,", "provider: old,", 1) }, nil, []string{"to.provider: is the same provider as from.provider"}},
		{"bad version", func(s string) string { return strings.Replace(s, "version: 1", "version: 2", 1) }, nil, []string{"version: 2 is not supported"}},
		{"not yaml", func(string) string { return "zone: [unclosed\n" }, nil, []string{"spec.yaml"}},
		{"every error at once, types included", func(s string) string {
			return strings.Replace(s, "zone: example.com.", "zone: example.com", 1) + "ttl: {lower_to: banana, restore: maybe}\nhold: x\ncolour: blue\n"
		}, nil, []string{`ttl.lower_to: "banana": want a duration`, `ttl.restore: "maybe": want true or false`, `hold: "x": want a duration`, "colour: unknown field", `zone: "example.com" must end with a dot`}},
		{"env bool that is not one", base2, map[string]string{"OLD": secret, "NEW": secret, "MIGRATE_TTL_RESTORE": "maybe"}, []string{`MIGRATE_TTL_RESTORE (overriding ttl.restore in`, `"maybe": want true or false`}},
		{"env number that is not one", base2, map[string]string{"OLD": secret, "NEW": secret, "MIGRATE_VERSION": "one"}, []string{"MIGRATE_VERSION", "want a whole number"}},
		{"env value refused by a check", base2, map[string]string{"OLD": secret, "NEW": secret, "MIGRATE_TTL_LOWER_TO": "1ns"}, []string{"MIGRATE_TTL_LOWER_TO (overriding ttl.lower_to in", "want from 1s"}},
		{"env list of records", base2, map[string]string{"OLD": secret, "NEW": secret, "MIGRATE_CHANGES": "x"}, []string{"MIGRATE_CHANGES: changes cannot be set from the environment"}},
		{"lower_to above the largest TTL", func(s string) string { return s + "ttl: {lower_to: 2147483648s}\n" }, nil, []string{"ttl.lower_to", "2147483647s, the largest TTL"}},
		{"gate_timeout too short to poll", func(s string) string {
			return strings.Replace(s, "verify: {resolvers: [192.0.2.53]}", "verify: {resolvers: [192.0.2.53], gate_timeout: 1ns}", 1)
		}, nil, []string{"verify.gate_timeout: 1ns: want at least 10s"}},
		{"margin past a day", func(s string) string { return s + "safety_margin: 100000h\n" }, nil, []string{"safety_margin", "duration from 0s to 24h0m0s"}},
		{"margin past 100%", func(s string) string { return s + "safety_margin: 150%\n" }, nil, []string{"safety_margin", "from 0% to 100%"}},
		{"unknown field inside a list", func(s string) string {
			return strings.Replace(s, "kind: nameservers", "kind: records", 1) + "provider: old\nchanges:\n  - {name: www, type: A, from: 192.0.2.1, to: 192.0.2.2, colour: blue}\n"
		}, nil, []string{"changes", "colour"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.edit(base), tt.env)
			if err == nil {
				t.Fatal("loaded a bad spec")
			}
			for _, w := range append(tt.want, "spec.yaml") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Error("error shows the secret")
			}
		})
	}
}

func base2(s string) string { return s }

func TestSecretNeverPrints(t *testing.T) {
	s, err := load(t, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), string(b), s.Providers["old"].TSIG.Secret.String()} {
		if strings.Contains(out, secret) || strings.Contains(out, secret[:12]) {
			t.Fatalf("secret printed in %q", out)
		}
	}
}

func TestMargin(t *testing.T) {
	tests := []struct {
		in   string
		d    time.Duration
		want time.Duration
	}{
		{"10%", 30 * time.Second, 33 * time.Second},
		{"10%", 25 * time.Second, 28 * time.Second}, // 27.5s rounds up
		{"0%", 30 * time.Second, 30 * time.Second},
		{"30s", 30 * time.Second, 60 * time.Second},
	}
	for _, tt := range tests {
		m, err := ParseMargin(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Add(tt.d); got != tt.want {
			t.Errorf("%s + %s = %s, want %s", tt.d, tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"", "-1%", "ten", "-5s"} {
		if _, err := ParseMargin(bad); err == nil {
			t.Errorf("ParseMargin(%q) accepted", bad)
		}
	}
}

const records = `version: 1
zone: example.com.
kind: records
provider: main
changes:
  - {name: backend, type: CNAME, from: server1.old.example.net., to: server2.new.example.net.}
  - {name: txt, type: TXT, from: "v=1, a, b", to: "v=2, c"}
phases: [10, 50, 100]
hold: 1m
health:
  - {type: http, url: "http://127.0.0.1:8080/healthz"}
  - {type: tcp, address: "127.0.0.1:443"}
providers:
  main: {type: rfc2136, server: 192.0.2.11, tsig: {name: k, algorithm: hmac-sha256, secret_env: OLD}}
`

func TestLoadRecords(t *testing.T) {
	s, err := load(t, records, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Changes[0]
	if c.Name != "backend.example.com." || c.Type != "CNAME" || len(c.From) != 1 || c.To[0] != "server2.new.example.net." {
		t.Errorf("change = %+v", c)
	}
	if got := s.Changes[1].From; len(got) != 1 || got[0] != "v=1, a, b" {
		t.Errorf("a TXT value with commas was split: %q", got)
	}
	if s.Health[0].ExpectStatus != 200 || s.Health[0].Interval != 10*time.Second || s.Rollback != "auto" {
		t.Errorf("defaults: %+v rollback %q", s.Health[0], s.Rollback)
	}
	tests := []struct {
		name, from, to, want string
	}{
		{"apex NS", "{name: backend, type: CNAME", "{name: \"@\", type: NS", "the apex NS set is never changed"},
		{"DNSKEY", "type: CNAME", "type: DNSKEY", "DNSKEY is never changed"},
		{"DS", "type: CNAME", "type: DS", "DS is never changed"},
		{"outside the zone", "name: backend,", "name: backend.example.org.,", "is not inside example.com."},
		{"bad data", "to: server2.new.example.net.", "to: \"not a name!\"", "changes[0].to"},
		{"falling phases", "[10, 50, 100]", "[50, 10, 100]", "rising percentages"},
		{"no 100", "[10, 50, 100]", "[10, 50]", "the last phase must be 100"},
		{"bad health", "type: tcp", "type: icmp", "health[1].type"},
		{"bad rollback", "hold: 1m", "hold: 1m\nrollback: maybe", "rollback"},
		{"twice", "name: txt, type: TXT", "name: backend, type: CNAME", "changed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, strings.Replace(records, tt.from, tt.to, 1), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoadCloudflare(t *testing.T) {
	cf := strings.Replace(records, "main: {type: rfc2136, server: 192.0.2.11, tsig: {name: k, algorithm: hmac-sha256, secret_env: OLD}}", "main: {type: cloudflare, token_env: CF_TOKEN}", 1)
	s, err := load(t, cf+"ttl: {lower_to: 60s}\n", map[string]string{"CF_TOKEN": "cf-token-value"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Providers["main"].Token.Value() != "cf-token-value" {
		t.Error("token not loaded")
	}
	tests := []struct{ name, text, want string }{
		{"no token", cf + "ttl: {lower_to: 60s}\n", "providers.main.token_env: environment variable CF_TOKEN is empty"},
		{"default lower_to 300s is accepted", cf, ""},
		{"short lower_to", cf + "ttl: {lower_to: 30s}\n", "Cloudflare (providers.main) accepts TTLs from 60s"},
		{"tsig on cloudflare", strings.Replace(cf, "token_env: CF_TOKEN", "token_env: CF_TOKEN, server: 192.0.2.1", 1) + "ttl: {lower_to: 60s}\n", "server and tsig are for rfc2136"},
		{"route53 settings on cloudflare", strings.Replace(cf, "token_env: CF_TOKEN", "token_env: CF_TOKEN, region: eu-west-1", 1) + "ttl: {lower_to: 60s}\n", "region, private_zone and hosted_zone_id are for route53, not cloudflare"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			if tt.name != "no token" {
				env["CF_TOKEN"] = "x"
			}
			_, err := load(t, tt.text, env)
			if tt.name == "default lower_to 300s is accepted" {
				if err != nil {
					t.Errorf("default lower_to 300s refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoadRoute53(t *testing.T) {
	r53 := strings.Replace(records, "main: {type: rfc2136, server: 192.0.2.11, tsig: {name: k, algorithm: hmac-sha256, secret_env: OLD}}", "main: {type: route53, region: eu-west-1}", 1)
	s, err := load(t, r53, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Providers["main"].Region != "eu-west-1" {
		t.Errorf("region %q", s.Providers["main"].Region)
	}
	bad := strings.Replace(r53, "region: eu-west-1", "region: eu-west-1, token_env: X", 1)
	if _, err := load(t, bad, nil); err == nil || !strings.Contains(err.Error(), "route53 takes only region") {
		t.Errorf("route53 with a token: %v", err)
	}
	ns := strings.Replace(base, "registrar: {type: manual}", "registrar: {type: route53domains}", 1)
	if _, err := load(t, ns, nil); err != nil {
		t.Errorf("registrar route53domains: %v", err)
	}
	private := strings.Replace(r53, "region: eu-west-1", "region: eu-west-1, private_zone: true, hosted_zone_id: Z0PRIVATE", 1)
	if s, err := load(t, private, nil); err != nil || !s.Providers["main"].PrivateZone || s.Providers["main"].HostedZoneID != "Z0PRIVATE" {
		t.Errorf("private_zone and hosted_zone_id: %+v %v", s.Providers["main"], err)
	}
	wrong := strings.Replace(records, "secret_env: OLD}}", "secret_env: OLD}, private_zone: true}", 1)
	if _, err := load(t, wrong, nil); err == nil || !strings.Contains(err.Error(), "private_zone and hosted_zone_id are for route53") {
		t.Errorf("rfc2136 with private_zone: %v", err)
	}
}

// A secret file that group or others may read is accepted with a warning
// that names the field and the file.
func TestSecretFileReadableByOthersWarned(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.secret")
	closed := filepath.Join(dir, "closed.secret")
	for path, mode := range map[string]os.FileMode{open: 0o644, closed: 0o600} {
		if err := os.WriteFile(path, []byte(secret+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	text := strings.Replace(strings.Replace(base, "secret_env: OLD", "secret_file: "+open, 1), "secret_env: NEW", "secret_file: "+closed, 1)
	s, err := load(t, text, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	w := s.SecretFileWarnings()
	if len(w) != 1 || !strings.Contains(w[0], "providers.old.tsig.secret_file") || !strings.Contains(w[0], open) || !strings.Contains(w[0], "chmod 600") {
		t.Errorf("warnings: %q", w)
	}
}

// Reverse is the move back: a move of name servers swaps its providers,
// a records cutover each change's values.
func TestReverse(t *testing.T) {
	ns := &Spec{Kind: KindNameservers, From: Side{Provider: "old"}, To: Side{Provider: "new"}}
	ns.Reverse()
	if ns.From.Provider != "new" || ns.To.Provider != "old" {
		t.Errorf("nameservers reversed: from %q to %q", ns.From.Provider, ns.To.Provider)
	}
	rec := &Spec{Kind: KindRecords, Provider: "cf", Changes: []RecordChange{{Name: "www", From: []string{"a"}, To: []string{"b"}}}}
	rec.Reverse()
	if c := rec.Changes[0]; rec.Provider != "cf" || len(c.From) != 1 || c.From[0] != "b" || c.To[0] != "a" {
		t.Errorf("records reversed: provider %q change %+v", rec.Provider, c)
	}
}
