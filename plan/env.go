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
		switch p.Type {
		case "cloudflare":
			h, err := providers.NewCloudflareHost(p.Token.Value(), providers.CloudflareOptions{Endpoint: p.Endpoint})
			if err != nil {
				return Env{}, fmt.Errorf("%s: providers.%s: %w", spec.File, name, err)
			}
			env.Hosts[name] = h
		case "route53":
			h, err := providers.NewRoute53Host(ctx, providers.AWSOptions{Region: p.Region}, providers.Route53Zone{ID: p.HostedZoneID, Private: p.PrivateZone})
			if err != nil {
				return Env{}, fmt.Errorf("%s: providers.%s: %w", spec.File, name, err)
			}
			env.Hosts[name] = h
		default:
			env.Hosts[name] = providers.NewRFC2136Host(checks.WithPort(p.Server), tsig(p.TSIG))
		}
	}
	switch spec.Registrar.Type {
	case "rfc2136":
		parent := spec.Registrar.Zone
		if parent == "" {
			parent = parentOf(spec.Zone)
		}
		env.Registrar = providers.NewRFC2136Registrar(checks.WithPort(spec.Registrar.Server), parent, tsig(spec.Registrar.TSIG))
	case "manual":
		env.Registrar = providers.NewManualRegistrar(out)
	case "route53domains":
		r, err := providers.NewRoute53DomainsRegistrar(ctx, providers.AWSOptions{})
		if err != nil {
			return Env{}, fmt.Errorf("%s: registrar: %w", spec.File, err)
		}
		env.Registrar = r
	}
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
