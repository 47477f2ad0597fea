package apply

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
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
	p, err := plan.Build(testSpec("unsigned"), observed(3600, 300, 300, 300, 300, 60), t0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Steps[0].ID != plan.StepLowerTTL || p.Steps[0].Done {
		t.Fatalf("first step %s (done %t), want a lower-ttl to send", p.Steps[0].ID, p.Steps[0].Done)
	}
	hosts := map[string]providers.Host{"old": &countingHost{}, "new": &countingHost{}}
	j := &Journal{f: full, Entries: []Entry{{Time: Stamp(t0), Event: EvBegin}}}
	x := &Executor{Plan: p, Clock: NewSimClock(t0), Journal: j, Env: plan.Env{Hosts: hosts}, Out: &strings.Builder{}}
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

// fillingHost fills the disk (the journal's file becomes /dev/full) once
// its first change has reached it.
type fillingHost struct {
	countingHost
	j    *Journal
	full *os.File
}

func (h *fillingHost) SetRecords(ctx context.Context, zone string, rs []libdns.Record) ([]libdns.Record, error) {
	if h.calls == 0 {
		_ = h.j.f.Close()
		h.j.f = h.full
	}
	return h.countingHost.SetRecords(ctx, zone, rs)
}

// A full disk once a change was sent (before its end is journaled) stops
// apply, naming the cause, with nothing more sent; the journal on disk
// ends with the step's start, so a resume reads the change back at the
// servers before sending it again.
func TestDiskFullAfterSendingStops(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("this test writes to /dev/full: %v", err)
	}
	defer full.Close()
	// The read-back after the failed action asks the hosts' servers:
	// loopback ports nobody listens on.
	o := observed(3600, 300, 300, 300, 300, 60)
	o.Old.Servers, o.New.Servers = []string{"127.0.0.1:9"}, []string{"127.0.0.1:9"}
	p, err := plan.Build(testSpec("unsigned"), o, t0)
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/journal.jsonl"
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Entry{Time: Stamp(t0), Event: EvBegin}); err != nil {
		t.Fatal(err)
	}
	old, other := &fillingHost{j: j, full: full}, &countingHost{}
	x := &Executor{Plan: p, Clock: NewSimClock(t0), Journal: j, Env: plan.Env{Hosts: map[string]providers.Host{"old": old, "new": other},
		Checker: checks.New(checks.Options{Timeout: 100 * time.Millisecond})}, Out: &strings.Builder{}}
	_, err = x.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "journal") {
		t.Errorf("apply filling the disk after a send: %v", err)
	}
	if sent := old.calls + other.calls; sent != 1 {
		t.Errorf("%d requests reached the hosts; want the one sent before the disk filled", sent)
	}
	again, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	_, started := again.Last(plan.StepLowerTTL, EvActionStart)
	_, done := again.Last(plan.StepLowerTTL, EvActionDone)
	if !started || done {
		t.Errorf("journal on disk: lower-ttl started %t, done %t; want started, not done: %+v", started, done, again.Entries)
	}
}
