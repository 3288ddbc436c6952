package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func newConformanceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Conformance checks of flowgate's own conversions",
	}
	var only string
	var tmp string
	var keep bool
	mx := &cobra.Command{
		Use:   "matrix",
		Short: "Print the round-trip matrix (A -> B -> A for every pair of formats and canonical field) as Markdown",
		Long: `matrix writes, for every format A, one record per canonical field (a
value chosen to be hard: ns times, 33-bit counters, 32-bit AS numbers,
IPv6) as A, converts it A to B and B back to A with convert --lossy
--report, for every format B, and checks every field: preserved, reported
by B's conversion report (a declared lossy rule, or not representable by
B), not held by A to begin with, or SILENT (changed or lost with no
word). It prints a summary and a table per A; the exit status is 1 if a
cell is SILENT.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var fs []string
			if only != "" {
				fs = strings.Split(only, ",")
			}
			m, err := RunMatrix(MatrixOptions{Dir: tmp, Formats: fs, Keep: keep})
			if err != nil {
				return err
			}
			m.WriteMarkdown(os.Stdout)
			if n := len(m.Silent()); n > 0 {
				return exitStatus{code: 1, err: fmt.Errorf("conformance matrix: %d SILENT cells", n)}
			}
			return nil
		},
	}
	mx.Flags().StringVar(&only, "formats", "", "only these formats (comma-separated: argus,nf5,json-ecs ...)")
	mx.Flags().StringVar(&tmp, "tmpdir", "", "directory for the temporary files (default the system's)")
	mx.Flags().BoolVar(&keep, "keep", false, "keep the files written (A.0 the seed as A, A-B.1 as B, A-B.2 back as A)")
	cmd.AddCommand(mx)
	return cmd
}
