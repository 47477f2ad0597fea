package checks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseAnchors(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		ds, key int
		err     string
	}{
		{name: "DS", text: ". 10 IN DS 34491 13 2 A214B5D2B862168DDF0DC7BA0C7E7446337C168CD85853269661D2E17A09E2DD\n", ds: 1},
		{name: "DNSKEY", text: ". 20 IN DNSKEY 257 3 13 hwySws08o2ZI30be0xpttRYWlcV38lVvFbx7DKYbj4r92n54ugPb2qrIhNlgxty/0OYbtGUMtrB7/48Fp1Wt8w==\n", key: 1},
		{name: "two zones", text: ". 10 IN DS 1 13 2 AA\nlab. 10 IN DS 2 13 2 BB\n", err: "one zone per file"},
		{name: "wrong type", text: ". 10 IN A 192.0.2.1\n", err: "want DS or DNSKEY"},
		{name: "empty", text: "; nothing\n", err: "no DS or DNSKEY"},
		{name: "no owner, no key", text: " 0 IN DNSKEY ", err: "without an owner"},
		{name: "DNSKEY without key", text: ". 0 IN DNSKEY 257 3 13\n", err: "without a public key"},
		{name: "garbage", text: ". 10 IN DS not a ds\n", err: "anchors.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAnchors(strings.NewReader(tt.text), "anchors.txt")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "anchors.txt") {
					t.Fatalf("err = %v, want one naming anchors.txt and saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(a.DS) != tt.ds || len(a.DNSKEY) != tt.key || a.Zone != "." {
				t.Errorf("got %d DS, %d DNSKEY for %q", len(a.DS), len(a.DNSKEY), a.Zone)
			}
		})
	}
}

func TestIANARootAnchors(t *testing.T) {
	a := IANARootAnchors()
	var tags []uint16
	for _, d := range a.DS {
		tags = append(tags, d.KeyTag)
	}
	if a.Zone != "." || len(tags) != 2 || tags[0] != 20326 || tags[1] != 38696 {
		t.Errorf("IANA anchor = zone %q tags %v, want . with KSK-2017 (20326) and KSK-2024 (38696)", a.Zone, tags)
	}
}

func TestLoadAnchorsNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing.ds")
	if _, err := LoadAnchors(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("err = %v, want it to name %s", err, p)
	}
	if err := os.WriteFile(p, []byte(". 10 IN DS 1 13 2 AA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if a, err := LoadAnchors(p); err != nil || a.Source != p {
		t.Errorf("LoadAnchors = %+v, %v", a, err)
	}
}
