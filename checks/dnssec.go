package checks

import (
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// matchDS returns the keys that at least one DS record points to: same key
// tag and algorithm, and the digest of the key equals the DS digest. DS
// records of a digest type miekg/dns cannot compute match nothing.
func matchDS(dss []*dns.DS, keys []*dns.DNSKEY) []*dns.DNSKEY {
	var out []*dns.DNSKEY
	for _, k := range keys {
		// Only a zone key of protocol 3 can be a secure entry point
		// (RFC 4035 5.2, RFC 4034 2.1.1-2.1.2).
		if k.Flags&dns.ZONE == 0 || k.Protocol != 3 {
			continue
		}
		for _, ds := range dss {
			if ds.KeyTag != k.KeyTag() || ds.Algorithm != k.Algorithm {
				continue
			}
			if d := k.ToDS(ds.DigestType); d != nil && strings.EqualFold(d.Digest, ds.Digest) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// sigCheck is the verdict on one RRset's signatures.
type sigCheck struct {
	OK      bool       // a signature by one of the keys verifies and is in its validity period
	Sig     *dns.RRSIG // that signature, or the best candidate when none is good
	Expires time.Time  // expiry of the good signature
	Problem string     // why no signature was good
	Expired bool       // the only signatures that verify have expired
	Future  bool       // the only signatures that verify are not valid yet
}

// verify checks that rrset carries a valid signature from one of keys at
// time now. rrset must be one RRset (one owner, class and type).
func verify(rrset []dns.RR, sigs []*dns.RRSIG, keys []*dns.DNSKEY, now time.Time) sigCheck {
	if len(rrset) == 0 {
		return sigCheck{Problem: "no records to verify"}
	}
	h := rrset[0].Header()
	var covering []*dns.RRSIG
	for _, s := range sigs {
		if s.TypeCovered == h.Rrtype && strings.EqualFold(s.Hdr.Name, h.Name) {
			covering = append(covering, s)
		}
	}
	if len(covering) == 0 {
		return sigCheck{Problem: fmt.Sprintf("no RRSIG covers %s %s", h.Name, dns.TypeToString[h.Rrtype])}
	}
	var res sigCheck
	var problems []string
	for _, s := range covering {
		for _, k := range keys {
			if k.KeyTag() != s.KeyTag || k.Algorithm != s.Algorithm || !strings.EqualFold(k.Hdr.Name, s.SignerName) {
				continue
			}
			if err := s.Verify(k, rrset); err != nil {
				problems = append(problems, fmt.Sprintf("RRSIG by key %d does not verify: %v", s.KeyTag, err))
				continue
			}
			if s.ValidityPeriod(now) {
				return sigCheck{OK: true, Sig: s, Expires: sigTime(s.Expiration, now)}
			}
			res.Sig = s
			if sigTime(s.Expiration, now).Before(now) {
				res.Expired = true
				problems = append(problems, fmt.Sprintf("RRSIG by key %d expired at %s", s.KeyTag, sigTime(s.Expiration, now).Format(time.RFC3339)))
			} else {
				res.Future = true
				problems = append(problems, fmt.Sprintf("RRSIG by key %d is valid only from %s", s.KeyTag, sigTime(s.Inception, now).Format(time.RFC3339)))
			}
		}
	}
	if len(problems) == 0 {
		problems = append(problems, fmt.Sprintf("no RRSIG over %s %s is made by a trusted key (key tags signed: %s)", h.Name, dns.TypeToString[h.Rrtype], sigTags(covering)))
	}
	if res.Sig == nil {
		res.Sig = covering[0]
	}
	res.Problem = strings.Join(problems, "; ")
	return res
}

func sigTags(sigs []*dns.RRSIG) string {
	var s []string
	for _, x := range sigs {
		s = append(s, fmt.Sprint(x.KeyTag))
	}
	return strings.Join(s, ", ")
}

// sigTime turns an RRSIG's serial-arithmetic time into the absolute time
// nearest to now (RFC 4034 section 3.1.5).
func sigTime(t uint32, now time.Time) time.Time {
	mod := int64(1) << 32
	n := now.Unix()
	base := n - n%mod
	v := base + int64(t)
	switch {
	case v-n > mod/2:
		v -= mod
	case n-v > mod/2:
		v += mod
	}
	return time.Unix(v, 0).UTC()
}

// rrset returns the records of one owner and type from rrs.
func rrset(rrs []dns.RR, owner string, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == t && strings.EqualFold(rr.Header().Name, owner) {
			out = append(out, rr)
		}
	}
	return out
}

// ofType keeps the records of rrs that are a T (an *dns.RRSIG, a
// *dns.DNSKEY, a *dns.DS...).
func ofType[T dns.RR](rrs []dns.RR) []T {
	var out []T
	for _, rr := range rrs {
		if t, ok := rr.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// denialOfDS checks that a NODATA reply for "zone DS" proves, with
// signatures by the parent's keys, that the parent has no DS for zone: an
// NSEC at zone without DS in its bitmap, an NSEC3 matching zone without
// DS, or an opt-out NSEC3 covering it. It returns "" when proven.
func denialOfDS(m *dns.Msg, zone string, parentKeys []*dns.DNSKEY, now time.Time) string {
	sigs := ofType[*dns.RRSIG](m.Ns)
	for _, rr := range m.Ns {
		switch x := rr.(type) {
		case *dns.NSEC:
			if !strings.EqualFold(x.Hdr.Name, zone) {
				continue
			}
			if hasBit(x.TypeBitMap, dns.TypeDS) {
				return fmt.Sprintf("NSEC at %s lists DS", zone)
			}
			if c := verify(rrset(m.Ns, x.Hdr.Name, dns.TypeNSEC), sigs, parentKeys, now); !c.OK {
				return "NSEC does not validate: " + c.Problem
			}
			return ""
		case *dns.NSEC3:
			match, cover := x.Match(zone), x.Cover(zone)
			if !match && !(cover && x.Flags&1 == 1) {
				continue
			}
			if match && hasBit(x.TypeBitMap, dns.TypeDS) {
				return fmt.Sprintf("NSEC3 for %s lists DS", zone)
			}
			if c := verify(rrset(m.Ns, x.Hdr.Name, dns.TypeNSEC3), sigs, parentKeys, now); !c.OK {
				return "NSEC3 does not validate: " + c.Problem
			}
			return ""
		}
	}
	return "no NSEC or NSEC3 record proves that the DS does not exist"
}

func hasBit(bitmap []uint16, t uint16) bool {
	for _, b := range bitmap {
		if b == t {
			return true
		}
	}
	return false
}

// supportedAlgorithms are the DNSKEY algorithms miekg/dns verifies.
var supportedAlgorithms = map[uint8]bool{
	dns.RSASHA1: true, dns.RSASHA1NSEC3SHA1: true, dns.RSASHA256: true, dns.RSASHA512: true,
	dns.ECDSAP256SHA256: true, dns.ECDSAP384SHA384: true, dns.ED25519: true,
}

// supportedDS keeps the DS records a validator can use: a digest type it
// computes and an algorithm it verifies. With none left, RFC 4035 5.2
// (and RFC 6840 5.2) make the zone insecure, not bogus.
func supportedDS(dss []*dns.DS) []*dns.DS {
	var out []*dns.DS
	for _, d := range dss {
		switch d.DigestType {
		case dns.SHA1, dns.SHA256, dns.SHA384:
		default:
			continue
		}
		if supportedAlgorithms[d.Algorithm] {
			out = append(out, d)
		}
	}
	return out
}
