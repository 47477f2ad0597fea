// Package e2e holds the acceptance tests: whole migrations, crashes and
// resumes, rollbacks, records cutovers, faults and take-overs in the lab
// (real BIND, Knot and resolvers on loopback) or against the cloud APIs'
// fakes, the checks' lab findings and DNSViz comparison, and the
// benchmarks that measure them. They drive the CLI (built once) or the
// spec, plan and apply packages as a user's run would; it has no code of
// its own.
package e2e
