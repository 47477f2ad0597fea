package apply

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/plan"
)

// A journal is only ever cut short at its end: a damaged line anywhere
// else is refused with its file, line and how to look at it, and the file
// is left exactly as it was.
func TestJournalNeverLies(t *testing.T) {
	begin := `{"time":"2026-11-21T12:00:00.000Z","event":"begin"}`
	start := `{"time":"2026-11-21T12:00:01.000Z","step":"lower-ttl","event":"action-start"}`
	torn := `{"time":"2026-11-21T12:00:02.000Z","step":"lower-ttl","ev`
	for _, tt := range []struct {
		name    string
		content string
		entries int    // entries read, when accepted
		refused string // the line named, when refused
	}{
		{"whole", begin + "\n" + start + "\n", 2, ""},
		{"torn last line", begin + "\n" + torn, 1, ""},
		{"torn last line with its newline", begin + "\n" + torn + "\n", 1, ""},
		{"last entry without its newline", begin + "\n" + start, 2, ""},
		{"blank lines", begin + "\n\n" + start + "\n", 2, ""},
		{"damaged first line", "{not json\n" + begin + "\n" + start + "\n", 0, "line 1"},
		{"damaged middle line", begin + "\n" + torn + "\n" + start + "\n", 0, "line 2"},
		{"zeros from a crash, then more", begin + "\n\x00\x00\x00\n" + start + "\n", 0, "line 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.jsonl")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			j, err := OpenJournal(path)
			if tt.refused != "" {
				if err == nil {
					t.Fatalf("accepted with %d entries", len(j.Entries))
				}
				for _, want := range []string{path, tt.refused, "sed -n", "nothing was changed"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				if b, _ := os.ReadFile(path); string(b) != tt.content {
					t.Errorf("a refused journal was changed: %q", b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(j.Entries) != tt.entries {
				t.Fatalf("read %d entries, want %d", len(j.Entries), tt.entries)
			}
			if err := j.Append(Entry{Time: Stamp(t0), Step: plan.StepWaitTTL, Event: EvWaitStart}); err != nil {
				t.Fatal(err)
			}
			j.Close()
			j, err = OpenJournal(path)
			if err != nil {
				t.Fatalf("after an append: %v", err)
			}
			defer j.Close()
			if len(j.Entries) != tt.entries+1 || j.Entries[tt.entries].Event != EvWaitStart {
				t.Errorf("after an append: %+v", j.Entries)
			}
		})
	}
}

func TestJournalSurvivesTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Entry{Time: Stamp(t0), Event: EvBegin}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-11-21T12:00:01.000Z","step":"lower-ttl","ev`) // a crash mid-write
	f.Close()
	j, err = OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Entries) != 1 {
		t.Fatalf("read %d entries, want 1", len(j.Entries))
	}
	if err := j.Append(Entry{Time: Stamp(t0), Step: plan.StepLowerTTL, Event: EvActionStart}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, _ = OpenJournal(path)
	if len(j.Entries) != 2 || j.Entries[1].Event != EvActionStart {
		t.Errorf("after a torn line and an append: %+v", j.Entries)
	}
}

func TestLockIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	a, err := TakeLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TakeLock(path); err == nil || !strings.Contains(err.Error(), "another migrate apply") {
		t.Errorf("second lock: %v", err)
	}
	a.Release()
	b, err := TakeLock(path)
	if err != nil {
		t.Errorf("lock after release: %v", err)
	}
	b.Release()
}

// A resumed wait ends when the journal says, not a full wait after the
// restart: and never earlier.
func TestWaitIsAnchoredToTheJournal(t *testing.T) {
	p, err := plan.Build(testSpec("unsigned"), observed(60, 300, 300, 300, 300, 60), t0)
	if err != nil {
		t.Fatal(err)
	}
	p.Steps = p.Steps[:4] // lower-ttl, wait-ttl, switch-ns, wait-ns
	clock := NewSimClock(t0.Add(100 * time.Second))
	until := Stamp(t0.Add(330 * time.Second))
	j := MemoryJournal()
	for _, e := range []Entry{
		{Time: Stamp(t0), Event: EvBegin},
		{Time: Stamp(t0), Step: plan.StepLowerTTL, Event: EvStepDone},
		{Time: Stamp(t0), Step: plan.StepWaitTTL, Event: EvStepDone},
		{Time: Stamp(t0), Step: plan.StepSwitchNS, Event: EvStepDone},
		{Time: Stamp(t0), Step: plan.StepWaitNS, Event: EvWaitStart, Until: &until},
	} {
		j.Append(e)
	}
	x := &Executor{Plan: p, Clock: clock, Journal: j}
	if _, err := x.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	e, ok := j.Last(plan.StepWaitNS, EvStepDone)
	if !ok || !time.Time(e.Time).Equal(time.Time(until)) {
		t.Errorf("wait-ns ended at %v, want %v", time.Time(e.Time), time.Time(until))
	}
}
