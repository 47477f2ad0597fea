package providers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/libdns/libdns"
	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/internal/wait"
)

// AWSOptions say how to reach an AWS API. Credentials come from the spec's
// environment variables or files; the endpoint, for API-compatible
// services and tests, can also come from the SDK's own variables
// (AWS_ENDPOINT_URL_ROUTE_53, AWS_ENDPOINT_URL_ROUTE_53_DOMAINS).
type AWSOptions struct {
	Region                                     string // default us-east-1, where Route 53's control plane lives
	AccessKeyID, SecretAccessKey, SessionToken string
	Endpoint                                   string
	// MaxAttempts bounds the SDK's standard retryer for every call
	// (default 5): Throttling, PriorRequestNotComplete and server errors
	// are sent again. MaxBackoff caps its exponential backoff (default 20s).
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

// Route53Zone chooses the hosted zone among those with the zone's name:
// by ID when given, else the one public (or, with Private, the one
// private) zone of that name.
type Route53Zone struct {
	ID      string
	Private bool
}

// Route53Host is a DNS host at Amazon Route 53, through the AWS SDK.
// libdns/route53 v1.6.1 is not used: it UPSERTs a record set value by
// value (the last value wins), flattens weighted sets into one plain set,
// skips alias records and returns names with Route 53's octal escapes.
// This adapter reads and writes whole record sets, keeps weighted sets,
// their identifiers, weights and health checks as they are, reads alias
// and other routed sets and never changes them, and unescapes names.
type Route53Host struct {
	sdk  *r53.Client
	zone Route53Zone
	poll time.Duration

	mu    sync.Mutex
	ids   map[string]string  // zone name -> hosted zone ID
	views map[string]r53View // hosted zone ID -> the listing changes are computed from
}

// r53View is a hosted zone's listing as a change sees it: listed at most
// viewTTL ago, with this host's own change batches since applied to it, so
// that a change sent in many batches does not list a large zone again for
// each (Route 53 allows 5 requests a second per account).
type r53View struct {
	at   time.Time
	sets []r53Set
}

// viewTTL is how long a listing serves the changes that follow it.
const viewTTL = 30 * time.Second

// NewRoute53Host returns a Route 53 host choosing the hosted zone as z
// says.
func NewRoute53Host(ctx context.Context, o AWSOptions, z Route53Zone) (*Route53Host, error) {
	cfg, err := o.config(ctx)
	if err != nil {
		return nil, fmt.Errorf("route53: %w", err)
	}
	return &Route53Host{sdk: r53.NewFromConfig(cfg), zone: z, poll: 500 * time.Millisecond, ids: map[string]string{}, views: map[string]r53View{}}, nil
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

// r53Unescape turns a name as Route 53 returns it (characters other than
// a-z, 0-9, hyphen, underscore and dot as a backslash and three octal
// digits: `\052` for `*`) into presentation format.
func r53Unescape(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] == '\\' && i+4 <= len(name) {
			if n, err := strconv.ParseUint(name[i+1:i+4], 8, 8); err == nil {
				c := byte(n)
				switch {
				case c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$' || c <= ' ' || c >= 0x7f:
					fmt.Fprintf(&b, "\\%03d", c) // presentation format's decimal escape
				default:
					b.WriteByte(c)
				}
				i += 3
				continue
			}
		}
		b.WriteByte(name[i])
	}
	return strings.ToLower(b.String())
}

