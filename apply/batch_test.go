package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// memHost is a host in memory that takes at most size RRsets per request
// and can be told to fail one request.
type memHost struct {
	size   int
	sets   map[string]providers.Replacement // "name type" -> the RRset as data and TTL
	sent   []int                            // RRsets per request received
	failAt int                              // fail the request with this number (1-based); 0 never
	onSend func()                           // called after each request, when set
}

func (h *memHost) GetRecords(context.Context, string) ([]libdns.Record, error) {
	var out []libdns.Record
	for _, s := range h.sets {
		for _, d := range s.To {
			out = append(out, libdns.RR{Name: strings.TrimSuffix(s.Name, ".example.com."), TTL: time.Duration(s.TTL) * time.Second, Type: s.Type, Data: d})
		}
	}
	return out, nil
}

func (h *memHost) SetRecords(context.Context, string, []libdns.Record) ([]libdns.Record, error) {
	return nil, errors.New("not used")
}

func (h *memHost) Batches(reps []providers.Replacement) [][]providers.Replacement {
	var out [][]providers.Replacement
	for lo := 0; lo < len(reps); lo += h.size {
		out = append(out, reps[lo:min(lo+h.size, len(reps))])
	}
	return out
}

func (h *memHost) Replace(_ context.Context, _ string, reps []providers.Replacement) error {
	if len(h.sent)+1 == h.failAt {
		h.sent = append(h.sent, 0)
		return errors.New("SERVFAIL")
	}
	h.sent = append(h.sent, len(reps))
	for _, r := range reps {
		h.sets[r.Name+" "+r.Type] = r
	}
	if h.onSend != nil {
		h.onSend()
	}
	return nil
}

func memZone(n int) (*memHost, []providers.RRset, []uint32) {
	h := &memHost{size: 3, sets: map[string]providers.Replacement{}}
	var sets []providers.RRset
	var ttls []uint32
	for i := range n {
		name := fmt.Sprintf("h%02d.example.com.", i)
		h.sets[name+" A"] = providers.Replacement{Name: name, Type: "A", TTL: 300, To: []string{"192.0.2.1"}}
		sets = append(sets, providers.RRset{Name: name, Type: "A", TTL: 300, Data: []string{"192.0.2.1"}})
		ttls = append(ttls, 60)
	}
	return h, sets, ttls
}

func batchExecutor(h *memHost, sets []providers.RRset, ttls []uint32, j *Journal) (*Executor, *plan.Step) {
	st := &plan.Step{ID: plan.StepLowerTTL, Action: plan.ActionSetTTL, TTLs: []plan.TTLChange{{Provider: "old", RRsets: sets, TTLs: ttls}}}
	p := &plan.Plan{Spec: &spec.Spec{Zone: "example.com."}, Steps: []plan.Step{*st}}
	return &Executor{Plan: p, Env: plan.Env{Hosts: map[string]providers.Host{"old": h}}, Journal: j, Clock: NewSimClock(time.Now())}, st
}

