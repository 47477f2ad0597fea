package e2e

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/providers"
	"github.com/dnsmigrate/dnsmigrate/spec"
)

// human plays the person at the registrar's web form: it reads what the
// manual registrar prints and makes that change, as a person would, late.
type human struct {
	t   *testing.T
	l   *lab.Lab
	mu  sync.Mutex
	buf strings.Builder
	did int
}

func (h *human) Write(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Write(b)
	text := h.buf.String()
	if h.did == 0 && strings.Contains(text, "ACTION AT THE REGISTRAR: set the name servers of unsigned.lab. to exactly:\n    ns1.newdns.lab\n    ns2.newdns.lab\n") {
		h.did++
		go func() {
			time.Sleep(2 * time.Second) // a person takes a moment
			k := h.l.Keys[lab.KeyRegistrar]
			reg := providers.NewRFC2136Registrar(h.l.Addr(lab.RoleTLD), lab.TLD, providers.TSIG{Name: k.Name, Algorithm: k.Algorithm, Secret: k.Secret})
			if err := reg.SetNS(context.Background(), lab.UnsignedZone, lab.NewNS[:], nil, 10*time.Second); err != nil {
				h.t.Error(err)
			}
		}()
	}
	return len(b), nil
}

// An unsigned zone moved with a manual registrar: apply prints what to
// enter, then polls every parent server until it sees the change.
func TestManualRegistrarUnsigned(t *testing.T) {
	t.Parallel()
	l := freshLab(t, "127.69.0.0/24")
	specFile := writeSpec(t, l, "unsigned", time.Minute)
	b, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "  type: rfc2136\n  server: "+l.Addr(lab.RoleTLD)+"\n", "  type: manual\n", 1)
	text = text[:strings.Index(text, "  tsig: {name: registrar-key")] + text[strings.Index(text, "providers:"):]
	if err := os.WriteFile(specFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &human{t: t, l: l}
	cl, _, err := apply.Apply(context.Background(), apply.ApplyOptions{
		SpecFile: specFile, Env: os.Getenv, Out: h, Poll: 200 * time.Millisecond,
		NewEnv: func(ctx context.Context, s *spec.Spec) (plan.Env, error) { return plan.NewEnv(ctx, s, h, time.Second) },
	})
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, h.buf.String())
	}
	if h.did != 1 || cl.Result != "completed" {
		t.Fatalf("human acted %d times, result %s", h.did, cl.Result)
	}
	var ids []string
	for _, s := range cl.Steps {
		ids = append(ids, s.ID)
	}
	if got := strings.Join(ids, " "); got != "mark lower-ttl wait-ttl switch-ns handover-ns wait-ns restore-ttl unmark final-verify" {
		t.Errorf("unsigned steps: %s", got)
	}
	a, _ := checks.LoadAnchors(l.TrustAnchor)
	rep, err := checks.New(checks.Options{Roots: []string{l.Addr(lab.RoleRoot)}, Anchors: &a, Timeout: time.Second}).Check(context.Background(), lab.UnsignedZone)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != checks.Insecure || rep.ParentServers[0].NS[0] != lab.NewNS[0] {
		t.Errorf("end: %s, NS %v", rep.Status, rep.ParentServers[0].NS)
	}
}
