package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
)

// Small captures built byte by byte for the tests (never copied from the
// corpus).

// order is a byte order that can also append.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

type testPkt struct {
	sec, frac uint32 // pcap timestamp
	data      []byte
	orig      uint32 // 0: len(data)
}

func payload(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i*31 + j)
	}
	return b
}

// buildPcap writes a pcap file: bo the writer's byte order, nano the
// nanosecond magic.
func buildPcap(bo order, nano bool, link uint32, pkts []testPkt) []byte {
	magic := uint32(magicPcapMicro)
	if nano {
		magic = magicPcapNano
	}
	var b []byte
	b = bo.AppendUint32(b, magic)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 65535)
	b = bo.AppendUint32(b, link)
	for _, p := range pkts {
		orig := p.orig
		if orig == 0 {
			orig = uint32(len(p.data))
		}
		b = bo.AppendUint32(b, p.sec)
		b = bo.AppendUint32(b, p.frac)
		b = bo.AppendUint32(b, uint32(len(p.data)))
		b = bo.AppendUint32(b, orig)
		b = append(b, p.data...)
	}
	return b
}

// ngWriter builds pcapng files block by block.
type ngWriter struct {
	b  []byte
	bo order
}

func (w *ngWriter) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	w.b = w.bo.AppendUint32(w.b, typ)
	w.b = w.bo.AppendUint32(w.b, n)
	w.b = append(w.b, body...)
	w.b = w.bo.AppendUint32(w.b, n)
}

// section starts a new section in byte order bo.
func (w *ngWriter) section(bo order) {
	w.bo = bo
	var body []byte
	body = bo.AppendUint32(body, byteOrderMagic)
	body = bo.AppendUint16(body, 1)
	body = bo.AppendUint16(body, 0)
	body = bo.AppendUint64(body, ^uint64(0))
	w.block(blockSHB, body)
}

func (w *ngWriter) option(b []byte, code uint16, v []byte) []byte {
	b = w.bo.AppendUint16(b, code)
	b = w.bo.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// idb adds an interface; tsresol < 0 means no option; tsoffset 0 none.
func (w *ngWriter) idb(link uint16, snaplen uint32, tsresol int, tsoffset int64) {
	var body []byte
	body = w.bo.AppendUint16(body, link)
	body = w.bo.AppendUint16(body, 0)
	body = w.bo.AppendUint32(body, snaplen)
	body = w.option(body, 2, []byte("if-name"))
	if tsresol >= 0 {
		body = w.option(body, optTsresol, []byte{byte(tsresol)})
	}
	if tsoffset != 0 {
		body = w.option(body, optTsoffset, w.bo.AppendUint64(nil, uint64(tsoffset)))
	}
	body = w.option(body, optEnd, nil)
	w.block(blockIDB, body)
}

func (w *ngWriter) epb(ifc uint32, ts uint64, data []byte, orig uint32) {
	var body []byte
	body = w.bo.AppendUint32(body, ifc)
	body = w.bo.AppendUint32(body, uint32(ts>>32))
	body = w.bo.AppendUint32(body, uint32(ts))
	body = w.bo.AppendUint32(body, uint32(len(data)))
	body = w.bo.AppendUint32(body, orig)
	body = append(body, data...)
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	body = w.option(body, 1, []byte("a comment"))
	body = w.option(body, optEnd, nil)
	w.block(blockEPB, body)
}

func (w *ngWriter) pb(ifc uint16, ts uint64, data []byte, orig uint32) {
	var body []byte
	body = w.bo.AppendUint16(body, ifc)
	body = w.bo.AppendUint16(body, 0)
	body = w.bo.AppendUint32(body, uint32(ts>>32))
	body = w.bo.AppendUint32(body, uint32(ts))
	body = w.bo.AppendUint32(body, uint32(len(data)))
	body = w.bo.AppendUint32(body, orig)
	body = append(body, data...)
	w.block(blockPB, body)
}

func (w *ngWriter) spb(data []byte, orig uint32) {
	var body []byte
	body = w.bo.AppendUint32(body, orig)
	body = append(body, data...)
	w.block(blockSPB, body)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// wantFrame is what a test expects to read.
type wantFrame struct {
	ts       int64
	data     []byte
	length   int
	linkType uint16
	ifIndex  int
}

// samplePcapng is a two-section file (little- then big-endian) with
// interfaces of different link types and resolutions, and every packet
// block kind, with the frames it must give.
func samplePcapng() ([]byte, []wantFrame) {
	var w ngWriter
	var want []wantFrame
	w.section(binary.LittleEndian)
	w.idb(LinkEthernet, 0, -1, 0)        // 0: µs
	w.idb(LinkRaw, 0, 9, 0)              // 1: ns
	w.idb(LinkSLL, 0, 0x80|20, 100)      // 2: 2^-20 s, +100 s
	w.idb(LinkNull, 0, 3, -1_000_000_00) // 3: ms, offset negative
	d0, d1, d2, d3 := payload(0, 60), payload(1, 41), payload(2, 77), payload(3, 8)
	w.epb(0, 1_700_000_000_123_456, d0, 60)
	want = append(want, wantFrame{1_700_000_000_123_456_000, d0, 60, LinkEthernet, 0})
	w.epb(1, 1_700_000_000_123_456_789, d1, 1500)
	want = append(want, wantFrame{1_700_000_000_123_456_789, d1, 1500, LinkRaw, 1})
	// 2^-20: 3 s and half a second plus one tick (953.67431640625 ns).
	w.epb(2, 3<<20|1<<19|1, d2, 77)
	want = append(want, wantFrame{(3+100)*1e9 + 500_000_953, d2, 77, LinkSLL, 2})
	w.block(0x00000bad, []byte("custom block, skipped"))
	w.pb(3, 1_700_000_000_001, d3, 8)
	want = append(want, wantFrame{(1_700_000_000-100_000_000)*1e9 + 1_000_000, d3, 8, LinkNull, 3})
	w.block(0x00000005, make([]byte, 20)) // statistics, skipped

	w.section(binary.BigEndian)
	w.idb(LinkRawIPv6, 16, 6, 0)
	d4, d5 := payload(4, 30), payload(5, 10)
	w.spb(d4[:16], 30) // cut to the snaplen, as the spec requires
	want = append(want, wantFrame{0, d4[:16], 30, LinkRawIPv6, 0})
	w.epb(0, 5, d5, 10)
	want = append(want, wantFrame{5000, d5, 10, LinkRawIPv6, 0})
	w.idb(LinkRawIPv4, 0, 0x80|3, 0) // 1/8 s
	d6 := payload(6, 20)
	w.epb(1, 17, d6, 20)
	want = append(want, wantFrame{2_125_000_000, d6, 20, LinkRawIPv4, 1})
	return w.b, want
}

func samplePcap(bo order, nano bool) ([]byte, []wantFrame) {
	var pkts []testPkt
	var want []wantFrame
	for i := range 5 {
		d := payload(i, 20+i*13)
		frac := uint32(999_999 - i)
		ts := int64(1_700_000_000+i)*1e9 + int64(frac)*1000
		if nano {
			frac = 999_999_999 - uint32(i)
			ts = int64(1_700_000_000+i)*1e9 + int64(frac)
		}
		orig := uint32(0)
		length := len(d)
		if i == 3 {
			orig, length = 1514, 1514
		}
		pkts = append(pkts, testPkt{uint32(1_700_000_000 + i), frac, d, orig})
		want = append(want, wantFrame{ts, d, length, LinkEthernet, 0})
	}
	return buildPcap(bo, nano, uint32(LinkEthernet), pkts), want
}
