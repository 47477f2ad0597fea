package e2e

import (
	"fmt"
	"os"
	"testing"
)

// binDir holds the CLI the tests build once (buildMigrate).
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "e2e-migrate-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	shared.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}
