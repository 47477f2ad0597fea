package providerstest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/miekg/dns"

	"github.com/dnsmigrate/dnsmigrate/providers"
)

// TransferHost is a DNS host whose servers hand out the zone by transfer
// from a table of records per server (as zone-file lines), refusing the
// servers it was told to; it counts the transfers. Its other methods are
// not there (a nil providers.Host).
type TransferHost struct {
	providers.Host
	serial    uint32 // of the zone handed out; 0 means 1
	mu        sync.Mutex
	zone      map[string][]string
	refuse    map[string]bool
	transfers map[string]int
}

// NewTransferHost returns a host whose servers in refuse refuse transfers.
func NewTransferHost(refuse ...string) *TransferHost {
	h := &TransferHost{zone: map[string][]string{}, refuse: map[string]bool{}, transfers: map[string]int{}}
	for _, s := range refuse {
		h.refuse[s] = true
	}
	return h
}

// Transfer hands out server's zone, between its SOA records.
func (h *TransferHost) Transfer(_ context.Context, server, zone string, each func(dns.RR)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.transfers[server]++
	if h.refuse[server] {
		return errors.New("axfr " + zone + " from " + server + ": bad xfr rcode: 5")
	}
	soa, _ := dns.NewRR(fmt.Sprintf("%s 3600 IN SOA ns1.%s h.%s %d 7200 3600 1209600 300", zone, zone, zone, max(h.serial, 1)))
	each(soa)
	for _, line := range h.zone[server] {
		rr, err := dns.NewRR(line)
		if err != nil {
			return err
		}
		each(rr)
	}
	each(soa)
	return nil
}

// Set makes server hand out lines, at the next serial.
func (h *TransferHost) Set(server string, lines ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.zone[server] = lines
	h.serial++
}

// Count is how many transfers server was asked for.
func (h *TransferHost) Count(server string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.transfers[server]
}
