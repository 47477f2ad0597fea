// Package spec holds what the user writes: the migration spec, parsed
// strictly (every error at once, each naming its file and field or its
// environment variable), its MIGRATE_* environment overrides, its limits,
// and the secrets it names (from the environment or files, never printed).
package spec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/miekg/dns"
	"github.com/spf13/viper"

	"github.com/dnsmigrate/dnsmigrate/providers"
)

// Spec is a migration as the user declares it (see examples/).
type Spec struct {
	Version      int                     `mapstructure:"version"`
	Zone         string                  `mapstructure:"zone"`
	Kind         Kind                    `mapstructure:"kind"`
	DNSSEC       DNSSECMethod            `mapstructure:"dnssec"`
	From         Side                    `mapstructure:"from"`
	To           Side                    `mapstructure:"to"`
	Registrar    RegistrarSpec           `mapstructure:"registrar"`
	Providers    map[string]ProviderSpec `mapstructure:"providers"`
	TTL          TTLSpec                 `mapstructure:"ttl"`
	SafetyMargin string                  `mapstructure:"safety_margin"`
	// Marker: both hosts serve _dnsmigrate.<zone> TXT while a move is
	// under way (kind: nameservers; default true).
	Marker bool       `mapstructure:"marker"`
	Verify VerifySpec `mapstructure:"verify"`
	Output OutputSpec `mapstructure:"output"`

	// kind: records
	Provider string         `mapstructure:"provider"`
	Changes  []RecordChange `mapstructure:"changes"`
	Phases   []int          `mapstructure:"phases"`
	Hold     time.Duration  `mapstructure:"hold"`
	Health   []HealthCheck  `mapstructure:"health"`
	Rollback RollbackPolicy `mapstructure:"rollback"`

	// File is where the spec was read from.
	File string `mapstructure:"-"`
	// Margin is SafetyMargin parsed.
	Margin Margin `mapstructure:"-"`
	// Force lets a records plan change more than SafetyThreshold of a zone
	// (the --force flag, never the file).
	Force bool `mapstructure:"-"`

	// fromEnv says which fields an environment variable set (field key to
	// variable name), so that an error about one names the variable.
	fromEnv map[string]string
}

// Kind is what a spec moves: a zone's delegation or some of its records.
type Kind string

// The kinds.
const (
	KindNameservers Kind = "nameservers" // move the zone between DNS hosts
	KindRecords     Kind = "records"     // cut records over at one host, in phases
)

// DNSSECMethod is how a nameservers move keeps validation working.
type DNSSECMethod string

// The methods.
const (
	DNSSECInsecureWindow DNSSECMethod = "insecure-window" // remove the DS, move, publish the new host's
	DNSSECUnsigned       DNSSECMethod = "unsigned"        // the zone is not signed, nor will be
	// DNSSECMultiSigner keeps the zone secure throughout (RFC 8901 model
	// 2): each host publishes the other's ZSK, the parent a DS for each
	// KSK while both serve.
	DNSSECMultiSigner DNSSECMethod = "multi-signer"
	// DNSSECAuto lets the plan choose: multi-signer when both hosts can
	// publish the other's key and sign with one algorithm, else
	// insecure-window (unsigned for a zone that is not signed).
	DNSSECAuto DNSSECMethod = "auto"
)

// RollbackPolicy says what a records cutover does when a gate fails.
type RollbackPolicy string

// The policies.
const (
	RollbackAuto   RollbackPolicy = "auto"   // put the old values back at once
	RollbackManual RollbackPolicy = "manual" // stop, and leave it to the operator
)

// Cutover says the spec cuts records over at one host (kind: records),
// rather than moving the zone.
func (s *Spec) Cutover() bool { return s.Kind == KindRecords }

// Signed says a nameservers move keeps the zone signed on both hosts
// (dnssec: insecure-window, the DS down before the move and back after;
// or multi-signer, secure throughout).
func (s *Spec) Signed() bool {
	return s.DNSSEC == DNSSECInsecureWindow || s.DNSSEC == DNSSECMultiSigner
}

// MultiSigner says the move keeps the zone secure throughout (dnssec:
// multi-signer).
func (s *Spec) MultiSigner() bool { return s.DNSSEC == DNSSECMultiSigner }

// Side is where the zone is served from (from) or moves to (to).
type Side struct {
	Provider    string   `mapstructure:"provider"`
	Nameservers []string `mapstructure:"nameservers"`
}

// RegistrarSpec says who changes NS and DS at the parent.
type RegistrarSpec struct {
	Type   string   `mapstructure:"type"`   // a type of providers.RegistrarTypes
	Server string   `mapstructure:"server"` // rfc2136: the parent's primary, host:port
	Zone   string   `mapstructure:"zone"`   // the parent zone; empty: found by iteration
	TSIG   TSIGSpec `mapstructure:"tsig"`
}

