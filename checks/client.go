// Package checks asks live DNS servers questions and judges the answers:
// it finds a zone's delegation by iterating from the root, asks every parent
// and every child server, validates the chain of trust itself and reports
// findings with the evidence that supports them.
package checks

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/time/rate"
)

// Client sends single DNS questions to named servers. It is safe for
// concurrent use; Parallel bounds the questions in flight at once. UDP
// questions go over connected sockets kept per server and reused (as
// dnsperf does), read into pooled buffers, matched to their question by
// ID and question; a truncated answer is asked again over TCP. Questions
// to a resolver (RD) are paced per resolver so that a large check never
// trips a public resolver's client limit.
type Client struct {
	timeout time.Duration
	sem     chan struct{}
	sent    atomic.Int64
	rate    rate.Limit

	mu       sync.Mutex
	idle     map[string][]*net.UDPConn // connected sockets per server, free
	limiters map[string]*rate.Limiter  // per resolver
	bufs     sync.Pool
}

// DefaultResolverRate is how many questions a second a client sends one
// resolver at most: public resolvers document limits around 1,500 per
// client address.
const DefaultResolverRate = 1000

// DefaultTimeout bounds each question where no timeout is given: the
// command line's --timeout default.
const DefaultTimeout = 3 * time.Second

// NewClient returns a client whose every question is bounded by timeout
// (DefaultTimeout if none) and of which at most parallel are in flight at
// once.
func NewClient(timeout time.Duration, parallel int) *Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if parallel <= 0 {
		parallel = 16
	}
	c := &Client{timeout: timeout, sem: make(chan struct{}, parallel), rate: DefaultResolverRate,
		idle: map[string][]*net.UDPConn{}, limiters: map[string]*rate.Limiter{}}
	c.bufs.New = func() any { b := make([]byte, 65535); return &b }
	return c
}

// SetResolverRate sets how many questions a second one resolver is sent
// at most (0: no limit).
func (c *Client) SetResolverRate(perSecond float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rate = rate.Limit(perSecond)
	if perSecond <= 0 {
		c.rate = rate.Inf
	}
	c.limiters = map[string]*rate.Limiter{}
}

// Sent is the number of DNS messages sent so far (a TCP retry counts).
func (c *Client) Sent() int64 { return c.sent.Load() }

// Question is one query to one server.
type Question struct {
	Server string // host:port
	Name   string
	Type   uint16
	RD     bool // recursion desired: true for resolvers
	CD     bool // checking disabled
	// Plain asks without the DO bit, for an answer whose signatures no
	// verdict reads: smaller replies, nothing to decode.
	Plain bool
}

func (q Question) String() string {
	return dns.Fqdn(q.Name) + " " + dns.TypeToString[q.Type]
}

// Reply is what one server said, or why it said nothing.
type Reply struct {
	Question
	Msg       *dns.Msg
	Transport string // udp or tcp
	RTT       time.Duration
	Err       error
}

// OK reports whether the server answered at all.
func (r Reply) OK() bool { return r.Err == nil && r.Msg != nil }

// Ask sends q with EDNS0 and the DO bit (unless Plain) over UDP, and again over TCP when
// the answer is truncated. It never returns an error: a failure is in
// Reply.Err, with the server named.
func (c *Client) Ask(ctx context.Context, q Question) Reply {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return Reply{Question: q, Err: ctx.Err()}
	}
	defer func() { <-c.sem }()

	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(q.Name), q.Type)
	m.RecursionDesired = q.RD
	m.CheckingDisabled = q.CD
	m.SetEdns0(1232, !q.Plain)

	r := Reply{Question: q, Transport: "udp"}
	r.Msg, r.RTT, r.Err = c.exchange(ctx, m, "udp", q.Server)
	if r.Err == nil && r.Msg.Truncated {
		r.Transport = "tcp"
		r.Msg, r.RTT, r.Err = c.exchange(ctx, m, "tcp", q.Server)
	}
	if r.Err != nil {
		r.Msg = nil
		r.Err = fmt.Errorf("%s %s over %s: %w", q.Server, q, r.Transport, r.Err)
	}
	return r
}

