package nfcore

import (
	"net/netip"
	"time"
)

// Message builders for tests: our own bytes, laid out as RFC 7011 §3 and
// RFC 3954 §5 say.

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func u8(v uint8) []byte   { return []byte{v} }
func u16(v uint16) []byte { return be.AppendUint16(nil, v) }
func u32(v uint32) []byte { return be.AppendUint32(nil, v) }
func u64(v uint64) []byte { return be.AppendUint64(nil, v) }
func ip4(s string) []byte {
	a := netip.MustParseAddr(s).As4()
	return a[:]
}
func ip6(s string) []byte {
	a := netip.MustParseAddr(s).As16()
	return a[:]
}

// ipfixMsg builds an IPFIX message with a correct length.
func ipfixMsg(exportSec, seq, dom uint32, sets ...[]byte) []byte {
	body := cat(sets...)
	return cat(u16(10), u16(uint16(16+len(body))), u32(exportSec), u32(seq), u32(dom), body)
}

// v9Msg builds a NetFlow v9 packet.
func v9Msg(sysUp, secs, seq, src uint32, sets ...[]byte) []byte {
	return cat(u16(9), u16(uint16(len(sets))), u32(sysUp), u32(secs), u32(seq), u32(src), cat(sets...))
}

// set wraps a body in a set header.
func set(id uint16, body ...[]byte) []byte {
	b := cat(body...)
	return cat(u16(id), u16(uint16(4+len(b))), b)
}

// tplRec builds an IPFIX template record (enterprise bit where PEN != 0);
// for v9, fields must have PEN 0.
func tplRec(id uint16, fields ...FieldSpec) []byte {
	b := cat(u16(id), u16(uint16(len(fields))))
	for _, f := range fields {
		if f.PEN != 0 {
			b = cat(b, u16(f.ID|0x8000), u16(f.Len), u32(f.PEN))
		} else {
			b = cat(b, u16(f.ID), u16(f.Len))
		}
	}
	return b
}

// optTplRec builds an IPFIX options template record.
func optTplRec(id uint16, scope int, fields ...FieldSpec) []byte {
	r := tplRec(id, fields...)
	return cat(r[:4], u16(uint16(scope)), r[4:])
}

func fs(id, n uint16) FieldSpec { return FieldSpec{ID: id, Len: n} }

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Unix(1700000000, 0)} }

var exporterA = netip.MustParseAddrPort("192.0.2.1:4739")
var exporterB = netip.MustParseAddrPort("[2001:db8::9]:2055")
