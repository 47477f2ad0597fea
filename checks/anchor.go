package checks

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// Anchors is a trust anchor: DS or DNSKEY records of one zone, usually
// the root.
type Anchors struct {
	Zone   string
	DS     []*dns.DS
	DNSKEY []*dns.DNSKEY
	Source string // file name, or "IANA root anchor"
}

// ianaRoot is the root zone's trust anchor as IANA publishes it
// (root-anchors.xml): KSK-2017 and KSK-2024.
const ianaRoot = `. 172800 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. 172800 IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
`

// IANARootAnchors returns the public root's trust anchor.
func IANARootAnchors() Anchors {
	a, err := ParseAnchors(strings.NewReader(ianaRoot), "IANA root anchor")
	if err != nil {
		panic(err) // a constant that does not parse is a bug
	}
	return a
}

// LoadAnchors reads a trust anchor file: DS or DNSKEY records in zone-file
// format, all for one zone.
func LoadAnchors(path string) (Anchors, error) {
	f, err := os.Open(path)
	if err != nil {
		return Anchors{}, fmt.Errorf("trust anchor: %w", err)
	}
	defer f.Close()
	return ParseAnchors(f, path)
}

// ParseAnchors reads DS or DNSKEY records from r; source names r in errors.
func ParseAnchors(r io.Reader, source string) (Anchors, error) {
	a := Anchors{Source: source}
	zp := dns.NewZoneParser(r, ".", source)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		owner := strings.ToLower(rr.Header().Name)
		if owner == "" {
			return Anchors{}, fmt.Errorf("trust anchor %s: a record without an owner name", source)
		}
		if a.Zone == "" {
			a.Zone = owner
		} else if owner != a.Zone {
			return Anchors{}, fmt.Errorf("trust anchor %s: records for both %s and %s; one zone per file", source, a.Zone, owner)
		}
		switch x := rr.(type) {
		case *dns.DS:
			if x.Digest == "" {
				return Anchors{}, fmt.Errorf("trust anchor %s: DS for %s without a digest", source, owner)
			}
			a.DS = append(a.DS, x)
		case *dns.DNSKEY:
			if x.PublicKey == "" || x.Protocol != 3 {
				return Anchors{}, fmt.Errorf("trust anchor %s: DNSKEY for %s without a public key or with protocol %d (want 3)", source, owner, x.Protocol)
			}
			a.DNSKEY = append(a.DNSKEY, x)
		default:
			return Anchors{}, fmt.Errorf("trust anchor %s: %s record for %s; want DS or DNSKEY", source, dns.TypeToString[rr.Header().Rrtype], owner)
		}
	}
	if err := zp.Err(); err != nil {
		return Anchors{}, fmt.Errorf("trust anchor: %w", err) // the parser names the file and line
	}
	if len(a.DS)+len(a.DNSKEY) == 0 {
		return Anchors{}, fmt.Errorf("trust anchor %s: no DS or DNSKEY record", source)
	}
	return a, nil
}

// trusted returns the keys among keys that the anchor vouches for.
func (a Anchors) trusted(keys []*dns.DNSKEY) []*dns.DNSKEY {
	out := matchDS(a.DS, keys)
	for _, k := range keys {
		for _, ak := range a.DNSKEY {
			if k.Algorithm == ak.Algorithm && k.Flags == ak.Flags && k.PublicKey == ak.PublicKey {
				out = append(out, k)
			}
		}
	}
	return out
}
