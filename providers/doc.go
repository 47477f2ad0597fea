// Package providers will hold the DNS host and registrar interfaces, their
// capabilities, and one small adapter per backend (rfc2136 through libdns,
// cloudflare, route53, route53domains, manual). It is empty until
// `migrate plan` needs it; the lab's registrar is driven by RFC 2136
// updates in package lab meanwhile.
package providers
