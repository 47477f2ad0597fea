package apply

import (
	"context"
	"sync"
	"time"

	"github.com/dnsmigrate/dnsmigrate/internal/wait"
)

// Clock is the executor's time: real for apply, simulated for a dry run.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends, whichever comes first.
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now is time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// Sleep sleeps, or returns ctx's error when it ends first.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error { return wait.Sleep(ctx, d) }

// SimClock is a simulated clock: Sleep moves it on at once. A dry run uses
// it to walk every wait in seconds.
type SimClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewSimClock starts a simulated clock at t.
func NewSimClock(t time.Time) *SimClock { return &SimClock{t: t} }

// Now is the simulated time.
func (c *SimClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Sleep advances the simulated time by d.
func (c *SimClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.t = c.t.Add(max(d, 0))
	c.mu.Unlock()
	return nil
}
