package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"

	"github.com/flowgate/flowgate/codecs"
)

// pcapng block types.
const (
	blockSHB = 0x0a0d0d0a // section header
	blockIDB = 0x00000001 // interface description
	blockPB  = 0x00000002 // packet (obsolete)
	blockSPB = 0x00000003 // simple packet
	blockEPB = 0x00000006 // enhanced packet

	byteOrderMagic = 0x1a2b3c4d

	optEnd      = 0
	optTsresol  = 9
	optTsoffset = 14
)

// iface is what an interface description block tells us.
type iface struct {
	linkType uint16
	snaplen  uint32
	// Timestamps are counted in units of 1/ticks seconds (ticks is 10^n or
	// 2^n, from if_tsresol; 10^6 by default); offset is if_tsoffset seconds.
	ticks  uint64
	offset int64
}

// pcapngReader reads pcapng files.
type pcapngReader struct {
	stream
	bo     binary.ByteOrder
	swap   bool    // big-endian section: u32 swaps
	ifaces []iface // of the current section
}

func newPcapng(s stream) (*pcapngReader, error) {
	r := &pcapngReader{stream: s, ifaces: make([]iface, 0, 4)}
	// The first block must be a section header; read it now so that a
	// broken header fails OpenFile.
	var f Frame
	// (The magic says it is one, so block cannot return a packet.)
	if _, err := r.block(&f); err != nil {
		if err == io.EOF {
			err = &codecs.DecodeError{Format: "pcapng", File: s.name, Part: "section header block", Err: codecs.ErrTruncated}
		}
		return nil, err
	}
	return r, nil
}

func (r *pcapngReader) Close() error { return r.close() }

func (r *pcapngReader) ReadFrame(f *Frame) error {
	if r.err != nil {
		return r.err
	}
	r.consumed()
	return r.next(f)
}

// ReadFrames reads up to len(fs) frames that all alias the mapping or the
// window: no copy.
func (r *pcapngReader) ReadFrames(fs []Frame) (int, error) { return r.batch(fs, r.next) }

// next reads blocks up to the next packet. Errors other than errPinned are
// sticky.
func (r *pcapngReader) next(f *Frame) error {
	for {
		ok, err := r.block(f)
		if err != nil {
			if err != errPinned {
				r.err = err
			}
			return err
		}
		if ok {
			return nil
		}
	}
}

// u32 reads a field in the section's byte order; unlike r.bo, it inlines.
func (r *pcapngReader) u32(b []byte) uint32 {
	v := binary.LittleEndian.Uint32(b)
	if r.swap {
		v = bits.ReverseBytes32(v)
	}
	return v
}

func (r *pcapngReader) fail(off int64, part string, partOff int64, err error) error {
	return &codecs.DecodeError{Format: "pcapng", File: r.name, Offset: off, Part: part, PartOff: partOff, Err: shortErr(err)}
}

// block reads one block, filling f and returning true if it held a packet.
func (r *pcapngReader) block(f *Frame) (bool, error) {
	start := r.off()
	h, err := r.peek(12)
	if err != nil {
		if err == io.EOF || err == errPinned {
			return false, err
		}
		return false, r.fail(start, "block header", start, err)
	}
	typ := binary.BigEndian.Uint32(h) // the SHB type is a palindrome
	if typ == blockSHB {
		// The byte-order magic says how to read this section, this
		// block's length included.
		switch binary.BigEndian.Uint32(h[8:]) {
		case byteOrderMagic:
			r.bo, r.swap = binary.BigEndian, true
		case 0x4d3c2b1a:
			r.bo, r.swap = binary.LittleEndian, false
		default:
			return false, r.fail(start, fmt.Sprintf("section header block (byte-order magic %#x)", h[8:12]), start+8, codecs.ErrCorrupt)
		}
	} else if r.bo == nil {
		return false, r.fail(start, fmt.Sprintf("block type %#x before any section header", typ), start, codecs.ErrCorrupt)
	} else {
		typ = r.u32(h)
	}
	n := r.u32(h[4:])
	if n < 12 || n%4 != 0 || n > maxBlock {
		return false, r.fail(start, fmt.Sprintf("block type %#x (total length %d)", typ, n), start+4, codecs.ErrCorrupt)
	}
	b, err := r.record(0, int(n))
	if err != nil {
		if err == errPinned {
			return false, err
		}
		return false, r.fail(start, fmt.Sprintf("block type %#x (total length %d)", typ, n), start, err)
	}
	if t := r.u32(b[n-4:]); t != n {
		return false, r.fail(start, fmt.Sprintf("block type %#x (total lengths %d and %d differ)", typ, n, t), start+int64(n)-4, codecs.ErrCorrupt)
	}
	body := b[8 : n-4]
	switch typ {
	case blockSHB:
		return false, r.shb(start, body)
	case blockIDB:
		return false, r.idb(start, body)
	case blockEPB:
		return true, r.epb(start, body, f)
	case blockSPB:
		return true, r.spb(start, body, f)
	case blockPB:
		return true, r.pb(start, body, f)
	}
	return false, nil // name resolution, statistics, custom, ...: skipped
}

