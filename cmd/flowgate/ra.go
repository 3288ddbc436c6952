package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/ratext"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/flow/filter"
	"github.com/spf13/cobra"
)

func newRaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ra [ra options] [- filter]",
		Short: "Read Argus data and print or write it, with ra's flags",
		Long: `flowgate ra reads Argus 3.x and 5.x data (files, directories, stdin;
gzip, bzip2, xz and zstd detected by content) and prints it like Argus's ra,
with ra's flags: -r file... -R dir... -s fields -n -nn -u -p digits -c char
-L n -N count -t range -M json|man -w file -3 -X, and a filter expression
after "-" in ra's filter language.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "-h" || a == "--help" {
					return cmd.Help()
				}
			}
			a, err := parseRaArgs(args)
			if err != nil {
				return exitStatus{code: 2, err: err}
			}
			return runRa(a, os.Stdin, os.Stdout)
		},
	}
}

// raJob is one ra run, assembled from its arguments.
type raJob struct {
	a        *raArgs
	filt     *filter.Filter
	printMan bool
	tr       *timeRange
	printer  *ratext.Printer
	writer   *argus.Writer
	out      *bufio.Writer
	n        int64 // records read
	matched  int64
	done     bool
	json     bool
	pool     *raPool // parallel printing, when it applies
	header   string  // header line for the pool's writer
	dialect  int     // 3 or 5 from -M ra3/ra5; 0 follows the input's version
	rec      flow.Record
}

func runRa(a *raArgs, stdin io.Reader, stdout io.Writer) error {
	j := &raJob{a: a}
	if a.filter != "" {
		f, err := filter.Compile(a.filter)
		if err != nil {
			return exitStatus{code: 2, err: err}
		}
		j.filt = f
	}
	for _, m := range a.modes {
		switch m {
		case "json":
			j.json = true
		case "ra3":
			j.dialect = 3
		case "ra5":
			j.dialect = 5
		case "man":
			j.printMan = true
		case "noman":
			j.printMan = false
		default:
			return exitStatus{code: 2, err: fmt.Errorf("ra: -M %s is not supported by flowgate ra", m)}
		}
	}
	if a.timeRange != "" {
		tr, err := parseTimeRange(a.timeRange, time.Now())
		if err != nil {
			return exitStatus{code: 2, err: err}
		}
		j.tr = tr
	}
	j.out = bufio.NewWriterSize(stdout, 256<<10)
	if a.write != "" {
		w := io.Writer(j.out)
		var f *os.File
		if a.write != "-" {
			var err error
			// ra appends to an existing file; we replace it, like every
			// other tool users pipe into (documented in the README).
			f, err = os.Create(a.write)
			if err != nil {
				return exitStatus{code: 2, err: err}
			}
			defer f.Close()
			w = bufio.NewWriterSize(f, 256<<10)
		}
		version := 5
		if a.v3 {
			version = 3
		}
		wr, err := argus.NewWriter(w, version)
		if err != nil {
			return exitStatus{code: 2, err: err}
		}
		j.writer = wr
		defer func() {
			if bw, ok := w.(*bufio.Writer); ok && f != nil {
				bw.Flush()
			}
		}()
	}

	inputs, err := a.inputs()
	if err != nil {
		return exitStatus{code: 2, err: err}
	}
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	var firstErr error
	for _, name := range inputs {
		if j.done {
			break
		}
		if err := j.readFile(name, stdin); err != nil {
			fmt.Fprintln(os.Stderr, "flowgate ra:", err)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if j.printer == nil && j.writer == nil {
		// No readable input: still print the header line, as ra does.
		if err := j.newPrinter(5); err != nil {
			return err
		}
	}
	if j.pool != nil {
		bad, err := j.pool.close()
		if err != nil {
			return exitStatus{code: 2, err: err}
		}
		for _, name := range inputs {
			if n := bad[name]; n > 0 {
				fmt.Fprintf(os.Stderr, "flowgate ra: %s: %d corrupt or truncated place(s)\n", name, n)
				if firstErr == nil {
					firstErr = fmt.Errorf("%s: corrupt input", name)
				}
			}
		}
	}
	if j.printer != nil {
		if err := j.printer.Flush(); err != nil {
			return exitStatus{code: 2, err: err}
		}
	}
	if j.writer != nil {
		if err := j.writer.Close(); err != nil {
			return exitStatus{code: 2, err: err}
		}
	}
	if err := j.out.Flush(); err != nil && !errors.Is(err, os.ErrClosed) {
		return exitStatus{code: 2, err: err}
	}
	if firstErr != nil {
		return exitStatus{code: 2}
	}
	if j.matched == 0 {
		return exitStatus{code: 1}
	}
	return nil
}

// newPrinter builds the printer once the first input's version is known:
// ra 3.0.8.2 and ra 5 print some columns differently, and users reading a
// 3.x archive expect what their ra 3 shows. -M ra3 / -M ra5 override it.
func (j *raJob) newPrinter(version int) error {
	a := j.a
	fields := ratext.DefaultFields
	if len(a.fields) > 0 {
		var err error
		fields, err = ratext.EditFields(ratext.DefaultFields, strings.Join(a.fields, " "))
		if err != nil {
			return exitStatus{code: 2, err: err}
		}
	}
	o := ratext.Options{
		Fields:    fields,
		Delim:     a.delim,
		NFlag:     a.nflag,
		UnixTime:  a.unix,
		Precision: 6,
		JSON:      j.json,
		Compat3:   version == 3,
	}
	switch j.dialect {
	case 3:
		o.Compat3 = true
	case 5:
		o.Compat3 = false
	}
	if a.prec == 0 {
		o.Precision = -1 // ratext: negative means no fraction digits
	} else if a.prec > 0 {
		o.Precision = a.prec
	}
	if a.hasLabels {
		o.Labels = a.labels
	}
	p, err := ratext.NewPrinter(j.out, o)
	if err != nil {
		return exitStatus{code: 2, err: err}
	}
	j.printer = p
	if parallelOK(o) {
		j.header = p.Header()
		if j.pool, err = newRaPool(j, o); err != nil {
			return exitStatus{code: 2, err: err}
		}
	}
	return nil
}

// inputs lists -r files then the files under -R directories, in order.
func (a *raArgs) inputs() ([]string, error) {
	files := append([]string(nil), a.files...)
	for _, d := range a.dirs {
		var found []string
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != d && strings.HasPrefix(e.Name(), ".") {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if e.Type().IsRegular() {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

func (j *raJob) readFile(name string, stdin io.Reader) error {
	var in io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	opts := []argus.Option{argus.WithFileName(name)}
	if j.writer == nil {
		opts = append(opts, argus.WithoutRewriteCheck())
	}
	rd, err := argus.NewReader(in, opts...)
	if err != nil {
		return err
	}
	if j.printer == nil && j.writer == nil {
		if err := j.newPrinter(rd.Version()); err != nil {
			return err
		}
	}
	if j.pool != nil {
		return j.frameFile(name, rd)
	}
	var bad badInput
	for !j.done {
		off := rd.Offset()
		rec := &j.rec
		err := rd.Decode(rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			if stop, err := bad.skip(rd, err); stop || err != nil {
				return bad.result(name, rd, err)
			}
			continue
		}
		print, err := j.handle(rec)
		if err != nil || !print {
			if err != nil {
				return err
			}
			continue
		}
		j.printer.SetOffset(off)
		if err := j.printer.Print(rec); err != nil {
			return err
		}
	}
	return bad.result(name, rd, nil)
}

// frameFile feeds the records of rd to the printing pool: -N is applied
// here, in input order; decoding, -t and the filter run in the workers.
func (j *raJob) frameFile(name string, rd *argus.Reader) error {
	var bad badInput
	for !j.done {
		raw, off, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if stop, err := bad.skip(rd, err); stop || err != nil {
				return bad.result(name, rd, err)
			}
			continue
		}
		if flow.RecordType(raw[0]&0xF0) != flow.TypeMgmt && !j.counted() {
			continue
		}
		j.pool.add(name, rd, raw, off)
	}
	return bad.result(name, rd, nil)
}

// badInput counts the corrupt or truncated places of one input.
type badInput int

// skip reports a decode error with its location, skips to the next good
// record and keeps going, so the records around a bad one are not lost.
// It says stop at the end of the input; other errors (I/O) are returned.
func (b *badInput) skip(rd *argus.Reader, err error) (stop bool, _ error) {
	var de *codecs.DecodeError
	if !errors.As(err, &de) {
		return true, err
	}
	*b++
	if *b <= maxReported {
		fmt.Fprintln(os.Stderr, "flowgate ra:", err)
	}
	return rd.Resync() == io.EOF, nil
}

// result is what reading the input gives: err, or a summary of the bad
// places, or nil.
func (b badInput) result(name string, rd *argus.Reader, err error) error {
	if err != nil || b == 0 {
		return err
	}
	sb, sr := rd.Skipped()
	return fmt.Errorf("%s: %d corrupt or truncated place(s), %d bytes skipped in %d region(s)", name, int(b), sb, sr)
}

// maxReported bounds the decode errors printed per input; the rest are
// only counted.
const maxReported = 10

// counted applies -N to the next flow record: whether it is in range.
// It ends the job after the last one.
func (j *raJob) counted() bool {
	j.n++
	ok, more := j.a.count.in(j.n)
	if !more {
		j.done = true
	}
	return ok
}

// selected applies -t and the filter. It is safe for concurrent use.
func (j *raJob) selected(r *flow.Record) bool {
	if r.Type != flow.TypeMgmt && j.tr != nil && !j.tr.match(r.Start, r.Last) {
		return false
	}
	return j.filt == nil || j.filt.Match(r)
}

// handle applies -N, -t and the filter to r, writes it when -w is given,
// and reports whether it is to be printed.
func (j *raJob) handle(r *flow.Record) (print bool, err error) {
	mgmt := r.Type == flow.TypeMgmt
	if !mgmt && !j.counted() {
		return false, nil
	}
	if mgmt && j.writer != nil {
		// A written file keeps its management records whatever the filter,
		// so that readers find the MAR they expect first.
		return false, j.writer.Encode(r)
	}
	if !j.selected(r) {
		return false, nil
	}
	j.matched++
	if j.writer != nil {
		return false, j.writer.Encode(r)
	}
	return !mgmt || j.printMan, nil
}
