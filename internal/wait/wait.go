// Package wait sleeps the way every wait of dnsmigrate does: for a
// duration, or until its context ends, whichever comes first.
package wait

import (
	"context"
	"time"
)

// Sleep waits d, or returns the cause of ctx's end when it ends first (at
// once when d is not positive: then only an ended ctx is an error).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
