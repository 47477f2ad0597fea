package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "migrate",
		Short: "Move a live domain between DNS providers without an outage",
		Long: `migrate moves a live domain between DNS providers, or cuts records over,
without an outage for anyone, validating resolvers included.

  migrate check ZONE              diagnose the live delegation and DNSSEC chain of a zone
  migrate plan -f SPEC            read the spec and the live DNS, print the exact steps
  migrate apply -f SPEC | PLAN    execute them, proving each step; resumes after a crash
  migrate rollback -f SPEC        move the zone back, from wherever it is now
  migrate propagation NAME TYPE   say whether a change has landed at the resolvers
  migrate lab up|down|env         run a real DNS hierarchy on loopback to try it all

Every flag can also be set in the environment as MIGRATE_<FLAG>, dashes as
underscores (MIGRATE_TRUST_ANCHOR for --trust-anchor).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newVersionCmd(), newCheckCmd(), newLabCmd(), newPlanCmd(), newApplyCmd(), newRollbackCmd(), newPropagationCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of migrate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if info, ok := debug.ReadBuildInfo(); ok && v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
				v = info.Main.Version
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "migrate %s (%s, %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

// settings binds a command's flags to MIGRATE_* environment variables
// through a viper instance of its own: a flag given on the command line
// wins, then the environment, then the flag's default.
func settings(cmd *cobra.Command) (*viper.Viper, error) {
	v := viper.New()
	v.SetEnvPrefix("MIGRATE")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if e := v.BindPFlag(f.Name, f); e != nil && err == nil {
			err = fmt.Errorf("flag --%s: %w", f.Name, e)
		}
	})
	return v, err
}

// list reads a repeatable flag that the environment may give as a
// comma- or space-separated list.
func list(v *viper.Viper, key string) []string {
	var out []string
	for _, s := range v.GetStringSlice(key) {
		for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
			out = append(out, p)
		}
	}
	return out
}