// zoneID finds the hosted zone: by ID when the spec gives one, else the
// one zone with the name and the privacy asked for. Two public zones may
// share a name; then the choice is the operator's.
func (h *Route53Host) zoneID(ctx context.Context, zone string) (string, error) {
	zone = strings.ToLower(dns.Fqdn(zone))
	if h.zone.ID != "" {
		return strings.TrimPrefix(h.zone.ID, "/hostedzone/"), nil
	}
	h.mu.Lock()
	id, ok := h.ids[zone]
	h.mu.Unlock()
	if ok {
		return id, nil
	}
	want := "public"
	if h.zone.Private {
		want = "private"
	}
	var match, other []string
	in := &r53.ListHostedZonesByNameInput{DNSName: aws.String(zone), MaxItems: aws.Int32(100)}
	for {
		out, err := h.sdk.ListHostedZonesByName(ctx, in)
		if err != nil {
			return "", fmt.Errorf("route53: find hosted zone %s: %w", zone, err)
		}
		past := false
		for _, z := range out.HostedZones {
			if r53Unescape(aws.ToString(z.Name)) != zone {
				past = true
				break
			}
			zid := strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/")
			if (z.Config != nil && z.Config.PrivateZone) == h.zone.Private {
				match = append(match, zid)
			} else {
				other = append(other, zid)
			}
		}
		if past || !out.IsTruncated {
			break
		}
		in.DNSName, in.HostedZoneId = out.NextDNSName, out.NextHostedZoneId
	}
	switch {
	case len(match) == 0 && len(other) > 0:
		return "", fmt.Errorf("route53: no %s hosted zone %s (there is another: %s); set private_zone or hosted_zone_id", want, zone, strings.Join(other, ", "))
	case len(match) == 0:
		return "", fmt.Errorf("route53: no hosted zone %s", zone)
	case len(match) > 1:
		return "", fmt.Errorf("route53: %d %s hosted zones are named %s (%s); set hosted_zone_id to the one that serves it", len(match), want, zone, strings.Join(match, ", "))
	}
	h.mu.Lock()
	h.ids[zone] = match[0]
	h.mu.Unlock()
	return match[0], nil
}

// r53Set is one record set as listed, with its name unescaped.
type r53Set struct {
	name string
	set  r53types.ResourceRecordSet
}

func (s r53Set) routed() bool {
	return s.set.SetIdentifier != nil || s.set.AliasTarget != nil || s.set.TrafficPolicyInstanceId != nil
}

func (s r53Set) values() []string {
	var out []string
	for _, r := range s.set.ResourceRecords {
		out = append(out, aws.ToString(r.Value))
	}
	return out
}

// list reads every record set of the hosted zone, all pages.
func (h *Route53Host) list(ctx context.Context, id string) ([]r53Set, error) {
	var out []r53Set
	pages := r53.NewListResourceRecordSetsPaginator(h.sdk, &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id), MaxItems: aws.Int32(300)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("route53: list record sets of %s: %w", id, err)
		}
		for _, s := range page.ResourceRecordSets {
			out = append(out, r53Set{name: r53Unescape(aws.ToString(s.Name)), set: s})
		}
	}
	return out, nil
}

// current is the zone's listing for a change: the view if fresh, else a
// new listing.
func (h *Route53Host) current(ctx context.Context, id string) ([]r53Set, error) {
	h.mu.Lock()
	v, ok := h.views[id]
	h.mu.Unlock()
	if ok && time.Since(v.at) < viewTTL {
		return v.sets, nil
	}
	sets, err := h.list(ctx, id)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.views[id] = r53View{at: time.Now(), sets: sets}
	h.mu.Unlock()
	return sets, nil
}

// applied records a change batch Route 53 accepted in the zone's view (or,
// with ok false, drops the view: what landed is unknown).
func (h *Route53Host) applied(id string, changes []r53types.Change, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, has := h.views[id]
	if !has {
		return
	}
	if !ok {
		delete(h.views, id)
		return
	}
	key := func(name string, s r53types.ResourceRecordSet) string {
		return name + " " + string(s.Type) + " " + aws.ToString(s.SetIdentifier)
	}
	idx := map[string]int{}
	sets := slices.Clone(v.sets)
	for i, s := range sets {
		idx[key(s.name, s.set)] = i
	}
	for _, c := range changes {
		name := r53Unescape(aws.ToString(c.ResourceRecordSet.Name))
		k := key(name, *c.ResourceRecordSet)
		i, exists := idx[k]
		switch {
		case c.Action == r53types.ChangeActionDelete && exists:
			sets[i].name = "" // removed below
			delete(idx, k)
		case c.Action != r53types.ChangeActionDelete && exists:
			sets[i] = r53Set{name: name, set: *c.ResourceRecordSet}
		case c.Action != r53types.ChangeActionDelete:
			idx[k] = len(sets)
			sets = append(sets, r53Set{name: name, set: *c.ResourceRecordSet})
		}
	}
	sets = slices.DeleteFunc(sets, func(s r53Set) bool { return s.name == "" })
	h.views[id] = r53View{at: v.at, sets: sets}
}

