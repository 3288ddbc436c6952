package argus

import (
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// maxRecord is the largest record a 16-bit word count allows.
const maxRecord = 0xFFFF * 4

// bufSize holds any record, so that records are decoded in place.
const bufSize = maxRecord + 4096

// Option configures a Reader or a Writer.
type Option func(*options)

type options struct {
	file   string
	resync bool
	trust  bool
	lossy  bool
	lossFn func(field, reason string)
}

// WithFileName names the input in error messages (Reader).
func WithFileName(name string) Option { return func(o *options) { o.file = name } }

// WithResync makes the Reader skip corrupt or truncated data instead of
// failing: it resumes at the next plausible record header and counts what
// it skipped (see Reader.Skipped).
func WithResync() Option { return func(o *options) { o.resync = true } }

// WithoutRewriteCheck makes the Reader skip the check that each DSR
// re-encodes to its input bytes (and the verbatim copy kept when it does
// not). Records still decode fully; only a byte-exact Argus rewrite of odd
// input is no longer guaranteed. For readers that print or filter.
func WithoutRewriteCheck() Option { return func(o *options) { o.trust = true } }

// WithLossy lets a Writer drop or convert values the target version cannot
// hold instead of refusing the record; fn (may be nil) is called for each
// such value with the ra field name and the reason. The counts are in
// Writer.Report.
func WithLossy(fn func(field, reason string)) Option {
	return func(o *options) { o.lossy, o.lossFn = true, fn }
}

// Reader decodes an Argus 3.x or 5.x record stream.
type Reader struct {
	br      *bufio.Reader
	d       decoder
	file    string
	resync  bool
	version int
	off     int64 // stream offset of the next record
	err     error
	skipB   int64
	skipR   int64
}

// Sniff returns a reader of the decompressed stream: gzip, bzip2, xz and
// zstd inputs are recognised by their magic numbers; other input is
// returned unchanged (buffered).
func Sniff(r io.Reader) (io.Reader, error) { return sniff(r, 64<<10) }

func sniff(r io.Reader, size int) (*bufio.Reader, error) {
	br := bufio.NewReaderSize(r, size)
	m, _ := br.Peek(6)
	var dr io.Reader
	var err error
	switch {
	case len(m) >= 2 && m[0] == 0x1F && m[1] == 0x8B:
		dr, err = gzip.NewReader(br)
	case len(m) >= 3 && string(m[:3]) == "BZh":
		dr = bzip2.NewReader(br)
	case len(m) >= 6 && string(m[:6]) == "\xFD7zXZ\x00":
		dr, err = xz.NewReader(br)
	case len(m) >= 4 && string(m[:4]) == "\x28\xB5\x2F\xFD":
		var z *zstd.Decoder
		z, err = zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		dr = z
	case len(m) >= 2 && m[0] == 0x1F && m[1] == 0x9D:
		return nil, fmt.Errorf("argus: compress(1) .Z input: %w", codecs.ErrUnsupported)
	default:
		return br, nil
	}
	if err != nil {
		return nil, fmt.Errorf("argus: decompress: %w: %w", codecs.ErrCorrupt, err)
	}
	return bufio.NewReaderSize(dr, size), nil
}

// NewReader checks that r holds an Argus stream (possibly compressed) and
// returns a Reader whose first record is the stream's initial MAR.
func NewReader(r io.Reader, opts ...Option) (*Reader, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	rd := &Reader{file: o.file, resync: o.resync}
	br, err := sniff(r, bufSize)
	if err != nil {
		return nil, rd.errAt(0, "MAR", 0, err)
	}
	rd.br = br
	m, err := br.Peek(16)
	if len(m) < 16 {
		if err == nil || err == io.EOF {
			err = codecs.ErrTruncated
		}
		return nil, rd.errAt(0, "MAR", 0, err)
	}
	switch cookie := be.Uint32(m[8:]); {
	case m[0]&0x80 == 0:
		return nil, rd.errAt(0, "MAR", 0, codecs.ErrUnknownFormat)
	case cookie == cookieV3:
		rd.version = 3
	case cookie == cookieV5:
		rd.version = 5
	case cookie == cookieV2:
		return nil, rd.errAt(0, "MAR", 8, fmt.Errorf("argus 2.x stream: %w", codecs.ErrUnsupported))
	default:
		return nil, rd.errAt(0, "MAR", 8, codecs.ErrUnknownFormat)
	}
	rd.d.major = rd.version
	rd.d.trust = o.trust
	return rd, nil
}

// Version returns the stream version from the MAR cookie: 3 or 5.
func (r *Reader) Version() int { return r.version }

// Skipped returns the bytes and the corrupt regions skipped so far by a
// resynchronising reader.
func (r *Reader) Skipped() (bytes, records int64) { return r.skipB, r.skipR }

// Offset returns the stream offset (after decompression) of the next record.
func (r *Reader) Offset() int64 { return r.off }

func (r *Reader) errAt(off int64, part string, partOff int64, err error) *codecs.DecodeError {
	return &codecs.DecodeError{Format: "argus", File: r.file, Offset: off, Part: part, PartOff: off + partOff, Err: err}
}

// Decode reads the next record into rec. It returns io.EOF at the end of
// the stream. Slices in rec (user data, label, encaps buffers, Extra
// values, Argus.Residue) alias the reader's buffer until the next call;
// call rec.Detach to keep them. Errors are *codecs.DecodeError values and
// are sticky unless the reader resynchronises (WithResync, Resync).
func (r *Reader) Decode(rec *flow.Record) error {
	for {
		b, lead, err := r.frame()
		if err != nil {
			return err
		}
		if pe := r.d.record(rec, b); pe != nil {
			part := "MAR"
			if !pe.mar {
				part = fmt.Sprintf("DSR 0x%02x %s", pe.typ, dsrName(pe.typ))
			}
			if err := r.broken(r.errAt(r.off, part, int64(pe.off), pe.err)); err != nil {
				return err
			}
			continue
		}
		rec.Argus.Lead = uint16(min(lead, 0xFFFF))
		r.br.Discard(len(b))
		r.off += int64(len(b))
		return nil
	}
}

// frame finds the next whole record and returns its bytes, still in the
// buffer (the caller discards them), and the zero padding words skipped
// before it. Framing errors stick, or are skipped by a resynchronising
// reader; io.EOF ends the stream.
func (r *Reader) frame() (b []byte, lead int, err error) {
	if r.err != nil {
		return nil, 0, r.err
	}
	for {
		h, err := r.br.Peek(4)
		if len(h) < 4 {
			if len(h) == 0 && (err == io.EOF || err == nil) {
				return nil, lead, r.fail(io.EOF)
			}
			if err == nil || err == io.EOF {
				err = codecs.ErrTruncated
			}
			if err := r.broken(r.errAt(r.off, "record header", 0, err)); err != nil {
				return nil, lead, err
			}
			continue
		}
		n := int(be.Uint16(h[2:])) * 4
		if n == 0 { // zero words between records are padding (§3)
			if h[0] != 0 || h[1] != 0 {
				if err := r.broken(r.errAt(r.off, "record header", 0, codecs.ErrCorrupt)); err != nil {
					return nil, lead, err
				}
				continue
			}
			r.br.Discard(4)
			r.off += 4
			lead++
			continue
		}
		b, err := r.br.Peek(n)
		if len(b) < n {
			if err == nil || err == io.EOF || errors.Is(err, bufio.ErrBufferFull) {
				err = codecs.ErrTruncated
			}
			if err := r.broken(r.errAt(r.off, "end of data", int64(len(b)), err)); err != nil {
				return nil, lead, err
			}
			continue
		}
		return b, lead, nil
	}
}

func (r *Reader) fail(err error) error {
	r.err = err
	return err
}

// broken handles a decode failure at the current offset: a resynchronising
// reader skips ahead and reports nothing; otherwise the error sticks.
func (r *Reader) broken(err *codecs.DecodeError) error {
	if !r.resync {
		return r.fail(err)
	}
	r.skip()
	return nil
}

// Resync clears a sticky decode error and skips forward to the next
// plausible record header; the skipped bytes are counted in Skipped.
// It returns io.EOF when the stream ends first.
func (r *Reader) Resync() error {
	if r.err == io.EOF {
		return io.EOF
	}
	var de *codecs.DecodeError
	if r.err != nil && !errors.As(r.err, &de) {
		return r.err // an I/O error
	}
	r.err = nil
	r.skip()
	if _, err := r.br.Peek(1); err != nil {
		return io.EOF
	}
	return nil
}

// skip advances at least one byte, then to the next offset where a
// plausible record starts (its header is sane, it decodes, and it is
// followed by the end of the stream or another sane header).
func (r *Reader) skip() {
	r.skipR++
	var scratch flow.Record
	for {
		if _, err := r.br.Discard(1); err != nil {
			return
		}
		r.off++
		r.skipB++
		h, _ := r.br.Peek(4)
		if len(h) < 4 {
			if len(h) == 0 {
				return
			}
			continue
		}
		n := int(be.Uint16(h[2:])) * 4
		if !plausible(h) {
			continue
		}
		b, _ := r.br.Peek(n + 4)
		if len(b) < n {
			continue
		}
		if len(b) == n+4 && be.Uint16(b[n+2:]) != 0 && !plausible(b[n:]) {
			continue
		}
		if r.d.record(&scratch, b[:n]) != nil {
			continue
		}
		return
	}
}

// plausible reports whether h looks like a record header.
func plausible(h []byte) bool {
	n := int(be.Uint16(h[2:]))
	v := h[0] & 0x0F
	if v != 3 && v != 5 && v != 7 {
		return false
	}
	if c := h[1] & 0xF0; c == 0 || c > 0xA0 {
		return false
	}
	switch h[0] & 0xF0 {
	case 0x80:
		return n == 32
	case 0x10, 0x30, 0x40, 0x50:
		return n >= 2
	}
	return false
}
