package checks

import (
	"fmt"
	"io"
	"strings"

	"github.com/dnsmigrate/dnsmigrate/internal/jsonio"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	return jsonio.Write(w, r)
}

// WriteText writes the report for a person: the verdict and counts on the
// first line, then the findings, most severe first, each with its fix and
// evidence, then what every server said.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d critical, %d warning, %d info\n", r.Zone, strings.ToUpper(string(r.Status)),
		r.Count(Critical), r.Count(Warning), r.Count(Info))
	fmt.Fprintf(&b, "  path %s; %d parent server addresses, %d zone server addresses, %d resolvers; %d queries in %d ms\n",
		strings.Join(r.Path, " -> "), len(r.ParentServers), len(r.ChildServers), len(r.Resolvers), r.Queries, r.DurationMS)
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n%s %s: %s\n", strings.ToUpper(f.Severity.String()), f.ID, f.Summary)
		fmt.Fprintf(&b, "  fix: %s\n", f.Fix)
		for _, e := range f.Evidence {
			writeEvidence(&b, e)
		}
	}
	fmt.Fprintf(&b, "\nparent %s:\n", r.Parent)
	for _, p := range r.ParentServers {
		fmt.Fprintf(&b, "  %-22s %-18s ", p.Name, p.Server)
		if !p.Answered {
			fmt.Fprintf(&b, "no answer: %s\n", p.Error)
			continue
		}
		fmt.Fprintf(&b, "NS %s (ttl %d)", strings.Join(p.NS, " "), p.NSTTL)
		if len(p.DS) == 0 {
			fmt.Fprintf(&b, ", no DS (negative ttl %d)\n", p.NegTTL)
			continue
		}
		fmt.Fprintf(&b, ", DS %s (ttl %d)\n", strings.Join(dsShort(p.DS), " "), p.DSTTL)
	}
	fmt.Fprintf(&b, "zone servers:\n")
	for _, c := range r.ChildServers {
		fmt.Fprintf(&b, "  %-22s %-18s ", c.Name, c.Server)
		if !c.Answered {
			fmt.Fprintf(&b, "no answer: %s\n", c.Error)
			continue
		}
		aa := ""
		if !c.Authoritative {
			aa = " NOT AUTHORITATIVE"
		}
		var keys []string
		for _, k := range c.DNSKEY {
			role := "ZSK"
			if k.KSK {
				role = "KSK"
			}
			keys = append(keys, fmt.Sprintf("%d/%d %s", k.Tag, k.Algorithm, role))
		}
		if len(keys) == 0 {
			keys = []string{"none"}
		}
		fmt.Fprintf(&b, "serial %d, NS %s, DNSKEY %s%s\n", c.Serial, strings.Join(c.NS, " "), strings.Join(keys, ", "), aa)
	}
	if len(r.Resolvers) > 0 {
		fmt.Fprintf(&b, "resolvers:\n")
		for _, v := range r.Resolvers {
			if v.Error != "" {
				fmt.Fprintf(&b, "  %-18s no answer: %s\n", v.Server, v.Error)
				continue
			}
			kind := "not validating"
			if v.Validating {
				kind = "validating"
			}
			ad := ""
			if v.AD {
				ad = " ad"
			}
			fmt.Fprintf(&b, "  %-18s %s: %s%s, with +cd %s\n", v.Server, kind, v.RCODE, ad, v.RCODECD)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeEvidence(b *strings.Builder, e Evidence) {
	fmt.Fprintf(b, "  - %s %s: ", e.Server, e.Question)
	if e.Error != "" {
		fmt.Fprintf(b, "no answer: %s\n", e.Error)
	} else {
		fmt.Fprintf(b, "%s [%s]", e.RCODE, e.Flags)
		if e.TTL != nil {
			fmt.Fprintf(b, " ttl %d", *e.TTL)
		}
		b.WriteString("\n")
		if e.Meaning != "" {
			fmt.Fprintf(b, "      rcode %s\n", e.Meaning)
		}
	}
	for _, a := range e.Answer {
		fmt.Fprintf(b, "      %s\n", a)
	}
	if e.Note != "" {
		fmt.Fprintf(b, "      note: %s\n", e.Note)
	}
}

// dsShort writes "tag algorithm digest-type digest" as
// tag/alg/type/first-8-digest-digits: enough to tell two DS apart.
func dsShort(ds []string) []string {
	var out []string
	for _, d := range ds {
		f := strings.Fields(d)
		if len(f) >= 4 {
			digest := strings.Join(f[3:], "")
			if len(digest) > 8 {
				digest = digest[:8] + "…"
			}
			out = append(out, f[0]+"/"+f[1]+"/"+f[2]+"/"+digest)
		} else {
			out = append(out, d)
		}
	}
	return out
}
