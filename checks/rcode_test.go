package checks

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Every RCODE the issue names is explained, starting with its mnemonic.
func TestExplainRcode(t *testing.T) {
	tests := []struct {
		rcode int
		name  string
	}{
		{dns.RcodeSuccess, "NOERROR"}, {dns.RcodeFormatError, "FORMERR"}, {dns.RcodeServerFailure, "SERVFAIL"},
		{dns.RcodeNameError, "NXDOMAIN"}, {dns.RcodeNotImplemented, "NOTIMP"}, {dns.RcodeRefused, "REFUSED"},
		{dns.RcodeNotAuth, "NOTAUTH"}, {dns.RcodeNotZone, "NOTZONE"}, {dns.RcodeBadSig, "BADSIG/BADVERS"},
		{dns.RcodeBadKey, "BADKEY"}, {dns.RcodeBadTime, "BADTIME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RcodeName(tt.rcode); got != tt.name {
				t.Errorf("RcodeName(%d) = %q, want %q", tt.rcode, got, tt.name)
			}
			e := ExplainRcode(tt.rcode)
			if !strings.HasPrefix(e, tt.name+": ") || len(e) < len(tt.name)+20 {
				t.Errorf("ExplainRcode(%d) = %q", tt.rcode, e)
			}
		})
	}
	if e := ExplainRcode(3841); !strings.Contains(e, "RCODE3841") {
		t.Errorf("unknown rcode explained as %q", e)
	}
}
