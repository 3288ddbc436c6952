package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/jsonl"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
)

// dialectRa is --dialect's default for JSON sinks: ra 5's -M json lines
// (codecs/ratext), as `flowgate ra -M json` prints them.
const dialectRa = "ra"

func checkDialect(d string, sink bool) error {
	if d == dialectRa && sink || slices.Contains(jsonl.Dialects, d) {
		return nil
	}
	return fmt.Errorf("convert: --dialect %q: want one of ra (sinks only), %v", d, jsonl.Dialects)
}

// jsonlOpts are the codec options of --mapping.
func jsonlOpts(o convertOpts) []jsonl.Option {
	if o.mapping == "" {
		return nil
	}
	return []jsonl.Option{jsonl.WithMapping(o.mapping)}
}

// jsonlSource reads JSON lines in a dialect.
type jsonlSource struct{ streamSource }

func openJSONLSource(in gateway.Endpoint, o convertOpts) (*jsonlSource, error) {
	d := o.dialect
	if d == "" || d == dialectRa {
		d = "argus" // ra's keys, as valid JSON
	}
	if err := checkDialect(d, false); err != nil {
		return nil, err
	}
	s := &jsonlSource{}
	r, err := s.open(in, o.stdin)
	if err != nil {
		return nil, err
	}
	rd, err := jsonl.NewReader(r, d, jsonlOpts(o)...)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("convert: %s: %w", in, err)
	}
	s.dec = rd
	return s, nil
}

// jsonlSink writes JSON lines in a dialect. What a dialect cannot hold is
// the mapping's to say (mappings.Plan.EncodeUnwritten, Declared, OneWay):
// the writer counts every value left out by field, and refuses a record
// only for a loss the mapping does not declare (a one-way dialect's
// reverse counts, a value its rule cannot convert), unless --lossy.
type jsonlSink struct {
	out     gateway.Endpoint
	dialect string
	bw      *bufio.Writer
	f       *os.File
	w       *jsonl.Writer
	lossy   bool
	written int64
	mgmt    int64
	lost    int64 // records with an undeclared loss (--lossy)
}

func openJSONLSink(out gateway.Endpoint, o convertOpts) (*jsonlSink, error) {
	if err := checkDialect(o.dialect, true); err != nil {
		return nil, err
	}
	w, f, err := openOutput(out, o.stdout)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	jw, err := jsonl.NewWriter(bw, o.dialect, jsonlOpts(o)...)
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("convert: %s: %w", out, err)
	}
	return &jsonlSink{out: out, dialect: o.dialect, bw: bw, f: f, w: jw, lossy: o.lossy}, nil
}

func (s *jsonlSink) write(recs []flow.Record) error {
	for i := range recs {
		if recs[i].Type == flow.TypeMgmt {
			s.mgmt++
			continue
		}
		if err := s.w.Encode(&recs[i]); err != nil {
			// The writer leaves the value out of the line and says so.
			if !errors.Is(err, codecs.ErrNotRepresentable) || !s.lossy {
				return fmt.Errorf("convert: %s: record %d: %w (use --lossy to leave such values out and count them)", s.out, s.written+1, err)
			}
			s.lost++
		}
		s.written++
	}
	return nil
}

func (s *jsonlSink) flush() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	return s.bw.Flush()
}

func (s *jsonlSink) close() error {
	return finishOutput(s.w.Close(), s.bw, s.f)
}

func (s *jsonlSink) report(w io.Writer) {
	fmt.Fprintf(w, "  sink              %s (JSON lines, %s dialect)\n", s.out, s.dialect)
	fmt.Fprintf(w, "  records written   %d\n", s.written)
	if s.lost > 0 {
		fmt.Fprintf(w, "  lossy             %d records had a value the dialect cannot hold, left out (--lossy)\n", s.lost)
	}
	st := s.w.Stats()
	for _, fc := range st.Lost() {
		fmt.Fprintf(w, "  not representable %d %s\n", fc.Count, fc.Field)
	}
	if s.mgmt > 0 {
		fmt.Fprintf(w, "  management        %d Argus MARs not written\n", s.mgmt)
	}
}
