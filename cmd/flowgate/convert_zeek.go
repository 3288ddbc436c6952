package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/flowgate/flowgate/codecs/argus"
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
	// carriedHdr: the header a conn.log converted to Argus carried
	// (zeekCarry), once read.
	carriedHdr *zeek.Header
	hdrText    []byte // its pieces so far
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
	for i := range recs {
		if recs[i].Type != flow.TypeMgmt && len(recs[i].Extra) > 0 {
			s.carried(&recs[i])
		}
	}
	w := s.writer()
	for i := range recs {
		if recs[i].Type == flow.TypeMgmt {
			s.mgmt++ // a conn.log has no place for Argus management records
			continue
		}
		if err := w.Encode(&recs[i]); err != nil {
			return fmt.Errorf("convert: %s: %w", s.out, err)
		}
	}
	s.written = w.Stats().Records
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
	return finishOutput(s.writer().Close(), s.bw, s.f)
}

func (s *zeekSink) report(w io.Writer) {
	fmt.Fprintf(w, "  sink              %s\n", s.out)
	fmt.Fprintf(w, "  records written   %d\n", s.written)
	if s.mgmt > 0 {
		fmt.Fprintf(w, "  management        %d Argus MARs not written (a conn.log has no place for them)\n", s.mgmt)
	}
	if s.w != nil {
		st := s.w.Stats()
		if st.NotIP > 0 {
			fmt.Fprintf(w, "  not IP            %d records left out: no IP connection (ARP, layer-2 flows), which Zeek does not log\n", st.NotIP)
		}
		for f, l := range st.Lost() {
			fmt.Fprintf(w, "  not written       %d %s (%s)\n", l.N, f, l.Why)
		}
	}
}

// lost gives the writer's per-field counts of values it could not write,
// as "field: reason" (fieldAccount.codecReported).
func (s *zeekSink) lost() map[string]int64 {
	m := map[string]int64{}
	if s.w != nil {
		for f, l := range s.w.Stats().Lost() {
			m[f+": "+l.Why] = l.N
		}
	}
	return m
}

// zeekCarry takes a conn.log's header and trailer into Argus: the header
// lines ride on the first records (argus.ZeekHeaderID, in pieces of at
// most zeekHdrPiece bytes so that each fits a label next to the record's
// own columns), the trailer (#close) on the last (argus.ZeekTrailerID),
// so that the Argus file converts back to the same log. The trailer is
// read only at the end of the log, so the last record of each batch waits
// (a copy) until the next batch or the end.
type zeekCarry struct {
	hdr   func() *zeek.Header
	sent  bool   // the header was taken
	rest  []byte // the header not attached yet
	pend  flow.Record
	has   bool
	extra []flow.Field
	arena []byte
}

func (c *zeekCarry) write(recs []flow.Record, enc func(*flow.Record) error) error {
	if len(recs) == 0 {
		return nil
	}
	if !c.sent {
		c.sent = true
		if h := c.hdr(); h != nil {
			c.rest = h.Lines
		}
	}
	for i := 0; i < len(recs) && len(c.rest) > 0; i++ {
		piece, more := c.rest, uint32(0)
		if len(piece) > zeekHdrPiece {
			// at a line's end when one is near, so that ra shows whole lines
			n := bytes.LastIndexByte(piece[:zeekHdrPiece], '\n') + 1
			if n < zeekHdrPiece/2 {
				n = zeekHdrPiece
			}
			piece, more = piece[:n], 1
		}
		c.rest = c.rest[len(piece):]
		r := &recs[i]
		r.Extra = append(r.Extra, flow.Field{Source: flow.SourceZeek, ID: argus.ZeekHeaderID, Offset: more, Value: piece})
	}
	if c.has {
		c.has = false
		if err := enc(&c.pend); err != nil {
			return err
		}
	}
	for i := range recs[:len(recs)-1] {
		if err := enc(&recs[i]); err != nil {
			return err
		}
	}
	last := &recs[len(recs)-1]
	c.pend = *last
	c.extra = append(c.extra[:0], last.Extra...)
	c.pend.Extra = c.extra
	c.arena = c.pend.DetachInto(c.arena[:0])
	c.has = true
	return nil
}

// zeekHdrPiece bounds the header bytes one record carries: with the
// record's own words (uid, service, history, state, columns, Community
// ID: 100 to 400 bytes) it stays within the label's 1016.
const zeekHdrPiece = 512

// finish writes the last record with the log's trailer.
func (c *zeekCarry) finish(enc func(*flow.Record) error) error {
	if !c.has {
		return nil
	}
	c.has = false
	if len(c.rest) > 0 {
		// fewer records than header pieces: the last takes the rest
		done := false
		for i := range c.pend.Extra {
			if f := &c.pend.Extra[i]; f.Source == flow.SourceZeek && f.ID == argus.ZeekHeaderID {
				f.Value = append(append([]byte(nil), f.Value...), c.rest...)
				f.Offset, done = 0, true
			}
		}
		if !done {
			c.pend.Extra = append(c.pend.Extra, flow.Field{Source: flow.SourceZeek, ID: argus.ZeekHeaderID, Value: c.rest})
		}
		c.rest = nil
	}
	if h := c.hdr(); h != nil && len(h.Trailer) > 0 {
		c.pend.Extra = append(c.pend.Extra, flow.Field{Source: flow.SourceZeek, ID: argus.ZeekTrailerID, Value: h.Trailer})
	}
	return enc(&c.pend)
}

// carried takes a conn.log's header and trailer out of records read from
// Argus (zeekCarry): the header of the first record becomes the writer's
// (unless the source is a conn.log itself), the trailer the end of the
// log; neither is a column.
func (s *zeekSink) carried(r *flow.Record) {
	j := 0
	for i := range r.Extra {
		f := &r.Extra[i]
		if f.Source == flow.SourceZeek && (f.ID == argus.ZeekHeaderID || f.ID == argus.ZeekTrailerID) {
			switch {
			case f.ID == argus.ZeekHeaderID && s.w == nil && s.hdr == nil:
				s.hdrText = append(s.hdrText, f.Value...)
				if f.Offset == 1 {
					break // more on the next record
				}
				rd := zeek.NewReader(bytes.NewReader(s.hdrText))
				var tmp flow.Record
				if err := rd.Decode(&tmp); err == io.EOF {
					h := rd.Header()
					s.carriedHdr = h
					s.hdr = func() *zeek.Header { return h }
				}
			case f.ID == argus.ZeekTrailerID && s.carriedHdr != nil:
				s.carriedHdr.Trailer = append(s.carriedHdr.Trailer[:0], f.Value...)
			}
			continue
		}
		r.Extra[j] = *f
		j++
	}
	r.Extra = r.Extra[:j]
}