// listZone finds the hosted zone and lists it now (observation never
// reads the write view).
func (h *Route53Host) listZone(ctx context.Context, zone string) (string, []r53Set, error) {
	id, err := h.zoneID(ctx, zone)
	if err != nil {
		return "", nil, err
	}
	sets, err := h.list(ctx, id)
	return id, sets, err
}

// GetRecords lists the zone's plain record sets, one libdns record per
// value, names unescaped. Weighted, alias and other routed sets are not
// plain records: Routed lists them.
func (h *Route53Host) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	_, sets, err := h.listZone(ctx, zone)
	if err != nil {
		return nil, err
	}
	var out []libdns.Record
	for _, s := range sets {
		if s.routed() {
			continue
		}
		for _, v := range s.values() {
			rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", s.name, aws.ToInt64(s.set.TTL), s.set.Type, v))
			if err != nil || rr == nil {
				return nil, fmt.Errorf("route53: %s %s value %q: %v", s.name, s.set.Type, v, err)
			}
			out = append(out, FromRR(rr, zone))
		}
	}
	return out, nil
}

// Routed lists the names answered by rule: weighted sets as themselves,
// and alias or other routed sets described in words.
func (h *Route53Host) Routed(ctx context.Context, zone string) ([]Route, error) {
	_, sets, err := h.listZone(ctx, zone)
	if err != nil {
		return nil, err
	}
	return routedOf(sets), nil
}

func routedOf(sets []r53Set) []Route {
	idx := map[string]int{}
	var out []Route
	for _, s := range sets {
		if !s.routed() {
			continue
		}
		k := s.name + " " + string(s.set.Type)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Route{Name: s.name, Type: string(s.set.Type)})
		}
		r := &out[i]
		r.TTL = max(r.TTL, uint32(aws.ToInt64(s.set.TTL)))
		if s.set.Weight != nil && s.set.AliasTarget == nil && s.set.TrafficPolicyInstanceId == nil {
			r.Sets = append(r.Sets, WeightedSet{ID: aws.ToString(s.set.SetIdentifier), Weight: aws.ToInt64(s.set.Weight), Values: s.values(), HealthCheckID: aws.ToString(s.set.HealthCheckId)})
			continue
		}
		r.Other = append(r.Other, describeRule(s.set))
	}
	return out
}

// describeRule says in words how Route 53 answers with a set dnsmigrate
// does not change.
func describeRule(s r53types.ResourceRecordSet) string {
	var parts []string
	if s.SetIdentifier != nil {
		parts = append(parts, fmt.Sprintf("set %q", aws.ToString(s.SetIdentifier)))
	}
	switch {
	case s.Weight != nil:
		parts = append(parts, fmt.Sprintf("weight %d", aws.ToInt64(s.Weight)))
	case s.Failover != "":
		parts = append(parts, "failover "+string(s.Failover))
	case s.Region != "":
		parts = append(parts, "latency "+string(s.Region))
	case s.GeoLocation != nil:
		parts = append(parts, "geolocation")
	case s.MultiValueAnswer != nil:
		parts = append(parts, "multivalue")
	}
	if a := s.AliasTarget; a != nil {
		parts = append(parts, fmt.Sprintf("alias to %s (hosted zone %s, evaluate target health %t)", r53Unescape(aws.ToString(a.DNSName)), aws.ToString(a.HostedZoneId), a.EvaluateTargetHealth))
	} else if s.TrafficPolicyInstanceId != nil {
		parts = append(parts, "traffic policy instance "+aws.ToString(s.TrafficPolicyInstanceId))
	} else {
		var vals []string
		for _, r := range s.ResourceRecords {
			vals = append(vals, aws.ToString(r.Value))
		}
		parts = append(parts, fmt.Sprint(vals))
	}
	if s.HealthCheckId != nil {
		parts = append(parts, "health check "+aws.ToString(s.HealthCheckId))
	}
	return strings.Join(parts, " ")
}

