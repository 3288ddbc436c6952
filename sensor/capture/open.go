package capture

import (
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
	bufSize = 256 << 10 // buffered window; frames up to this size alias it
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
// On Linux an uncompressed regular file is memory-mapped: frames alias the
// mapping (read-only memory: never write into Frame.Data), the pages read
// are handed back as the reading goes on, and the file is read as it was
// when opened (a capture still being written is read up to its size then;
// one truncated while it is read kills the process with SIGBUS, as with
// any mapped file). Other inputs go through a 256 KiB buffer. The returned
// Source is also a BatchSource whose batches copy nothing.
//
// Errors in the data are *codecs.DecodeError values (Format "pcap" or
// "pcapng") naming the file and the byte offset of the bad record or block,
// counted in the uncompressed stream, wrapping codecs.ErrTruncated,
// codecs.ErrCorrupt or codecs.ErrUnsupported. They are sticky: every good
// frame before the bad record is returned first.
func OpenFile(name string) (Source, error) {
	if name == "-" {
		return NewReader(os.Stdin, name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	if useMmap {
		if m := mapFile(f); m != nil {
			if src, err, ok := openMapped(name, m); ok {
				f.Close() // the mapping outlives the descriptor
				return src, err
			}
		}
	}
	src, err := NewReader(f, name)
	if err != nil {
		f.Close()
		return nil, err
	}
	src.(closerSetter).setCloser(f)
	return src, nil
}

// useMmap lets the tests read files through the buffered path too.
var useMmap = true

// openMapped reads a mapped file, or says (ok false, mapping released) that
// it is compressed and must be read through a decompressor.
func openMapped(name string, m []byte) (src Source, err error, ok bool) {
	if len(m) >= 4 && (m[0] == 0x1f && m[1] == 0x8b || binary.BigEndian.Uint32(m) == magicZstd) {
		unmap(m)
		return nil, nil, false
	}
	src, err = newSource(newMapped(name, m))
	if err != nil {
		unmap(m)
		return nil, err, true
	}
	return src, nil, true
}

// NewReader reads a capture (pcap or pcapng, optionally gzip- or
// zstd-compressed) from r; name is only used in errors. Close does not close
// r.
func NewReader(r io.Reader, name string) (Source, error) {
	raw := newBuffered(name, r)
	m, err := raw.peek(4)
	if err != nil {
		return nil, headerError("", name, "magic", err)
	}
	var dec io.ReadCloser
	switch {
	case m[0] == 0x1f && m[1] == 0x8b:
		// The raw stream, a ByteReader, feeds the decompressor directly.
		gr, err := gzip.NewReader(&raw)
		if err != nil {
			return nil, fmt.Errorf("capture %s: gzip: %w", name, err)
		}
		dec = gr
	case binary.BigEndian.Uint32(m) == magicZstd:
		d, err := zstd.NewReader(&raw, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("capture %s: zstd: %w", name, err)
		}
		dec = d.IOReadCloser()
	}
	s := raw
	if dec != nil {
		s = newBuffered(name, dec)
		s.dec = dec
	}
	src, err := newSource(s)
	if err != nil {
		if dec != nil {
			dec.Close()
		}
		return nil, err
	}
	return src, nil
}

// newSource reads the file header of the capture s holds.
func newSource(s stream) (Source, error) {
	m, err := s.peek(4)
	if err != nil {
		return nil, headerError("", s.name, "magic", err)
	}
	switch binary.BigEndian.Uint32(m) {
	case magicPcapMicro, magicPcapMicroSwap, magicPcapNano, magicPcapNanoSwap:
		return newPcap(s)
	case magicPcapng:
		return newPcapng(s)
	}
	return nil, fmt.Errorf("capture %s: magic %#08x: %w (not pcap or pcapng)", s.name, binary.BigEndian.Uint32(m), codecs.ErrUnknownFormat)
}

func headerError(format, name, part string, err error) error {
	if format == "" {
		format = "capture"
	}
	return &codecs.DecodeError{Format: format, File: name, Part: part, Err: shortErr(err)}
}

// shortErr maps a short read to ErrTruncated.
func shortErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return codecs.ErrTruncated
	}
	return err
}

type closerSetter interface{ setCloser(io.Closer) }

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
	names    []string
	cur      Source
	curBatch BatchSource // cur
	next     int
}

func (m *multi) ReadFrame(f *Frame) error {
	for {
		if err := m.open(); err != nil {
			return err
		}
		err := m.cur.ReadFrame(f)
		if err == nil {
			return nil
		}
		if err = m.ended(err); err != nil {
			return err
		}
	}
}

// ReadFrames never mixes files in a batch: a file is closed (unmapped) only
// in the call after its last frames.
func (m *multi) ReadFrames(fs []Frame) (int, error) {
	for {
		if err := m.open(); err != nil {
			return 0, err
		}
		n, err := m.curBatch.ReadFrames(fs)
		if err == nil {
			return n, nil
		}
		if err = m.ended(err); err != nil {
			return 0, err
		}
	}
}

// open opens the next file if none is open; io.EOF after the last.
func (m *multi) open() error {
	if m.cur != nil {
		return nil
	}
	if m.next >= len(m.names) {
		return io.EOF
	}
	name := m.names[m.next]
	m.next++
	src, err := OpenFile(name)
	if err != nil {
		return err
	}
	m.cur, m.curBatch = src, Batch(src)
	return nil
}

// ended closes the current file after its error err, returning err unless
// it is the file's io.EOF.
func (m *multi) ended(err error) error {
	m.cur.Close()
	m.cur, m.curBatch = nil, nil
	if err == io.EOF {
		return nil
	}
	return err
}

func (m *multi) Close() error {
	m.next = len(m.names)
	if m.cur != nil {
		err := m.cur.Close()
		m.cur, m.curBatch = nil, nil
		return err
	}
	return nil
}
