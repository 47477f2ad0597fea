package providers

import (
	"context"
	"io"
	"slices"
)

// The registry: one entry per type of DNS host and registrar a spec may
// name, with the settings it takes, what it can do and how it is built.
// The spec's validation, the environment builder and the planner ask it;
// adding a provider is an entry here and its adapter's file.

// Setting names a spec field of a provider (besides type).
type Setting string

// The settings, as a spec spells them.
const (
	SetServer       Setting = "server"
	SetTSIG         Setting = "tsig"
	SetTokenEnv     Setting = "token_env"
	SetTokenFile    Setting = "token_file"
	SetEndpoint     Setting = "endpoint"
	SetRegion       Setting = "region"
	SetPrivateZone  Setting = "private_zone"
	SetHostedZoneID Setting = "hosted_zone_id"
	SetZone         Setting = "zone"
	SetServerID     Setting = "server_id"
	SetDNSKEYImport Setting = "dnskey_import"
)

// HostCapabilities say what a type of DNS host can do.
type HostCapabilities struct {
	// MinTTL is the shortest TTL it accepts, in seconds (0: any).
	MinTTL uint32 `json:"min_ttl,omitempty"`
	// Weighted: it answers a name from weighted record sets.
	Weighted bool `json:"weighted,omitempty"`
	// AtomicReplace: an RRset's old records and new ones change in one
	// request that applies whole or not at all.
	AtomicReplace bool `json:"atomic_replace,omitempty"`
	// ForeignDNSKEY: it can publish another signer's DNSKEY.
	ForeignDNSKEY bool `json:"foreign_dnskey,omitempty"`
	// CDS: it publishes CDS/CDNSKEY for its keys.
	CDS bool `json:"cds,omitempty"`
}

// HostConfig is what a spec says of one DNS host, secrets loaded.
type HostConfig struct {
	Server       string // host:port
	TSIG         TSIG
	Token        string
	Endpoint     string
	Region       string
	HostedZoneID string
	PrivateZone  bool
	ServerID     string
	DNSKEYImport bool
}

// HostType is one type of DNS host.
type HostType struct {
	Name string
	// Display is how messages name it.
	Display string
	// Settings are the fields it takes; Required those it cannot do
	// without.
	Settings, Required []Setting
	// Only, when set, is said when a setting of another type is given
	// (else "... are for <type>, not <this>").
	Only         string
	Capabilities HostCapabilities
	New          func(ctx context.Context, c HostConfig) (Host, error)
}

// RegistrarConfig is what a spec says of the registrar, secrets loaded.
type RegistrarConfig struct {
	Server string
	TSIG   TSIG
	Parent string // the parent zone
	Out    io.Writer
}

// RegistrarType is one type of registrar.
type RegistrarType struct {
	Name               string
	Settings, Required []Setting
	// Capabilities are what every registrar of the type reports.
	Capabilities Capabilities
	New          func(ctx context.Context, c RegistrarConfig) (Registrar, error)
}

// HostTypes lists every type of DNS host, in the order messages list them.
func HostTypes() []HostType {
	return []HostType{
		{Name: "rfc2136", Display: "RFC 2136", Settings: []Setting{SetServer, SetTSIG, SetDNSKEYImport}, Required: []Setting{SetServer, SetTSIG},
			Capabilities: HostCapabilities{AtomicReplace: true},
			New: func(_ context.Context, c HostConfig) (Host, error) {
				return NewRFC2136Host(c.Server, c.TSIG).WithDNSKEYImport(c.DNSKEYImport), nil
			}},
		{Name: "cloudflare", Display: "Cloudflare", Settings: []Setting{SetTokenEnv, SetTokenFile, SetEndpoint},
			Capabilities: HostCapabilities{MinTTL: 60, AtomicReplace: true, ForeignDNSKEY: true},
			New: func(_ context.Context, c HostConfig) (Host, error) {
				return NewCloudflareHost(c.Token, CloudflareOptions{Endpoint: c.Endpoint})
			}},
		{Name: "route53", Display: "Route 53", Settings: []Setting{SetRegion, SetPrivateZone, SetHostedZoneID},
			Only:         "credentials come from the AWS SDK's standard chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...), the endpoint from AWS_ENDPOINT_URL_ROUTE_53",
			Capabilities: HostCapabilities{Weighted: true, AtomicReplace: true},
			New: func(ctx context.Context, c HostConfig) (Host, error) {
				return NewRoute53Host(ctx, AWSOptions{Region: c.Region}, Route53Zone{ID: c.HostedZoneID, Private: c.PrivateZone})
			}},
		{Name: "powerdns", Display: "PowerDNS", Settings: []Setting{SetEndpoint, SetTokenEnv, SetTokenFile, SetServerID}, Required: []Setting{SetEndpoint},
			Capabilities: HostCapabilities{AtomicReplace: true, ForeignDNSKEY: true, CDS: true},
			New: func(_ context.Context, c HostConfig) (Host, error) {
				return NewPowerDNSHost(PowerDNSOptions{Endpoint: c.Endpoint, ServerID: c.ServerID, APIKey: c.Token})
			}},
	}
}

// LookupHost is the type of DNS host called name.
func LookupHost(name string) (HostType, bool) {
	types := HostTypes()
	i := slices.IndexFunc(types, func(t HostType) bool { return t.Name == name })
	if i < 0 {
		return HostType{}, false
	}
	return types[i], true
}

// RegistrarTypes lists every type of registrar.
func RegistrarTypes() []RegistrarType {
	return []RegistrarType{
		{Name: "rfc2136", Settings: []Setting{SetServer, SetTSIG, SetZone}, Required: []Setting{SetServer, SetTSIG},
			Capabilities: Capabilities{DS: true, Glue: true, Automatic: true},
			New: func(_ context.Context, c RegistrarConfig) (Registrar, error) {
				return NewRFC2136Registrar(c.Server, c.Parent, c.TSIG), nil
			}},
		{Name: "route53domains", Settings: []Setting{SetZone}, Capabilities: Capabilities{DS: true, Glue: true, Automatic: true},
			New: func(ctx context.Context, _ RegistrarConfig) (Registrar, error) {
				return NewRoute53DomainsRegistrar(ctx, AWSOptions{})
			}},
		{Name: "manual", Settings: []Setting{SetZone}, Capabilities: Capabilities{DS: true, Glue: true},
			New: func(_ context.Context, c RegistrarConfig) (Registrar, error) {
				return NewManualRegistrar(c.Out), nil
			}},
	}
}

// LookupRegistrar is the type of registrar called name.
func LookupRegistrar(name string) (RegistrarType, bool) {
	types := RegistrarTypes()
	i := slices.IndexFunc(types, func(t RegistrarType) bool { return t.Name == name })
	if i < 0 {
		return RegistrarType{}, false
	}
	return types[i], true
}

// HostTypeNames lists the names of the types of DNS host.
func HostTypeNames() []string {
	var out []string
	for _, t := range HostTypes() {
		out = append(out, t.Name)
	}
	return out
}

// RegistrarTypeNames lists the names of the types of registrar.
func RegistrarTypeNames() []string {
	var out []string
	for _, t := range RegistrarTypes() {
		out = append(out, t.Name)
	}
	return out
}
