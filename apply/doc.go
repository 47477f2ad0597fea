// Package apply executes a plan: each step's action, its precondition
// before an irreversible change, and its gate polled at every server until
// it holds; every transition journaled (fsynced) before the next, so that a
// run stopped anywhere resumes exactly. It holds the workspace (the zone's
// state directory, its lock and journal), the clock, the watchdog over the
// resolvers, the health checks and the change log written for the ticket.
package apply
