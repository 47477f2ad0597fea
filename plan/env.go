package plan

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// NewEnv builds the checker, hosts and registrar a spec names. Instructions
// for a manual registrar go to out.
func NewEnv(ctx context.Context, spec *spec.Spec, out io.Writer, timeout time.Duration) (Env, error) {
	opts := checks.Options{Resolvers: append([]string{}, spec.Verify.Resolvers...), Timeout: timeout,
		IPv6: spec.Verify.IPv6 == "on", IPv6Auto: spec.Verify.IPv6 == "auto" || spec.Verify.IPv6 == ""}
	if spec.Verify.Root != "" {
		opts.Roots = []string{spec.Verify.Root}
	}
	if spec.Verify.TrustAnchor != "" {
		a, err := checks.LoadAnchors(spec.Verify.TrustAnchor)
		if err != nil {
			return Env{}, fmt.Errorf("%s: verify.trust_anchor: %w", spec.File, err)
		}
		opts.Anchors = &a
	}
	env := Env{Checker: checks.New(opts), Hosts: map[string]providers.Host{}, Now: time.Now}
	for name, p := range spec.Providers {
		t, ok := providers.LookupHost(p.Type)
		if !ok {
			return Env{}, fmt.Errorf("%s: providers.%s.type: %q is no type of DNS host", spec.File, name, p.Type)
		}
		h, err := t.New(ctx, providers.HostConfig{Server: checks.WithPort(p.Server), TSIG: tsig(p.TSIG), Token: p.Token.Value(),
			Endpoint: p.Endpoint, ServerID: p.ServerID, DNSKEYImport: p.DNSKEYImport, Region: p.Region, HostedZoneID: p.HostedZoneID, PrivateZone: p.PrivateZone})
		if err != nil {
			return Env{}, fmt.Errorf("%s: providers.%s: %w", spec.File, name, err)
		}
		env.Hosts[name] = h
	}
	if spec.Cutover() {
		return env, nil // a records cutover changes no delegation
	}
	t, ok := providers.LookupRegistrar(spec.Registrar.Type)
	if !ok {
		return Env{}, fmt.Errorf("%s: registrar.type: %q is no type of registrar", spec.File, spec.Registrar.Type)
	}
	parent := spec.Registrar.Zone
	if parent == "" {
		parent = parentOf(spec.Zone)
	}
	r, err := t.New(ctx, providers.RegistrarConfig{Server: checks.WithPort(spec.Registrar.Server), TSIG: tsig(spec.Registrar.TSIG), Parent: parent, Out: out})
	if err != nil {
		return Env{}, fmt.Errorf("%s: registrar: %w", spec.File, err)
	}
	env.Registrar = r
	return env, nil
}

func tsig(t spec.TSIGSpec) providers.TSIG {
	return providers.TSIG{Name: t.Name, Algorithm: t.Algorithm, Secret: t.Secret.Value()}
}

// parentOf is the zone one label up: the usual parent, when the spec does
// not name registrar.zone.
func parentOf(zone string) string {
	for i := 0; i < len(zone)-1; i++ {
		if zone[i] == '.' {
			return zone[i+1:]
		}
	}
	return "."
}
