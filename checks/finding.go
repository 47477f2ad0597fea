package checks

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Severity orders findings; a critical one makes `migrate check` exit 3.
type Severity int

// Severities, least severe first.
const (
	Info Severity = iota + 1
	Warning
	Critical
)

func (s Severity) String() string {
	switch s {
	case Critical:
		return "critical"
	case Warning:
		return "warning"
	case Info:
		return "info"
	}
	return "unknown"
}

// MarshalJSON writes the severity as its name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a severity name.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	for _, v := range []Severity{Info, Warning, Critical} {
		if v.String() == name {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("checks: unknown severity %q", name)
}

// Finding ids are a public contract: scripts match on them.
const (
	DSMismatch            = "ds-mismatch"
	DSOrphan              = "ds-orphan"
	DNSKEYInconsistent    = "dnskey-inconsistent"
	RRSIGExpired          = "rrsig-expired"
	RRSIGExpiring         = "rrsig-expiring"
	ValidationFailure     = "validation-failure"
	LameDelegation        = "lame-delegation"
	NSMismatch            = "ns-mismatch"
	MissingGlue           = "missing-glue"
	SerialDrift           = "serial-drift"
	ParentServersDisagree = "parent-servers-disagree"
	// Beyond the list:
	RRSIGInvalid        = "rrsig-invalid"        // a signature is missing, does not verify, or is not yet valid
	ChainBroken         = "chain-broken"         // an ancestor zone (or the trust anchor) does not validate
	DSMissing           = "ds-missing"           // the zone is signed but the parent has no DS: insecure
	ResolverUnreachable = "resolver-unreachable" // a resolver did not answer
	ParentUnreachable   = "parent-unreachable"   // a parent server did not answer
	// RFC 4035 5.2, RFC 6840 5.2, RFC 8624:
	DSUnsupported       = "ds-unsupported"        // no DS of a supported digest type and algorithm: the zone is insecure
	DSDigestSHA1        = "ds-digest-sha1"        // a SHA-1 DS is published (RFC 8624: must not be)
	DSStale             = "ds-stale"              // a DS matches no served DNSKEY, beside one that does
	DSAlgorithmUnsigned = "ds-algorithm-unsigned" // a DS algorithm with no RRSIG in the zone
	GlueMismatch        = "glue-mismatch"         // the parent's glue differs from the zone's own address record
	// Several signers (RFC 8901):
	MultiSigner                  = "multi-signer"                    // info: the zone is served by several signers, each server's DNSKEY set its signer's
	MultiSignerIncomplete        = "multi-signer-incomplete"         // a signer's ZSK is missing from another signer's DNSKEY set
	MultiSignerAlgorithmMismatch = "multi-signer-algorithm-mismatch" // the signers use different algorithms
	DSIncomplete                 = "ds-incomplete"                   // a signer's KSK has no DS while its servers are delegated to
)

// Finding is one thing wrong (or worth knowing) about the zone.
type Finding struct {
	ID       string     `json:"id"`
	Severity Severity   `json:"severity"`
	Summary  string     `json:"summary"`
	Fix      string     `json:"fix"`
	Evidence []Evidence `json:"evidence,omitempty"`
}

// Evidence is one answer (or silence) that a finding rests on.
type Evidence struct {
	Server   string   `json:"server"`
	Question string   `json:"question"`
	RCODE    string   `json:"rcode,omitempty"`
	Meaning  string   `json:"rcode_meaning,omitempty"`
	Flags    string   `json:"flags,omitempty"`
	TTL      *uint32  `json:"ttl,omitempty"`
	Answer   []string `json:"answer,omitempty"`
	Error    string   `json:"error,omitempty"`
	Note     string   `json:"note,omitempty"`
}

// AddNote appends a note to the evidence's note, "; " between them.
func (e *Evidence) AddNote(note string) {
	switch {
	case note == "":
	case e.Note == "":
		e.Note = note
	default:
		e.Note += "; " + note
	}
}

// EvidenceOf turns a reply into evidence, keeping the records of the types
// given (all of the answer section when none are given).
func EvidenceOf(r Reply, keep ...uint16) Evidence {
	e := Evidence{Server: r.Server, Question: r.Question.String()}
	if !r.OK() {
		if r.Err != nil {
			e.Error = r.Err.Error()
		}
		return e
	}
	m := r.Msg
	e.RCODE = RcodeName(m.Rcode)
	e.Meaning = ExplainRcode(m.Rcode)
	e.Flags = flags(m)
	rrs := m.Answer
	if len(keep) > 0 {
		rrs = nil
		for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
			for _, rr := range sec {
				for _, t := range keep {
					if rr.Header().Rrtype == t {
						rrs = append(rrs, rr)
					}
				}
			}
		}
	}
	for i, rr := range rrs {
		if i == 0 {
			ttl := rr.Header().Ttl
			e.TTL = &ttl
		}
		e.Answer = append(e.Answer, shorten(rr))
	}
	if ede := extendedError(m); ede != "" {
		e.Note = ede
	}
	return e
}

func flags(m *dns.Msg) string {
	var f []string
	for _, x := range []struct {
		on   bool
		name string
	}{{m.Response, "qr"}, {m.Authoritative, "aa"}, {m.Truncated, "tc"}, {m.RecursionDesired, "rd"}, {m.RecursionAvailable, "ra"}, {m.AuthenticatedData, "ad"}, {m.CheckingDisabled, "cd"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	return strings.Join(f, " ")
}

// shorten prints a record on one line, cutting long key and signature
// material so that evidence stays readable.
func shorten(rr dns.RR) string {
	s := strings.Join(strings.Fields(rr.String()), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func extendedError(m *dns.Msg) string {
	opt := m.IsEdns0()
	if opt == nil {
		return ""
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok {
			s := "extended error " + strconv.Itoa(int(e.InfoCode))
			if name, ok := dns.ExtendedErrorCodeToString[e.InfoCode]; ok {
				s += " (" + name + ")"
			}
			if e.ExtraText != "" {
				s += ": " + e.ExtraText
			}
			return s
		}
	}
	return ""
}

// sortFindings puts the most severe first, then by id, keeping the order
// of equal ones.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Severity != fs[j].Severity {
			return fs[i].Severity > fs[j].Severity
		}
		return fs[i].ID < fs[j].ID
	})
}
