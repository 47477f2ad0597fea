// Package spectest holds specs that other packages' tests load: a small
// nameservers move that passes every check, and the secret its providers'
// secret_env variables (OLD and NEW) are to hold.
package spectest

// Secret is a TSIG secret (base64) for OLD and NEW.
const Secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=" // base64

// Nameservers is a nameservers move between two RFC 2136 hosts with a
// manual registrar; nothing in it is ever asked (documentation addresses).
const Nameservers = `version: 1
zone: example.com.
kind: nameservers
dnssec: insecure-window
from: {provider: old, nameservers: [ns1.old.example.net.]}
to: {provider: new, nameservers: [ns1.new.example.org.]}
registrar: {type: manual}
providers:
  old: {type: rfc2136, server: 192.0.2.11:53, tsig: {name: old-key, algorithm: hmac-sha256, secret_env: OLD}}
  new: {type: rfc2136, server: 192.0.2.21, tsig: {name: new-key, algorithm: hmac-sha256, secret_env: NEW}}
verify: {resolvers: [192.0.2.53]}
`
