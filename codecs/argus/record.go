package argus

import (
	"bytes"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// partErr locates a failure inside a record (no allocation until the
// reader turns it into a *codecs.DecodeError).
type partErr struct {
	typ byte // DSR type, or 0x80 for the MAR
	mar bool
	off int // offset of the part in the record
	err error
}

// decoder turns record bytes into flow.Record values.
type decoder struct {
	dec
	major   int // stream major version (from the MAR cookie)
	check   enc // scratch encoder used to verify that each DSR re-encodes
	verbose int // DSRs kept verbatim since the reader started (for tests)
	// trust skips the re-encode check (WithoutRewriteCheck): a reader whose
	// records are only printed or filtered need not pay for it.
	trust bool
}

// record decodes one whole record b (header included) into rec.
func (d *decoder) record(rec *flow.Record, b []byte) *partErr {
	rec.Reset()
	d.res = d.res[:0]
	d.lbl = d.lbl[:0]
	d.units = 0
	L := &rec.Argus
	rec.Type = flow.RecordType(b[0] & 0xF0)
	rec.Cause = flow.Cause(b[1] & 0xF0)
	L.Version, L.Opt = b[0]&0x0F, b[1]&0x0F
	switch {
	case L.Version == 3:
		L.Major = 3
	case L.Version >= 5:
		L.Major = 5
	default: // a nibble no writer uses: the stream's version
		L.Major = uint8(d.major)
	}
	d.ver = L.Version
	if b[0]&0x80 != 0 {
		d.mar(rec, b)
		return nil
	}
	var seen [3]uint64
	p, i, overflow := 4, 0, false
	for p < len(b) {
		h := b[p : p+4]
		n := dsrLen(h)
		if n == 0 {
			break
		}
		if p+n > len(b) {
			return &partErr{typ: h[0], off: p, err: codecs.ErrCorrupt}
		}
		body := b[p+4 : p+n]
		if i >= flow.MaxArgusDSRs {
			overflow = true
		} else {
			L.Hdr[i] = [4]byte(h)
		}
		switch {
		case h[0] == 0 && n == 4: // 5.0.3 transport placeholder: layout only
		case !known(h):
			rec.Extra = append(rec.Extra, flow.Field{Source: flow.SourceArgusDSR, ID: be.Uint32(h), Offset: uint32(i), Value: body[:len(body):len(body)]})
		default:
			w, bit := h[0]>>6, uint64(1)<<(h[0]&63)
			if h[0] == dsrData && h[1]&0x20 != 0 {
				w, bit = 2, 1
			}
			dup := seen[w]&bit != 0
			seen[w] |= bit
			// set even when the body is opaque or kept verbatim, so that
			// the writer keeps the DSR
			if h[0] != dsrTransport {
				rec.Has |= groupOf(h)
			} else if hasID, _, hasSeq, _ := transportShape(d.ver, h, len(body)); hasID || hasSeq {
				if hasID {
					rec.Has |= flow.HasSrcID
				}
				if hasSeq {
					rec.Has |= flow.HasSeq
				}
			}
			if overflow {
				d.decodeDSR(rec, h, body)
				break
			}
			start := len(d.res)
			d.nondef = false
			if !dup {
				d.decodeDSR(rec, h, body)
				if !d.nondef {
					d.res = d.res[:start]
				}
				if d.trust || d.verify(rec, [4]byte(h), b[p:p+n], start) {
					if len(d.res) > start {
						L.Aux[i], L.AuxLen[i] = uint16(start+1), uint16(len(d.res)-start)
					}
					break
				}
			}
			// the model cannot reproduce these bytes: keep the DSR verbatim
			d.verbose++
			d.res = append(d.res[:start], b[p:p+n]...)
			L.Aux[i], L.AuxLen[i] = uint16(start+1), uint16(n)
			L.Verbatim |= 1 << i
		}
		i++
		p += n
	}
	if overflow || len(d.res) >= 0xFFFF || len(b)-p > 0xFFFF {
		// too large to remember: the writer will use canonical encodings
		L.N, L.Aux, L.AuxLen, L.Verbatim = 0, [flow.MaxArgusDSRs]uint16{}, [flow.MaxArgusDSRs]uint16{}, 0
		d.res = d.res[:0]
		return nil
	}
	L.N = uint8(i)
	if rest := b[p:]; len(rest) > 0 {
		L.Trail = uint16(len(rest))
		if !isZero(rest) {
			if i >= flow.MaxArgusDSRs {
				L.N = 0
				return nil
			}
			L.Aux[i], L.AuxLen[i] = uint16(len(d.res)+1), uint16(len(rest))
			d.res = append(d.res, rest...)
		}
	}
	L.Units = d.units
	L.Residue = d.res
	return nil
}

// verify re-encodes the DSR just decoded and reports whether it gives back
// the input bytes.
func (d *decoder) verify(rec *flow.Record, h [4]byte, raw []byte, start int) bool {
	e := &d.check
	e.b = e.b[:0]
	e.piece, e.pi = nil, 0
	if len(d.res) > start {
		e.piece = d.res[start:]
	}
	e.ver, e.units = d.ver, d.units
	e.encodeDSR(rec, h)
	return bytes.Equal(e.b, raw)
}

func (d *decoder) mar(rec *flow.Record, b []byte) {
	L := &rec.Argus
	rec.Has |= flow.HasMgmt
	if len(b) == marLen {
		decMgmt(&rec.Mgmt, b)
		if s, ok := mgmtSrcID(&rec.Mgmt, d.major); ok {
			rec.SrcID = s
			rec.Has |= flow.HasSrcID
		}
		e := &d.check
		e.b = appendMgmt(e.b[:0], &rec.Mgmt)
		if bytes.Equal(e.b, b[4:]) {
			return
		}
	}
	d.verbose++
	if len(b)-4 > 0xFFFF {
		return
	}
	d.res = append(d.res[:0], b[4:]...)
	L.Aux[0], L.AuxLen[0] = 1, uint16(len(b)-4)
	L.Verbatim = 1
	L.Residue = d.res
}
