package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/dnsmigrate/dnsmigrate/lab"
	"github.com/spf13/cobra"
)

func newLabCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run a real DNS hierarchy (BIND 9, Knot DNS, PowerDNS, six resolvers) on loopback",
		Long: `lab runs a signed root and TLD, provider OLD (two BIND 9 servers), provider
NEW (two Knot DNS servers), provider PDNS (two PowerDNS Authoritative servers on
one database, with the HTTP API), four validating resolvers (Unbound, BIND 9,
Knot Resolver, PowerDNS Recursor) and two non-validating Unbound resolvers, on
loopback addresses of one /24 (default ` + lab.DefaultPrefix + `). It needs root
(to add the addresses to lo) and the Debian packages that 'make deps' installs.`,
	}
	cmd.PersistentFlags().String("prefix", lab.DefaultPrefix, "loopback /24 the lab's servers live in")
	cmd.PersistentFlags().Bool("ipv6", true, "run a third parent server on [::1]:53 (IPv6 only) unless another lab holds it")
	cmd.PersistentFlags().String("dir", "", "where the lab keeps configs, zones, keys and logs (default: a directory under $TMPDIR named after the prefix)")
	config := func(c *cobra.Command) (lab.Config, error) {
		v, err := settings(c)
		if err != nil {
			return lab.Config{}, err
		}
		cfg := lab.Config{Prefix: v.GetString("prefix"), Dir: v.GetString("dir"), IPv6: v.GetBool("ipv6"), DelegateTo: v.GetString("delegate-to")}.WithDefaults()
		_, err = cfg.Addrs()
		return cfg, err
	}
	// sub is a lab subcommand: its flags resolved to the lab's config,
	// then run.
	sub := func(use, short string, args cobra.PositionalArgs, run func(c *cobra.Command, cfg lab.Config, args []string) error) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: args, RunE: func(c *cobra.Command, args []string) error {
			cfg, err := config(c)
			if err != nil {
				return err
			}
			return run(c, cfg, args)
		}}
	}
	up := sub("up", "Start the lab, or leave it be if it already runs", cobra.NoArgs, func(c *cobra.Command, cfg lab.Config, _ []string) error {
		t0 := time.Now()
		l, err := lab.Up(c.Context(), cfg)
		if err != nil {
			return err
		}
		v6 := "without the IPv6 parent server (another lab holds [::1]:53, or --ipv6=false)"
		if l.IPv6 {
			v6 = "with a parent server on " + lab.IPv6Addr
		}
		fmt.Fprintf(c.OutOrStdout(), "lab up in %s (%s), %s; `migrate lab env` prints its addresses\n", time.Since(t0).Round(time.Millisecond), l.Config.Dir, v6)
		return nil
	})
	up.Flags().String("delegate-to", lab.DelegateOld, "the provider the zone starts delegated to, with its DS: "+strings.Join(lab.Delegations, ", "))
	down := sub("down", "Stop the lab's servers and remove its addresses and files", cobra.NoArgs, func(c *cobra.Command, cfg lab.Config, _ []string) error {
		if err := lab.Down(c.Context(), cfg); err != nil {
			return err
		}
		fmt.Fprintln(c.OutOrStdout(), "lab down")
		return nil
	})
	env := sub("env", "Print the lab's addresses, TSIG key names and files, and trust anchor as shell variables", cobra.NoArgs, func(c *cobra.Command, cfg lab.Config, _ []string) error {
		l, err := lab.Open(cfg)
		if err != nil {
			return err
		}
		for _, e := range l.Env() {
			fmt.Fprintf(c.OutOrStdout(), "export %s=%s\n", e.Name, shellQuote(e.Value))
		}
		return nil
	})
	brk := sub("break FAULT", "Put a fault into the running lab: "+strings.Join(lab.Faults, " or "), cobra.ExactArgs(1), func(c *cobra.Command, cfg lab.Config, args []string) error {
		l, err := lab.Open(cfg)
		if err != nil {
			return err
		}
		if err := l.Break(c.Context(), args[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.OutOrStdout(), "lab broken: %s (`migrate lab repair` undoes it)\n", args[0])
		return nil
	})
	brk.ValidArgs = lab.Faults
	repair := sub("repair", "Undo every fault: restart stopped servers, restore the DS, flush the resolvers", cobra.NoArgs, func(c *cobra.Command, cfg lab.Config, _ []string) error {
		l, err := lab.Open(cfg)
		if err != nil {
			return err
		}
		if err := l.Repair(c.Context()); err != nil {
			return err
		}
		fmt.Fprintln(c.OutOrStdout(), "lab repaired")
		return nil
	})
	cmd.AddCommand(up, down, env, brk, repair)
	return cmd
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '/' || r == '-' || r == '_' || r == ':' || r == ',') {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}
