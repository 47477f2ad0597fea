package providers

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// Transferrer is an optional interface for a host whose servers hand the
// zone out by AXFR to the host's key. Reading the zone, proving a TTL gate
// and checking parity then cost one transfer per server instead of one
// question per RRset per server (400,000 questions for a zone of 100,000
// RRsets at four servers). A server that refuses the transfer is asked
// question by question, as for any other host.
type Transferrer interface {
	// Transfer streams every record server serves for zone (signatures
	// and NSEC records included) to each. An empty server is the host's
	// own.
	Transfer(ctx context.Context, server, zone string, each func(dns.RR)) error
}

// transferTimeout bounds one zone transfer's dial and each read.
const transferTimeout = 30 * time.Second

// Transfer reads zone from server by AXFR signed with the host's key,
// without the text round trip of libdns's GetRecords (every record
// printed, then parsed back: most of the time and memory of reading a zone
// of 100,000 RRsets).
func (h *RFC2136Host) Transfer(ctx context.Context, server, zone string, each func(dns.RR)) error {
	if server == "" {
		server = h.Server
	}
	zone = dns.Fqdn(zone)
	c, err := (&net.Dialer{Timeout: transferTimeout}).DialContext(ctx, "tcp", server)
	if err != nil {
		return fmt.Errorf("axfr %s from %s: %w", zone, server, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	m := new(dns.Msg)
	m.SetAxfr(zone)
	tr := &dns.Transfer{Conn: &dns.Conn{Conn: c}, ReadTimeout: transferTimeout, WriteTimeout: transferTimeout}
	if h.KeyName != "" {
		name := dns.Fqdn(h.KeyName)
		m.SetTsig(name, dns.Fqdn(h.KeyAlg), 300, time.Now().Unix())
		tr.TsigSecret = map[string]string{name: h.Key}
	}
	envs, err := tr.In(m, server)
	if err != nil {
		return fmt.Errorf("axfr %s from %s: %w", zone, server, err)
	}
	var failed error
	for e := range envs {
		if failed != nil {
			continue // drain: In's goroutine ends when the channel is read
		}
		if e.Error != nil {
			failed = e.Error
			if ctx.Err() != nil {
				failed = ctx.Err()
			}
			continue
		}
		for _, rr := range e.RR {
			each(rr)
		}
	}
	if failed != nil {
		return fmt.Errorf("axfr %s from %s: %w", zone, server, failed)
	}
	return nil
}
