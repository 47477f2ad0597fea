package lab

import (
	"fmt"
	"net/netip"
	"strings"
)

// zoneText renders a zone file. Records are written relative to nothing:
// every owner is absolute, so the text is easy to read in a test failure.
func zoneText(origin string, ttl int, records []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL %d\n", origin, ttl)
	for _, r := range records {
		b.WriteString(r)
		b.WriteByte('\n')
	}
	return b.String()
}

func soa(zone, mname string, serial uint32, negTTL int) string {
	rname := "hostmaster." + strings.TrimPrefix(zone, ".")
	return fmt.Sprintf("%s SOA %s %s %d 30 10 3600 %d", zone, mname, rname, serial, negTTL)
}

func rootZone(c Config, a map[Role]netip.Addr, ipv6 bool) string {
	d := seconds(c.DelegationTTL)
	records := []string{
		soa(".", "ns.root.", 1, seconds(c.NegativeTTL)),
		". NS ns.root.",
		"ns.root. A " + a[RoleRoot].String(),
		fmt.Sprintf("%s %d NS ns1.nic.%s", TLD, d, TLD),
		fmt.Sprintf("%s %d NS ns2.nic.%s", TLD, d, TLD),
		fmt.Sprintf("ns1.nic.%s %d A %s", TLD, d, a[RoleTLD]),
		fmt.Sprintf("ns2.nic.%s %d A %s", TLD, d, a[RoleTLD2]),
	}
	if ipv6 {
		// The third registry server has an IPv6 address only.
		records = append(records,
			fmt.Sprintf("%s %d NS ns3.nic.%s", TLD, d, TLD),
			fmt.Sprintf("ns3.nic.%s %d AAAA ::1", TLD, d))
	}
	return zoneText(".", 60, records)
}

// tldZone is the registry's zone. The OLD provider's servers are named inside
// the child (so the delegation needs glue); the NEW provider's are host
// records of the registry, as a DNS host's own names would be.
func tldZone(c Config, a map[Role]netip.Addr, ipv6 bool, delegateTo string) string {
	d := seconds(c.DelegationTTL)
	ns, _ := delegated(delegateTo)
	records := []string{
		soa(TLD, "ns1.nic."+TLD, 1, seconds(c.NegativeTTL)),
		TLD + " NS ns1.nic." + TLD,
		TLD + " NS ns2.nic." + TLD,
		"ns1.nic." + TLD + " A " + a[RoleTLD].String(),
		"ns2.nic." + TLD + " A " + a[RoleTLD2].String(),
		fmt.Sprintf("%s %d NS %s", UnsignedZone, d, OldNS[0]),
		fmt.Sprintf("%s %d NS %s", UnsignedZone, d, OldNS[1]),
		fmt.Sprintf("%s %d NS %s", Zone, d, ns[0]),
		fmt.Sprintf("%s %d NS %s", Zone, d, ns[1]),
		fmt.Sprintf("%s A %s", NewNS[0], a[RoleNew1]),
		fmt.Sprintf("%s A %s", NewNS[1], a[RoleNew2]),
		fmt.Sprintf("%s A %s", PDNSNS[0], a[RolePDNS1]),
		fmt.Sprintf("%s A %s", PDNSNS[1], a[RolePDNS2]),
	}
	if delegateTo == DelegateOld {
		// OLD's names are inside the zone: the delegation carries glue.
		records = append(records,
			fmt.Sprintf("%s %d A %s", OldNS[0], d, a[RoleOld1]),
			fmt.Sprintf("%s %d A %s", OldNS[1], d, a[RoleOld2]))
	}
	if ipv6 {
		records = append(records, TLD+" NS ns3.nic."+TLD, "ns3.nic."+TLD+" AAAA ::1")
	}
	return zoneText(TLD, 60, records)
}

// Name server names of the two providers.
var (
	OldNS = [2]string{"ns1." + Zone, "ns2." + Zone}
	NewNS = [2]string{"ns1.newdns." + TLD, "ns2.newdns." + TLD}
	// PDNSNS are the PowerDNS provider's, host records of the registry.
	PDNSNS = [2]string{"ns1.pdns." + TLD, "ns2.pdns." + TLD}
)

// childZone is a customer zone as one provider serves it: the same records
// on both providers, each with its own apex NS set. The OLD provider's
// server names live in example.lab., so that zone carries their addresses.
func childZone(c Config, a map[Role]netip.Addr, z string, ns [2]string) string {
	records := []string{
		soa(z, ns[0], 1, seconds(c.NegativeTTL)),
		fmt.Sprintf("%s %d NS %s", z, seconds(c.ApexNSTTL), ns[0]),
		fmt.Sprintf("%s %d NS %s", z, seconds(c.ApexNSTTL), ns[1]),
	}
	if z == Zone {
		records = append(records, OldNS[0]+" A "+a[RoleOld1].String(), OldNS[1]+" A "+a[RoleOld2].String())
	}
	records = append(records,
		z+" A 192.0.2.80",
		z+" AAAA 2001:db8::80",
		"www."+z+" A 192.0.2.80",
		"www."+z+" AAAA 2001:db8::80",
		z+" MX 10 mail."+z,
		"mail."+z+" A 192.0.2.25",
		z+` TXT "v=spf1 mx -all"`,
		"blog."+z+" CNAME www."+z,
		"_sip._tcp."+z+" SRV 10 5 5060 sip."+z,
		"sip."+z+" A 192.0.2.50",
	)
	return zoneText(z, seconds(c.RecordTTL), records)
}

func rootHints(a map[Role]netip.Addr) string {
	return ". 3600000 NS ns.root.\nns.root. 3600000 A " + a[RoleRoot].String() + "\n"
}
