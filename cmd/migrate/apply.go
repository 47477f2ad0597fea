package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/dnsmigrate/dnsmigrate/apply"
	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/cmd/migrate/hint"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

func newApplyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apply (-f SPEC | PLAN)",
		Short: "Execute a migration, proving each step live; resumes after a crash",
		Long: `apply executes the plan of a spec (-f SPEC, planned now) or a saved plan
(refused when the live state has drifted from what it observed). Each step's
change is proven at every server involved before the next step starts; every
transition is journaled in the zone's state directory (output.state_dir/<zone>/,
default $XDG_STATE_HOME/dnsmigrate or ~/.local/state/dnsmigrate), so running
apply again after a crash or Ctrl-C resumes without repeating an action or
shortening a wait; change logs go to output.dir/<zone>/. A second apply on the
same zone is refused while one runs, and while a move is unfinished both hosts
serve a _dnsmigrate TXT marker naming its plan, so a plan or apply of the zone
from anywhere else is refused too. --take-over PLAN-ID continues a move whose
run is gone (its machine lost): from its journal when its state directory was
copied here, else from the live state and the marker, which carries the TTLs
lowered. While it runs, a watchdog asks the resolvers every second and halts
the run on any failure.

--dry-run reads the live state, walks every step against a simulated clock,
changes nothing and writes the change log it would write.

Exit status: 0 done (or nothing to do), 1 error, refusal or stop.`,
		Args: cobra.MaximumNArgs(1),
	}
	f := cmd.Flags()
	f.StringP("file", "f", "", "migration spec (YAML); plan it now")
	runFlags(f)
	f.Float64("unsafe-test-wait-scale", 1, "TEST ONLY: multiply every wait (below 1 causes outages)")
	_ = f.MarkHidden("unsafe-test-wait-scale")
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return runApply(cmd, args, false) }
	return cmd
}

func runApply(cmd *cobra.Command, args []string, reverse bool) error {
	{
		v, err := settings(cmd)
		if err != nil {
			return err
		}
		o := apply.ApplyOptions{SpecFile: v.GetString("file"), Env: os.Getenv, DryRun: v.GetBool("dry-run"), Reverse: reverse, Force: v.GetBool("force"), TakeOver: v.GetString("take-over"),
			Out: cmd.OutOrStdout(), Words: hint.Stop, TTY: isTerminal(os.Stdout) && cmd.OutOrStdout() == os.Stdout, WaitScale: v.GetFloat64("unsafe-test-wait-scale")}
		switch {
		case len(args) == 1 && o.SpecFile != "":
			return errors.New("give either -f SPEC or a saved PLAN, not both")
		case len(args) == 1:
			o.PlanFile = args[0]
		case o.SpecFile == "":
			return errors.New("give -f SPEC or a saved PLAN (from `migrate plan --out`)")
		}
		timeout := v.GetDuration("timeout")
		o.NewEnv = func(ctx context.Context, s *spec.Spec) (plan.Env, error) {
			return plan.NewEnv(ctx, s, cmd.OutOrStdout(), timeout)
		}
		if !o.DryRun && !v.GetBool("yes") {
			if !isTerminal(os.Stdin) {
				return errors.New("apply changes live DNS: confirm with --yes (stdin is not a terminal)")
			}
			o.Confirm = func(p *plan.Plan) bool {
				_ = p.WriteText(cmd.OutOrStdout())
				fmt.Fprintf(cmd.OutOrStdout(), "\nApply these %d steps to %s? Only 'yes' is accepted: ", len(p.Steps), p.Spec.Zone)
				line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
				return strings.TrimSpace(line) == "yes"
			}
		}
		cl, ws, err := apply.Apply(cmd.Context(), o)
		if errors.Is(err, plan.ErrNothingToDo) {
			fmt.Fprintln(cmd.OutOrStdout(), "Nothing to do: the live state already is the target.")
			return nil
		}
		if cl != nil {
			name := "changelog"
			if o.DryRun {
				name = "dry-run-changelog"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "result: %s; change log: %s (and .json)\n", cl.Result, ws.Path(name+".md"))
		}
		return err
	}
}

// runFlags are the flags apply and rollback share.
func runFlags(f *pflag.FlagSet) {
	f.Bool("dry-run", false, "change nothing; walk the steps on a simulated clock")
	f.Bool("yes", false, "do not ask for confirmation (required when stdin is not a terminal)")
	f.Bool("force", false, "records: allow changing more than 30% of a zone's records")
	f.String("take-over", "", "take over the move of `PLAN-ID` (named by the zone's marker), begun elsewhere and gone: resume its journal if the state directory holds it, else plan the rest from the live state and the marker's original TTLs")
	f.Duration("timeout", checks.DefaultTimeout, "timeout of each DNS query")
}

// isTerminal reports whether f is a terminal (not merely a character
// device such as /dev/null).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func newRollbackCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollback -f SPEC",
		Short: "Move the zone back to the spec's from provider, safely, from wherever it is now",
		Long: `rollback plans the move back (from and to swapped: the providers of a
nameservers move, the values of each change of a records cutover) from the
live state and applies it like apply: every wait kept, every step proven,
journaled in the zone's state directory (<zone>.rollback/), resumable. Steps already in place are not sent
again; the TTLs the forward move lowered are put back.`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringP("file", "f", "", "the migration spec of the move to undo")
	runFlags(f)
	_ = cmd.MarkFlagRequired("file")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runApply(cmd, nil, true)
	}
	return cmd
}
