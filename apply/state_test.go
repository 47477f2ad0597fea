package apply

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"
	"github.com/dnsmigrate/dnsmigrate/spec/spectest"
)

func TestStateRoot(t *testing.T) {
	for _, tt := range []struct {
		name     string
		stateDir string
		env      map[string]string
		want     string
	}{
		{"spec", "/srv/migrate-state", map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/h"}, "/srv/migrate-state"},
		{"XDG_STATE_HOME", "", map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/h"}, "/x/dnsmigrate"},
		{"HOME", "", map[string]string{"HOME": "/h"}, "/h/.local/state/dnsmigrate"},
	} {
		spec := &spec.Spec{Zone: "example.com.", Output: spec.OutputSpec{Dir: "./migrations", StateDir: tt.stateDir}}
		if got := StateRoot(spec, func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// Two applies of one zone with different output directories (run from
// two directories, say) meet at the one lock in the state directory.
func TestTwoOutputDirsMeetAtTheLock(t *testing.T) {
	state := t.TempDir()
	env := func(k string) string {
		return map[string]string{"OLD": spectest.Secret, "NEW": spectest.Secret, "XDG_STATE_HOME": state}[k]
	}
	specFile := func(out string) string {
		p := filepath.Join(t.TempDir(), "spec.yaml")
		if err := os.WriteFile(p, []byte(spectest.Nameservers+"output: {dir: "+out+"}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first, err := spec.Load(specFile(filepath.Join(t.TempDir(), "a")), env)
	if err != nil {
		t.Fatal(err)
	}
	ws := workspaceFor(first, env)
	if !strings.HasPrefix(ws.State, filepath.Join(state, "dnsmigrate")) {
		t.Fatalf("state directory %s, want one under XDG_STATE_HOME", ws.State)
	}
	if err := os.MkdirAll(ws.State, 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := TakeLock(ws.StatePath("lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	_, _, err = Apply(context.Background(), ApplyOptions{SpecFile: specFile(filepath.Join(t.TempDir(), "b")), Env: env,
		NewEnv: func(context.Context, *spec.Spec) (plan.Env, error) { return plan.Env{}, nil }})
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second apply from another output directory: %v, want %v", err, ErrLocked)
	}
}

// Archiving a finished run moves its plan, journal and change logs aside
// and leaves the lock where it is, held: no other apply of the zone can
// start between the archive and the new run.
func TestArchiveKeepsTheLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "example.com")
	for _, ws := range []Workspace{{Dir: dir, State: dir}, {Dir: dir + "-logs", State: dir}} {
		t.Run(ws.Dir, func(t *testing.T) {
			for _, d := range []string{ws.State, ws.Dir} {
				if err := os.MkdirAll(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			lock, err := TakeLock(ws.StatePath("lock"))
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Release()
			for _, f := range []string{ws.StatePath("journal.jsonl"), ws.StatePath("plan.json"), ws.Path("changelog.md")} {
				if err := os.WriteFile(f, []byte("{}\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := ws.archive("-old"); err != nil {
				t.Fatal(err)
			}
			if _, err := TakeLock(ws.StatePath("lock")); !errors.Is(err, ErrLocked) {
				t.Errorf("after archiving, another apply takes the lock: %v", err)
			}
			for _, f := range []string{ws.State + "-old/journal.jsonl", ws.State + "-old/plan.json", ws.Dir + "-old/changelog.md"} {
				if _, err := os.Stat(f); err != nil {
					t.Errorf("not archived: %v", err)
				}
			}
			if _, err := os.Stat(ws.StatePath("journal.jsonl")); err == nil {
				t.Error("the journal is still in the state directory")
			}
			if err := os.RemoveAll(ws.State + "-old"); err != nil {
				t.Fatal(err)
			}
			_ = os.RemoveAll(ws.Dir + "-old")
		})
	}
}
