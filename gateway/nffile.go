package gateway

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/sensor/capture"
)

// Message is one export message read from a file.
type Message struct {
	Data []byte         // the message; aliases the reader's memory
	From netip.AddrPort // pcap: the UDP source (the exporter); raw files: zero
	To   netip.AddrPort // pcap: the UDP destination
	TS   int64          // pcap: capture time, Unix ns; raw files: 0
	Pos  int64          // pcap: frame number from 1; raw files: byte offset
}

// Frame skip reasons of a capture (Stats.Skipped).
const (
	SkipNotUDP    = "not UDP over IPv4/IPv6"
	SkipFragment  = "IP fragment (not reassembled)"
	SkipSnapped   = "UDP payload cut by the capture's snap length"
	SkipLinkType  = "link type not understood"
	SkipMalformed = "malformed IP or UDP header"
)

// ReadMessages reads the export messages of a file and calls fn with
// batches of them; the messages alias the reader's memory until fn
// returns. Formats:
//
//   - FormatNF: a pcap or pcapng capture (possibly gzip/zstd-compressed),
//     told by its magic number, of export traffic: every UDP payload over IPv4 or IPv6 (Ethernet, VLAN,
//     Linux cooked, BSD loopback or raw IP) is one message, its exporter
//     the packet's source address and port. Frames that are not such
//     payloads are counted in skipped by reason.
//   - FormatNF5, FormatNF9, FormatIPFIX: raw messages, concatenated, framed
//     by their headers (see rawFrame); FormatNF when the file is not a
//     capture: raw messages of any of the three versions. "-" reads raw
//     messages from stdin.
//
// A framing error in a raw file ends it with an error; a capture's data
// errors are the capture reader's (*codecs.DecodeError).
func ReadMessages(path string, f Format, fn func(batch []Message) error) (skipped map[string]uint64, err error) {
	skipped = map[string]uint64{}
	if f == FormatNF && path != "-" {
		isCap, err := isCapture(path)
		if err != nil {
			return skipped, err
		}
		if isCap {
			return skipped, readPcapMessages(path, skipped, fn)
		}
	}
	return skipped, readRawMessages(path, f, fn)
}

// isCapture tells a capture (pcap, pcapng, gzip or zstd: what
// capture.OpenFile reads) from raw messages by the first four bytes.
func isCapture(path string) (bool, error) {
	fl, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer fl.Close()
	var m [4]byte
	if _, err := io.ReadFull(fl, m[:]); err != nil {
		return false, nil // too short for a capture: raw (and then an error)
	}
	switch binary.BigEndian.Uint32(m[:]) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a, 0x28b52ffd:
		return true, nil
	}
	return m[0] == 0x1f && m[1] == 0x8b, nil
}

func readPcapMessages(path string, skipped map[string]uint64, fn func([]Message) error) error {
	src, err := capture.OpenFile(path)
	if err != nil {
		return err
	}
	defer src.Close()
	bs := capture.Batch(src)
	frames := make([]capture.Frame, 256)
	msgs := make([]Message, 0, len(frames))
	var pos int64
	for {
		n, err := bs.ReadFrames(frames)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		msgs = msgs[:0]
		for i := range frames[:n] {
			pos++
			m := Message{TS: frames[i].TS, Pos: pos}
			if why := udpPayload(&frames[i], &m); why != "" {
				skipped[why]++
				continue
			}
			msgs = append(msgs, m)
		}
		if len(msgs) > 0 {
			if err := fn(msgs); err != nil {
				return err
			}
		}
	}
}

