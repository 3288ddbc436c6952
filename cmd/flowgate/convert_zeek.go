package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
)

// zeekSource reads a Zeek conn.log (TSV or JSON lines).
type zeekSource struct {
	f     *os.File
	rd    *zeek.Reader
	read  int64
	recs  []flow.Record
	arena []byte
}

func openZeekSource(in gateway.Endpoint, stdin io.Reader) (*zeekSource, error) {
	s := &zeekSource{recs: make([]flow.Record, 256)}
	r := stdin
	if !in.IsStdio() {
		f, err := os.Open(in.Path)
		if err != nil {
			return nil, err
		}
		s.f, r = f, f
	}
	s.rd = zeek.NewReader(r, zeek.WithFileName(in.Path))
	return s, nil
}

// Serve hands the records over in batches, their bytes copied into an
// arena reused from batch to batch (the reader's line buffer moves on).
func (s *zeekSource) Serve(ctx context.Context, h gateway.Handler) error {
	for ctx.Err() == nil {
		n := 0
		s.arena = s.arena[:0]
		var err error
		for n < len(s.recs) {
			if err = s.rd.Decode(&s.recs[n]); err != nil {
				break
			}
			s.arena = s.recs[n].DetachInto(s.arena)
			s.read++
			n++
		}
		if n > 0 {
			if herr := h(s.recs[:n]); herr != nil {
				return herr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
	}
	return nil
}

func (s *zeekSource) Stats() gateway.Stats { return gateway.Stats{Records: uint64(s.read)} }

func (s *zeekSource) Close() error {
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}

// zeekSink writes a conn.log. From a Zeek source it keeps the source's
// header (column order, #open time, set separator ...), so that a log
// rewrites as it was; the writer is made at the first record, once the
// source has read its header.
type zeekSink struct {
	out     gateway.Endpoint
	json    bool
	hdr     func() *zeek.Header // the source's header, when it is Zeek
	bw      *bufio.Writer
	f       *os.File
	w       *zeek.Writer
	written int64
	mgmt    int64
	// cid: records get a Community ID (convert --community-id), so a log
	// written with its own header has the community_id column.
	cid bool
}

func openZeekSink(out gateway.Endpoint, stdout io.Writer, cid bool) (*zeekSink, error) {
	w, f, err := openOutput(out, stdout)
	if err != nil {
		return nil, err
	}
	return &zeekSink{out: out, json: out.Format == gateway.FormatZeekJSON, bw: bufio.NewWriterSize(w, 256<<10), f: f, cid: cid}, nil
}

func (s *zeekSink) writer() *zeek.Writer {
	if s.w == nil {
		var opts []zeek.Option
		if s.json {
			opts = append(opts, zeek.WithFormat(zeek.FormatJSON))
		}
		if s.hdr != nil {
			if h := s.hdr(); h != nil {
				opts = append(opts, zeek.WithHeader(h))
			}
		}
		s.w = zeek.NewWriter(s.bw, opts...)
		if s.cid {
			s.w.CommunityIDColumn()
		}
	}
	return s.w
}

func (s *zeekSink) write(recs []flow.Record) error {
	w := s.writer()
	for i := range recs {
		if recs[i].Type == flow.TypeMgmt {
			s.mgmt++ // a conn.log has no place for Argus management records
			continue
		}
		if err := w.Encode(&recs[i]); err != nil {
			return fmt.Errorf("convert: %s: %w", s.out, err)
		}
		s.written++
	}
	return nil
}

func (s *zeekSink) flush() error {
	if s.w != nil {
		if err := s.w.Flush(); err != nil {
			return err
		}
	}
	return s.bw.Flush()
}

func (s *zeekSink) close() error {
	err := s.writer().Close()
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

func (s *zeekSink) report(w io.Writer) {
	fmt.Fprintf(w, "  sink              %s\n", s.out)
	fmt.Fprintf(w, "  records written   %d\n", s.written)
	if s.mgmt > 0 {
		fmt.Fprintf(w, "  management        %d Argus MARs not written (a conn.log has no place for them)\n", s.mgmt)
	}
}
