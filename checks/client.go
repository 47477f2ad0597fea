// Package checks asks live DNS servers questions and judges the answers:
// it finds a zone's delegation by iterating from the root, asks every parent
// and every child server, validates the chain of trust itself and reports
// findings with the evidence that supports them.
package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Client sends single DNS questions to named servers. It is safe for
// concurrent use; Parallel bounds the questions in flight at once.
type Client struct {
	timeout time.Duration
	sem     chan struct{}
	sent    atomic.Int64
}

// NewClient returns a client whose every question is bounded by timeout and
// of which at most parallel are in flight at once.
func NewClient(timeout time.Duration, parallel int) *Client {
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	if parallel <= 0 {
		parallel = 16
	}
	return &Client{timeout: timeout, sem: make(chan struct{}, parallel)}
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

// Ask sends q with EDNS0 and the DO bit over UDP, and again over TCP when
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
	m.SetEdns0(1232, true)

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

// WithPort adds :53 to an address that has no port.
func WithPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, "53")
}
