package argus

import (
	"fmt"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// Next returns the next record's bytes, header included, without decoding
// them, and the record's stream offset. It lets a caller frame records on
// one goroutine and decode them on others (RecordDecoder). b is valid until
// the next call to Next or Decode. Zero padding words between records are
// skipped. Framing errors are handled as Decode handles them.
func (r *Reader) Next() (b []byte, off int64, err error) {
	b, _, err = r.frame()
	if err != nil {
		return nil, r.off, err
	}
	// The bytes stay in the buffer until the next Peek refills it.
	r.br.Discard(len(b))
	off = r.off
	r.off += int64(len(b))
	return b, off, nil
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
	// b comes from elsewhere than Next too (a Kafka message): a record
	// shorter than its header says, or than a header, is an error, not
	// an index out of range in the DSR walk.
	if len(b) < 4 || int(b[2])<<8|int(b[3]) != len(b)/4 || len(b)%4 != 0 {
		return &codecs.DecodeError{Format: "argus", File: d.file, Offset: off, Part: "record header", PartOff: off, Err: codecs.ErrTruncated}
	}
	if pe := d.d.record(rec, b); pe != nil {
		part := "MAR"
		if !pe.mar {
			part = fmt.Sprintf("DSR 0x%02x %s", pe.typ, dsrName(pe.typ))
		}
		return &codecs.DecodeError{Format: "argus", File: d.file, Offset: off, Part: part, PartOff: off + int64(pe.off), Err: pe.err}
	}
	return nil
}
