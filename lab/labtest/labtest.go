// Package labtest shares one running lab among the tests of a package.
package labtest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/lab"
)

// Binaries the lab needs; `make deps` installs them.
var Binaries = []string{"named", "named-checkconf", "rndc", "knotd", "knotc", "unbound", "unbound-checkconf", "unbound-control", "kresd", "pdns_recursor", "rec_control", "ip"}

// Shared starts a lab on first use and takes it down in Close. Give each
// test package its own prefix: packages run in parallel.
type Shared struct {
	prefix string
	once   sync.Once
	lab    *lab.Lab
	err    error
}

// New returns a lab for the package's tests, on prefix.
func New(prefix string) *Shared { return &Shared{prefix: prefix} }

// Get returns the running lab. When a server binary is missing the test
// is skipped, except with CI=true, where it fails: CI never skips a lab
// test silently.
func (s *Shared) Get(t testing.TB) *lab.Lab {
	t.Helper()
	Require(t)
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		s.lab, s.err = lab.Up(ctx, lab.Config{Prefix: s.prefix})
	})
	if s.err != nil {
		t.Fatalf("lab: %v", s.err)
	}
	return s.lab
}

// Require skips (or with CI=true fails) the test when a lab binary or
// root's right to add loopback addresses is missing.
func Require(t testing.TB, extra ...string) {
	t.Helper()
	var missing []string
	for _, b := range append(append([]string{}, Binaries...), extra...) {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	reason := ""
	switch {
	case len(missing) > 0:
		reason = "missing " + strings.Join(missing, ", ") + " (run `make deps`)"
	case os.Geteuid() != 0:
		reason = "the lab needs root to add loopback addresses"
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("lab test cannot run: %s", reason)
	}
	t.Skipf("lab test skipped: %s", reason)
}

// Close takes the lab down if it was started.
func (s *Shared) Close() {
	if s.lab != nil {
		_ = s.lab.Down(context.Background())
	}
}
