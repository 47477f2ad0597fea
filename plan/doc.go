// Package plan holds what a migration does: it observes the live state a
// spec names, builds the ordered steps with their waits and gates, seals
// and renders the plan, and applies it: the executor, its journal, lock
// and workspace, the watchdog, health checks and the change log.
package plan