// A change past one request goes in batches, each journaled; a failed
// batch stops the step saying how many RRsets were changed, and the
// resumed run sends only what was not.
func TestBatchesJournaledAndResumed(t *testing.T) {
	h, sets, ttls := memZone(10)
	h.failAt = 3
	j := MemoryJournal()
	x, st := batchExecutor(h, sets, ttls, j)
	err := x.do(context.Background(), st)
	if err == nil || !strings.Contains(err.Error(), "SERVFAIL; 6 of the 10 RRsets at old were changed before (batch 3 of 4 failed): apply again (or roll back) to finish") {
		t.Fatalf("a failed batch: %v", err)
	}
	h.failAt = 0
	if err := x.do(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(h.sent) != "[3 3 0 3 1]" {
		t.Errorf("requests (RRsets each): %v, want the first two, the failed one, then only the last two", h.sent)
	}
	var done []string
	for _, e := range j.Entries {
		if e.Event == EvBatchDone {
			done = append(done, e.Batch+": "+e.Detail)
		}
	}
	if got := strings.Join(done, "|"); got != "old 1/4: 3 RRsets (3 of 10)|old 2/4: 3 RRsets (6 of 10)|old 3/4: 3 RRsets (9 of 10)|old 4/4: 1 RRsets (10 of 10)" {
		t.Errorf("journal: %s", got)
	}
	for _, s := range h.sets {
		if s.TTL != 60 {
			t.Errorf("%s left at TTL %d", s.Name, s.TTL)
		}
	}
}

// A run stopped after a batch went out but before it was journaled reads
// the host back: found in place, the batch is not sent again; else it is.
func TestBatchStartedReadBack(t *testing.T) {
	for _, landed := range []bool{true, false} {
		h, sets, ttls := memZone(6)
		j := MemoryJournal()
		x, st := batchExecutor(h, sets, ttls, j)
		_ = j.Append(Entry{Step: st.ID, Event: EvBatchDone, Batch: "old 1/2"})
		_ = j.Append(Entry{Step: st.ID, Event: EvBatchStart, Batch: "old 2/2"})
		for _, s := range sets {
			h.sets[s.Name+" A"] = providers.Replacement{Name: s.Name, Type: "A", TTL: 60, To: s.Data}
		}
		if !landed {
			h.sets[sets[5].Name+" A"] = providers.Replacement{Name: sets[5].Name, Type: "A", TTL: 300, To: sets[5].Data}
		}
		if err := x.do(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		want := "[]"
		if !landed {
			want = "[3]"
		}
		if fmt.Sprint(h.sent) != want {
			t.Errorf("landed %t: requests %v, want %s", landed, h.sent, want)
		}
	}
}

// A step that changes one host twice (a rollback's restore-ttl: the
// forward TTLs, then the handed-over apex NS) journals each change's
// batches apart: the second is not taken for done.
func TestBatchesOfTwoChangesAtOneHost(t *testing.T) {
	h, sets, ttls := memZone(4)
	j := MemoryJournal()
	x, st := batchExecutor(h, sets[:2], ttls[:2], j)
	st.TTLs = append(st.TTLs, plan.TTLChange{Provider: "old", RRsets: sets[2:], TTLs: ttls[2:]})
	if err := x.do(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	for _, s := range h.sets {
		if s.TTL != 60 {
			t.Errorf("%s left at TTL %d", s.Name, s.TTL)
		}
	}
	var keys []string
	for _, e := range j.Entries {
		if e.Event == EvBatchDone {
			keys = append(keys, e.Batch)
		}
	}
	if strings.Join(keys, "|") != "old 1/1|old#2 1/1" {
		t.Errorf("batches journaled: %v", keys)
	}
}

// A host's change stops between batches when another host's change in
// the same step failed, saying how far it got; the resumed run sends only
// what was not.
func TestBatchesHaltedByAnotherHost(t *testing.T) {
	h, sets, ttls := memZone(7)
	x, st := batchExecutor(h, sets, ttls, MemoryJournal())
	reps, err := providers.TTLChanges(sets, ttls)
	if err != nil {
		t.Fatal(err)
	}
	f := &fanOut{lead: make(chan struct{})}
	h.onSend = func() {
		if len(h.sent) == 2 {
			f.failed.Store(true)
		}
	}
	err = x.sendBatches(context.Background(), st, "old", "old", reps, f)
	if err == nil || err.Error() != "6 of the 7 RRsets at old were changed, then it stopped before batch 3 of 3: another host's change failed" {
		t.Fatalf("halted: %v", err)
	}
	if err := x.sendBatches(context.Background(), st, "old", "old", reps, nil); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(h.sent) != "[3 3 1]" {
		t.Errorf("requests (RRsets each): %v, want two, then on resume only the last", h.sent)
	}
}

// A rollback's set-ttl step changes its hosts one after the other: the
// second host's first batch starts after the first host's last is done.
// (The first host's second request gives the second host a moment to
// start, as it would at once.)
func TestRollbackHostsOneAfterTheOther(t *testing.T) {
	for _, rollback := range []bool{true, false} {
		old, sets, ttls := memZone(6)
		other, _, _ := memZone(6)
		j := MemoryJournal()
		x, st := batchExecutor(old, sets, ttls, j)
		x.Env.Hosts["new"] = other
		st.TTLs = append(st.TTLs, plan.TTLChange{Provider: "new", RRsets: sets, TTLs: ttls})
		x.Plan.Observed = &plan.Observed{Rollback: rollback}
		old.onSend = func() {
			for give := time.Now().Add(300 * time.Millisecond); len(old.sent) == 2 && time.Now().Before(give); time.Sleep(time.Millisecond) {
				if j.HasBatch(st.ID, EvBatchStart, "new 1/2") {
					return
				}
			}
		}
		if err := x.do(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		newStarts, oldDone := -1, -1
		for i, e := range j.Entries {
			switch {
			case e.Batch == "new 1/2" && e.Event == EvBatchStart:
				newStarts = i
			case e.Batch == "old 2/2" && e.Event == EvBatchDone:
				oldDone = i
			}
		}
		if sequential := newStarts > oldDone; sequential != rollback {
			t.Errorf("rollback %t: new's first batch started at entry %d, old's last done at %d", rollback, newStarts, oldDone)
		}
	}
}

// windowHost is a memHost that takes window requests at once: each waits
// for the test to release it, except the one carrying failName, which
// fails at once.
type windowHost struct {
	*memHost
	window   int
	failName string
	release  chan struct{}

	mu       sync.Mutex
	held     int   // requests waiting for release
	arrivals []int // requests out (this one counted) as each arrived
}

func (h *windowHost) InFlight() int { return h.window }

func (h *windowHost) Replace(ctx context.Context, zone string, reps []providers.Replacement) error {
	h.mu.Lock()
	h.arrivals = append(h.arrivals, h.held+1)
	if reps[0].Name == h.failName {
		h.sent = append(h.sent, 0)
		h.mu.Unlock()
		return errors.New("SERVFAIL")
	}
	h.held++
	h.mu.Unlock()
	<-h.release
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held--
	return h.memHost.Replace(ctx, zone, reps)
}

// releaseWhen lets one held request go each time want(held, arrived,
// released) is true, until n are released; it fails the test if the host never
// gets there.
func (h *windowHost) releaseWhen(t *testing.T, n int, want func(held, arrived, released int) bool) {
	t.Helper()
	for released := 0; released < n; released++ {
		for give := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			h.mu.Lock()
			held, arrived := h.held, len(h.arrivals)
			h.mu.Unlock()
			if want(held, arrived, released) {
				break
			}
			if time.Now().After(give) {
				t.Fatalf("after %d released: %d held, not what the window should give", released, held)
			}
		}
		h.release <- struct{}{}
	}
}

// full is when n batches sent in a window hold the host as they should:
// the first alone, then the window full while that many are left.
func (h *windowHost) full(n int) func(held, arrived, released int) bool {
	return func(held, _, released int) bool {
		if released == 0 {
			return held == 1
		}
		return held == min(h.window, n-released)
	}
}

// A host that takes several requests at once gets up to its window of
// batches out together, but the first alone (a refused key meets one
// request), and every batch is journaled done with the count so far.
func TestBatchesInFlight(t *testing.T) {
	mem, sets, ttls := memZone(8)
	mem.size = 1
	h := &windowHost{memHost: mem, window: 3, release: make(chan struct{})}
	j := MemoryJournal()
	x, st := batchExecutor(mem, sets, ttls, j)
	x.Env.Hosts["old"] = h
	done := make(chan error)
	go func() { done <- x.do(context.Background(), st) }()
	h.releaseWhen(t, 8, h.full(8))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(h.arrivals[:2]) != "[1 1]" || slices.Max(h.arrivals) != 3 {
		t.Errorf("requests out as each arrived: %v, want the first alone, then up to 3", h.arrivals)
	}
	var counts []string
	for _, e := range j.Entries {
		if e.Event == EvBatchDone {
			counts = append(counts, e.Detail)
		}
	}
	if len(counts) != 8 || counts[7] != "1 RRsets (8 of 8)" {
		t.Errorf("batches journaled done: %q", counts)
	}
	for _, s := range mem.sets {
		if s.TTL != 60 {
			t.Errorf("%s left at TTL %d", s.Name, s.TTL)
		}
	}
}

// A batch that fails while others are out stops the sending: those out
// land and are journaled, the error counts them, and the resumed run
// sends only what is not in place.
func TestBatchFailsWhileOthersAreOut(t *testing.T) {
	mem, sets, ttls := memZone(7)
	mem.size = 1
	h := &windowHost{memHost: mem, window: 3, failName: sets[3].Name, release: make(chan struct{})}
	j := MemoryJournal()
	x, st := batchExecutor(mem, sets, ttls, j)
	x.Env.Hosts["old"] = h
	done := make(chan error)
	go func() { done <- x.do(context.Background(), st) }()
	// Batch 1 alone; then 2, 3 held and 4 failed at once.
	h.releaseWhen(t, 3, func(held, arrived, released int) bool {
		switch released {
		case 0:
			return held == 1
		case 1:
			return held == 2 && arrived == 4
		}
		return held == 1
	})
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "SERVFAIL; 3 of the 7 RRsets at old were changed before (batch 4 of 7 failed)") {
		t.Fatalf("a failed batch beside others: %v", err)
	}
	if len(h.arrivals) != 4 {
		t.Errorf("%d requests sent, want 4 (none after the failure)", len(h.arrivals))
	}
	h.failName = ""
	go func() { done <- x.do(context.Background(), st) }()
	h.releaseWhen(t, 4, h.full(4))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(h.arrivals) != 8 {
		t.Errorf("%d requests in all, want 8: the four landed ones not sent again", len(h.arrivals))
	}
	for _, s := range mem.sets {
		if s.TTL != 60 {
			t.Errorf("%s left at TTL %d", s.Name, s.TTL)
		}
	}
}

// A step's changes go in chains, one per host in the order of its first
// change, each host's changes in plan order; a change not kept is left out.
func TestHostChains(t *testing.T) {
	changes := []plan.TTLChange{{Provider: "old"}, {Provider: "new"}, {Provider: "old"}, {Provider: "new"}}
	for _, c := range []struct {
		name string
		keep func(int) bool
		want string
	}{
		{"all", func(int) bool { return true }, "[old new] map[new:[1 3] old:[0 2]]"},
		{"the old host's first left out", func(ci int) bool { return ci != 0 }, "[new old] map[new:[1 3] old:[2]]"},
		{"none", func(int) bool { return false }, "[] map[]"},
	} {
		order, chains := hostChains(changes, c.keep)
		if got := fmt.Sprint(order, " ", chains); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