// udpPayload finds the UDP payload of a frame, or says why there is none.
func udpPayload(f *capture.Frame, m *Message) string {
	b := f.Data
	var ethType uint16
	switch f.LinkType {
	case capture.LinkEthernet:
		if len(b) < 14 {
			return SkipMalformed
		}
		ethType, b = binary.BigEndian.Uint16(b[12:]), b[14:]
		for (ethType == 0x8100 || ethType == 0x88a8 || ethType == 0x9100) && len(b) >= 4 {
			ethType, b = binary.BigEndian.Uint16(b[2:]), b[4:]
		}
	case capture.LinkSLL:
		if len(b) < 16 {
			return SkipMalformed
		}
		ethType, b = binary.BigEndian.Uint16(b[14:]), b[16:]
	case capture.LinkSLL2:
		if len(b) < 20 {
			return SkipMalformed
		}
		ethType, b = binary.BigEndian.Uint16(b[0:]), b[20:]
	case capture.LinkNull, capture.LinkLoop:
		if len(b) < 4 {
			return SkipMalformed
		}
		// The family is in the writer's byte order (null) or network order
		// (loop); either way IPv4 is 2 and IPv6 24, 28 or 30.
		fam := binary.LittleEndian.Uint32(b)
		if fam > 0xffff {
			fam = binary.BigEndian.Uint32(b)
		}
		switch fam {
		case 2:
			ethType = 0x0800
		case 24, 28, 30:
			ethType = 0x86dd
		}
		b = b[4:]
	case capture.LinkRaw, capture.LinkRawIPv4, capture.LinkRawIPv6:
		if len(b) > 0 {
			switch b[0] >> 4 {
			case 4:
				ethType = 0x0800
			case 6:
				ethType = 0x86dd
			}
		}
	default:
		return SkipLinkType
	}
	var src, dst netip.Addr
	switch ethType {
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 {
			return SkipMalformed
		}
		ihl := int(b[0]&0xf) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		if ihl < 20 || total < ihl || len(b) < ihl {
			return SkipMalformed
		}
		if binary.BigEndian.Uint16(b[6:])&0x3fff != 0 { // MF or an offset
			return SkipFragment
		}
		if b[9] != 17 {
			return SkipNotUDP
		}
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		if total < len(b) {
			b = b[:total] // Ethernet padding
		}
		b = b[ihl:]
	case 0x86dd:
		if len(b) < 40 || b[0]>>4 != 6 {
			return SkipMalformed
		}
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		plen := int(binary.BigEndian.Uint16(b[4:]))
		next := b[6]
		b = b[40:]
		if plen < len(b) {
			b = b[:plen]
		}
		for {
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(b) < 8 {
					return SkipMalformed
				}
				l := (int(b[1]) + 1) * 8
				if len(b) < l {
					return SkipMalformed
				}
				next, b = b[0], b[l:]
				continue
			case 44:
				return SkipFragment
			}
			break
		}
		if next != 17 {
			return SkipNotUDP
		}
	default:
		return SkipNotUDP
	}
	if len(b) < 8 {
		return SkipMalformed
	}
	ul := int(binary.BigEndian.Uint16(b[4:]))
	if ul < 8 {
		return SkipMalformed
	}
	if ul > len(b) {
		return SkipSnapped
	}
	m.From = netip.AddrPortFrom(src, binary.BigEndian.Uint16(b))
	m.To = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[2:]))
	m.Data = b[8:ul]
	return ""
}

// ErrFraming is what a raw message file that cannot be cut into messages
// fails with (wrapped in a *codecs.DecodeError with the offset).
var ErrFraming = errors.New("cannot find the next message")

// maxMessage bounds a raw message: the largest UDP payload.
const maxMessage = 65535

// rawFrame returns the length of the message at the start of b, given
// that the stream has ended when eof. It returns 0 and no error when b
// does not yet hold the whole message. Framing:
//
//   - v5: 24-byte header + 48 × count (header bytes 2-3).
//   - IPFIX: the header's length field (bytes 2-3), at least 16.
//   - v9: the 20-byte header, then FlowSets (id, length ≥ 4) up to the end
//     of the stream or to a FlowSet id from 2 to 255: those are reserved
//     (RFC 3954 §5.2), so such an id is the next message's version (5, 9
//     or 10; any other is then a framing error).
//
// FormatNF reads each message as its version word says.
func rawFrame(b []byte, f Format, eof bool) (int, error) {
	if len(b) < 4 {
		if eof && len(b) > 0 {
			return 0, codecs.ErrTruncated
		}
		return 0, nil
	}
	v := MessageVersion(b)
	want := map[Format]uint16{FormatNF5: VersionNF5, FormatNF9: VersionNF9, FormatIPFIX: VersionIPFIX}[f]
	if want != 0 && v != want || want == 0 && v != VersionNF5 && v != VersionNF9 && v != VersionIPFIX {
		return 0, fmt.Errorf("%w: version %d", ErrFraming, v)
	}
	n := 0
	switch v {
	case VersionNF5:
		n = 24 + 48*int(binary.BigEndian.Uint16(b[2:]))
	case VersionIPFIX:
		n = int(binary.BigEndian.Uint16(b[2:]))
		if n < 16 {
			return 0, fmt.Errorf("%w: IPFIX length %d", ErrFraming, n)
		}
	case VersionNF9:
		p := 20
		for {
			if p > maxMessage {
				return 0, fmt.Errorf("%w: v9 message over %d bytes", ErrFraming, maxMessage)
			}
			if len(b) < p+4 {
				if !eof {
					return 0, nil
				}
				if len(b) == p {
					return p, nil
				}
				return 0, codecs.ErrTruncated
			}
			id, l := binary.BigEndian.Uint16(b[p:]), int(binary.BigEndian.Uint16(b[p+2:]))
			if id >= 2 && id <= 255 {
				return p, nil
			}
			if l < 4 {
				return 0, fmt.Errorf("%w: FlowSet %d length %d", ErrFraming, id, l)
			}
			p += l
		}
	}
	if n > maxMessage {
		return 0, fmt.Errorf("%w: message of %d bytes", ErrFraming, n)
	}
	if len(b) < n {
		if eof {
			return 0, codecs.ErrTruncated
		}
		return 0, nil
	}
	return n, nil
}

