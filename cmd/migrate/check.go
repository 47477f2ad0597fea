package main

import (
	"fmt"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/spf13/cobra"
)

func newCheckCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check ZONE",
		Short: "Diagnose a zone's live delegation and DNSSEC chain of trust",
		Long: `check iterates from the root to the zone's parent, asks every parent server
for the zone's NS, glue and DS, asks every one of the zone's servers for its
SOA, NS and DNSKEY, validates the chain of trust itself, and asks each given
resolver with and without checking disabled.

Exit status: 0 no critical finding, 3 at least one critical finding,
1 the check itself could not run.`,
		Args: cobra.ExactArgs(1),
	}
	f := cmd.Flags()
	f.String("root", "", "root server to iterate from, ADDR[:PORT] (default: the public root servers)")
	f.String("trust-anchor", "", "trust anchor file: DS or DNSKEY records in zone-file format (default: the IANA root anchor)")
	f.StringSlice("resolver", nil, "resolver to ask, validating or not, ADDR[:PORT] (repeatable)")
	f.Bool("json", false, "print the report as JSON")
	f.Duration("timeout", checks.DefaultTimeout, "timeout of each query")
	f.Int("parallel", 16, "queries in flight at once")
	f.Bool("ipv6", false, "also ask name servers at their IPv6 addresses")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		v, err := settings(cmd)
		if err != nil {
			return err
		}
		opts := checks.Options{
			Resolvers: list(v, "resolver"),
			Timeout:   v.GetDuration("timeout"),
			Parallel:  v.GetInt("parallel"),
			IPv6:      v.GetBool("ipv6"),
		}
		if opts.Timeout <= 0 {
			return fmt.Errorf("--timeout must be positive, got %s", opts.Timeout)
		}
		if r := v.GetString("root"); r != "" {
			opts.Roots = []string{r}
		}
		if p := v.GetString("trust-anchor"); p != "" {
			a, err := checks.LoadAnchors(p)
			if err != nil {
				return err
			}
			opts.Anchors = &a
		}
		rep, err := checks.New(opts).Check(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if v.GetBool("json") {
			err = rep.WriteJSON(cmd.OutOrStdout())
		} else {
			err = rep.WriteText(cmd.OutOrStdout())
		}
		if err != nil {
			return err
		}
		if rep.Count(checks.Critical) > 0 {
			return &exitCode{code: exitCritical}
		}
		return nil
	}
	return cmd
}