// ProviderSpec is a DNS host. Which of its settings a type takes, and
// which it requires, its entry in providers.HostTypes says.
type ProviderSpec struct {
	Type string `mapstructure:"type"` // a type of providers.HostTypes
	// rfc2136
	Server string   `mapstructure:"server"`
	TSIG   TSIGSpec `mapstructure:"tsig"`
	// DNSKEYImport declares that the server keeps (and signs) a DNSKEY
	// added by an update, as Knot does with dnskey-management: incremental
	// and BIND 9.18 does not: dnssec: multi-signer needs it.
	DNSKEYImport bool `mapstructure:"dnskey_import"`
	// cloudflare: an API token with Zone.DNS edit rights, from the
	// environment or a file; Endpoint replaces the API's address.
	// powerdns: the API key (token_env or token_file), the API's base URL
	// (endpoint, required) and the server's id in it (server_id, default
	// localhost).
	TokenEnv  string `mapstructure:"token_env"`
	TokenFile string `mapstructure:"token_file"`
	Endpoint  string `mapstructure:"endpoint"`
	ServerID  string `mapstructure:"server_id"`
	Token     Secret `mapstructure:"-"`
	// route53: credentials come from the AWS SDK's standard chain
	// (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, roles).
	// The hosted zone is the one public zone with the zone's name, or the
	// private one with PrivateZone, or the one HostedZoneID names.
	Region       string `mapstructure:"region"`
	PrivateZone  bool   `mapstructure:"private_zone"`
	HostedZoneID string `mapstructure:"hosted_zone_id"`
}

// TSIGSpec names a TSIG key; its secret comes from the environment or a
// file, never from the spec itself.
type TSIGSpec struct {
	Name       string `mapstructure:"name"`
	Algorithm  string `mapstructure:"algorithm"`
	SecretEnv  string `mapstructure:"secret_env"`
	SecretFile string `mapstructure:"secret_file"`

	// Secret is loaded by Load; it prints as [redacted].
	Secret Secret `mapstructure:"-"`
}

// TTLSpec says how far TTLs are lowered before the move and whether they
// are restored after it.
type TTLSpec struct {
	LowerTo time.Duration `mapstructure:"lower_to"`
	Restore bool          `mapstructure:"restore"`
}

// VerifySpec says where each step is proven.
type VerifySpec struct {
	Root        string        `mapstructure:"root"`
	TrustAnchor string        `mapstructure:"trust_anchor"`
	Resolvers   []string      `mapstructure:"resolvers"`
	GateTimeout time.Duration `mapstructure:"gate_timeout"`
	// IPv6 says whether name servers are asked at their IPv6 addresses:
	// auto (those this machine has a route to; the others are listed as
	// skipped in the plan and in every gate's evidence), on or off.
	IPv6 string `mapstructure:"ipv6"`
}

// RecordChange moves one RRset from old values to new ones.
type RecordChange struct {
	Name string `mapstructure:"name"`
	Type string `mapstructure:"type"`
	From Values `mapstructure:"from"`
	To   Values `mapstructure:"to"`
}

// Values is one value or a list of them, as zone-file data.
type Values []string

// HealthCheck is a gate every phase must pass before and while it holds.
type HealthCheck struct {
	Type            string        `mapstructure:"type"` // http or tcp
	URL             string        `mapstructure:"url"`
	ExpectStatus    int           `mapstructure:"expect_status"`
	Address         string        `mapstructure:"address"`
	Interval        time.Duration `mapstructure:"interval"`
	FailuresAllowed int           `mapstructure:"failures_allowed"`
}

// OutputSpec says where change logs go (Dir) and where the plan being
// applied, its journal and its lock are kept (StateDir; empty: the
// user's state directory, see StateRoot).
type OutputSpec struct {
	Dir      string `mapstructure:"dir"`
	StateDir string `mapstructure:"state_dir"`
}

// Secret holds key material. It never prints, marshals or logs its value.
type Secret struct{ value string }

// Value returns the secret itself, for the one place that signs with it.
func (s Secret) Value() string { return s.value }

func (s Secret) String() string   { return "[redacted]" }
func (s Secret) GoString() string { return "[redacted]" }

// MarshalJSON never writes the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// UnmarshalJSON reads nothing: a saved plan holds no secret, and
// LoadSecrets fetches them again from the environment or files.
func (s *Secret) UnmarshalJSON([]byte) error { *s = Secret{}; return nil }

