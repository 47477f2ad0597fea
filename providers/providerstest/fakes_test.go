package providerstest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/dnsmigrate/dnsmigrate/providers/providerstest"
)

// The fakes refuse what the real APIs refuse: each documented refusal,
// sent straight through the SDK or HTTP, with no adapter in between.
func TestRoute53FakeRefuses(t *testing.T) {
	providerstest.NewRoute53(t, providerstest.Plain("a.example.com.", "A", 300, "192.0.2.1"))
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(providerstest.AccessKeyID, "secret", "")))
	if err != nil {
		t.Fatal(err)
	}
	c := r53.NewFromConfig(cfg, func(o *r53.Options) { o.RetryMaxAttempts = 1 })
	set := func(name, typ string, ttl int64, vals ...string) *r53types.ResourceRecordSet {
		s := &r53types.ResourceRecordSet{Name: aws.String(name), Type: r53types.RRType(typ), TTL: aws.Int64(ttl)}
		for _, v := range vals {
			s.ResourceRecords = append(s.ResourceRecords, r53types.ResourceRecord{Value: aws.String(v)})
		}
		return s
	}
	var many []r53types.Change
	for i := range 501 {
		many = append(many, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: set(fmt.Sprintf("h%d.example.com.", i), "A", 60, "192.0.2.1")})
	}
	alias := set("example.com.", "A", 60, "192.0.2.1")
	alias.AliasTarget = &r53types.AliasTarget{DNSName: aws.String("lb.example.net."), HostedZoneId: aws.String("Z1"), EvaluateTargetHealth: false}
	heavy := set("w.example.com.", "A", 60, "192.0.2.1")
	heavy.SetIdentifier, heavy.Weight = aws.String("x"), aws.Int64(256)
	cases := []struct {
		name    string
		changes []r53types.Change
		want    string
	}{
		{"1,002 ResourceRecord elements (UPSERT counts twice)", many, "exceed the limit of 1000 records"},
		{"apex NS deleted", []r53types.Change{{Action: r53types.ChangeActionDelete, ResourceRecordSet: set("example.com.", "NS", 172800, "ns-1.awsdns-01.org.", "ns-2.awsdns-02.co.uk.", "ns-3.awsdns-03.com.", "ns-4.awsdns-04.net.")}}, "must contain at least one NS record"},
		{"apex SOA deleted", []r53types.Change{{Action: r53types.ChangeActionDelete, ResourceRecordSet: set("example.com.", "SOA", 900, "ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400")}}, "must contain at least one SOA record"},
		{"delete with other values", []r53types.Change{{Action: r53types.ChangeActionDelete, ResourceRecordSet: set("a.example.com.", "A", 300, "192.0.2.2")}}, "do not match the current values"},
		{"create what exists", []r53types.Change{{Action: r53types.ChangeActionCreate, ResourceRecordSet: set("a.example.com.", "A", 300, "192.0.2.1")}}, "but it already exists"},
		{"alias with a TTL", []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: alias}}, "Expected exactly one of [AliasTarget"},
		{"two CNAME values", []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: set("c.example.com.", "CNAME", 60, "x.example.net.", "y.example.net.")}}, "contains more than one value"},
		{"an A value that is no address", []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: set("b.example.com.", "A", 60, "not-an-address")}}, "ARRDATAIllegalIPv4Address"},
		{"weight above 255", []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: heavy}}, "outside 0 to 255"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ChangeResourceRecordSets(context.Background(), &r53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String("Z0EXAMPLE"), ChangeBatch: &r53types.ChangeBatch{Changes: tc.changes}})
			var icb *r53types.InvalidChangeBatch
			if !errors.As(err, &icb) || !strings.Contains(strings.Join(icb.Messages, " "), tc.want) {
				t.Errorf("got %v, want InvalidChangeBatch with %q", err, tc.want)
			}
		})
	}
}

func TestCloudflareFakeRefuses(t *testing.T) {
	f := providerstest.NewCloudflare(t, "tok", []string{"zone:read", "dns:edit"}, providerstest.CloudflareRecord{Type: "A", Name: "a.example.com", Content: "192.0.2.1", TTL: 300})
	post := func(path string, body any) (int, string) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, f.URL+"/client/v4/zones/"+f.ZoneID+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		return resp.StatusCode, out.String()
	}
	var posts []map[string]any
	for i := range 201 {
		posts = append(posts, map[string]any{"type": "A", "name": fmt.Sprintf("h%d", i), "content": "192.0.2.1", "ttl": 60})
	}
	cases := []struct {
		name string
		path string
		body any
		want string
	}{
		{"TTL 30", "/dns_records", map[string]any{"type": "A", "name": "b", "content": "192.0.2.2", "ttl": 30}, `"code":1004`},
		{"TTL 30's chain", "/dns_records", map[string]any{"type": "A", "name": "b", "content": "192.0.2.2", "ttl": 30}, `"error_chain":[{"code":9021`},
		{"identical record", "/dns_records", map[string]any{"type": "A", "name": "a", "content": "192.0.2.1", "ttl": 300}, `"code":81058`},
		{"CNAME beside an A", "/dns_records", map[string]any{"type": "CNAME", "name": "a", "content": "x.example.net", "ttl": 300}, `"code":81053`},
		{"TXT proxied", "/dns_records", map[string]any{"type": "TXT", "name": "t", "content": `"x"`, "ttl": 300, "proxied": true}, `"code":9004`},
		{"MX without priority", "/dns_records", map[string]any{"type": "MX", "name": "@", "content": "mx.example.com", "ttl": 300}, `"code":1004`},
		{"batch past 200 records", "/dns_records/batch", map[string]any{"posts": posts}, `exceeds the limit of 200`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.path, tc.body)
			if status != http.StatusBadRequest || !strings.Contains(body, tc.want) || !strings.Contains(body, `"success":false`) {
				t.Errorf("HTTP %d %s, want 400 with %s", status, body, tc.want)
			}
		})
	}
	if got := f.Contents("A", "a.example.com"); len(got) != 1 {
		t.Errorf("refused requests changed the zone: %v", got)
	}
}
