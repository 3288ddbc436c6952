package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/csv"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/mappings"
)

// csvDialect is --dialect for a csv: endpoint: argus (ra's -c , labels)
// unless named; "ra" means the same.
func csvDialect(o convertOpts) (string, error) {
	d := o.dialect
	if d == "" || d == dialectRa {
		d = "argus"
	}
	if !slices.Contains(csv.Dialects, d) {
		return "", fmt.Errorf("convert: --dialect %q: want one of %v for csv", o.dialect, csv.Dialects)
	}
	return d, nil
}

func csvOpts(o convertOpts) []csv.Option {
	if o.mapping == "" {
		return nil
	}
	return []csv.Option{csv.WithMapping(o.mapping)}
}

// csvProblem counts one kind of input problem and remembers where it
// was first seen.
type csvProblem struct {
	n     int64
	first string
}

// csvSource reads CSV in a dialect. A record that does not parse is an
// error naming its file and line, unless --lossy: then it is skipped, or
// (a value the mapping cannot convert) read without that value, unless
// that is part of the flow key (a management record of ra's, an ARP
// flow), and counted.
type csvSource struct {
	streamSource
	in      gateway.Endpoint
	dialect string
	rd      *csv.Reader
	lossy   bool
	skipped map[string]*csvProblem // reason -> count
	left    map[string]*csvProblem // column -> values left out
}

func openCSVSource(in gateway.Endpoint, o convertOpts) (*csvSource, error) {
	d, err := csvDialect(o)
	if err != nil {
		return nil, err
	}
	s := &csvSource{in: in, dialect: d, lossy: o.lossy,
		skipped: map[string]*csvProblem{}, left: map[string]*csvProblem{}}
	r, err := s.open(in, o.stdin)
	if err != nil {
		return nil, err
	}
	name := in.Path
	if in.IsStdio() {
		name = "stdin"
	}
	s.rd, err = csv.NewReader(r, d, append(csvOpts(o), csv.WithFileName(name))...)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("convert: %s: %w", in, err)
	}
	s.dec, s.onErr = s.rd, s.problem
	return s, nil
}

func (s *csvSource) note(m map[string]*csvProblem, key string, pe *csv.ParseError) {
	p := m[key]
	if p == nil {
		p = &csvProblem{first: fmt.Sprintf("line %d", pe.Line)}
		if pe.Msg != "" {
			p.first += ": " + pe.Msg
		}
		m[key] = p
	}
	p.n++
}

// problem takes a record's parse error: without --lossy it stops the
// source; with it the record is skipped, or kept without the value that
// did not convert unless that is part of the flow key (a management
// record of ra's, an ARP flow), and counted.
func (s *csvSource) problem(err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) || errors.Is(err, csv.ErrNoHeader) {
		return err
	}
	if !s.lossy {
		return fmt.Errorf("%w (use --lossy to skip such records, or leave out values that do not convert, and count them)", err)
	}
	switch {
	case !pe.Partial:
		s.note(s.skipped, "malformed", pe)
		return errSkipRecord
	case pe.Canonical == "src_addr" || pe.Canonical == "dst_addr" || pe.Canonical == "protocol":
		// A record without its flow key is not a flow (ra's
		// management records, ARP: Proto man, arp).
		s.note(s.skipped, "no flow key ("+pe.Column+" does not convert)", pe)
		return errSkipRecord
	}
	s.note(s.left, pe.Column, pe)
	return nil
}

func printProblems(w io.Writer, label string, m map[string]*csvProblem) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-17s %d %s (first at %s)\n", label, m[k].n, k, m[k].first)
	}
}

func (s *csvSource) report(w io.Writer) {
	st := s.rd.Stats()
	fmt.Fprintf(w, "  records read      %d (CSV, %s dialect)\n", s.read, s.dialect)
	if u := s.rd.Unmapped(); len(u) > 0 {
		fmt.Fprintf(w, "  columns not read  %d: %s (the dialect has no canonical field for them)\n", len(u), strings.Join(u, ","))
	}
	printProblems(w, "values left out", s.left)
	printProblems(w, "records skipped", s.skipped)
	if st.Summary {
		fmt.Fprintf(w, "  nfdump summary    not records, not read\n")
	}
}

