package providers

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ManualRegistrar is a registrar a person operates: it prints exactly what
// to enter at the registrar's web form, and the step's gate then polls the
// parent's servers until the change shows.
type ManualRegistrar struct {
	out io.Writer
}

// NewManualRegistrar prints its instructions to out.
func NewManualRegistrar(out io.Writer) *ManualRegistrar { return &ManualRegistrar{out: out} }

// Capabilities: a person can do anything a registrar's form allows.
func (m *ManualRegistrar) Capabilities() Capabilities {
	return Capabilities{DS: true, Glue: true, Automatic: false}
}

// SetNS prints the name servers (and glue) to enter.
func (m *ManualRegistrar) SetNS(_ context.Context, zone string, ns []string, glue map[string][]netip.Addr, _ time.Duration) error {
	var b strings.Builder
	fmt.Fprintf(&b, "ACTION AT THE REGISTRAR: set the name servers of %s to exactly:\n", dns.Fqdn(zone))
	for _, n := range ns {
		fmt.Fprintf(&b, "    %s\n", strings.TrimSuffix(n, "."))
		for _, a := range glue[n] {
			fmt.Fprintf(&b, "        glue (host record) address: %s\n", a)
		}
	}
	b.WriteString("  and remove any other. migrate will see the change at the parent's servers and go on.\n")
	_, err := io.WriteString(m.out, b.String())
	return err
}

// SetDS prints the DS records to enter, field by field, or that none must
// remain.
func (m *ManualRegistrar) SetDS(_ context.Context, zone string, signers []DelegationSigner, _ time.Duration) error {
	var b strings.Builder
	if len(signers) == 0 {
		fmt.Fprintf(&b, "ACTION AT THE REGISTRAR: remove every DS record (DNSSEC key) of %s.\n", dns.Fqdn(zone))
	} else {
		fmt.Fprintf(&b, "ACTION AT THE REGISTRAR: set the DS records (DNSSEC) of %s to exactly:\n", dns.Fqdn(zone))
		for _, s := range signers {
			d := s.DS
			fmt.Fprintf(&b, "    key tag %d, algorithm %d (%s), digest type %d (%s), digest %s\n",
				d.KeyTag, d.Algorithm, dns.AlgorithmToString[d.Algorithm], d.DigestType, dns.HashToString[d.DigestType], d.Digest)
			if s.Key != nil {
				fmt.Fprintf(&b, "      (a registrar that asks for the key: flags %d, algorithm %d, public key %s)\n", s.Key.Flags, s.Key.Algorithm, s.Key.PublicKey)
			}
		}
	}
	b.WriteString("  migrate will see the change at the parent's servers and go on.\n")
	_, err := io.WriteString(m.out, b.String())
	return err
}
