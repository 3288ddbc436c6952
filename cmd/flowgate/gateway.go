package main

import (
	"errors"
	"fmt"

	"github.com/flowgate/flowgate/gateway/config"
	"github.com/spf13/cobra"
)

// errGatewayNotYet is what `flowgate gateway` without --check says until
// the daemon lands (issue 6): the config loads, nothing runs it yet.
var errGatewayNotYet = errors.New("gateway: running the daemon is not implemented yet; --check validates a config")

// newGatewayCmd is `flowgate gateway`: the long-running service of issue 6.
// This slice loads and checks its config.
func newGatewayCmd() *cobra.Command {
	var file string
	var check bool
	cmd := &cobra.Command{
		Use:   "gateway [-c FILE] [--check]",
		Short: "Run the flow gateway from a config file (for now: --check it)",
		Long: `gateway runs pipelines of sources, an optional ra filter, an optional
mapping, and sinks, as a config file says (see the gateway/config package
doc for the format). Without -c it uses the embedded default: NetFlow/IPFIX
on UDP 2055 and 4739, Argus served on TCP 561, rotated Argus v5 files under
./data, JSON lines on stdout.

--check loads and validates the config and prints its pipelines; a bad file
exits 1 with every error as file:line:col: path: what.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var c *config.Config
			var err error
			if file == "" {
				c, err = config.LoadDefault()
			} else {
				c, err = config.LoadFile(file)
			}
			if err != nil {
				var es config.Errors
				if errors.As(err, &es) {
					// One error a line, each file:line:col first, as
					// compilers print them (editors jump to them).
					fmt.Fprintln(cmd.ErrOrStderr(), es)
					return exitStatus{1, fmt.Errorf("gateway: %d error(s) in %s", len(es), es[0].File)}
				}
				return exitStatus{1, fmt.Errorf("gateway: %w", err)}
			}
			if !check {
				return exitStatus{2, errGatewayNotYet}
			}
			fmt.Fprint(cmd.OutOrStdout(), c.Summary())
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config `FILE` (default: the embedded default config)")
	cmd.Flags().BoolVar(&check, "check", false, "validate the config, print its pipelines and exit")
	return cmd
}