// SetRecords makes each name and type of recs exactly the given values
// (libdns semantics), whole record sets at a time.
func (h *Route53Host) SetRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	var rrs []dns.RR
	for _, rec := range recs {
		rr, err := ToRR(rec, zone)
		if err != nil {
			return nil, fmt.Errorf("route53: %+v: %w", rec.RR(), err)
		}
		rrs = append(rrs, rr)
	}
	var reps []Replacement
	for _, set := range Group(rrs) {
		reps = append(reps, Replacement{Name: set.Name, Type: set.Type, TTL: set.TTL, To: set.Data})
	}
	if err := h.Replace(ctx, zone, reps); err != nil {
		return nil, err
	}
	return recs, nil
}

// Batch limits of ChangeResourceRecordSets (API reference, "Limits"): at
// most 1,000 ResourceRecord elements and 32,000 characters of values in
// one request, an UPSERT counting twice.
const (
	r53MaxRecords = 1000
	r53MaxChars   = 32000
)

// Replace changes whole record sets, computed from the zone's view (see
// r53View): one UPSERT with every value of the new set (never value by
// value), a DELETE of the listed set when the new
// one is empty. A name answered by weighted sets keeps them: a TTL change
// rewrites each set with its identifier, weight and health check; any
// other change is refused (a weighted phase goes through SetWeighted). A
// name answered by an alias or another rule is refused. The changes go in
// as few change batches as Route 53's limits allow, each atomic and
// waited on until INSYNC; an error says how many batches had landed.
func (h *Route53Host) Replace(ctx context.Context, zone string, reps []Replacement) error {
	id, err := h.zoneID(ctx, zone)
	if err != nil {
		return err
	}
	sets, err := h.current(ctx, id)
	if err != nil {
		return err
	}
	byName := map[string][]r53Set{}
	for _, s := range sets {
		k := s.name + " " + string(s.set.Type)
		byName[k] = append(byName[k], s)
	}
	var changes []r53types.Change
	for _, rep := range reps {
		// Every value must be data of its type: refused here, before any
		// request, not by the API halfway through a step.
		for _, v := range rep.To {
			if _, err := dns.NewRR(fmt.Sprintf("%s 0 IN %s %s", dns.Fqdn(rep.Name), rep.Type, v)); err != nil {
				return fmt.Errorf("route53: %s %s value %q: %w", rep.Name, rep.Type, v, err)
			}
		}
		name := strings.ToLower(dns.Fqdn(rep.Name))
		current := byName[name+" "+rep.Type]
		if rn := routedOf(current); len(rn) > 0 {
			r := rn[0]
			if err := r.unchangeable(); err != nil {
				return fmt.Errorf("route53: %w", err)
			}
			to := slices.Sorted(slices.Values(rep.To))
			if !slices.Equal(r.SetValues(), slices.Compact(to)) {
				return fmt.Errorf("route53: %s %s is answered by %d weighted sets %v; a plain change to %v would replace them", name, rep.Type, len(r.Sets), r.Describe(), rep.To)
			}
			for _, s := range r.Sets {
				changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: ptr(recordSet(name, rep.Type, rep.TTL, s.Values, &s))})
			}
			continue
		}
		if len(rep.To) == 0 {
			for _, c := range current {
				changes = append(changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: ptr(c.set)})
			}
			continue
		}
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: ptr(recordSet(name, rep.Type, rep.TTL, rep.To, nil))})
	}
	return h.send(ctx, id, changes)
}

func ptr[T any](v T) *T { return &v }

// Batches splits replacements into groups that fit one change batch: an
// UPSERT of every value counts twice against 1,000 ResourceRecord
// elements and 32,000 characters (a DELETE once; counted as twice too).
func (h *Route53Host) Batches(reps []Replacement) [][]Replacement {
	return batchWithin(reps,
		limit[Replacement]{r53MaxRecords, func(r Replacement) int { return 2 * max(len(r.From), len(r.To), 1) }},
		limit[Replacement]{r53MaxChars, func(r Replacement) int {
			n := 0
			for _, v := range r.To {
				n += len(v)
			}
			for _, v := range r.From {
				n += len(v)
			}
			return 2 * n
		}})
}

