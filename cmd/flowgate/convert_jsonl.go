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
	"github.com/flowgate/flowgate/mappings"
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

// jsonlSink writes JSON lines in a dialect.
type jsonlSink struct {
	out     gateway.Endpoint
	dialect string
	bw      *bufio.Writer
	f       *os.File
	w       *jsonl.Writer
	lossy   bool
	oneWay  bool  // the dialect has no reverse counters
	reverse int64 // biflows whose reverse counts were left out (--lossy)
	written int64
	mgmt    int64
	lost    int64
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
	oneWay, err := dialectOneWay(o.dialect, o.mapping)
	if err != nil {
		return nil, err
	}
	return &jsonlSink{out: out, dialect: o.dialect, bw: bw, f: f, w: jw, lossy: o.lossy, oneWay: oneWay}, nil
}

// dialectOneWay reports whether a dialect's mapping has no place for the
// reverse direction's packets or bytes (goflow2's records are one-way), so
// that a biflow's reverse counts are not dropped without a word.
func dialectOneWay(dialect, user string) (bool, error) {
	name := "json-" + dialect
	if dialect == "ipfix" {
		name = "ipfix"
	}
	f, err := mappings.Open(name, user)
	if err != nil {
		return false, fmt.Errorf("convert: --dialect %s: %w", dialect, err)
	}
	for _, x := range mappings.Check(f).Findings {
		if x.Kind == mappings.NotCarried && (x.Canonical == "dst_pkts" || x.Canonical == "dst_bytes") {
			return true, nil
		}
	}
	return false, nil
}

func (s *jsonlSink) write(recs []flow.Record) error {
	for i := range recs {
		if recs[i].Type == flow.TypeMgmt {
			s.mgmt++
			continue
		}
		if s.oneWay && (recs[i].Pkts[flow.Dst] != 0 || recs[i].Bytes[flow.Dst] != 0) {
			if !s.lossy {
				return fmt.Errorf("convert: %s: record %d: %w", s.out, s.written+1, &codecs.NotRepresentableError{Format: "json " + s.dialect,
					Field: "dpkts", Reason: "the dialect's records are one-way: the reverse direction's packets and bytes have no key (use --lossy to leave them out and count them)"})
			}
			s.reverse++
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
	err := s.w.Close()
	if ferr := s.bw.Flush(); err == nil {
		err = ferr
	}
	if s.f != nil {
		if cerr := s.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (s *jsonlSink) report(w io.Writer) {
	fmt.Fprintf(w, "  sink              %s (JSON lines, %s dialect)\n", s.out, s.dialect)
	fmt.Fprintf(w, "  records written   %d\n", s.written)
	if s.lost > 0 {
		fmt.Fprintf(w, "  not representable %d records had a value the dialect cannot hold (left out)\n", s.lost)
	}
	if s.reverse > 0 {
		fmt.Fprintf(w, "  reverse left out  %d biflows' reverse packets and bytes (one-way dialect)\n", s.reverse)
	}
	if s.mgmt > 0 {
		fmt.Fprintf(w, "  management        %d Argus MARs not written\n", s.mgmt)
	}
}
