package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/flowgate/flowgate/mappings"
	"github.com/spf13/cobra"
)

// newMappingCmd is `flowgate mapping`: look at mapping files before any
// traffic flows through them.
func newMappingCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mapping",
		Short: "Check, explain and list mapping files",
		Long: `A mapping file says how the fields of one external schema (IPFIX, NetFlow
v9, Zeek conn.log, a JSON dialect, CSV) become canonical fields and back.
Built-in mappings are embedded; a user file (--mapping FILE) overrides or
extends the built-in one of its schema. See the mappings package doc for
the file format.`,
	}
	var base string
	var strict bool
	check := &cobra.Command{
		Use:   "check FILE|BUILTIN",
		Short: "Report every canonical field the target cannot carry, every narrowing and every rule that is not reversible",
		Long: `check loads a mapping (a file, or a built-in by name), merged over the
built-in --builtin NAME if given, and reports before any traffic flows:
every canonical field the external schema cannot carry, every narrowing,
and every rule that is not reversible. Load errors name file:line:col and
the path inside the file; they exit 1. With --strict, a narrowing or an
irreversible rule exits 2.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := openMapping(args[0], base)
			if err != nil {
				return err
			}
			rep := mappings.Check(f)
			fmt.Fprint(cmd.OutOrStdout(), rep.Text())
			if strict && rep.Count(mappings.Narrowing)+rep.Count(mappings.NotReversible) > 0 {
				return exitStatus{2, fmt.Errorf("mapping %s: %d narrowing, %d not reversible", args[0], rep.Count(mappings.Narrowing), rep.Count(mappings.NotReversible))}
			}
			return nil
		},
	}
	check.Flags().StringVar(&base, "builtin", "", "merge FILE over this built-in mapping (see `flowgate mapping list`)")
	check.Flags().BoolVar(&strict, "strict", false, "exit 2 when a rule narrows or is not reversible")
	explain := &cobra.Command{
		Use:   "explain FROM TO",
		Short: "Print the compiled plan from one schema to another as a table",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := openMapping(args[0], "")
			if err != nil {
				return err
			}
			to, err := openMapping(args[1], "")
			if err != nil {
				return err
			}
			s, err := mappings.Explain(from, to)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), s)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the built-in mappings",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), strings.Join(mappings.Builtins(), "\n"))
		},
	}
	cmd.AddCommand(check, explain, list)
	return cmd
}

// openMapping loads a built-in by name or a file by path, merged over the
// built-in base when base is not empty.
func openMapping(arg, base string) (*mappings.File, error) {
	var f *mappings.File
	var err error
	if _, serr := os.Stat(arg); serr != nil && !strings.ContainsAny(arg, "/.") {
		f, err = mappings.Builtin(arg)
	} else {
		f, err = mappings.LoadFile(arg)
	}
	if err != nil {
		var es mappings.Errors
		if errors.As(err, &es) {
			return nil, exitStatus{1, fmt.Errorf("%d errors:\n%s", len(es), es.Error())}
		}
		return nil, err
	}
	if base == "" {
		return f, nil
	}
	b, err := mappings.Builtin(base)
	if err != nil {
		return nil, err
	}
	return mappings.Merge(b, f)
}
