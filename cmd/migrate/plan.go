package main

import (
	"fmt"
	"os"
	"time"

	"github.com/dnsmigrate/dnsmigrate/checks"
	"github.com/dnsmigrate/dnsmigrate/plan"
	"github.com/dnsmigrate/dnsmigrate/spec"
	"github.com/spf13/cobra"
)

// exitChanges is --detailed-exitcode's "changes planned", as Terraform.
const exitChanges = 2

func newPlanCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan -f SPEC",
		Short: "Read the spec and the live DNS, and print the exact ordered steps of the migration",
		Long: `plan reads the spec and the live state (the parent's NS, glue and DS at every
parent server, both providers' records and what every one of their servers
serves), refuses with every reason when the move is not safe to start, and
prints each step with the wait it needs and the formula that gave it.

Exit status: 0 success, 1 error or refusal; with --detailed-exitcode
0 nothing to do, 2 changes planned, 1 error (as Terraform).`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringP("file", "f", "", "migration spec (YAML)")
	f.String("out", "", "also save the plan as JSON to `FILE`, for migrate apply FILE")
	f.Bool("json", false, "print the plan as JSON")
	f.Bool("detailed-exitcode", false, "exit 0 when there is nothing to do, 2 when changes are planned")
	f.Bool("force", false, "records: allow changing more than 30% of a zone's records")
	f.String("take-over", "", "plan the rest of the move of `PLAN-ID` (named by the zone's marker), begun elsewhere and gone: its original TTLs from the marker")
	f.Duration("timeout", checks.DefaultTimeout, "timeout of each DNS query")
	_ = cmd.MarkFlagRequired("file")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		v, err := settings(cmd)
		if err != nil {
			return err
		}
		spec, err := spec.Load(v.GetString("file"), os.Getenv)
		if err != nil {
			return err
		}
		spec.Force = v.GetBool("force")
		for _, w := range spec.SecretFileWarnings() {
			fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+w)
		}
		env, err := plan.NewEnv(cmd.Context(), spec, cmd.ErrOrStderr(), v.GetDuration("timeout"))
		if err != nil {
			return err
		}
		obs, err := plan.Observe(cmd.Context(), env, spec)
		if err != nil {
			return err
		}
		if id := v.GetString("take-over"); id != "" {
			if err := plan.TakeOver(obs, spec, id); err != nil {
				return err
			}
		}
		p, err := plan.Build(spec, obs, time.Now())
		if err != nil {
			return err
		}
		key, err := plan.PlanKey(os.Getenv)
		if err != nil {
			return err
		}
		if key != nil {
			p.Sign(key)
			fmt.Fprintf(cmd.ErrOrStderr(), "plan %s signed with %s (HMAC-SHA256)\n", p.ID, plan.PlanKeyVar)
		}
		if out := v.GetString("out"); out != "" {
			if err := p.Save(out); err != nil {
				return err
			}
		}
		if v.GetBool("json") {
			err = p.WriteJSON(cmd.OutOrStdout())
		} else {
			err = p.WriteText(cmd.OutOrStdout())
		}
		if err != nil {
			return err
		}
		if v.GetBool("detailed-exitcode") && !p.Nothing {
			return &exitCode{code: exitChanges}
		}
		return nil
	}
	return cmd
}
