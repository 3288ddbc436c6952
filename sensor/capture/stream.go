package capture

import (
	"errors"
	"io"
	"math"
)

// stream is the byte source shared by the pcap and pcapng readers. Its
// window buf[r:w] holds the bytes read but not consumed yet. Two kinds:
//
//   - mapped: buf is the whole file, memory-mapped (rd is nil). Records
//     alias the mapping: no read system call, no copy.
//   - buffered: rd refills a bufSize window (stdin, pipes, decompressors,
//     files that cannot be mapped). A record that fits in the window
//     aliases it; a larger one is copied into big.
//
// While pin is set (inside a ReadFrames batch, after its first frame),
// fill may read more into the window but never moves the bytes the
// batch's frames alias: a record that would need it ends the batch
// (errPinned) and is read first thing in the next one.
type stream struct {
	name string
	buf  []byte
	r, w int
	base int64 // input offset of buf[0]

	rd   io.Reader // nil: buf holds the whole input
	rerr error     // rd's error (io.EOF at the end), once met
	pin  bool

	big []byte // reused for records larger than the window

	// Mapped files: the mapping (buf) and the pages consumed so far are
	// handed back to the kernel a chunk at a time, so that a multi-GB file
	// does not grow the resident set.
	mapped    []byte
	dropped   int // buf[:dropped] is released
	touched   int // buf[:touched] has been touched ahead of the reading
	populated int // buf[:populated] is mapped in our page tables
	workAt    int // release and touch again once r reaches this (MaxInt: never)
	sink      byte

	dec  io.Closer // decompressor, if any
	file io.Closer // underlying file, if we own it
	err  error     // sticky
}

const (
	// dropChunk is how much of a mapped file is consumed between two
	// releases of its pages: few system calls, a bounded resident set.
	dropChunk = 8 << 20
	// The reading of a mapped file is a chain of dependent loads (each
	// record's length says where the next one is), each missing the CPU
	// caches: the hardware prefetcher does not cross pages. Touching every
	// cache line touchAhead bytes ahead, touchStep bytes at a time, with
	// independent loads the CPU overlaps, brings the records in before the
	// chain gets there (the kernel's copy did this for the buffered path).
	touchAhead = 64 << 10
	touchStep  = 16 << 10
	// Page-table entries for the file are made populateAhead bytes ahead,
	// in one system call, instead of one page fault every 16 pages.
	populateAhead = 4 << 20
)

// errPinned ends a batch early: the next record does not fit in the window
// without moving the bytes the batch's frames alias. Internal only.
var errPinned = errors.New("capture: window pinned")

var errClosed = errors.New("capture: source closed")

func newBuffered(name string, rd io.Reader) stream {
	return stream{name: name, buf: make([]byte, bufSize), rd: rd, workAt: math.MaxInt}
}

func newMapped(name string, m []byte) stream {
	s := stream{name: name, buf: m, w: len(m), mapped: m}
	s.mappedWork()
	return s
}

// off is the input offset of the next unconsumed byte.
func (s *stream) off() int64 { return s.base + int64(s.r) }

// batch fills fs with the frames next reads, pinning the window after the
// first so that none of them moves (next returns errPinned when the next
// record does not fit without moving the window: the batch ends there).
func (s *stream) batch(fs []Frame, next func(*Frame) error) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	s.consumed()
	n := 0
	for n < len(fs) {
		if err := next(&fs[n]); err != nil {
			if n == 0 {
				return 0, err // (never errPinned: not pinned yet)
			}
			break // errPinned, or an error the next call returns
		}
		n++
		s.pin = true
	}
	s.pin = false
	return n, nil
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
	if s.mapped != nil {
		unmap(s.mapped)
		s.mapped, s.buf, s.r, s.w = nil, nil, 0, 0
	}
	if s.file != nil {
		err := s.file.Close()
		s.file = nil
		return err
	}
	return nil
}

// consumed is called when the frames returned so far are no longer in use
// (at the start of each read). For a mapped file, every touchStep bytes, it
// touches the bytes ahead and hands the pages behind back to the kernel.
func (s *stream) consumed() {
	if s.r >= s.workAt {
		s.mappedWork()
	}
}

