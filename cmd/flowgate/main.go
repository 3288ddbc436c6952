// Command flowgate is the flowgate binary: an Argus-native flow sensor and
// interop gateway. This package holds flags and configuration only.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes one command line and returns the process exit status.
func run(args []string) int {
	root := &cobra.Command{
		Use:           "flowgate",
		Short:         "Argus-native flow sensor and flow-format gateway",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRaCmd(), newConvertCmd(), newSensorCmd(), newMappingCmd(), newConformanceCmd(), newGatewayCmd(), newMigrateCmd())
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		var st exitStatus
		if asExit(err, &st) {
			if st.err != nil {
				fmt.Fprintln(os.Stderr, "flowgate:", st.err)
			}
			return st.code
		}
		fmt.Fprintln(os.Stderr, "flowgate:", err)
		return 2
	}
	return 0
}

// exitStatus carries a specific exit code through cobra (ra exits 1 when
// nothing matched).
type exitStatus struct {
	code int
	err  error
}

func (e exitStatus) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func asExit(err error, st *exitStatus) bool {
	if e, ok := err.(exitStatus); ok {
		*st = e
		return true
	}
	return false
}
