package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
			if err := j.Append(Entry{Time: Stamp(t0), Step: StepWaitTTL, Event: EvWaitStart}); err != nil {
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