// SecretFileWarnings lists each secret file the spec names that group or
// others may read: accepted, but worth a word.
func (s *Spec) SecretFileWarnings() []string {
	files := map[string]string{"registrar.tsig.secret_file": s.Registrar.TSIG.SecretFile}
	for name, p := range s.Providers {
		files["providers."+name+".tsig.secret_file"] = p.TSIG.SecretFile
		files["providers."+name+".token_file"] = p.TokenFile
	}
	var out []string
	for _, field := range sortedKeys(files) {
		path := files[field]
		if path == "" {
			continue
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			out = append(out, fmt.Sprintf("%s: %s is readable by group or others (mode %04o); a secret should be readable by its owner only: chmod 600 %s",
				source(s.File, field, s.fromEnv), path, fi.Mode().Perm(), path))
		}
	}
	return out
}

// LoadSecrets reads every TSIG secret again, for a spec that came out of a
// saved plan.
func (s *Spec) LoadSecrets(env func(string) string) error {
	var errs []error
	bad := s.reporter(&errs)
	if t, ok := providers.LookupRegistrar(s.Registrar.Type); ok && slices.Contains(t.Settings, providers.SetTSIG) {
		s.Registrar.TSIG.load("registrar.tsig", env, bad)
	}
	for name, p := range s.Providers {
		if t, ok := providers.LookupHost(p.Type); ok {
			p.loadSecrets("providers."+name, t, env, bad)
		}
		s.Providers[name] = p
	}
	return errors.Join(errs...)
}

// Margin is added to every computed wait: a share of it, or a fixed time.
type Margin struct {
	Percent float64       `json:"percent,omitempty"`
	Fixed   time.Duration `json:"fixed,omitempty"`
}

// Add returns d plus the margin, rounded up to a whole second.
func (m Margin) Add(d time.Duration) time.Duration {
	out := d + time.Duration(float64(d)*m.Percent/100) + m.Fixed
	if r := out % time.Second; r != 0 {
		out += time.Second - r
	}
	return out
}

func (m Margin) String() string {
	if m.Fixed > 0 {
		return m.Fixed.String()
	}
	return strconv.FormatFloat(m.Percent, 'f', -1, 64) + "%"
}

// ParseMargin reads "10%" or a duration such as "30s".
func ParseMargin(s string) (Margin, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f < 0 || f > 100 {
			return Margin{}, fmt.Errorf("want a percentage from 0%% to 100%% or a duration up to %s, got %q", MaxMarginFixed, s)
		}
		return Margin{Percent: f}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > MaxMarginFixed {
		return Margin{}, fmt.Errorf("want a percentage from 0%% to 100%% (such as 10%%) or a duration from 0s to %s (such as 30s), got %q", MaxMarginFixed, s)
	}
	return Margin{Fixed: d}, nil
}

// Limits a spec's values must keep.
const (
	// MaxTTL is the largest TTL a record may have (RFC 2181 section 8).
	MaxTTL = 2147483647 * time.Second
	// MinGateTimeout leaves a gate at least ten polls of a second.
	MinGateTimeout = 10 * time.Second
	// MaxMarginFixed is the largest fixed safety margin: a day.
	MaxMarginFixed = 24 * time.Hour
)

// Defaults for fields a spec may leave out.
const (
	DefaultLowerTo     = 300 * time.Second
	DefaultGateTimeout = 30 * time.Minute
	DefaultMargin      = "10%"
	DefaultOutputDir   = "./migrations"
)

