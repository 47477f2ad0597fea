package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// slowLink stands in front of one lab server on a port of its own on
// 127.0.0.1 and adds a round trip to every exchange: a UDP question is forwarded
// after delay and its reply relayed back; a TCP connection is joined to
// the server after delay. It emulates a distant server on loopback, where
// no packet leaves the machine; the server answering is the real one.
type slowLink struct {
	Addr  string // host:port to ask instead of the server
	delay time.Duration
	to    string
	udp   *net.UDPConn
	tcp   *net.TCPListener
	wg    sync.WaitGroup
}

func newSlowLink(t testing.TB, server string, delay time.Duration) *slowLink {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("slow link to %s: %v", server, err)
	}
	port := udp.LocalAddr().(*net.UDPAddr).Port
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		udp.Close()
		t.Fatalf("slow link to %s: %v", server, err)
	}
	s := &slowLink{Addr: udp.LocalAddr().String(), delay: delay, to: server, udp: udp, tcp: tcp}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(s.close)
	return s
}

func (s *slowLink) close() {
	s.udp.Close()
	s.tcp.Close()
	s.wg.Wait()
}

func (s *slowLink) serveUDP() {
	defer s.wg.Done()
	for {
		buf := make([]byte, dns.MaxMsgSize)
		n, from, err := s.udp.ReadFromUDP(buf)
		if err != nil {
			return
		}
		s.wg.Add(1)
		time.AfterFunc(s.delay, func() {
			defer s.wg.Done()
			up, err := net.Dial("udp", s.to)
			if err != nil {
				return
			}
			defer up.Close()
			_ = up.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := up.Write(buf[:n]); err != nil {
				return
			}
			reply := make([]byte, dns.MaxMsgSize)
			m, err := up.Read(reply)
			if err != nil {
				return
			}
			_, _ = s.udp.WriteToUDP(reply[:m], from)
		})
	}
}

func (s *slowLink) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		time.AfterFunc(s.delay, func() {
			defer s.wg.Done()
			defer c.Close()
			up, err := net.Dial("tcp", s.to)
			if err != nil {
				return
			}
			defer up.Close()
			done := make(chan struct{})
			go func() { _, _ = io.Copy(up, c); close(done) }()
			_, _ = io.Copy(c, up)
			<-done
		})
	}
}

// roundTrip is one SOA question's round trip to server for zone.
func roundTrip(ctx context.Context, server, zone string) (time.Duration, error) {
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	c := &dns.Client{Timeout: 3 * time.Second}
	r, rtt, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return 0, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return 0, errors.New(dns.RcodeToString[r.Rcode])
	}
	return rtt, nil
}
