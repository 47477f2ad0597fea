package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/lab/labtest"
	"github.com/miekg/dns"
)

// dnsvizShim works around two bugs of Debian 12's DNSViz 0.9.4, loaded
// into dnsviz's Python only (sitecustomize on PYTHONPATH):
//   - grok imports pygraphviz.release when given trusted keys; pygraphviz
//     1.7 has no such module, so grok exits 2 saying pygraphviz is missing;
//   - with trusted keys, grok raises KeyError serialising the SOA of a
//     NODATA answer from an unsigned zone, which it never rated; that one
//     RRset is serialised as grok does without trusted keys (no status).
//     Verdicts are computed before serialisation and are not touched.
const dnsvizShim = `import sys, types
try:
    import pygraphviz
    if not hasattr(pygraphviz, "release"):
        m = types.ModuleType("pygraphviz.release")
        m.version = pygraphviz.__version__
        pygraphviz.release = m
        sys.modules["pygraphviz.release"] = m
except ImportError:
    pass
try:
    from dnsviz.analysis import offline
    _orig = offline.OfflineDomainNameAnalysis._serialize_rrset_info
    def _serialize_rrset_info(self, rrset_info, *args, **kwargs):
        rated = self.response_component_status
        if rated is None or rrset_info in rated:
            return _orig(self, rrset_info, *args, **kwargs)
        self.response_component_status = None
        try:
            return _orig(self, rrset_info, *args, **kwargs)
        finally:
            self.response_component_status = rated
    offline.OfflineDomainNameAnalysis._serialize_rrset_info = _serialize_rrset_info
except ImportError:
    pass
`

// dnsvizStatus probes zone in the lab with DNSViz, starting from the lab
// root only, and returns its verdict on the delegation, lower-cased;
// grokArgs are added to `dnsviz grok`'s.
func dnsvizStatus(t *testing.T, l *lab.Lab, zone string, grokArgs ...string) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "sitecustomize.py"), []byte(dnsvizShim), 0o644))
	// grok ignores DS trust anchors; give it the root's DNSKEY, as read
	// from the lab root and checked against the lab's DS anchor.
	anchor := filepath.Join(dir, "root.dnskey")
	must(t, os.WriteFile(anchor, []byte(rootDNSKEY(t, l)), 0o644))
	probe := filepath.Join(dir, "probe.json")
	grok := filepath.Join(dir, "grok.json")
	run := func(args ...string) {
		cmd := exec.Command("dnsviz", args...)
		cmd.Env = append(os.Environ(), "PYTHONPATH="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("dnsviz %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
	}
	run("probe", "-A", "-a", ".", "-x", ".:ns.root.="+l.Addrs[lab.RoleRoot].String(), "-o", probe, zone)
	run(append([]string{"grok", "-P", "-t", anchor, "-r", probe, "-o", grok}, grokArgs...)...)
	b, err := os.ReadFile(grok)
	must(t, err)
	var out map[string]struct {
		Delegation struct {
			Status string `json:"status"`
		} `json:"delegation"`
	}
	must(t, json.Unmarshal(b, &out))
	z, ok := out[zone]
	if !ok {
		t.Fatalf("dnsviz grok says nothing of %s", zone)
	}
	return strings.ToLower(z.Delegation.Status)
}

func rootDNSKEY(t *testing.T, l *lab.Lab) string {
	t.Helper()
	reply := checks.NewClient(0, 1).Ask(context.Background(), checks.Question{Server: l.Addr(lab.RoleRoot), Name: ".", Type: dns.TypeDNSKEY})
	if !reply.OK() {
		t.Fatal(reply.Err)
	}
	var b strings.Builder
	for _, rr := range reply.Msg.Answer {
		if rr.Header().Rrtype == dns.TypeDNSKEY {
			b.WriteString(rr.String() + "\n")
		}
	}
	return b.String()
}

// TestDNSVizAgrees: on the healthy lab and on broken ones, DNSViz and
// migrate check reach the same verdict. With no delegated server
// answering, DNSViz calls the delegation bogus (a DS, and no DNSKEY to be
// had) where migrate check, which cannot validate anything, says
// indeterminate: both fail it, and validating resolvers answer SERVFAIL.
func TestDNSVizAgrees(t *testing.T) {
	labtest.Require(t, "dnsviz")
	l := shared.Get(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		zone   string
		break_ func(t *testing.T)
		want   checks.Status
		dnsviz string
	}{
		{"healthy signed zone", lab.Zone, nil, checks.Secure, "secure"},
		{"healthy unsigned zone", lab.UnsignedZone, nil, checks.Insecure, "insecure"},
		{"DS mismatch", lab.Zone, func(t *testing.T) { must(t, l.SetDS(ctx, lab.Zone, wrongDS(t, l))) }, checks.Bogus, "bogus"},
		{"only an unsupported digest type", lab.Zone, func(t *testing.T) {
			ds := dns.Copy(liveKSK(t, l).ToDS(dns.SHA256)).(*dns.DS)
			ds.DigestType, ds.Hdr.Ttl = 99, 10
			must(t, l.SetDS(ctx, lab.Zone, []dns.RR{ds}))
		}, checks.Insecure, "insecure"},
		{"no delegated server answers", lab.Zone, func(t *testing.T) {
			must(t, l.Stop(ctx, lab.RoleOld1))
			must(t, l.Stop(ctx, lab.RoleOld2))
		}, checks.Indeterminate, "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.break_ != nil {
				restore(t, l.Repair)
				tt.break_(t)
				if tt.want != checks.Indeterminate {
					must(t, l.WaitInSync(ctx))
				}
			}
			ours := check(t, l, tt.zone).Status
			theirs := dnsvizStatus(t, l, tt.zone)
			if theirs != tt.dnsviz {
				t.Errorf("DNSViz says %s, want %s (migrate check says %s)", theirs, tt.dnsviz, ours)
			}
			if ours != tt.want {
				t.Errorf("migrate check says %s, want %s (DNSViz says %s)", ours, tt.want, theirs)
			}
		})
	}
}
