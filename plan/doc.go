// Package plan will hold the migration spec, the planner that turns live
// state into ordered steps, the plan file, the executor and its journal,
// and the change log (`migrate plan` and `migrate apply`). It is empty
// until that work lands; today the tool diagnoses (package checks).
package plan
