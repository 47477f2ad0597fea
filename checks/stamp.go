package checks

import "time"

// StampLayout is how dnsmigrate writes a time, in journals, change logs,
// markers and reports: UTC to the millisecond.
const StampLayout = "2006-01-02T15:04:05.000Z"

// Stamp writes t in StampLayout.
func Stamp(t time.Time) string { return t.UTC().Format(StampLayout) }
