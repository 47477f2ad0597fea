package providers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/libdns/libdns"
	"github.com/libdns/route53"
	"github.com/miekg/dns"
)

// AWSOptions say how to reach an AWS API. Credentials come from the spec's
// environment variables or files; the endpoint, for API-compatible
// services and tests, can also come from the SDK's own variables
// (AWS_ENDPOINT_URL_ROUTE_53, AWS_ENDPOINT_URL_ROUTE_53_DOMAINS).
type AWSOptions struct {
	Region                                     string // default us-east-1, where Route 53's control plane lives
	AccessKeyID, SecretAccessKey, SessionToken string
	Endpoint                                   string
	// MaxAttempts bounds the SDK's retries of throttled requests (default
	// 5); MaxBackoff caps its exponential backoff (default 20s).
	MaxAttempts int
	MaxBackoff  time.Duration
}

func (o AWSOptions) config(ctx context.Context) (aws.Config, error) {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	attempts, backoff := o.MaxAttempts, o.MaxBackoff
	if attempts <= 0 {
		attempts = 5
	}
	if backoff <= 0 {
		backoff = 20 * time.Second
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(o.Region),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				so.MaxBackoff = backoff
			})
		}),
	}
	if o.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)))
	}
	if o.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(o.Endpoint))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws: load configuration: %w", err)
	}
	return cfg, nil
}

// Route53Host is a DNS host at Amazon Route 53: libdns/route53 for plain
// record sets, the AWS SDK for weighted ones (libdns has no weights).
type Route53Host struct {
	*route53.Provider
	sdk *r53.Client
}

// NewRoute53Host returns a Route 53 host. libdns/route53 reads its
// endpoint from the SDK's environment only, so o.Endpoint is also set
// there by the caller when it is not the real API (see README).
func NewRoute53Host(ctx context.Context, o AWSOptions) (*Route53Host, error) {
	cfg, err := o.config(ctx)
	if err != nil {
		return nil, fmt.Errorf("route53: %w", err)
	}
	region := o.Region
	if region == "" {
		region = "us-east-1"
	}
	p := &route53.Provider{Region: region, AccessKeyId: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey, SessionToken: o.SessionToken, MaxRetries: max(o.MaxAttempts, 1)}
	return &Route53Host{Provider: p, sdk: r53.NewFromConfig(cfg)}, nil
}

// r53Detail adds Route 53's own messages to an InvalidChangeBatch error,
// which the SDK's message summarises as "ChangeBatch errors occurred".
func r53Detail(err error) error {
	var icb *r53types.InvalidChangeBatch
	if errors.As(err, &icb) && len(icb.Messages) > 0 {
		return fmt.Errorf("%w: %s", err, strings.Join(icb.Messages, "; "))
	}
	return err
}

// SetRecords sets plain record sets through libdns/route53.
func (h *Route53Host) SetRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	out, err := h.Provider.SetRecords(ctx, zone, recs)
	return out, r53Detail(err)
}

// WeightedSet is one weighted record set of a name: its identifier, its
// share of the answers and its values.
type WeightedSet struct {
	ID     string
	Weight int64
	Values []string
}

func (h *Route53Host) zoneID(ctx context.Context, zone string) (string, error) {
	out, err := h.sdk.ListHostedZonesByName(ctx, &r53.ListHostedZonesByNameInput{DNSName: aws.String(dns.Fqdn(zone)), MaxItems: aws.Int32(1)})
	if err != nil {
		return "", fmt.Errorf("route53: find hosted zone %s: %w", zone, err)
	}
	if len(out.HostedZones) == 0 || !strings.EqualFold(aws.ToString(out.HostedZones[0].Name), dns.Fqdn(zone)) {
		return "", fmt.Errorf("route53: no hosted zone %s", zone)
	}
	return strings.TrimPrefix(aws.ToString(out.HostedZones[0].Id), "/hostedzone/"), nil
}

// sets lists the record sets of one name and type.
func (h *Route53Host) sets(ctx context.Context, id, name, rrtype string) ([]r53types.ResourceRecordSet, error) {
	out, err := h.sdk.ListResourceRecordSets(ctx, &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id),
		StartRecordName: aws.String(name), StartRecordType: r53types.RRType(rrtype), MaxItems: aws.Int32(100)})
	if err != nil {
		return nil, fmt.Errorf("route53: list %s %s: %w", name, rrtype, err)
	}
	var sets []r53types.ResourceRecordSet
	for _, s := range out.ResourceRecordSets {
		if strings.EqualFold(aws.ToString(s.Name), name) && string(s.Type) == rrtype {
			sets = append(sets, s)
		}
	}
	return sets, nil
}

func recordSet(name, rrtype string, ttl uint32, values []string, w *WeightedSet) r53types.ResourceRecordSet {
	s := r53types.ResourceRecordSet{Name: aws.String(name), Type: r53types.RRType(rrtype), TTL: aws.Int64(int64(ttl))}
	for _, v := range values {
		s.ResourceRecords = append(s.ResourceRecords, r53types.ResourceRecord{Value: aws.String(v)})
	}
	if w != nil {
		s.SetIdentifier, s.Weight = aws.String(w.ID), aws.Int64(w.Weight)
	}
	return s
}

// SetWeighted makes name and type answer with the given weighted sets (or,
// with none, with the plain values plain), in one change batch, which
// Route 53 applies atomically: the sets it replaces are deleted as they
// are, the new ones created. It then waits until Route 53 reports the
// change INSYNC.
func (h *Route53Host) SetWeighted(ctx context.Context, zone, name, rrtype string, ttl uint32, sets []WeightedSet, plain []string) error {
	name = dns.Fqdn(name)
	id, err := h.zoneID(ctx, zone)
	if err != nil {
		return err
	}
	current, err := h.sets(ctx, id, name, rrtype)
	if err != nil {
		return err
	}
	var want []r53types.ResourceRecordSet
	for i := range sets {
		want = append(want, recordSet(name, rrtype, ttl, sets[i].Values, &sets[i]))
	}
	if len(sets) == 0 {
		want = append(want, recordSet(name, rrtype, ttl, plain, nil))
	}
	var changes []r53types.Change
	for _, c := range current {
		keep := slices.ContainsFunc(want, func(w r53types.ResourceRecordSet) bool {
			return aws.ToString(w.SetIdentifier) == aws.ToString(c.SetIdentifier)
		})
		if !keep {
			changes = append(changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &c})
		}
	}
	for i := range want {
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &want[i]})
	}
	out, err := h.sdk.ChangeResourceRecordSets(ctx, &r53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(id),
		ChangeBatch: &r53types.ChangeBatch{Comment: aws.String("dnsmigrate"), Changes: changes}})
	if err != nil {
		return fmt.Errorf("route53: change %s %s: %w", name, rrtype, r53Detail(err))
	}
	return h.waitInSync(ctx, aws.ToString(out.ChangeInfo.Id))
}

// waitInSync polls GetChange until Route 53 has applied a change on all
// its servers.
func (h *Route53Host) waitInSync(ctx context.Context, changeID string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for wait := 500 * time.Millisecond; ; wait = min(wait*2, 10*time.Second) {
		out, err := h.sdk.GetChange(ctx, &r53.GetChangeInput{Id: aws.String(changeID)})
		if err != nil {
			return fmt.Errorf("route53: change %s: %w", changeID, err)
		}
		if out.ChangeInfo.Status == r53types.ChangeStatusInsync {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("route53: change %s still %s after 5 minutes", changeID, out.ChangeInfo.Status)
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
	}
}
