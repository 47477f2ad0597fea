package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/lab"
)

func TestPropagationExitCodes(t *testing.T) {
	l := shared.Get(t)
	base := []string{"propagation", "www.example.lab.", "A", "--root", l.Addr(lab.RoleRoot),
		"--resolver", l.Addr(lab.RoleValidating), "--resolver", l.Addr(lab.RolePlain), "--timeout", "1s"}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"landed", []string{"--expect", "192.0.2.80", "--since", "1m"}, exitOK, "4 updated, 0 pending"},
		{"still legally old", []string{"--expect", "198.51.100.1", "--old", "192.0.2.80", "--since", "2s"}, exitPending, "0 updated, 4 pending"},
		{"old past the deadline", []string{"--expect", "198.51.100.1", "--old", "192.0.2.80", "--since", "1h"}, exitStale, "4 stale"},
		{"neither old nor new", []string{"--expect", "198.51.100.1", "--old", "203.0.113.9", "--since", "1h"}, exitStale, "4 unexpected"},
		{"bad since", []string{"--expect", "192.0.2.80", "--since", "yesterday"}, exitError, `--since "yesterday"`},
		{"bad value", []string{"--expect", "not-an-ip", "--since", "1m"}, exitError, "not A data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := migrate(t, append(append([]string{}, base...), tt.args...)...)
			if code != tt.code || !strings.Contains(out+errs, tt.want) {
				t.Errorf("exit %d (want %d)\n%s%s", code, tt.code, out, errs)
			}
		})
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{"90s": now.Add(-90 * time.Second), "2026-11-21T11:00:00Z": now.Add(-time.Hour)} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-5m", "soon"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) accepted", bad)
		}
	}
}
