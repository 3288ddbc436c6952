package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"

	"github.com/flowgate/flowgate/codecs"
)

// pcapReader reads the classic libpcap format.
type pcapReader struct {
	stream
	bo       binary.ByteOrder
	swap     bool // big-endian file: u32 swaps
	nano     bool
	linkType uint16
	snaplen  uint32
}

func newPcap(s stream) (*pcapReader, error) {
	h, err := s.peek(24)
	if err != nil {
		return nil, headerError("pcap", s.name, "file header", err)
	}
	s.record(24, 0)
	r := &pcapReader{stream: s}
	switch binary.BigEndian.Uint32(h) {
	case magicPcapMicro:
		r.bo = binary.BigEndian
	case magicPcapMicroSwap:
		r.bo = binary.LittleEndian
	case magicPcapNano:
		r.bo, r.nano = binary.BigEndian, true
	case magicPcapNanoSwap:
		r.bo, r.nano = binary.LittleEndian, true
	}
	r.swap = r.bo == binary.BigEndian
	r.snaplen = r.bo.Uint32(h[16:])
	// The upper bits of the link-type field carry FCS information.
	r.linkType = uint16(r.bo.Uint32(h[20:]))
	return r, nil
}

// LinkType is the file's link type.
func (r *pcapReader) LinkType() uint16 { return r.linkType }

func (r *pcapReader) ReadFrame(f *Frame) error {
	if r.err != nil {
		return r.err
	}
	r.consumed()
	return r.next(f)
}

// ReadFrames reads up to len(fs) frames that all alias the mapping or the
// window: no copy.
func (r *pcapReader) ReadFrames(fs []Frame) (int, error) { return r.batch(fs, r.next) }

// next reads one record. Errors other than errPinned are sticky.
func (r *pcapReader) next(f *Frame) error {
	// The common case, inlined: the whole record is in the window (always,
	// in a mapped file), of a sane length.
	if h := r.buf[r.r:r.w]; len(h) >= 16 {
		caplen := r.u32(h[8:12])
		if caplen <= maxCaplen && int(caplen) <= len(h)-16 {
			r.frame(f, h, caplen)
			r.r += 16 + int(caplen)
			return nil
		}
	}
	return r.slow(f)
}

// frame fills f from a record header h and, after it, caplen bytes.
func (r *pcapReader) frame(f *Frame, h []byte, caplen uint32) {
	ns := int64(r.u32(h[4:8]))
	if !r.nano {
		ns *= 1000
	}
	end := 16 + int(caplen)
	f.TS = int64(r.u32(h[0:4]))*1e9 + ns
	f.Data = h[16:end:end]
	f.Len = int(r.u32(h[12:16]))
	f.LinkType = r.linkType
	f.IfIndex = 0
}

// slow reads a record the window does not hold whole, or reports why it
// cannot.
func (r *pcapReader) slow(f *Frame) error {
	start := r.off()
	h, err := r.peek(16)
	if err != nil {
		if err == io.EOF {
			r.err = io.EOF
			return io.EOF
		}
		if err == errPinned {
			return err
		}
		return r.fail(start, "record header", err)
	}
	sec := r.u32(h)
	frac := r.u32(h[4:])
	caplen := r.u32(h[8:])
	origlen := r.u32(h[12:])
	if caplen > maxCaplen && caplen > r.snaplen {
		return r.fail(start, fmt.Sprintf("record header (captured length %d)", caplen), codecs.ErrCorrupt)
	}
	data, err := r.record(16, int(caplen))
	if err != nil {
		if err == errPinned {
			return err
		}
		return r.fail(start, "packet data", err)
	}
	ns := int64(frac)
	if !r.nano {
		ns *= 1000
	}
	f.TS = int64(sec)*1e9 + ns
	f.Data = data
	f.Len = int(origlen)
	f.LinkType = r.linkType
	f.IfIndex = 0
	return nil
}

// u32 reads a field in the file's byte order; unlike r.bo, it inlines.
func (r *pcapReader) u32(b []byte) uint32 {
	v := binary.LittleEndian.Uint32(b)
	if r.swap {
		v = bits.ReverseBytes32(v)
	}
	return v
}

func (r *pcapReader) fail(off int64, part string, err error) error {
	r.err = &codecs.DecodeError{Format: "pcap", File: r.name, Offset: off, Part: part, PartOff: off, Err: shortErr(err)}
	return r.err
}

func (r *pcapReader) Close() error { return r.close() }
