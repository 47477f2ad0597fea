package providers

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// How an update server treats one accepted connection.
type connFate int

const (
	served     connFate = iota
	resetFirst          // reset before reading the update
	resetReply          // read and apply the update, reset instead of replying
)

// fatefulListener hands the server each connection as fate says for it.
type fatefulListener struct {
	net.Listener
	fate     func(n int) connFate
	accepted atomic.Int32
}

func (l *fatefulListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		switch l.fate(int(l.accepted.Add(1))) {
		case resetFirst:
			reset(c)
			continue
		case resetReply:
			return resettingReply{c}, nil
		}
		return c, nil
	}
}

// reset closes c with a TCP RST: the client reads "connection reset by peer".
func reset(c net.Conn) {
	_ = c.(*net.TCPConn).SetLinger(0)
	_ = c.Close()
}

// resettingReply resets the connection when the server writes its reply.
type resettingReply struct{ net.Conn }

func (c resettingReply) Write([]byte) (int, error) {
	reset(c.Conn)
	return 0, errors.New("reset instead of replying")
}

// updateServer is a TSIG-checking RFC 2136 server on loopback: it counts
// the updates it reads, how many carried a valid TSIG, and answers rcode.
type updateServer struct {
	addr         string
	listener     *fatefulListener
	mu           sync.Mutex
	read, signed int
}

const testKeyName, testSecret = "update-key.", "c2VjcmV0LWZvci10aGUtdGVzdHMtb25seQ=="

func startUpdateServer(t *testing.T, rcode int, fate func(n int) connFate) *updateServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &updateServer{addr: l.Addr().String(), listener: &fatefulListener{Listener: l, fate: fate}}
	started := make(chan struct{})
	srv := &dns.Server{
		Listener:          s.listener,
		TsigSecret:        map[string]string{testKeyName: testSecret},
		NotifyStartedFunc: func() { close(started) },
		// miekg/dns answers NOTIMP to an update unless told to accept it.
		MsgAcceptFunc: func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			s.mu.Lock()
			s.read++
			ok := r.IsTsig() != nil && w.TsigStatus() == nil
			if ok {
				s.signed++
			}
			s.mu.Unlock()
			m := new(dns.Msg)
			m.SetRcode(r, rcode)
			if ok {
				m.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Unix())
			}
			_ = w.WriteMsg(m)
		}),
	}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

func (s *updateServer) counts() (read, signed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read, s.signed
}

// firstThenServed treats the first connection as first says, the others
// as served.
func firstThenServed(first connFate) func(int) connFate {
	return func(n int) connFate {
		if n == 1 {
			return first
		}
		return served
	}
}

// An update whose connection the server closes or resets before replying
// is sent again, signed, on a new connection (at most three times in
// all); a reply, whatever its rcode, is never sent again.
func TestUpdateSentAgainWhenTheConnectionDiesBeforeTheReply(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rcode      int
		fate       func(n int) connFate
		wantRead   int    // updates the server read
		wantErr    string // "" for success
		wantAccept int32
	}{
		{"reset before reading, then served", dns.RcodeSuccess,
			firstThenServed(resetFirst), 1, "", 2},
		{"applied but reset instead of the reply, then served", dns.RcodeSuccess,
			firstThenServed(resetReply), 2, "", 2},
		{"reset every time", dns.RcodeSuccess,
			func(int) connFate { return resetFirst }, 0, "sent 3 times, the connection closed before a reply each time", 3},
		{"refused is an answer", dns.RcodeRefused,
			func(int) connFate { return served }, 1, "REFUSED", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startUpdateServer(t, tc.rcode, tc.fate)
			h := NewRFC2136Host(s.addr, TSIG{Name: testKeyName, Algorithm: "hmac-sha256", Secret: testSecret})
			err := h.Replace(context.Background(), "example.test.", []Replacement{
				{Name: "www.example.test.", Type: "A", TTL: 60, From: []string{"192.0.2.1"}, To: []string{"192.0.2.1"}},
			})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Replace: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), s.addr)):
				t.Fatalf("Replace: %v, want an error naming %s and saying %q", err, s.addr, tc.wantErr)
			}
			read, signed := s.counts()
			if read != tc.wantRead || signed != read {
				t.Errorf("server read %d updates, %d of them signed; want %d, all signed", read, signed, tc.wantRead)
			}
			if got := s.listener.accepted.Load(); got != tc.wantAccept {
				t.Errorf("%d connections, want %d", got, tc.wantAccept)
			}
		})
	}
}