func (r *pcapngReader) shb(start int64, body []byte) error {
	if len(body) < 16 {
		return r.fail(start, "section header block (too short)", start, codecs.ErrCorrupt)
	}
	major, minor := r.bo.Uint16(body[4:]), r.bo.Uint16(body[6:])
	// Wireshark reads 1.0, and 1.2 as written by some old tools.
	if major != 1 || minor > 2 {
		return r.fail(start, fmt.Sprintf("section header block (version %d.%d)", major, minor), start+12, codecs.ErrUnsupported)
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

func (r *pcapngReader) idb(start int64, body []byte) error {
	if len(body) < 8 {
		return r.fail(start, "interface description block (too short)", start, codecs.ErrCorrupt)
	}
	ifc := iface{linkType: r.bo.Uint16(body), snaplen: r.bo.Uint32(body[4:]), ticks: 1e6}
	opts := body[8:]
	optOff := start + 16
	for len(opts) >= 4 {
		code, l := r.bo.Uint16(opts), int(r.bo.Uint16(opts[2:]))
		if code == optEnd {
			break
		}
		if 4+l > len(opts) {
			return r.fail(start, fmt.Sprintf("interface description block option %d (length %d)", code, l), optOff, codecs.ErrCorrupt)
		}
		v := opts[4 : 4+l]
		switch code {
		case optTsresol:
			if l < 1 {
				break
			}
			e := uint(v[0] & 0x7f)
			if v[0]&0x80 != 0 {
				if e > 63 {
					return r.fail(start, fmt.Sprintf("if_tsresol 2^-%d", e), optOff, codecs.ErrUnsupported)
				}
				ifc.ticks = 1 << e
			} else {
				if e > 19 {
					return r.fail(start, fmt.Sprintf("if_tsresol 10^-%d", e), optOff, codecs.ErrUnsupported)
				}
				ifc.ticks = 1
				for range e {
					ifc.ticks *= 10
				}
			}
		case optTsoffset:
			if l >= 8 {
				ifc.offset = int64(r.bo.Uint64(v))
			}
		}
		pad := (4 - l%4) % 4
		if 4+l+pad > len(opts) {
			break
		}
		opts = opts[4+l+pad:]
		optOff += int64(4 + l + pad)
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

// stamp converts a raw pcapng timestamp to Unix nanoseconds, as Wireshark
// does: whole seconds, then the fraction truncated to nanoseconds.
func (ifc *iface) stamp(ts uint64) int64 {
	switch ifc.ticks {
	case 1e9:
		return int64(ts) + ifc.offset*1e9
	case 1e6: // the default: divisions by a constant, cheap
		return (int64(ts/1e6)+ifc.offset)*1e9 + int64(ts%1e6)*1000
	}
	sec, frac := ts/ifc.ticks, ts%ifc.ticks
	hi, lo := bits.Mul64(frac, 1e9)
	ns, _ := bits.Div64(hi, lo, ifc.ticks) // frac < ticks: no overflow
	return (int64(sec)+ifc.offset)*1e9 + int64(ns)
}

func (r *pcapngReader) ifaceAt(start int64, id uint32, part string) (*iface, error) {
	if uint64(id) >= uint64(len(r.ifaces)) {
		return nil, r.fail(start, fmt.Sprintf("%s (interface %d of %d)", part, id, len(r.ifaces)), start+8, codecs.ErrCorrupt)
	}
	return &r.ifaces[id], nil
}

func (r *pcapngReader) epb(start int64, body []byte, f *Frame) error {
	if len(body) < 20 {
		return r.fail(start, "enhanced packet block (too short)", start, codecs.ErrCorrupt)
	}
	return r.packet(start, body, f, r.u32(body), "enhanced packet block")
}

// pb reads the obsolete packet block: an EPB with a 16-bit interface id
// followed by a drop count.
func (r *pcapngReader) pb(start int64, body []byte, f *Frame) error {
	if len(body) < 20 {
		return r.fail(start, "packet block (too short)", start, codecs.ErrCorrupt)
	}
	return r.packet(start, body, f, uint32(r.bo.Uint16(body)), "packet block")
}

// packet fills f from the common part of an enhanced or obsolete packet
// block: timestamp, captured and original lengths, data.
func (r *pcapngReader) packet(start int64, body []byte, f *Frame, id uint32, name string) error {
	ifc, err := r.ifaceAt(start, id, name)
	if err != nil {
		return err
	}
	ts := uint64(r.u32(body[4:]))<<32 | uint64(r.u32(body[8:]))
	caplen := r.u32(body[12:])
	if uint64(caplen) > uint64(len(body)-20) {
		return r.fail(start, fmt.Sprintf("%s (captured length %d in a %d-byte block)", name, caplen, len(body)+12), start+20, codecs.ErrCorrupt)
	}
	f.TS = ifc.stamp(ts)
	f.Data = body[20 : 20+caplen]
	f.Len = int(r.u32(body[16:]))
	f.LinkType = ifc.linkType
	f.IfIndex = int(id)
	return nil
}

func (r *pcapngReader) spb(start int64, body []byte, f *Frame) error {
	if len(body) < 4 {
		return r.fail(start, "simple packet block (too short)", start, codecs.ErrCorrupt)
	}
	ifc, err := r.ifaceAt(start, 0, "simple packet block")
	if err != nil {
		return err
	}
	orig := r.bo.Uint32(body)
	caplen := uint64(orig)
	if ifc.snaplen != 0 && uint64(ifc.snaplen) < caplen {
		caplen = uint64(ifc.snaplen)
	}
	if caplen > uint64(len(body)-4) {
		caplen = uint64(len(body) - 4)
	}
	f.TS = 0 // simple packet blocks have no timestamp
	f.Data = body[4 : 4+caplen]
	f.Len = int(orig)
	f.LinkType = ifc.linkType
	f.IfIndex = 0
	return nil
}
