package capture

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/flowgate/flowgate/codecs"
)

// pcapReader reads the classic libpcap format.
type pcapReader struct {
	stream
	bo       binary.ByteOrder
	nano     bool
	linkType uint16
	snaplen  uint32
}

func newPcap(s stream) (*pcapReader, error) {
	h, err := s.take(24)
	if err != nil {
		return nil, headerError("pcap", s.name, "file header", err)
	}
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
	start := r.off
	h, err := r.peek(16)
	if err != nil {
		if err == io.EOF {
			r.err = io.EOF
			return io.EOF
		}
		return r.fail(start, "record header", err)
	}
	sec := r.bo.Uint32(h)
	frac := r.bo.Uint32(h[4:])
	caplen := r.bo.Uint32(h[8:])
	origlen := r.bo.Uint32(h[12:])
	if caplen > maxCaplen && caplen > r.snaplen {
		return r.fail(start, fmt.Sprintf("record header (captured length %d)", caplen), codecs.ErrCorrupt)
	}
	r.br.Discard(16)
	r.off += 16
	data, err := r.take(int(caplen))
	if err != nil {
		r.off = start
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

func (r *pcapReader) fail(off int64, part string, err error) error {
	r.err = &codecs.DecodeError{Format: "pcap", File: r.name, Offset: off, Part: part, PartOff: off, Err: shortErr(err)}
	return r.err
}

func (r *pcapReader) Close() error { return r.close() }