// Load reads, checks and completes a spec. Every problem is reported at
// once, each naming the file and the field, before anything is queried.
// Environment variables MIGRATE_<FIELD> (dots as underscores, e.g.
// MIGRATE_VERIFY_ROOT) override the file.
func Load(path string, env func(string) string) (*Spec, error) {
	if env == nil {
		env = os.Getenv
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	unknown := unknownKeys(v.AllSettings(), reflect.TypeOf(Spec{}), "")
	keys := fieldKeys(reflect.TypeOf(Spec{}), "")
	for name := range v.GetStringMap("providers") {
		keys = append(keys, fieldKeys(reflect.TypeOf(ProviderSpec{}), "providers."+name+".")...)
	}
	var errs []error
	for _, k := range unknown {
		errs = append(errs, fmt.Errorf("%s: %s: unknown field", path, k))
	}
	fromEnv, envErrs := envOverrides(v, env, keys, path)
	errs = append(errs, envErrs...)
	v.SetDefault("ttl.lower_to", DefaultLowerTo)
	v.SetDefault("ttl.restore", true)
	v.SetDefault("marker", true)
	v.SetDefault("safety_margin", DefaultMargin)
	v.SetDefault("verify.gate_timeout", DefaultGateTimeout)
	v.SetDefault("verify.ipv6", "auto")
	v.SetDefault("output.dir", DefaultOutputDir)

	// Every field is decoded on its own first, so that every type error
	// is reported (a decoder stops at its first); a field that does not
	// decode is left out of the whole, and its other errors with it.
	settings := v.AllSettings()
	for _, k := range unknown {
		dropKey(settings, k)
	}
	typeBad := map[string]bool{}
	for _, k := range keys {
		val := v.Get(k.name)
		if val == nil {
			continue
		}
		if err := decodeInto(val, reflect.New(k.typ).Interface()); err != nil {
			typeBad[k.name] = true
			errs = append(errs, fmt.Errorf("%s: %s: want %s (%v)", source(path, k.name, fromEnv), shown(val), wantOf(k.typ), typeDetail(err)))
			dropKey(settings, k.name)
		}
	}
	var s Spec
	if err := decodeInto(settings, &s); err != nil {
		errs = append(errs, fmt.Errorf("%s: %v", path, err))
		return nil, errors.Join(errs...)
	}
	s.File = path
	s.fromEnv = fromEnv
	for _, err := range unjoin(s.check(env)) {
		if err != nil && !typeBad[fieldOf(err)] {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &s, nil
}

// fieldKey is one leaf field of the spec: its dotted key and Go type.
type fieldKey struct {
	name string
	typ  reflect.Type
}

// EnvName is the environment variable that overrides a spec field:
// MIGRATE_ and the field's dotted key upper-cased, dots as underscores.
func EnvName(key string) string {
	return "MIGRATE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envOverrides sets on v every field whose variable env holds, parsed to
// the field's type (env values are text: "false" is a bool, "1" a number,
// "a,b" a list). It returns which field each variable set, and an error,
// naming the variable, for each value that does not parse.
func envOverrides(v *viper.Viper, env func(string) string, keys []fieldKey, path string) (map[string]string, []error) {
	fromEnv := map[string]string{}
	var errs []error
	for _, k := range keys {
		name := EnvName(k.name)
		raw := env(name)
		if raw == "" {
			continue
		}
		val, err := parseEnv(raw, k.typ)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (overriding %s in %s): %q: want %s (%v)", name, k.name, path, raw, wantOf(k.typ), err))
			continue
		}
		if val == nil {
			errs = append(errs, fmt.Errorf("%s: %s cannot be set from the environment; write it in %s", name, k.name, path))
			continue
		}
		fromEnv[k.name] = name
		v.Set(k.name, val)
	}
	return fromEnv, errs
}

// parseEnv reads an environment value as a value of type t, or nil for a
// type the environment cannot express (a list of records).
func parseEnv(raw string, t reflect.Type) (any, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return time.ParseDuration(raw)
	case t.Kind() == reflect.String:
		return raw, nil
	case t.Kind() == reflect.Bool:
		return strconv.ParseBool(raw)
	case t.Kind() == reflect.Int:
		return strconv.Atoi(raw)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		var out []any
		for _, part := range strings.Split(raw, ",") {
			out = append(out, strings.TrimSpace(part))
		}
		return out, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Int:
		var out []any
		for _, part := range strings.Split(raw, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	}
	return nil, nil
}

// decodeInto decodes a spec value (or the whole spec) into out, as
// strictly as the file is read: no guessing between types.
func decodeInto(val, out any) error {
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           out,
		ErrorUnused:      true,
		WeaklyTypedInput: false,
		DecodeHook:       mapstructure.ComposeDecodeHookFunc(oneValue, mapstructure.StringToTimeDurationHookFunc(), mapstructure.StringToSliceHookFunc(",")),
	})
	if err != nil {
		return err
	}
	return d.Decode(val)
}

// wantOf says what a field of type t takes.
func wantOf(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "a duration such as 300s or 30m"
	case t == reflect.TypeOf(Values{}):
		return "a value or a list of values"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Int:
		return "a whole number"
	case t.Kind() == reflect.String:
		return "text"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "a list of " + strings.ToLower(t.Elem().Name()) + " entries"
	case t.Kind() == reflect.Slice:
		return "a list"
	}
	return "a value of type " + t.String()
}

