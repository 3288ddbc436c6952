package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/flowgate/flowgate/codecs"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Magic numbers, as the first four bytes of a file read big-endian.
const (
	magicPcapMicro     = 0xa1b2c3d4 // pcap, µs timestamps, writer's byte order
	magicPcapMicroSwap = 0xd4c3b2a1
	magicPcapNano      = 0xa1b23c4d // pcap, ns timestamps
	magicPcapNanoSwap  = 0x4d3cb2a1
	magicPcapng        = 0x0a0d0d0a // pcapng section header block (palindrome)
	magicZstd          = 0x28b52ffd
)

const (
	bufSize = 256 << 10 // bufio size; frames up to this size alias it
	// maxCaplen bounds a pcap record, as Wireshark does (262144 for most
	// link types), so a corrupt length cannot make us allocate gigabytes.
	maxCaplen = 256 << 10
	// maxBlock bounds a pcapng block (Wireshark: 16 MiB of packet data).
	maxBlock = 16<<20 + 64<<10
)

// OpenFile opens a pcap or pcapng capture, possibly compressed with gzip or
// zstd, telling the format by its magic number, never by its name. The name
// "-" reads standard input (which Close leaves open).
//
// pcap: both byte orders, microsecond (0xa1b2c3d4) and nanosecond
// (0xa1b23c4d) magic. pcapng: several sections of either byte order,
// several interfaces each with its own link type, if_tsresol (power of 10 or
// of 2) and if_tsoffset; enhanced, simple and obsolete packet blocks; other
// blocks (name resolution, statistics, custom, ...) are skipped. Simple packet
// blocks carry no timestamp: their frames have TS 0.
//
// Errors in the data are *codecs.DecodeError values (Format "pcap" or
// "pcapng") naming the file and the byte offset of the bad record or block,
// counted in the uncompressed stream, wrapping codecs.ErrTruncated,
// codecs.ErrCorrupt or codecs.ErrUnsupported. They are sticky: every good
// frame before the bad record is returned first.
func OpenFile(name string) (Source, error) {
	var rc io.ReadCloser
	if name == "-" {
		rc = io.NopCloser(os.Stdin)
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		rc = f
	}
	src, err := NewReader(rc, name)
	if err != nil {
		rc.Close()
		return nil, err
	}
	src.(closerSetter).setCloser(rc)
	return src, nil
}

// NewReader reads a capture (pcap or pcapng, optionally gzip- or
// zstd-compressed) from r; name is only used in errors. Close does not close
// r.
func NewReader(r io.Reader, name string) (Source, error) {
	br := bufio.NewReaderSize(r, bufSize)
	var dec io.Closer
	m, err := br.Peek(4)
	if err != nil {
		return nil, headerError("", name, "magic", err)
	}
	switch {
	case m[0] == 0x1f && m[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("capture %s: gzip: %w", name, err)
		}
		dec = zr
		br = bufio.NewReaderSize(zr, bufSize)
	case binary.BigEndian.Uint32(m) == magicZstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("capture %s: zstd: %w", name, err)
		}
		dec = zr.IOReadCloser()
		br = bufio.NewReaderSize(zr, bufSize)
	}
	s := stream{name: name, br: br, dec: dec}
	if dec != nil {
		if m, err = br.Peek(4); err != nil {
			s.closeDec()
			return nil, headerError("", name, "magic", err)
		}
	}
	var src Source
	switch binary.BigEndian.Uint32(m) {
	case magicPcapMicro, magicPcapMicroSwap, magicPcapNano, magicPcapNanoSwap:
		src, err = newPcap(s)
	case magicPcapng:
		src, err = newPcapng(s)
	default:
		err = fmt.Errorf("capture %s: magic %#08x: %w (not pcap or pcapng)", name, binary.BigEndian.Uint32(m), codecs.ErrUnknownFormat)
	}
	if err != nil {
		s.closeDec()
		return nil, err
	}
	return src, nil
}

func headerError(format, name, part string, err error) error {
	if format == "" {
		format = "capture"
	}
	return &codecs.DecodeError{Format: format, File: name, Part: part, Err: shortErr(err)}
}