// csvSink writes CSV in a dialect.
type csvSink struct {
	out     gateway.Endpoint
	dialect string
	bw      *bufio.Writer
	f       *os.File
	w       *csv.Writer
	lossy   bool
	oneWay  bool  // the dialect has no reverse counters
	reverse int64 // biflows whose reverse counts were left out (--lossy)
	nonIP   int64 // flows without an IP flow key, not written (--lossy)
	written int64
	mgmt    int64
	lost    int64
}

func openCSVSink(out gateway.Endpoint, o convertOpts) (*csvSink, error) {
	d, err := csvDialect(o)
	if err != nil {
		return nil, err
	}
	f, err := csv.Mapping(d, o.mapping)
	if err != nil {
		return nil, fmt.Errorf("convert: --dialect %s: %w", d, err)
	}
	oneWay := false
	for _, x := range mappings.Check(f).Findings {
		if x.Kind == mappings.NotCarried && (x.Canonical == "dst_pkts" || x.Canonical == "dst_bytes") {
			oneWay = true
		}
	}
	w, file, err := openOutput(out, o.stdout)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	cw, err := csv.NewWriter(bw, d, csvOpts(o)...)
	if err != nil {
		if file != nil {
			file.Close()
		}
		return nil, fmt.Errorf("convert: %s: %w", out, err)
	}
	return &csvSink{out: out, dialect: d, bw: bw, f: file, w: cw, lossy: o.lossy, oneWay: oneWay}, nil
}

func (s *csvSink) write(recs []flow.Record) error {
	for i := range recs {
		r := &recs[i]
		if r.Type == flow.TypeMgmt {
			s.mgmt++
			continue
		}
		if r.Has&flow.HasKey != 0 && r.Key.AddrType != flow.AddrIPv4 && r.Key.AddrType != flow.AddrIPv6 {
			if !s.lossy {
				return fmt.Errorf("convert: %s: record %d: %w", s.out, s.written+1, &codecs.NotRepresentableError{Format: "csv " + s.dialect,
					Field: "saddr", Reason: "a flow without IP addresses (ARP, layer 2): the dialect has no hardware addresses or ether types (use --lossy to leave such flows out and count them)"})
			}
			s.nonIP++
			continue
		}
		if s.oneWay && (r.Pkts[flow.Dst] != 0 || r.Bytes[flow.Dst] != 0) {
			if !s.lossy {
				return fmt.Errorf("convert: %s: record %d: %w", s.out, s.written+1, &codecs.NotRepresentableError{Format: "csv " + s.dialect,
					Field: "dpkts", Reason: "the dialect's records are one-way: the reverse direction's packets and bytes have no column (use --lossy to leave them out and count them)"})
			}
			s.reverse++
		}
		if err := s.w.Encode(r); err != nil {
			// The writer leaves the value's field empty and says so.
			if !errors.Is(err, codecs.ErrNotRepresentable) || !s.lossy {
				return fmt.Errorf("convert: %s: record %d: %w (use --lossy to leave such values out and count them)", s.out, s.written+1, err)
			}
			s.lost++
		}
		s.written++
	}
	return nil
}

func (s *csvSink) flush() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	return s.bw.Flush()
}

func (s *csvSink) close() error {
	return finishOutput(s.w.Close(), s.bw, s.f)
}

func (s *csvSink) report(w io.Writer) {
	fmt.Fprintf(w, "  sink              %s (CSV, %s dialect: %d columns)\n", s.out, s.dialect, len(s.w.Columns()))
	fmt.Fprintf(w, "  records written   %d\n", s.written)
	if s.lost > 0 {
		fmt.Fprintf(w, "  not representable %d records had a value the dialect cannot hold (field left empty)\n", s.lost)
	}
	if s.reverse > 0 {
		fmt.Fprintf(w, "  reverse left out  %d biflows' reverse packets and bytes (one-way dialect)\n", s.reverse)
	}
	if s.nonIP > 0 {
		fmt.Fprintf(w, "  not representable %d flows without IP addresses (ARP, layer 2) left out\n", s.nonIP)
	}
	if s.mgmt > 0 {
		fmt.Fprintf(w, "  management        %d Argus MARs not written\n", s.mgmt)
	}
}
