package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/spf13/cobra"
)

func newConvertCmd() *cobra.Command {
	var src, dst string
	var report, lossy bool
	cmd := &cobra.Command{
		Use:   "convert -r [format:]SRC -w [format:]DST",
		Short: "Convert flow records from one source to one sink",
		Long: `convert reads every record of SRC and writes it to DST.

Endpoints are [format:]path; "-" is stdin or stdout. Formats: argus (Argus
5.x), argus3 (Argus 3.x). A source without a format is detected from its
content; a sink without one is written as argus (5.x).

A value the target cannot hold (a 128-bit monitor id in Argus 3.x, say) is
an error naming the record and the field, unless --lossy is given: then it
is dropped or converted, and counted. --report prints what was preserved and
what was not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if src == "" || dst == "" {
				return fmt.Errorf("convert: both -r and -w are required")
			}
			in, err := gateway.ParseEndpoint(src)
			if err != nil {
				return err
			}
			out, err := gateway.ParseEndpoint(dst)
			if err != nil {
				return err
			}
			return runConvert(in, out, lossy, report, os.Stdin, os.Stdout, os.Stderr)
		},
	}
	cmd.Flags().StringVarP(&src, "read", "r", "", "source `[format:]path` (\"-\" for stdin)")
	cmd.Flags().StringVarP(&dst, "write", "w", "", "sink `[format:]path` (\"-\" for stdout)")
	cmd.Flags().BoolVar(&report, "report", false, "print what was converted and what could not be represented")
	cmd.Flags().BoolVar(&lossy, "lossy", false, "drop or convert values the sink cannot hold, and count them, instead of failing")
	return cmd
}

// convertStats is what --report prints.
type convertStats struct {
	read, written, mgmt int64
	lost                map[string]int64 // "field: reason" -> count
}

func runConvert(in, out gateway.Endpoint, lossy, report bool, stdin io.Reader, stdout, stderr io.Writer) error {
	var r io.Reader = stdin
	if !in.IsStdio() {
		f, err := os.Open(in.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	switch in.Format {
	case gateway.FormatAuto, gateway.FormatArgus, gateway.FormatArgus3:
	default:
		return fmt.Errorf("convert: cannot read format %q yet", in.Format)
	}
	rd, err := argus.NewReader(r, argus.WithFileName(in.Path))
	if err != nil {
		return fmt.Errorf("convert: %s: %w", in, err)
	}
	if in.Format == gateway.FormatArgus3 && rd.Version() != 3 || in.Format == gateway.FormatArgus && rd.Version() != 5 {
		return fmt.Errorf("convert: %s: stream is Argus %d.x, not %s", in, rd.Version(), in.Format)
	}

	version := 5
	switch out.Format {
	case gateway.FormatAuto, gateway.FormatArgus:
	case gateway.FormatArgus3:
		version = 3
	default:
		return fmt.Errorf("convert: cannot write format %q yet", out.Format)
	}
	var w io.Writer = stdout
	var tmp *os.File
	if !out.IsStdio() {
		f, err := os.Create(out.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		tmp = f
		w = f
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	st := convertStats{lost: map[string]int64{}}
	var opts []argus.Option
	if lossy {
		opts = append(opts, argus.WithLossy(func(field, reason string) {
			st.lost[field+": "+reason]++
		}))
	}
	wr, err := argus.NewWriter(bw, version, opts...)
	if err != nil {
		return err
	}
	var rec flow.Record
	for {
		err := rd.Decode(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		st.read++
		if rec.Type == flow.TypeMgmt {
			st.mgmt++
		}
		if err := wr.Encode(&rec); err != nil {
			var nr *codecs.NotRepresentableError
			if errors.As(err, &nr) {
				return fmt.Errorf("convert: record %d of %s: %w (use --lossy to drop and count such values)", st.read, in, err)
			}
			return fmt.Errorf("convert: record %d of %s: %w", st.read, in, err)
		}
		st.written++
	}
	if err := wr.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if tmp != nil {
		if err := tmp.Close(); err != nil {
			return err
		}
	}
	if report {
		printReport(stderr, in, out, version, &st)
	}
	return nil
}

func printReport(w io.Writer, in, out gateway.Endpoint, version int, st *convertStats) {
	fmt.Fprintf(w, "convert %s -> %s (Argus %d.x)\n", in, out, version)
	fmt.Fprintf(w, "  records read      %d (%d management)\n", st.read, st.mgmt)
	fmt.Fprintf(w, "  records written   %d\n", st.written)
	if len(st.lost) == 0 {
		fmt.Fprintf(w, "  not representable none: every value was preserved\n")
		return
	}
	keys := make([]string, 0, len(st.lost))
	for k := range st.lost {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "  not representable (dropped or converted, per value):\n")
	for _, k := range keys {
		fmt.Fprintf(w, "    %8d  %s\n", st.lost[k], k)
	}
}
