package apply

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
)

// Journal events.
const (
	EvBegin       = "begin"
	EvActionStart = "action-start"
	EvActionDone  = "action-done"
	EvActionFail  = "action-failed"
	EvBatchStart  = "batch-start" // one request of a change sent in several
	EvBatchDone   = "batch-done"
	EvGatePassed  = "gate-passed"
	// EvHostProven: one host's change of a set-ttl step proven at every
	// server of that host (Batch names the host), before the step goes on
	// at the next; a wait anchored there (plan.Anchor) runs from it.
	EvHostProven = "host-proven"
	EvGateFailed = "gate-failed"
	EvWaitStart  = "wait-start"
	EvStepDone   = "step-done"
	EvStopped    = "stopped"
	EvWatchdog   = "watchdog"
	EvFinished   = "finished"
	EvRolledBack = "rolled-back"
)

// Entry is one line of the journal: what happened, when, with evidence.
type Entry struct {
	Time     Stamp             `json:"time"`
	Step     string            `json:"step,omitempty"`
	Event    string            `json:"event"`
	Detail   string            `json:"detail,omitempty"`
	Until    *Stamp            `json:"until,omitempty"` // wait-start: when the wait ends
	Batch    string            `json:"batch,omitempty"` // batch-start, batch-done: "provider i/n"
	Before   []string          `json:"before,omitempty"`
	After    []string          `json:"after,omitempty"`
	Evidence []checks.Evidence `json:"evidence,omitempty"`
}

// Stamp is a UTC time written to the millisecond.
type Stamp time.Time

// MarshalJSON writes checks.StampLayout.
func (s Stamp) MarshalJSON() ([]byte, error) { return json.Marshal(checks.Stamp(time.Time(s))) }

// UnmarshalJSON reads what MarshalJSON wrote.
func (s *Stamp) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	t, err := time.Parse(checks.StampLayout, v)
	*s = Stamp(t)
	return err
}

// Journal is the append-only record of an apply, one JSON object a line,
// each written and fsynced before the next action: after a crash at any
// moment, it says what was done and when.
//
// Append, Last, LastBatch and HasBatch may be called at once (a step's
// hosts change at once); Entries is read directly only between steps.
type Journal struct {
	mu      sync.Mutex
	f       *os.File
	Entries []Entry
}

// OpenJournal opens (creating) the journal at path and reads what it
// holds. Only the last line may be cut short (a crash or a full disk in
// the middle of a write): it is dropped and rewritten away. Any other line
// that cannot be read means the journal was changed or damaged, and
// nothing after it could be trusted: OpenJournal refuses it, naming the
// line and how to look at it, and changes nothing.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j, keep, err := readJournal(f, path)
	if err == nil {
		err = f.Truncate(keep)
	}
	if err == nil {
		_, err = f.Seek(keep, 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	j.f = f
	return j, nil
}

// readJournal reads every entry of f and says how many bytes to keep: all
// of them, a newline added after a last entry written without one, or all
// but a torn last line.
func readJournal(f *os.File, path string) (*Journal, int64, error) {
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	j := &Journal{}
	var keep int64
	for n, rest := 1, data; len(rest) > 0; n++ {
		line, after, complete := bytes.Cut(rest, []byte{'\n'})
		if len(bytes.TrimSpace(line)) > 0 {
			var e Entry
			if err := json.Unmarshal(line, &e); err != nil {
				if len(bytes.TrimSpace(after)) == 0 {
					return j, keep, nil // torn last line: dropped
				}
				return nil, 0, fmt.Errorf("%s line %d cannot be read (%v); a journal is only ever cut short at its end, so it was changed or damaged "+
					"and what follows cannot be trusted: nothing was changed; inspect it with `sed -n %dp %s`, repair or remove that line, and run again",
					path, n, err, n, path)
			}
			j.Entries = append(j.Entries, e)
		}
		keep += int64(len(line)) + 1
		if !complete {
			// The last entry lost only its newline: put it back so that
			// the next entry starts a line of its own.
			if _, err := f.WriteAt([]byte{'\n'}, keep-1); err != nil {
				return nil, 0, fmt.Errorf("write %s: %w", path, err)
			}
		}
		rest = after
	}
	return j, keep, nil
}

// MemoryJournal is a journal that is never written: a dry run's.
func MemoryJournal() *Journal { return &Journal{} }

// Append writes e and fsyncs it before returning.
func (j *Journal) Append(e Entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		j.Entries = append(j.Entries, e)
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal: encode: %w", err)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal: write: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: fsync: %w", err)
	}
	j.Entries = append(j.Entries, e)
	return nil
}

// Last returns the latest entry of step with event.
func (j *Journal) Last(step, event string) (Entry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := len(j.Entries) - 1; i >= 0; i-- {
		if e := j.Entries[i]; e.Step == step && e.Event == event {
			return e, true
		}
	}
	return Entry{}, false
}

// HasBatch reports whether the journal records event for a step's batch.
func (j *Journal) HasBatch(step, event, batch string) bool {
	_, ok := j.LastBatch(step, event, batch)
	return ok
}

// LastBatch returns the latest entry of step with event for batch.
func (j *Journal) LastBatch(step, event, batch string) (Entry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := len(j.Entries) - 1; i >= 0; i-- {
		if e := j.Entries[i]; e.Step == step && e.Event == event && e.Batch == batch {
			return e, true
		}
	}
	return Entry{}, false
}

// Finished reports whether the journal records a completed migration.
func (j *Journal) Finished() bool {
	_, ok := j.Last("", EvFinished)
	return ok
}

// Close closes the file.
func (j *Journal) Close() error {
	if j.f == nil {
		return nil
	}
	return j.f.Close()
}

// Lock is an exclusive lock on a migration's directory: a second apply on
// the same migration is refused while the first runs (even when the first
// is killed, the kernel releases the lock).
type Lock struct{ f *os.File }

// ErrLocked says another apply holds the lock.
var ErrLocked = errors.New("another migrate apply is running on this migration")

// TakeLock takes the lock file at path without waiting.
func TakeLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s is held)", ErrLocked, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f}, nil
}

// Release gives the lock up.
func (l *Lock) Release() error {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	return l.f.Close()
}
