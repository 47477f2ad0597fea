package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/internal/jsonio"
)

// Exit codes of propagation.
const (
	exitPending = 2 // some server still shows the old answer, legally
	exitStale   = 3 // some server is stale, unexpected or in error
)

func newPropagationCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "propagation NAME TYPE --expect VALUE --since TIME",
		Short: "Tell, per resolver and authoritative server, whether a change has landed, is still legally pending, or is stale",
		Long: `propagation asks every authoritative server of NAME's zone (found by
iteration from the root) and each --resolver for NAME TYPE, and judges each:

  updated     it answers the new value (--expect)
  pending     it answers the old value, legally: a cache may hold it until
              --since plus the old TTL; the time left is shown
  stale       it answers the old value after that deadline: a failure
  error       no answer, or an error RCODE (explained)
  unexpected  neither the old (--old) nor the new value

The deadline uses the TTL each resolver reports, capped by the TTL the
authoritative servers serve (or --old-ttl). Without --old, any answer other
than the new one counts as old.

Exit status: 0 all updated, 2 some pending and none worse, 3 any stale,
unexpected or error, 1 the check could not run.`,
		Args: cobra.ExactArgs(2),
	}
	f := cmd.Flags()
	f.StringSlice("expect", nil, "the new value, as zone-file data (repeatable for a set)")
	f.StringSlice("old", nil, "the old value (repeatable); without it any other answer counts as old")
	f.String("since", "", "when the change was made: RFC 3339 (2026-11-21T12:00:00Z) or a duration ago (90s)")
	f.Duration("old-ttl", 0, "the longest a cache may hold the old answer (default: the authoritative TTL)")
	f.StringSlice("resolver", nil, "resolver to ask, ADDR[:PORT] (repeatable)")
	f.String("root", "", "root server to iterate from, ADDR[:PORT] (default: the public root servers)")
	f.Bool("json", false, "print the verdicts as JSON")
	f.Duration("timeout", checks.DefaultTimeout, "timeout of each query")
	f.Int("parallel", 64, "queries in flight at once")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		v, err := settings(cmd)
		if err != nil {
			return err
		}
		since, err := parseSince(v.GetString("since"), time.Now())
		if err != nil {
			return err
		}
		change, err := checks.NewChange(args[0], args[1], list(v, "expect"), list(v, "old"), since)
		if err != nil {
			return err
		}
		change.OldTTL = v.GetDuration("old-ttl")
		opts := checks.Options{Timeout: v.GetDuration("timeout"), Parallel: v.GetInt("parallel")}
		if r := v.GetString("root"); r != "" {
			opts.Roots = []string{r}
		}
		seen, err := checks.New(opts).Propagation(cmd.Context(), []checks.Change{change}, list(v, "resolver"), time.Now())
		if err != nil {
			return err
		}
		count := map[checks.Verdict]int{}
		for _, s := range seen {
			count[s.Verdict]++
		}
		if v.GetBool("json") {
			err = jsonio.Write(cmd.OutOrStdout(), struct {
				Since string        `json:"since"`
				Seen  []checks.Seen `json:"seen"`
			}{checks.Stamp(since), seen})
		} else {
			err = writeVerdicts(cmd, change, seen, count)
		}
		if err != nil {
			return err
		}
		switch {
		case count[checks.Stale]+count[checks.Unexpected]+count[checks.Error] > 0:
			return &exitCode{code: exitStale}
		case count[checks.Pending] > 0:
			return &exitCode{code: exitPending}
		}
		return nil
	}
	return cmd
}

func writeVerdicts(cmd *cobra.Command, ch checks.Change, seen []checks.Seen, count map[checks.Verdict]int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s -> %s, changed %s\n", ch.Name, seen0Type(seen), strings.Join(ch.Expect, " "), checks.Stamp(ch.Since))
	for _, s := range seen {
		fmt.Fprintf(&b, "  %-10s %-20s %-13s ", s.Verdict, s.Server, s.Role)
		switch s.Verdict {
		case checks.Error:
			if s.Error != "" {
				b.WriteString(s.Error)
			} else {
				b.WriteString(s.Meaning)
			}
		default:
			fmt.Fprintf(&b, "%s ttl %d", strings.Join(s.Answer, " "), s.TTL)
			if s.Verdict == checks.Pending {
				fmt.Fprintf(&b, ", may stay until %s (%s left)", s.Deadline, s.Left)
			}
			if s.Verdict == checks.Stale {
				fmt.Fprintf(&b, ", its deadline %s has passed", s.Deadline)
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%d updated, %d pending, %d stale, %d unexpected, %d error\n",
		count[checks.Updated], count[checks.Pending], count[checks.Stale], count[checks.Unexpected], count[checks.Error])
	_, err := fmt.Fprint(cmd.OutOrStdout(), b.String())
	return err
}

func seen0Type(seen []checks.Seen) string {
	if len(seen) == 0 {
		return ""
	}
	return seen[0].Type
}

// parseSince reads an RFC 3339 time or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("--since is required: when the change was made (RFC 3339, or a duration ago such as 90s)")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time (2026-11-21T12:00:00Z) or a duration ago (90s)", s)
}