// batches splits changes into change batches within Route 53's limits,
// in order.
func r53Batches(changes []r53types.Change) [][]r53types.Change {
	// An UPSERT counts twice towards both limits.
	twice := func(c r53types.Change) int {
		if c.Action == r53types.ChangeActionUpsert {
			return 2
		}
		return 1
	}
	return batchWithin(changes,
		limit[r53types.Change]{r53MaxRecords, func(c r53types.Change) int {
			return twice(c) * len(c.ResourceRecordSet.ResourceRecords)
		}},
		limit[r53types.Change]{r53MaxChars, func(c r53types.Change) int {
			l := 0
			for _, r := range c.ResourceRecordSet.ResourceRecords {
				l += len(aws.ToString(r.Value))
			}
			return twice(c) * l
		}})
}

// send sends changes in batches within the limits, each waited on until
// INSYNC.
func (h *Route53Host) send(ctx context.Context, id string, changes []r53types.Change) error {
	batches := r53Batches(changes)
	for i, b := range batches {
		out, err := h.sdk.ChangeResourceRecordSets(ctx, &r53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(id),
			ChangeBatch: &r53types.ChangeBatch{Comment: aws.String("dnsmigrate"), Changes: b}})
		h.applied(id, b, err == nil)
		if err != nil {
			return fmt.Errorf("route53: change batch %d of %d (%d batches landed): %w", i+1, len(batches), i, r53Detail(err))
		}
		if err := h.waitInSync(ctx, aws.ToString(out.ChangeInfo.Id)); err != nil {
			return fmt.Errorf("%w (%d of %d change batches sent)", err, i+1, len(batches))
		}
	}
	return nil
}

func recordSet(name, rrtype string, ttl uint32, values []string, w *WeightedSet) r53types.ResourceRecordSet {
	s := r53types.ResourceRecordSet{Name: aws.String(name), Type: r53types.RRType(rrtype), TTL: aws.Int64(int64(ttl))}
	for _, v := range values {
		s.ResourceRecords = append(s.ResourceRecords, r53types.ResourceRecord{Value: aws.String(v)})
	}
	if w != nil {
		s.SetIdentifier, s.Weight = aws.String(w.ID), aws.Int64(w.Weight)
		if w.HealthCheckID != "" {
			s.HealthCheckId = aws.String(w.HealthCheckID)
		}
	}
	return s
}

// SetWeighted makes name and type answer with the given weighted sets (or,
// with none, with the plain values plain), in one change batch, which
// Route 53 applies atomically: the sets it replaces are deleted exactly
// as listed, the new ones upserted with their identifiers, weights and
// health checks. Route 53 gives every weighted set of a name one TTL, so
// ttl is every set's. A name answered by an alias or another rule is
// refused. It then waits until Route 53 reports the change INSYNC.
func (h *Route53Host) SetWeighted(ctx context.Context, zone, name, rrtype string, ttl uint32, sets []WeightedSet, plain []string) error {
	name = strings.ToLower(dns.Fqdn(name))
	id, err := h.zoneID(ctx, zone)
	if err != nil {
		return err
	}
	all, err := h.current(ctx, id)
	if err != nil {
		return err
	}
	var current []r53Set
	for _, s := range all {
		if s.name == name && string(s.set.Type) == rrtype {
			current = append(current, s)
		}
	}
	if rn := routedOf(current); len(rn) > 0 {
		if err := rn[0].unchangeable(); err != nil {
			return fmt.Errorf("route53: %w", err)
		}
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
			return aws.ToString(w.SetIdentifier) == aws.ToString(c.set.SetIdentifier)
		})
		if !keep {
			changes = append(changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: ptr(c.set)})
		}
	}
	for i := range want {
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &want[i]})
	}
	if b := r53Batches(changes); len(b) > 1 {
		return fmt.Errorf("route53: change %s %s: %d changes do not fit one change batch", name, rrtype, len(changes))
	}
	if err := h.send(ctx, id, changes); err != nil {
		return fmt.Errorf("route53: change %s %s: %w", name, rrtype, err)
	}
	return nil
}

// waitInSync polls GetChange until Route 53 has applied a change on all
// its servers.
func (h *Route53Host) waitInSync(ctx context.Context, changeID string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for pause := h.poll; ; pause = min(pause*2, 10*time.Second) {
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
		if err := wait.Sleep(ctx, pause); err != nil {
			return err
		}
	}
}
