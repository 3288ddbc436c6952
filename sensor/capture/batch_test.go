package capture

import (
	"errors"
	"io"
	"testing"
)

// sliceSource yields frames that alias one buffer it overwrites on every
// read, as the file readers do, then an error.
type sliceSource struct {
	frames [][]byte
	buf    []byte
	end    error
}

func (s *sliceSource) ReadFrame(f *Frame) error {
	if len(s.frames) == 0 {
		return s.end
	}
	s.buf = append(s.buf[:0], s.frames[0]...)
	s.frames = s.frames[1:]
	*f = Frame{Data: s.buf, Len: len(s.buf), LinkType: LinkRaw}
	return nil
}

func (s *sliceSource) Close() error { return nil }

func TestBatchCopiesAndKeepsErrors(t *testing.T) {
	bad := errors.New("bad file")
	src := &sliceSource{frames: [][]byte{[]byte("one"), []byte("two"), []byte("three")}, end: bad}
	b := Batch(src)
	fs := make([]Frame, 2)
	n, err := b.ReadFrames(fs)
	if n != 2 || err != nil || string(fs[0].Data) != "one" || string(fs[1].Data) != "two" {
		t.Fatalf("first batch: %d %v %q %q", n, err, fs[0].Data, fs[1].Data)
	}
	n, err = b.ReadFrames(fs)
	if n != 1 || err != nil || string(fs[0].Data) != "three" {
		t.Fatalf("second batch: %d %v", n, err)
	}
	if n, err = b.ReadFrames(fs); n != 0 || err != bad {
		t.Fatalf("third batch: %d %v, want the source's error", n, err)
	}
	src.end = io.EOF
	if n, err = b.ReadFrames(fs); n != 0 || err != io.EOF {
		t.Fatalf("after the error: %d %v", n, err)
	}
}
