package plan

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/libdns/libdns"
)

// countingHost is a DNS host that only counts what reaches it.
type countingHost struct{ calls int }

func (h *countingHost) GetRecords(context.Context, string) ([]libdns.Record, error) {
	h.calls++
	return nil, nil
}

func (h *countingHost) SetRecords(_ context.Context, _ string, rs []libdns.Record) ([]libdns.Record, error) {
	h.calls++
	return rs, nil
}

// A full disk when a step's start is journaled stops apply before the
// change is sent, naming the cause: the journal never lags what was sent.
func TestDiskFullStopsBeforeSending(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("this test writes to /dev/full: %v", err)
	}
	defer full.Close()
	p, err := Build(testSpec("unsigned"), observed(3600, 300, 300, 300, 300, 60), t0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Steps[0].ID != StepLowerTTL || p.Steps[0].Done {
		t.Fatalf("first step %s (done %t), want a lower-ttl to send", p.Steps[0].ID, p.Steps[0].Done)
	}
	hosts := map[string]providers.Host{"old": &countingHost{}, "new": &countingHost{}}
	j := &Journal{f: full, Entries: []Entry{{Time: Stamp(t0), Event: EvBegin}}}
	x := &Executor{Plan: p, Clock: NewSimClock(t0), Journal: j, Env: Env{Hosts: hosts}, Out: &strings.Builder{}}
	_, err = x.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "journal") {
		t.Errorf("apply on a full disk: %v", err)
	}
	for name, h := range hosts {
		if n := h.(*countingHost).calls; n != 0 {
			t.Errorf("%s received %d requests with the journal unwritable", name, n)
		}
	}
}
