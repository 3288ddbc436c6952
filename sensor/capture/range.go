package capture

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Range selects frames by their position in the input, as argus's -N: the
// frames after the first Skip, up to and including frame number Last
// (counting from 1). Last 0 means no end.
//
// This is what argus 3.0.8.2 does (checked with the real argus): "-N 5" reads
// frames 1 to 5, "-N 3-5" reads frames 4 and 5, "-N 0-2" frames 1 and 2 and
// "-N 1-1" none.
type Range struct {
	Skip int64
	Last int64
}

// ParseRange parses argus's -N argument: "n" or "a-b".
func ParseRange(s string) (Range, error) {
	a, b, dash := strings.Cut(strings.TrimSpace(s), "-")
	if !dash {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 1 {
			return Range{}, fmt.Errorf("capture: packet range %q: want n or a-b (n >= 1)", s)
		}
		return Range{Last: n}, nil
	}
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || x < 0 || y < 1 || y < x {
		return Range{}, fmt.Errorf("capture: packet range %q: want n or a-b with 0 <= a <= b, b >= 1", s)
	}
	return Range{Skip: x, Last: y}, nil
}

func (r Range) String() string {
	if r.Skip == 0 {
		return strconv.FormatInt(r.Last, 10)
	}
	return fmt.Sprintf("%d-%d", r.Skip, r.Last)
}

// WithRange returns a Source yielding only the frames of src that r selects;
// it ends (io.EOF) after frame r.Last without reading further.
func WithRange(src Source, r Range) Source {
	return &ranged{src: src, r: r}
}

type ranged struct {
	src   Source
	batch BatchSource // src, made on the first ReadFrames
	r     Range
	n     int64 // frames read from src
}

func (x *ranged) ReadFrame(f *Frame) error {
	for {
		if x.r.Last > 0 && x.n >= x.r.Last {
			return io.EOF
		}
		if err := x.src.ReadFrame(f); err != nil {
			return err
		}
		x.n++
		if x.n > x.r.Skip {
			return nil
		}
	}
}

func (x *ranged) Close() error { return x.src.Close() }

// ReadFrames drops the frames before the range from the batches of src and
// stops at its end.
func (x *ranged) ReadFrames(fs []Frame) (int, error) {
	if x.batch == nil {
		x.batch = Batch(x.src)
	}
	for {
		if x.r.Last > 0 && x.n >= x.r.Last {
			return 0, io.EOF
		}
		want := len(fs)
		if x.r.Last > 0 {
			want = int(min(int64(want), x.r.Last-x.n))
		}
		n, err := x.batch.ReadFrames(fs[:want])
		if err != nil {
			return 0, err
		}
		first := x.n
		x.n += int64(n)
		if x.n <= x.r.Skip {
			continue
		}
		if skip := int(max(x.r.Skip-first, 0)); skip > 0 {
			n = copy(fs, fs[skip:n])
		}
		return n, nil
	}
}