// shortErr maps a short read to ErrTruncated.
func shortErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF || err == bufio.ErrBufferFull {
		return codecs.ErrTruncated
	}
	return err
}

type closerSetter interface{ setCloser(io.Closer) }

// stream is the byte source shared by the pcap and pcapng readers: a
// bufio.Reader, the offset consumed so far and a spare buffer for records
// larger than the bufio buffer.
type stream struct {
	name string
	br   *bufio.Reader
	off  int64     // bytes consumed from br
	big  []byte    // reused for records larger than bufSize
	dec  io.Closer // decompressor, if any
	file io.Closer // underlying file, if we own it
	err  error     // sticky
}

func (s *stream) setCloser(c io.Closer) { s.file = c }

func (s *stream) closeDec() {
	if s.dec != nil {
		s.dec.Close()
		s.dec = nil
	}
}

func (s *stream) close() error {
	s.closeDec()
	if s.err == nil {
		s.err = errClosed
	}
	if s.file != nil {
		err := s.file.Close()
		s.file = nil
		return err
	}
	return nil
}

var errClosed = errors.New("capture: source closed")

// peek returns the next n bytes without consuming them. A clean end of input
// before any byte gives io.EOF; a partial record gives io.ErrUnexpectedEOF.
func (s *stream) peek(n int) ([]byte, error) {
	b, err := s.br.Peek(n)
	if err != nil {
		if len(b) == 0 && err == io.EOF {
			return nil, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// take consumes and returns the next n bytes. The slice is valid until the
// next call on s. A short read gives io.ErrUnexpectedEOF.
func (s *stream) take(n int) ([]byte, error) {
	if n <= s.br.Size() {
		b, err := s.br.Peek(n)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		s.br.Discard(n)
		s.off += int64(n)
		return b, nil
	}
	// Larger than the bufio buffer: copy into s.big, growing it only as the
	// bytes actually arrive so that a bogus length in a short file costs
	// nothing.
	s.big = s.big[:0]
	for len(s.big) < n {
		chunk := min(n-len(s.big), max(len(s.big), 1<<20))
		if cap(s.big)-len(s.big) < chunk {
			nb := make([]byte, len(s.big), len(s.big)+chunk)
			copy(nb, s.big)
			s.big = nb
		}
		m, err := io.ReadFull(s.br, s.big[len(s.big):len(s.big)+chunk])
		s.big = s.big[:len(s.big)+m]
		s.off += int64(m)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return s.big, nil
}

// skip discards n bytes.
func (s *stream) skip(n int) error {
	m, err := s.br.Discard(n)
	s.off += int64(m)
	if err != nil && err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// OpenFiles reads several captures one after the other, as one Source. Each
// file is opened when the previous one ends. An error in one file (a
// truncated last record, say) is returned once, after that file's good
// frames; calling ReadFrame again goes on with the next file, so a caller
// may choose to stop or to continue. Missing files are reported by
// OpenFiles itself.
func OpenFiles(names []string) (Source, error) {
	if len(names) == 0 {
		return nil, errors.New("capture: no files")
	}
	for _, n := range names {
		if n == "-" {
			continue
		}
		if _, err := os.Stat(n); err != nil {
			return nil, err
		}
	}
	if len(names) == 1 {
		return OpenFile(names[0])
	}
	return &multi{names: names}, nil
}

type multi struct {
	names []string
	cur   Source
	next  int
}

func (m *multi) ReadFrame(f *Frame) error {
	for {
		if m.cur == nil {
			if m.next >= len(m.names) {
				return io.EOF
			}
			name := m.names[m.next]
			m.next++
			src, err := OpenFile(name)
			if err != nil {
				return err
			}
			m.cur = src
		}
		err := m.cur.ReadFrame(f)
		if err == nil {
			return nil
		}
		m.cur.Close()
		m.cur = nil
		if err != io.EOF {
			return err
		}
	}
}

func (m *multi) Close() error {
	m.next = len(m.names)
	if m.cur != nil {
		err := m.cur.Close()
		m.cur = nil
		return err
	}
	return nil
}
