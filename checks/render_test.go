package checks

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output:\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

// bogusReport is a report as the DS-mismatch lab produces it, written out
// so that rendering is tested without servers.
func bogusReport() *Report {
	ttl := uint32(10)
	return &Report{
		Zone: "example.lab.", Status: Bogus, Parent: "lab.", Path: []string{".", "lab.", "example.lab."},
		Time: time.Date(2026, 11, 21, 23, 0, 0, 123e6, time.UTC), DurationMS: 6, Queries: 21,
		ParentServers: []ParentServer{
			{Server: "127.60.0.2:53", Name: "ns1.nic.lab.", Answered: true, NS: []string{"ns1.example.lab.", "ns2.example.lab."}, NSTTL: 10,
				Glue: map[string][]string{"ns1.example.lab.": {"127.60.0.11:53"}}, DS: []string{"30795 13 2 00AA"}, DSTTL: 10, DSOrigTTL: 10, NegTTL: 5},
			{Server: "127.60.0.3:53", Name: "ns2.nic.lab.", Error: "127.60.0.3:53 example.lab. NS over udp: timeout after 1s"},
		},
		ChildServers: []ChildServer{
			{Server: "127.60.0.11:53", Name: "ns1.example.lab.", Answered: true, Authoritative: true, Serial: 5, NS: []string{"ns1.example.lab.", "ns2.example.lab."}, NSTTL: 30,
				DNSKEY: []KeyInfo{{Tag: 30795, Algorithm: 13, Flags: 257, KSK: true}}, DNSKEYTTL: 20},
		},
		Resolvers: []ResolverResult{
			{Server: "127.60.0.53:53", Validating: true, RCODE: "SERVFAIL", RCODECD: "NOERROR"},
			{Server: "127.60.0.54:53", RCODE: "NOERROR", RCODECD: "NOERROR"},
		},
		Findings: []Finding{
			{ID: DSMismatch, Severity: Critical, Summary: "no DS at the parent matches any DNSKEY", Fix: "Replace the DS.",
				Evidence: []Evidence{{Server: "127.60.0.2:53", Question: "example.lab. DS", RCODE: "NOERROR", Meaning: ExplainRcode(0), Flags: "qr aa", TTL: &ttl, Answer: []string{"example.lab. 10 IN DS 30795 13 2 00AA"}}}},
			{ID: ParentUnreachable, Severity: Warning, Summary: "parent server ns2.nic.lab. gave no usable answer", Fix: "Tell the registry.",
				Evidence: []Evidence{{Server: "127.60.0.3:53", Question: "example.lab. NS", Error: "timeout after 1s"}}},
		},
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := bogusReport().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.txt", b.Bytes())
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := bogusReport().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", b.Bytes())
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Findings[0].Severity != Critical || back.Status != Bogus {
		t.Errorf("round trip lost severity or status: %+v", back.Findings[0])
	}
}

func TestSortFindings(t *testing.T) {
	fs := []Finding{{ID: "b", Severity: Info}, {ID: "z", Severity: Critical}, {ID: "a", Severity: Warning}, {ID: "c", Severity: Critical}}
	sortFindings(fs)
	var got string
	for _, f := range fs {
		got += f.ID
	}
	if got != "czab" {
		t.Errorf("order = %s, want czab (most severe first, then by id)", got)
	}
}