// typeDetail is the decoder's own reason, without its field path (the
// caller names the field).
func typeDetail(err error) string {
	var de *mapstructure.DecodeError
	var parts []string
	for _, e := range unjoin(err) {
		if errors.As(e, &de) {
			if de.Name() != "" {
				parts = append(parts, de.Name()+": "+de.Unwrap().Error())
			} else {
				parts = append(parts, de.Unwrap().Error())
			}
			continue
		}
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}

// shown is a spec value as an error quotes it.
func shown(val any) string {
	if str, ok := val.(string); ok {
		return strconv.Quote(str)
	}
	return fmt.Sprint(val)
}

// dropKey removes a dotted key from nested settings.
func dropKey(settings map[string]any, key string) {
	head, rest, nested := strings.Cut(key, ".")
	if !nested {
		delete(settings, head)
		return
	}
	if sub, ok := settings[head].(map[string]any); ok {
		dropKey(sub, rest)
	}
}

// source names where a field's value came from: the spec file, or the
// environment variable that overrides it.
func source(path, field string, fromEnv map[string]string) string {
	if name, ok := fromEnv[field]; ok {
		return fmt.Sprintf("%s (overriding %s in %s)", name, field, path)
	}
	return path + ": " + field
}

// reporter returns the function a check calls for each problem: it adds
// to errs an error about the field, naming the file (or the variable
// that set it).
func (s *Spec) reporter(errs *[]error) func(field, format string, args ...any) {
	return func(field, format string, args ...any) {
		*errs = append(*errs, &fieldError{field, fmt.Sprintf("%s: %s", source(s.File, field, s.fromEnv), fmt.Sprintf(format, args...))})
	}
}

// fieldError is a spec error about one field.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return e.msg }

// fieldOf is the field a spec error is about, if it says.
func fieldOf(err error) string {
	var fe *fieldError
	if errors.As(err, &fe) {
		return fe.field
	}
	return ""
}

// oneValue lets `from: x` stand for `from: [x]` without splitting x (a
// TXT value may hold commas).
func oneValue(from, to reflect.Type, data any) (any, error) {
	if to == reflect.TypeOf(Values{}) && from.Kind() == reflect.String {
		return Values{data.(string)}, nil
	}
	return data, nil
}

// unjoin flattens errors.Join trees.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// fieldKeys lists every leaf field of t.
func fieldKeys(t reflect.Type, prefix string) []fieldKey {
	var out []fieldKey
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == "" || tag == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			out = append(out, fieldKeys(f.Type, prefix+tag+".")...)
			continue
		}
		if f.Type.Kind() == reflect.Map {
			continue
		}
		out = append(out, fieldKey{prefix + tag, f.Type})
	}
	return out
}

