package checks

import (
	"strconv"

	"github.com/miekg/dns"
)

// rcodeMeaning explains, in an operator's words, each response code the
// tool can meet.
var rcodeMeaning = map[int]string{
	dns.RcodeSuccess:        "NOERROR: the server answered; an empty answer means the name exists without that type",
	dns.RcodeFormatError:    "FORMERR: the server could not parse the query (often an EDNS or firewall problem)",
	dns.RcodeServerFailure:  "SERVFAIL: the server could not answer; from a validating resolver usually a DNSSEC validation failure, from an authoritative server a zone it failed to load",
	dns.RcodeNameError:      "NXDOMAIN: the server says the name does not exist",
	dns.RcodeNotImplemented: "NOTIMP: the server does not implement this kind of query",
	dns.RcodeRefused:        "REFUSED: the server will not answer this question; for a delegated server it means it is not configured for the zone",
	dns.RcodeYXDomain:       "YXDOMAIN: a name that should not exist does (updates)",
	dns.RcodeYXRrset:        "YXRRSET: an RRset that should not exist does (updates)",
	dns.RcodeNXRrset:        "NXRRSET: an RRset that should exist does not (updates)",
	dns.RcodeNotAuth:        "NOTAUTH: the server is not authoritative for the zone, or the TSIG key was not accepted",
	dns.RcodeNotZone:        "NOTZONE: a name in the message is outside the zone",
	dns.RcodeBadSig:         "BADSIG/BADVERS: the TSIG signature failed, or the server does not speak this EDNS version",
	dns.RcodeBadKey:         "BADKEY: the server does not know the TSIG key name or algorithm",
	dns.RcodeBadTime:        "BADTIME: the TSIG time is outside the allowed window: check both clocks",
}

// RcodeName is the mnemonic of an RCODE, or its number.
func RcodeName(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		if rcode == dns.RcodeBadSig {
			return "BADSIG/BADVERS"
		}
		return s
	}
	return "RCODE" + strconv.Itoa(rcode)
}

// ExplainRcode says what rcode means for an operator.
func ExplainRcode(rcode int) string {
	if s, ok := rcodeMeaning[rcode]; ok {
		return s
	}
	return RcodeName(rcode) + ": a response code this tool does not know"
}