func (s *stream) mappedWork() {
	if s.r-s.dropped >= dropChunk {
		s.dropped = release(s.mapped, s.dropped, s.r)
	}
	if s.populated < len(s.mapped) && s.r+populateAhead/2 >= s.populated {
		s.populated = populate(s.mapped, s.populated, min(s.r+populateAhead, len(s.mapped)))
	}
	end := min(s.r+touchAhead, len(s.mapped))
	t := max(s.touched, s.r)
	var x byte
	for ; t < end; t += 64 {
		x |= s.mapped[t]
	}
	s.sink |= x
	s.touched = t
	s.workAt = s.r + touchStep
}

// end says why fewer bytes are available than asked: io.EOF when none are
// left at the end of the input, io.ErrUnexpectedEOF for a partial record,
// or rd's error.
func (s *stream) end() error {
	if s.rd != nil && s.rerr != io.EOF {
		return s.rerr
	}
	if s.r == s.w {
		return io.EOF
	}
	return io.ErrUnexpectedEOF
}

// fill makes the window hold at least n (<= len(buf)) bytes.
func (s *stream) fill(n int) error {
	if s.rd == nil || s.rerr != nil {
		return s.end()
	}
	if s.r+n > len(s.buf) {
		if s.pin {
			return errPinned
		}
		copy(s.buf, s.buf[s.r:s.w])
		s.base += int64(s.r)
		s.w -= s.r
		s.r = 0
	}
	for empty := 0; s.w-s.r < n; {
		m, err := s.rd.Read(s.buf[s.w:])
		s.w += m
		if err != nil {
			s.rerr = err
			if s.w-s.r < n {
				return s.end()
			}
			break
		}
		if m == 0 {
			if empty++; empty == 100 {
				s.rerr = io.ErrNoProgress
				return s.rerr
			}
		}
	}
	return nil
}

// peek returns the next n (<= bufSize) bytes without consuming them. A
// clean end of input before any byte gives io.EOF; a partial record
// io.ErrUnexpectedEOF.
func (s *stream) peek(n int) ([]byte, error) {
	if s.w-s.r < n {
		if err := s.fill(n); err != nil {
			return nil, err
		}
	}
	return s.buf[s.r : s.r+n], nil
}

// record consumes a record: an h-byte header already peeked, then n bytes,
// which it returns. They are valid until the window moves (the next call
// on s, or the end of the batch when pinned). A short input gives
// io.ErrUnexpectedEOF and consumes nothing, unless the record is larger
// than the window.
func (s *stream) record(h, n int) ([]byte, error) {
	t := h + n
	if s.w-s.r >= t { // the common case, and every record of a mapped file
		b := s.buf[s.r+h : s.r+t : s.r+t]
		s.r += t
		return b, nil
	}
	if t <= len(s.buf) || s.rd == nil {
		if err := s.fill(t); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		b := s.buf[s.r+h : s.r+t : s.r+t]
		s.r += t
		return b, nil
	}
	if s.pin {
		return nil, errPinned // big is in use by an earlier frame
	}
	// Larger than the window: what the window holds, then straight from
	// rd into big, growing it only as the bytes actually arrive so that a
	// bogus length in a short file costs nothing.
	s.r += h
	k := min(n, s.w-s.r)
	s.big = append(s.big[:0], s.buf[s.r:s.r+k]...)
	s.base += int64(s.r + k)
	s.r, s.w = 0, 0
	for len(s.big) < n {
		if s.rerr != nil {
			return nil, s.bigErr()
		}
		chunk := min(n-len(s.big), max(len(s.big), 1<<20))
		if cap(s.big)-len(s.big) < chunk {
			nb := make([]byte, len(s.big), len(s.big)+chunk)
			copy(nb, s.big)
			s.big = nb
		}
		m, err := io.ReadFull(s.rd, s.big[len(s.big):len(s.big)+chunk])
		s.big = s.big[:len(s.big)+m]
		s.base += int64(m)
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			s.rerr = err
		}
	}
	return s.big, nil
}

func (s *stream) bigErr() error {
	if s.rerr == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return s.rerr
}

// Read and ReadByte give the raw bytes, for a decompressor reading the
// stream.
func (s *stream) Read(p []byte) (int, error) {
	if s.r == s.w {
		if err := s.fill(1); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.r:s.w])
	s.r += n
	return n, nil
}

func (s *stream) ReadByte() (byte, error) {
	if s.r == s.w {
		if err := s.fill(1); err != nil {
			return 0, err
		}
	}
	c := s.buf[s.r]
	s.r++
	return c, nil
}