func readRawMessages(path string, f Format, fn func([]Message) error) error {
	var r io.Reader = os.Stdin
	if path != "-" {
		fl, err := os.Open(path)
		if err != nil {
			return err
		}
		defer fl.Close()
		r = fl
	}
	// The window holds the largest v9 message plus its following FlowSet
	// header, so framing never needs more than is buffered.
	br := bufio.NewReaderSize(r, 4*maxMessage)
	var off int64
	msgs := make([]Message, 0, 64)
	for {
		buf, perr := br.Peek(br.Size())
		if perr != nil && perr != io.EOF {
			return perr
		}
		eof := perr == io.EOF
		if len(buf) == 0 {
			return nil
		}
		msgs = msgs[:0]
		p := 0
		for p < len(buf) {
			n, err := rawFrame(buf[p:], f, eof)
			if err != nil {
				if len(msgs) > 0 {
					if e := fn(msgs); e != nil {
						return e
					}
				}
				return &codecs.DecodeError{Format: string(f), File: path, Offset: off + int64(p), Part: "message framing", PartOff: off + int64(p), Err: err}
			}
			if n == 0 {
				break
			}
			msgs = append(msgs, Message{Data: buf[p : p+n], Pos: off + int64(p)})
			p += n
		}
		if len(msgs) > 0 {
			if err := fn(msgs); err != nil {
				return err
			}
		}
		if p == 0 {
			// Cannot happen: rawFrame decides within maxMessage+4 bytes.
			return &codecs.DecodeError{Format: string(f), File: path, Offset: off, Err: ErrFraming}
		}
		br.Discard(p)
		off += int64(p)
	}
}

// FileSource decodes the messages of a capture or raw message file.
type FileSource struct {
	path    string
	format  Format
	dec     Decoders
	c       Counters
	skipped map[string]uint64
	first   int64 // capture time of the first and last message (pcap)
	last    int64
}

// OpenFile prepares a file source of format f (FormatNF: pcap/pcapng;
// FormatNF5, FormatNF9, FormatIPFIX: raw messages) decoded with dec.
func OpenFile(path string, f Format, dec Decoders) (*FileSource, error) {
	if !f.IsNetFlow() {
		return nil, fmt.Errorf("gateway: %s is not a NetFlow/IPFIX file format", f)
	}
	if path != "-" {
		if _, err := os.Stat(path); err != nil {
			return nil, err
		}
	}
	return &FileSource{path: path, format: f, dec: dec.Only(f)}, nil
}

// Serve decodes the whole file, handing each batch's records to h. Decode
// errors are counted; the file's own errors (unreadable, unframable) and
// the handler's are returned. It stops early when ctx is done.
func (s *FileSource) Serve(ctx context.Context, h Handler) error {
	bd := batchDecoder{dec: s.dec, c: &s.c}
	var err error
	s.skipped, err = ReadMessages(s.path, s.format, func(batch []Message) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := range batch {
			m := &batch[i]
			if m.TS != 0 {
				if s.first == 0 {
					s.first = m.TS
				}
				s.last = m.TS
			}
			bd.add(m.Data, m.From)
			if bd.full() {
				if err := bd.flush(h); err != nil {
					return err
				}
			}
		}
		return bd.flush(h)
	})
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}

// Stats returns the counters; Skipped has the capture's frames that were
// not export messages, by reason.
func (s *FileSource) Stats() Stats {
	var st Stats
	s.c.snapshot(&st)
	st.Skipped = s.skipped
	st.FirstTS, st.LastTS = s.first, s.last
	return st
}
