package argus

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// Next returns the next record's bytes, header included, without decoding
// them, and the record's stream offset. It lets a caller frame records on
// one goroutine and decode them on others (RecordDecoder). b is valid until
// the next call to Next or Decode. Zero padding words between records are
// skipped. Framing errors are handled as Decode handles them.
func (r *Reader) Next() (b []byte, off int64, err error) {
	if r.err != nil {
		return nil, r.off, r.err
	}
	for {
		h, err := r.br.Peek(4)
		if len(h) < 4 {
			if len(h) == 0 && (err == io.EOF || err == nil) {
				return nil, r.off, r.fail(io.EOF)
			}
			if err == nil || err == io.EOF {
				err = codecs.ErrTruncated
			}
			if err := r.broken(r.errAt(r.off, "record header", 0, err)); err != nil {
				return nil, r.off, err
			}
			continue
		}
		n := int(be.Uint16(h[2:])) * 4
		if n == 0 {
			if h[0] != 0 || h[1] != 0 {
				if err := r.broken(r.errAt(r.off, "record header", 0, codecs.ErrCorrupt)); err != nil {
					return nil, r.off, err
				}
				continue
			}
			r.br.Discard(4)
			r.off += 4
			continue
		}
		b, err := r.br.Peek(n)
		if len(b) < n {
			if err == nil || err == io.EOF || errors.Is(err, bufio.ErrBufferFull) {
				err = codecs.ErrTruncated
			}
			if err := r.broken(r.errAt(r.off, "end of data", int64(len(b)), err)); err != nil {
				return nil, r.off, err
			}
			continue
		}
		// The bytes stay in the buffer until the next Peek refills it.
		r.br.Discard(n)
		off = r.off
		r.off += int64(n)
		return b, off, nil
	}
}

// RecordDecoder decodes records framed by Reader.Next. Each goroutine needs
// its own; the records it fills alias its buffers and b until the next call.
type RecordDecoder struct {
	d    decoder
	file string
}

// NewRecordDecoder returns a decoder for this stream's records.
func (r *Reader) NewRecordDecoder() *RecordDecoder {
	return &RecordDecoder{d: decoder{major: r.d.major, trust: r.d.trust}, file: r.file}
}

// Decode decodes b, a whole record returned by Next at stream offset off,
// into rec. Errors are *codecs.DecodeError values naming the offset and
// the part that failed; the next record can be decoded regardless.
func (d *RecordDecoder) Decode(rec *flow.Record, b []byte, off int64) error {
	if pe := d.d.record(rec, b); pe != nil {
		part := "MAR"
		if !pe.mar {
			part = fmt.Sprintf("DSR 0x%02x %s", pe.typ, dsrName(pe.typ))
		}
		return &codecs.DecodeError{Format: "argus", File: d.file, Offset: off, Part: part, PartOff: off + int64(pe.off), Err: pe.err}
	}
	return nil
}
