// Package rdata writes a record's data as text, as its presentation form
// does, without printing the whole record where it need not: the
// addresses that make up most of a large zone.
package rdata

import (
	"strings"
	"unicode"

	"github.com/miekg/dns"
)

// Text is rr's data as miekg/dns writes it in the record's presentation
// form: the record's text after its header.
func Text(rr dns.RR) string {
	switch rr := rr.(type) {
	case *dns.A:
		if rr.A != nil {
			return rr.A.String()
		}
	case *dns.AAAA:
		// An IPv4-mapped address is written with a prefix of miekg/dns's own.
		if rr.AAAA != nil && rr.AAAA.To4() == nil {
			return rr.AAAA.String()
		}
	}
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// Fields is Text with its fields one space apart (a TXT string's spaces
// included, as the checks compare data).
func Fields(rr dns.RR) string {
	t := Text(rr)
	if strings.IndexFunc(t, unicode.IsSpace) < 0 {
		return t
	}
	return strings.Join(strings.Fields(t), " ")
}