func (c *Client) exchange(ctx context.Context, m *dns.Msg, network, server string) (*dns.Msg, time.Duration, error) {
	c.sent.Add(1)
	if network == "udp" {
		return c.exchangeUDP(ctx, m, server)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl := &dns.Client{Net: network, Timeout: c.timeout, UDPSize: 1232}
	resp, rtt, err := cl.ExchangeContext(ctx, m, server)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, rtt, fmt.Errorf("timeout after %s", c.timeout)
		}
		return nil, rtt, err
	}
	if resp.Id != m.Id {
		return nil, rtt, fmt.Errorf("reply id %d does not match query id %d", resp.Id, m.Id)
	}
	return resp, rtt, nil
}

// exchangeUDP asks over a connected socket of the server's, reused: the
// first reply that matches the query's ID and question is the answer;
// others (late replies to an earlier question on this socket, or forged
// ones) are read past until the deadline.
func (c *Client) exchangeUDP(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, time.Duration, error) {
	if l := c.limiter(server, m.RecursionDesired); l != nil {
		if err := l.Wait(ctx); err != nil {
			return nil, 0, err
		}
	}
	conn, err := c.conn(server)
	if err != nil {
		return nil, 0, err
	}
	bp := c.bufs.Get().(*[]byte)
	defer c.bufs.Put(bp)
	buf := *bp
	out, err := m.PackBuffer(buf)
	if err != nil {
		conn.Close()
		return nil, 0, err
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	start := time.Now()
	if _, err := conn.Write(out); err != nil {
		conn.Close()
		return nil, time.Since(start), err
	}
	mismatch := ""
	for {
		n, err := conn.Read(buf)
		rtt := time.Since(start)
		if err != nil {
			conn.Close()
			var ne net.Error
			switch {
			case ctx.Err() != nil:
				return nil, rtt, ctx.Err()
			case errors.As(err, &ne) && ne.Timeout() && mismatch != "":
				return nil, rtt, fmt.Errorf("%s, and no matching reply within %s", mismatch, c.timeout)
			case errors.As(err, &ne) && ne.Timeout():
				return nil, rtt, fmt.Errorf("timeout after %s", c.timeout)
			}
			return nil, rtt, err
		}
		if n < 12 || binary.BigEndian.Uint16(buf) != m.Id {
			if n >= 2 {
				mismatch = fmt.Sprintf("reply id %d does not match query id %d", binary.BigEndian.Uint16(buf), m.Id)
			}
			continue
		}
		resp := new(dns.Msg)
		if err := resp.Unpack(buf[:n]); err != nil {
			conn.Close()
			return nil, rtt, err
		}
		if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, m.Question[0].Name) || resp.Question[0].Qtype != m.Question[0].Qtype {
			mismatch = fmt.Sprintf("reply to another question (%v)", resp.Question)
			continue
		}
		c.release(server, conn)
		return resp, rtt, nil
	}
}

// conn takes a free connected socket to server, or dials one.
func (c *Client) conn(server string) (*net.UDPConn, error) {
	c.mu.Lock()
	if free := c.idle[server]; len(free) > 0 {
		conn := free[len(free)-1]
		c.idle[server] = free[:len(free)-1]
		c.mu.Unlock()
		return conn, nil
	}
	c.mu.Unlock()
	addr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		return nil, err
	}
	return net.DialUDP("udp", nil, addr)
}

// release keeps a socket for the server's next question, up to as many
// as may be in flight.
func (c *Client) release(server string, conn *net.UDPConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.idle[server]) >= cap(c.sem) {
		conn.Close()
		return
	}
	c.idle[server] = append(c.idle[server], conn)
}

// limiter paces questions to one resolver (rd: recursion desired); nil
// when they are not paced.
func (c *Client) limiter(server string, rd bool) *rate.Limiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !rd || c.rate == rate.Inf {
		return nil
	}
	l, ok := c.limiters[server]
	if !ok {
		l = rate.NewLimiter(c.rate, max(1, int(c.rate)/10))
		c.limiters[server] = l
	}
	return l
}

// Close closes the sockets kept for reuse.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s, free := range c.idle {
		for _, conn := range free {
			conn.Close()
		}
		delete(c.idle, s)
	}
}

// WithPort adds :53 to an address that has no port.
func WithPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, "53")
}
