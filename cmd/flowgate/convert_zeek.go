package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
)

// zeekSource reads a Zeek conn.log (TSV or JSON lines).
type zeekSource struct {
	streamSource
	rd *zeek.Reader
}

func openZeekSource(in gateway.Endpoint, stdin io.Reader, m *zeek.Mapping) (*zeekSource, error) {
	s := &zeekSource{}
	r, err := s.open(in, stdin)
	if err != nil {
		return nil, err
	}
	s.rd = zeek.NewReader(r, zeek.WithFileName(in.Path), zeek.WithMapping(m))
	s.dec = s.rd
	return s, nil
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
	// zmap: convert --mapping of schema zeek.
	zmap *zeek.Mapping
}

func openZeekSink(out gateway.Endpoint, stdout io.Writer, cid bool, m *zeek.Mapping) (*zeekSink, error) {
	w, f, err := openOutput(out, stdout)
	if err != nil {
		return nil, err
	}
	return &zeekSink{out: out, json: out.Format == gateway.FormatZeekJSON, bw: bufio.NewWriterSize(w, 256<<10), f: f, cid: cid, zmap: m}, nil
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
		s.w = zeek.NewWriter(s.bw, append(opts, zeek.WithMapping(s.zmap))...)
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
