// Package plan observes the live state a spec names (the parent, both
// hosts' records through their APIs and what each of their servers
// serves), refuses with every reason what is not safe to start, and
// builds the ordered steps of the move, each with its wait and formula,
// its gate and its precondition: the plan file, sealed, and its rendering.
package plan