// unknownKeys returns the keys of settings that t has no field for.
func unknownKeys(settings map[string]any, t reflect.Type, prefix string) []string {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag := f.Tag.Get("mapstructure"); tag != "" && tag != "-" {
			fields[tag] = f.Type
		}
	}
	var out []string
	for k, val := range settings {
		ft, ok := fields[k]
		if !ok {
			out = append(out, prefix+k)
			continue
		}
		sub, isMap := val.(map[string]any)
		switch {
		case isMap && ft.Kind() == reflect.Struct:
			out = append(out, unknownKeys(sub, ft, prefix+k+".")...)
		case isMap && ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			for name, pv := range sub {
				if pm, ok := pv.(map[string]any); ok {
					out = append(out, unknownKeys(pm, ft.Elem(), prefix+k+"."+name+".")...)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// check validates the spec and loads its secrets.
func (s *Spec) check(env func(string) string) error {
	var errs []error
	bad := s.reporter(&errs)
	absName := func(field, name string) {
		switch {
		case name == "":
			bad(field, "missing; want an absolute domain name such as example.com.")
		case !strings.HasSuffix(name, "."):
			bad(field, "%q must end with a dot (an absolute name such as %s.)", name, name)
		default:
			if _, ok := dns.IsDomainName(name); !ok {
				bad(field, "%q is not a domain name", name)
			}
		}
	}
	hostPort := func(field, addr string, required bool) {
		if addr == "" {
			if required {
				bad(field, "missing; want an address such as 192.0.2.1:53")
			}
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			host, port = addr, "53"
		}
		if net.ParseIP(host) == nil {
			bad(field, "%q: want an IP address with an optional port, such as 192.0.2.1:53", addr)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			bad(field, "%q: port must be 1 to 65535", addr)
		}
	}
	if s.Version != 1 {
		bad("version", "%d is not supported; want 1", s.Version)
	}
	absName("zone", s.Zone)
	s.Zone = strings.ToLower(s.Zone)
	switch s.Kind {
	case KindNameservers:
		s.checkNameservers(bad, absName, hostPort, env)
	case KindRecords:
		s.checkRecords(bad)
	default:
		bad("kind", "%q: want nameservers or records", s.Kind)
	}
	for _, name := range sortedKeys(s.Providers) {
		p := s.Providers[name]
		s.checkProvider(name, &p, bad, hostPort, env)
		s.Providers[name] = p
	}
	if s.TTL.LowerTo < time.Second || s.TTL.LowerTo > MaxTTL {
		bad("ttl.lower_to", "%s: want from 1s to %ds, the largest TTL (RFC 2181 section 8)", s.TTL.LowerTo, int64(MaxTTL/time.Second))
	}
	m, err := ParseMargin(s.SafetyMargin)
	if err != nil {
		bad("safety_margin", "%v", err)
	}
	s.Margin = m
	hostPort("verify.root", s.Verify.Root, false)
	for i, r := range s.Verify.Resolvers {
		hostPort(fmt.Sprintf("verify.resolvers[%d]", i), r, true)
	}
	if s.Verify.TrustAnchor != "" {
		if _, err := os.Stat(s.Verify.TrustAnchor); err != nil {
			bad("verify.trust_anchor", "%v", err)
		}
	}
	if s.Verify.GateTimeout < MinGateTimeout {
		bad("verify.gate_timeout", "%s: want at least %s (a gate polls every second and needs several polls)", s.Verify.GateTimeout, MinGateTimeout)
	}
	switch s.Verify.IPv6 {
	case "auto", "on", "off":
	default:
		bad("verify.ipv6", "%q: want auto, on or off", s.Verify.IPv6)
	}
	if s.Output.Dir == "" {
		bad("output.dir", "missing")
	}
	return errors.Join(errs...)
}

// checkProvider checks one DNS host against its type in the registry:
// the settings it takes (a setting of another type is named with the type
// it is for), its address, its secrets, and the TTLs it accepts.
func (s *Spec) checkProvider(name string, p *ProviderSpec, bad func(string, string, ...any), hostPort func(string, string, bool), env func(string) string) {
	field := "providers." + name
	t, ok := providers.LookupHost(p.Type)
	if !ok {
		bad(field+".type", "%q: want %s", p.Type, orList(providers.HostTypeNames()))
		return
	}
	given := p.settings()
	takes := func(set providers.Setting) bool { return slices.Contains(t.Settings, set) }
	foreign := slices.ContainsFunc(given, func(set providers.Setting) bool { return !takes(set) })
	switch {
	case foreign && t.Only != "":
		bad(field, "%s takes only %s; %s", t.Name, andList(t.Settings), t.Only)
	case foreign:
		for _, other := range providers.HostTypes() {
			if other.Name != t.Name && slices.ContainsFunc(given, func(set providers.Setting) bool { return !takes(set) && slices.Contains(other.Settings, set) }) {
				// The other type's settings, but dnskey_import (a
				// declaration, not a way to reach the host) only if given.
				theirs := slices.DeleteFunc(slices.Clone(other.Settings), func(set providers.Setting) bool {
					return set == providers.SetDNSKEYImport && !slices.Contains(given, set)
				})
				bad(field, "%s are for %s, not %s", andList(theirs), other.Name, t.Name)
			}
		}
	}
	if takes(providers.SetServer) {
		hostPort(field+".server", p.Server, slices.Contains(t.Required, providers.SetServer))
	}
	p.loadSecrets(field, t, env, bad)
	if slices.Contains(t.Required, providers.SetEndpoint) && p.Endpoint == "" {
		bad(field+".endpoint", "required: the base URL of %s's API", t.Display)
	}
	if takes(providers.SetEndpoint) && p.Endpoint != "" && !strings.HasPrefix(p.Endpoint, "http://") && !strings.HasPrefix(p.Endpoint, "https://") {
		bad(field+".endpoint", "%q: want an http(s) URL", p.Endpoint)
	}
	if least := t.Capabilities.MinTTL; s.TTL.LowerTo < time.Duration(least)*time.Second {
		bad("ttl.lower_to", "%s: %s (providers.%s) accepts TTLs from %ds", s.TTL.LowerTo, t.Display, name, least)
	}
}

// loadSecrets reads the secrets a provider of type t takes: a TSIG key,
// an API token.
func (p *ProviderSpec) loadSecrets(field string, t providers.HostType, env func(string) string, bad func(string, string, ...any)) {
	if slices.Contains(t.Settings, providers.SetTSIG) {
		p.TSIG.load(field+".tsig", env, bad)
	}
	if slices.Contains(t.Settings, providers.SetTokenEnv) {
		p.Token = loadSecret(field, "token_env", "token_file", p.TokenEnv, p.TokenFile, env, bad)
	}
}

// settings lists the settings a provider's entry gives.
func (p *ProviderSpec) settings() []providers.Setting {
	var out []providers.Setting
	for set, given := range map[providers.Setting]bool{
		providers.SetServer: p.Server != "", providers.SetTSIG: p.TSIG.Name != "",
		providers.SetTokenEnv: p.TokenEnv != "", providers.SetTokenFile: p.TokenFile != "", providers.SetEndpoint: p.Endpoint != "", providers.SetServerID: p.ServerID != "", providers.SetDNSKEYImport: p.DNSKEYImport,
		providers.SetRegion: p.Region != "", providers.SetPrivateZone: p.PrivateZone, providers.SetHostedZoneID: p.HostedZoneID != "",
	} {
		if given {
			out = append(out, set)
		}
	}
	slices.Sort(out)
	return out
}

// andList is "a, b and c"; orList "a, b or c".
func andList[T ~string](items []T) string { return joinLast(items, " and ") }
func orList[T ~string](items []T) string  { return joinLast(items, " or ") }

func joinLast[T ~string](items []T, last string) string {
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = string(it)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + last + s[len(s)-1]
}

func (s *Spec) checkNameservers(bad func(string, string, ...any), absName func(string, string), hostPort func(string, string, bool), env func(string) string) {
	switch s.DNSSEC {
	case DNSSECInsecureWindow, DNSSECMultiSigner, DNSSECUnsigned, DNSSECAuto:
	default:
		bad("dnssec", "%q: want insecure-window (signed on both sides; insecure while the DS is down), multi-signer (signed on both sides, secure throughout: each host must import the other's ZSK), unsigned, or auto (the plan chooses and says why)", s.DNSSEC)
	}
	for _, side := range []struct {
		name string
		s    *Side
	}{{"from", &s.From}, {"to", &s.To}} {
		if side.s.Provider == "" {
			bad(side.name+".provider", "missing; want the name of one of providers")
		} else if _, ok := s.Providers[side.s.Provider]; !ok {
			bad(side.name+".provider", "%q is not defined under providers (defined: %s)", side.s.Provider, strings.Join(sortedKeys(s.Providers), ", "))
		}
		if len(side.s.Nameservers) == 0 {
			bad(side.name+".nameservers", "missing; want the provider's name server names")
		}
		for i, ns := range side.s.Nameservers {
			absName(fmt.Sprintf("%s.nameservers[%d]", side.name, i), ns)
			side.s.Nameservers[i] = strings.ToLower(ns)
		}
	}
	if s.From.Provider != "" && s.From.Provider == s.To.Provider {
		bad("to.provider", "is the same provider as from.provider (%q)", s.From.Provider)
	}
	if t, ok := providers.LookupRegistrar(s.Registrar.Type); !ok {
		bad("registrar.type", "%q: want %s", s.Registrar.Type, orList(providers.RegistrarTypeNames()))
	} else {
		if slices.Contains(t.Settings, providers.SetServer) {
			hostPort("registrar.server", s.Registrar.Server, slices.Contains(t.Required, providers.SetServer))
		}
		if slices.Contains(t.Settings, providers.SetTSIG) {
			s.Registrar.TSIG.load("registrar.tsig", env, bad)
		}
	}
	if s.Registrar.Zone != "" {
		absName("registrar.zone", s.Registrar.Zone)
	}
}

// Record types a records cutover may change: never the apex NS set, and
// never the signer's or the parent's (DNSKEY, DS).
var cutoverTypes = map[string]bool{"A": true, "AAAA": true, "CNAME": true, "TXT": true, "MX": true, "SRV": true, "CAA": true, "NS": true, "HTTPS": true, "SVCB": true}

func (s *Spec) checkRecords(bad func(string, string, ...any)) {
	if s.Provider == "" {
		bad("provider", "missing; want the name of one of providers")
	} else if _, ok := s.Providers[s.Provider]; !ok {
		bad("provider", "%q is not defined under providers (defined: %s)", s.Provider, strings.Join(sortedKeys(s.Providers), ", "))
	}
	if len(s.Changes) == 0 {
		bad("changes", "missing; want at least one {name, type, from, to}")
	}
	seen := map[string]bool{}
	for i := range s.Changes {
		c := &s.Changes[i]
		field := fmt.Sprintf("changes[%d]", i)
		c.Type = strings.ToUpper(c.Type)
		name := c.Name
		if name == "" {
			bad(field+".name", "missing")
			continue
		}
		if name == "@" {
			name = s.Zone
		} else if !strings.HasSuffix(name, ".") {
			name += "." + s.Zone
		}
		c.Name = strings.ToLower(name)
		if !dns.IsSubDomain(s.Zone, c.Name) {
			bad(field+".name", "%q is not inside %s", c.Name, s.Zone)
		}
		switch {
		case c.Type == "DNSKEY" || c.Type == "DS":
			bad(field+".type", "%s is never changed by a records cutover (the signer and the registrar own it)", c.Type)
		case c.Type == "NS" && c.Name == s.Zone:
			bad(field+".type", "the apex NS set is never changed by a records cutover; use kind: nameservers")
		case !cutoverTypes[c.Type]:
			bad(field+".type", "%q: want one of A, AAAA, CNAME, TXT, MX, SRV, CAA, NS (below the apex), HTTPS, SVCB", c.Type)
		}
		for _, side := range []struct {
			name string
			v    Values
		}{{"from", c.From}, {"to", c.To}} {
			if len(side.v) == 0 {
				bad(field+"."+side.name, "missing")
			}
			for _, val := range side.v {
				if _, err := dns.NewRR(fmt.Sprintf("%s 0 IN %s %s", c.Name, c.Type, val)); err != nil {
					bad(field+"."+side.name, "%q is not %s data", val, c.Type)
				}
			}
		}
		if k := c.Name + " " + c.Type; seen[k] {
			bad(field, "%s %s is changed twice", c.Name, c.Type)
		} else {
			seen[k] = true
		}
	}
	if len(s.Phases) == 0 {
		s.Phases = []int{100}
	}
	for i, p := range s.Phases {
		if p <= 0 || p > 100 || (i > 0 && p <= s.Phases[i-1]) {
			bad("phases", "%v: want rising percentages from 1 to 100, such as [10, 50, 100]", s.Phases)
			break
		}
	}
	if s.Phases[len(s.Phases)-1] != 100 {
		bad("phases", "%v: the last phase must be 100", s.Phases)
	}
	if s.Hold < 0 {
		bad("hold", "%s: want a duration of 0 or more", s.Hold)
	}
	for i := range s.Health {
		h := &s.Health[i]
		field := fmt.Sprintf("health[%d]", i)
		switch h.Type {
		case "http":
			if !strings.HasPrefix(h.URL, "http://") && !strings.HasPrefix(h.URL, "https://") {
				bad(field+".url", "%q: want an http:// or https:// URL", h.URL)
			}
			if h.ExpectStatus == 0 {
				h.ExpectStatus = 200
			}
		case "tcp":
			if _, _, err := net.SplitHostPort(h.Address); err != nil {
				bad(field+".address", "%q: want host:port", h.Address)
			}
		default:
			bad(field+".type", "%q: want http or tcp", h.Type)
		}
		if h.Interval == 0 {
			h.Interval = 10 * time.Second
		}
		if h.FailuresAllowed < 0 {
			bad(field+".failures_allowed", "want 0 or more")
		}
	}
	switch s.Rollback {
	case "":
		s.Rollback = RollbackAuto
	case RollbackAuto, RollbackManual:
	default:
		bad("rollback", "%q: want auto or manual", s.Rollback)
	}
}

var tsigAlgorithms = map[string]string{
	"hmac-sha256": dns.HmacSHA256, "hmac-sha384": dns.HmacSHA384, "hmac-sha512": dns.HmacSHA512, "hmac-sha1": dns.HmacSHA1,
}

// AlgorithmFQDN is the TSIG algorithm name miekg/dns expects.
func (t TSIGSpec) AlgorithmFQDN() string { return tsigAlgorithms[t.Algorithm] }

func (t *TSIGSpec) load(field string, env func(string) string, bad func(string, string, ...any)) {
	if t.Name == "" {
		bad(field+".name", "missing; want the TSIG key name")
	}
	if _, ok := tsigAlgorithms[t.Algorithm]; !ok {
		bad(field+".algorithm", "%q: want one of hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha1", t.Algorithm)
	}
	var secret string
	switch {
	case t.SecretEnv != "" && t.SecretFile != "":
		bad(field, "give secret_env or secret_file, not both")
		return
	case t.SecretEnv != "":
		secret = strings.TrimSpace(env(t.SecretEnv))
		if secret == "" {
			bad(field+".secret_env", "environment variable %s is empty or not set", t.SecretEnv)
			return
		}
	case t.SecretFile != "":
		b, err := os.ReadFile(t.SecretFile)
		if err != nil {
			bad(field+".secret_file", "%v", err)
			return
		}
		secret = strings.TrimSpace(string(b))
	default:
		bad(field, "no secret: give secret_env (an environment variable) or secret_file; secrets never go in the spec")
		return
	}
	if _, err := base64.StdEncoding.DecodeString(secret); err != nil {
		bad(field, "the secret is not base64 (as BIND and Knot write TSIG secrets)")
		return
	}
	t.Secret = Secret{secret}
}

// loadSecret reads a secret (an API token) from the environment variable
// or the file the spec names, never from the spec itself.
func loadSecret(field, envKey, fileKey, envName, file string, env func(string) string, bad func(string, string, ...any)) Secret {
	switch {
	case envName != "" && file != "":
		bad(field, "give %s or %s, not both", envKey, fileKey)
	case envName != "":
		if v := strings.TrimSpace(env(envName)); v != "" {
			return Secret{v}
		}
		bad(field+"."+envKey, "environment variable %s is empty or not set", envName)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			bad(field+"."+fileKey, "%v", err)
		} else if v := strings.TrimSpace(string(b)); v != "" {
			return Secret{v}
		} else {
			bad(field+"."+fileKey, "%s is empty", file)
		}
	default:
		bad(field, "no secret: give %s (an environment variable) or %s; secrets never go in the spec", envKey, fileKey)
	}
	return Secret{}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Reverse turns the spec into its move back: from and to swapped (the
// providers of a move of name servers, the values of each change of a
// records cutover; names not moved yet already hold their old values).
func (s *Spec) Reverse() {
	if s.Cutover() {
		for i := range s.Changes {
			c := &s.Changes[i]
			c.From, c.To = c.To, c.From
		}
		return
	}
	s.From, s.To = s.To, s.From
}
