package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		spec := &Spec{Zone: "example.com.", Output: OutputSpec{Dir: "./migrations", StateDir: tt.stateDir}}
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
		return map[string]string{"OLD": secret, "NEW": secret, "XDG_STATE_HOME": state}[k]
	}
	spec := func(out string) string {
		p := filepath.Join(t.TempDir(), "spec.yaml")
		if err := os.WriteFile(p, []byte(base+"output: {dir: "+out+"}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first, err := Load(spec(filepath.Join(t.TempDir(), "a")), env)
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
	_, _, err = Apply(context.Background(), ApplyOptions{SpecFile: spec(filepath.Join(t.TempDir(), "b")), Env: env,
		NewEnv: func(context.Context, *Spec) (Env, error) { return Env{}, nil }})
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second apply from another output directory: %v, want %v", err, ErrLocked)
	}
}
