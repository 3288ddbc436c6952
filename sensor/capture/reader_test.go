package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/flowgate/flowgate/codecs"
)

// readBytes reads a capture held in memory through NewReader, frame by
// frame. It also reads it every other way (from a file, mapped or through
// the buffer, frame by frame and in batches, and through a reader that
// gives one byte at a time) and fails the test unless every way gives the
// same frames and the same error.
func readBytes(t *testing.T, b []byte) ([]wantFrame, error) {
	t.Helper()
	got, err := readSource(t, func() (Source, error) { return NewReader(bytes.NewReader(b), "test") }, 0, false)
	p := writeTemp(t, "test", b)
	for _, c := range readWays {
		g, e := readSource(t, func() (Source, error) {
			if c.file {
				return OpenFile(p)
			}
			return NewReader(iotest.OneByteReader(bytes.NewReader(b)), "test")
		}, c.batch, c.mapped && c.file && !compressed(b))
		name := "test"
		if c.file {
			name = p
		}
		if errString(e, name) != errString(err, "test") {
			t.Fatalf("%s: error %v; read from memory: %v", c.name, e, err)
		}
		if len(g) != len(got) {
			t.Fatalf("%s: %d frames; read from memory: %d", c.name, len(g), len(got))
		}
		for i := range g {
			if !reflect.DeepEqual(g[i], got[i]) {
				t.Fatalf("%s: frame %d differs from the one read from memory: %+v, %+v", c.name, i, g[i], got[i])
			}
		}
	}
	return got, err
}

// readWays are the ways readBytes checks against NewReader.
var readWays = []struct {
	name   string
	file   bool // OpenFile
	mapped bool // OpenFile may map the file (useMmap)
	batch  int  // ReadFrames with this many frames; 0: ReadFrame
}{
	{"mapped file", true, true, 0},
	{"mapped file, batches of 3", true, true, 3},
	{"mapped file, batches of 256", true, true, 256},
	{"buffered file", true, false, 0},
	{"buffered file, batches of 256", true, false, 256},
	{"one byte at a time, batches of 256", false, false, 256},
}

func compressed(b []byte) bool {
	return len(b) >= 2 && (b[0] == 0x1f && b[1] == 0x8b || len(b) >= 4 && binary.BigEndian.Uint32(b) == magicZstd)
}

func errString(err error, name string) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), name, "NAME")
}

// readSource reads every frame of the source open returns, frame by frame
// or in batches of batch frames, cloning the data only once a whole batch
// is read (so checking that its frames all stay valid). It checks that the
// source reads from a mapping if and only if mapped (on Linux).
func readSource(t *testing.T, open func() (Source, error), batch int, mapped bool) ([]wantFrame, error) {
	t.Helper()
	defer func(old bool) { useMmap = old }(useMmap)
	useMmap = mapped
	src, err := open()
	useMmap = true
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if runtime.GOOS == "linux" {
		var m []byte
		switch s := src.(type) {
		case *pcapReader:
			m = s.mapped
		case *pcapngReader:
			m = s.mapped
		}
		if (m != nil) != mapped {
			t.Fatalf("%T: mapped %v, want %v", src, m != nil, mapped)
		}
	}
	var got []wantFrame
	if batch == 0 {
		for {
			var f Frame
			err := src.ReadFrame(&f)
			if err == io.EOF {
				return got, nil
			}
			if err != nil {
				if err2 := src.ReadFrame(&f); err2 != err {
					t.Fatalf("error not sticky: %v, then %v", err, err2)
				}
				return got, err
			}
			got = append(got, wantFrame{f.TS, bytes.Clone(f.Data), f.Len, f.LinkType, f.IfIndex})
		}
	}
	bs, ok := src.(BatchSource)
	if !ok {
		t.Fatalf("%T is not a BatchSource", src)
	}
	fs := make([]Frame, batch)
	for {
		n, err := bs.ReadFrames(fs)
		if (n == 0) == (err == nil) {
			t.Fatalf("ReadFrames: %d frames and error %v", n, err)
		}
		for _, f := range fs[:n] {
			got = append(got, wantFrame{f.TS, bytes.Clone(f.Data), f.Len, f.LinkType, f.IfIndex})
		}
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			if _, err2 := bs.ReadFrames(fs); err2 != err {
				t.Fatalf("error not sticky: %v, then %v", err, err2)
			}
			return got, err
		}
	}
}

func checkFrames(t *testing.T, got, want []wantFrame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ts != w.ts || g.length != w.length || g.linkType != w.linkType || g.ifIndex != w.ifIndex || !bytes.Equal(g.data, w.data) {
			t.Errorf("frame %d: got ts %d len %d link %d if %d data %d bytes; want ts %d len %d link %d if %d data %d bytes",
				i, g.ts, g.length, g.linkType, g.ifIndex, len(g.data), w.ts, w.length, w.linkType, w.ifIndex, len(w.data))
		}
	}
}

type sample struct {
	name string
	data []byte
	want []wantFrame
}

func samples() []sample {
	var s []sample
	for _, bo := range []order{binary.LittleEndian, binary.BigEndian} {
		for _, nano := range []bool{false, true} {
			b, w := samplePcap(bo, nano)
			name := "pcap-" + bo.String()
			if nano {
				name += "-ns"
			}
			s = append(s, sample{name, b, w})
		}
	}
	b, w := samplePcapng()
	s = append(s, sample{"pcapng", b, w})
	s = append(s, sample{"pcapng.gz", gz(b), w})
	b, w = samplePcap(binary.LittleEndian, false)
	s = append(s, sample{"pcap.gz", gz(b), w})
	return s
}

func TestReadSamples(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			got, err := readBytes(t, s.data)
			if err != nil {
				t.Fatal(err)
			}
			checkFrames(t, got, s.want)
		})
	}
}

// TestTruncated cuts every sample at every length: OpenFile fails with a
// DecodeError, or every complete frame comes first and then a DecodeError
// wrapping ErrTruncated, whose offset is the start of the cut record.
func TestTruncated(t *testing.T) {
	for _, s := range samples() {
		if s.data[0] == 0x1f {
			continue // gzip: a cut stream is a gzip error
		}
		t.Run(s.name, func(t *testing.T) {
			full, _ := readBytes(t, s.data)
			for n := range len(s.data) {
				got, err := readBytes(t, s.data[:n])
				if err == nil {
					// A cut exactly between records is a clean, shorter file.
					if len(got) >= len(full) {
						t.Fatalf("cut at %d: %d frames and no error", n, len(got))
					}
					checkFrames(t, got, full[:len(got)])
					continue
				}
				var de *codecs.DecodeError
				if !errors.As(err, &de) || !errors.Is(err, codecs.ErrTruncated) {
					t.Fatalf("cut at %d: error %v is not a truncation DecodeError", n, err)
				}
				if de.File != "test" || de.Offset > int64(n) {
					t.Fatalf("cut at %d: error %v names the wrong file or offset", n, err)
				}
				checkFrames(t, got, full[:len(got)])
			}
		})
	}
}

func TestCorrupt(t *testing.T) {
	b, _ := samplePcapng()
	// Make the second block's trailing length disagree.
	shbLen := binary.LittleEndian.Uint32(b[4:])
	idbLen := binary.LittleEndian.Uint32(b[shbLen+4:])
	c := bytes.Clone(b)
	c[shbLen+idbLen-4]++
	_, err := readBytes(t, c)
	var de *codecs.DecodeError
	if !errors.As(err, &de) || !errors.Is(err, codecs.ErrCorrupt) || de.Offset != int64(shbLen) || de.Format != "pcapng" {
		t.Fatalf("got %v, want a corrupt-block error at byte %d", err, shbLen)
	}

	// An enhanced packet block naming an interface that does not exist.
	var w ngWriter
	w.section(binary.LittleEndian)
	w.idb(LinkEthernet, 0, -1, 0)
	w.epb(0, 1, payload(0, 10), 10)
	off := len(w.b)
	w.epb(1, 1, payload(0, 10), 10)
	got, err := readBytes(t, w.b)
	if len(got) != 1 || !errors.As(err, &de) || !errors.Is(err, codecs.ErrCorrupt) || de.Offset != int64(off) {
		t.Fatalf("got %d frames, %v; want 1 frame, then a corrupt block at byte %d", len(got), err, off)
	}

	// A pcap record longer than any link type allows.
	p, _ := samplePcap(binary.LittleEndian, false)
	binary.LittleEndian.PutUint32(p[24+8:], 1<<30)
	got, err = readBytes(t, p)
	if len(got) != 0 || !errors.As(err, &de) || !errors.Is(err, codecs.ErrCorrupt) || de.Offset != 24 || de.Format != "pcap" {
		t.Fatalf("got %d frames, %v; want a corrupt record at byte 24", len(got), err)
	}

	// Not a capture at all.
	if _, err := readBytes(t, []byte("hello, world")); !errors.Is(err, codecs.ErrUnknownFormat) {
		t.Fatalf("text: got %v, want ErrUnknownFormat", err)
	}
	if _, err := readBytes(t, nil); !errors.Is(err, codecs.ErrTruncated) {
		t.Fatalf("empty: got %v, want ErrTruncated", err)
	}
}

// TestLargeFrame reads a frame larger than the bufio buffer.
func TestLargeFrame(t *testing.T) {
	var w ngWriter
	w.section(binary.BigEndian)
	w.idb(LinkEthernet, 0, 9, 0)
	big := payload(7, bufSize+1000)
	w.epb(0, 42, big, uint32(len(big)))
	w.epb(0, 43, payload(8, 64), 64)
	got, err := readBytes(t, w.b)
	if err != nil {
		t.Fatal(err)
	}
	checkFrames(t, got, []wantFrame{{42, big, len(big), LinkEthernet, 0}, {43, payload(8, 64), 64, LinkEthernet, 0}})
}

func writeTemp(t testing.TB, name string, b []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenFiles(t *testing.T) {
	a, wa := samplePcap(binary.BigEndian, true)
	b, wb := samplePcapng()
	pa, pb := writeTemp(t, "a.pcap", a), writeTemp(t, "b.pcapng.gz", gz(b))
	src, err := OpenFiles([]string{pa, pb, pa})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var got []wantFrame
	for {
		var f Frame
		err := src.ReadFrame(&f)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, wantFrame{f.TS, bytes.Clone(f.Data), f.Len, f.LinkType, f.IfIndex})
	}
	all := append(append(append([]wantFrame{}, wa...), wb...), wa...)
	checkFrames(t, got, all)

	// In batches: a batch never holds frames of two files, whose first is
	// unmapped when the second is opened.
	for _, n := range []int{1, 4, 256} {
		src, err := OpenFiles([]string{pa, pb, pa})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readSource(t, func() (Source, error) { return src, nil }, n, false)
		if err != nil {
			t.Fatal(err)
		}
		checkFrames(t, got, all)
	}

	if _, err := OpenFiles([]string{pa, filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Fatal("OpenFiles with a missing file: no error")
	}

	// An error in the middle file is returned once; reading goes on.
	cut := writeTemp(t, "cut.pcap", a[:len(a)-3])
	src, _ = OpenFiles([]string{cut, pa})
	n, errs := 0, 0
	for {
		var f Frame
		err := src.ReadFrame(&f)
		if err == io.EOF {
			break
		}
		if err != nil {
			errs++
			continue
		}
		n++
	}
	if n != 2*len(wa)-1 || errs != 1 {
		t.Fatalf("cut then whole: %d frames %d errors; want %d and 1", n, errs, 2*len(wa)-1)
	}
}

func TestRange(t *testing.T) {
	b, want := samplePcap(binary.LittleEndian, false) // 5 frames
	for _, c := range []struct {
		arg         string
		first, last int // want[first:last]
	}{
		{"3", 0, 3}, {"0-2", 0, 2}, {"2-3", 2, 3}, {"3-5", 3, 5}, {"1-1", 1, 1}, {"4-100", 4, 5}, {"10", 0, 5},
	} {
		r, err := ParseRange(c.arg)
		if err != nil {
			t.Fatal(err)
		}
		if r.String() != c.arg && r.Skip != 0 {
			t.Errorf("Range %q prints as %q", c.arg, r)
		}
		src, _ := NewReader(bytes.NewReader(b), "x")
		src = WithRange(src, r)
		var got []wantFrame
		for {
			var f Frame
			if err := src.ReadFrame(&f); err != nil {
				if err != io.EOF {
					t.Fatal(err)
				}
				break
			}
			got = append(got, wantFrame{f.TS, bytes.Clone(f.Data), f.Len, f.LinkType, f.IfIndex})
		}
		checkFrames(t, got, want[c.first:c.last])
		for _, n := range []int{1, 2, 256} {
			got, err := readSource(t, func() (Source, error) {
				src, err := NewReader(bytes.NewReader(b), "x")
				return WithRange(src, r), err
			}, n, false)
			if err != nil {
				t.Fatal(err)
			}
			checkFrames(t, got, want[c.first:c.last])
		}
	}
	for _, bad := range []string{"", "0", "x", "5-2", "-3", "1-", "0-0"} {
		if _, err := ParseRange(bad); err == nil {
			t.Errorf("ParseRange(%q): no error", bad)
		}
	}
}

// TestReadFrameAllocs: reading a frame allocates nothing, for pcap, pcapng
// and compressed input.
func TestReadFrameAllocs(t *testing.T) {
	for _, s := range samples() {
		// Repeat the frames so the loop never reaches the end.
		data := s.data
		if s.name == "pcap-LittleEndian" {
			var pkts []testPkt
			for i := range 2000 {
				pkts = append(pkts, testPkt{sec: uint32(i), data: payload(i, 100)})
			}
			data = buildPcap(binary.LittleEndian, false, 1, pkts)
		} else if s.name == "pcapng" {
			var w ngWriter
			w.section(binary.LittleEndian)
			w.idb(LinkEthernet, 0, 0x80|10, 0)
			for i := range 2000 {
				w.epb(0, uint64(i)*1000, payload(i, 100), 100)
			}
			data = w.b
		} else if s.name == "pcapng.gz" {
			var w ngWriter
			w.section(binary.BigEndian)
			w.idb(LinkEthernet, 0, 9, 0)
			for i := range 2000 {
				w.epb(0, uint64(i)*1000, payload(i, 100), 100)
			}
			data = gz(w.b)
		} else {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			src, err := NewReader(bytes.NewReader(data), "x")
			if err != nil {
				t.Fatal(err)
			}
			var f Frame
			src.ReadFrame(&f)
			allocs := testing.AllocsPerRun(1000, func() {
				if err := src.ReadFrame(&f); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per ReadFrame, want 0", allocs)
			}
		})
	}
}

// FuzzReadFile reads arbitrary bytes as a capture: errors are
// DecodeErrors, sticky, and every way of reading (readBytes: mapped and
// buffered files, frame by frame and in batches) gives the same frames and
// errors. Seeds: the samples and, with FLOWGATE_CORPUS, the corpus captures
// under 64 KiB.
func FuzzReadFile(f *testing.F) {
	for _, s := range samples() {
		f.Add(s.data)
	}
	if os.Getenv("FLOWGATE_CORPUS") != "" {
		for _, name := range corpusCaptures(f) {
			if fi, err := os.Stat(name); err == nil && fi.Size() < 64<<10 {
				b, err := os.ReadFile(name)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		readBytes(t, b)
		src, err := NewReader(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		defer src.Close()
		var fr Frame
		for range 100000 {
			err := src.ReadFrame(&fr)
			if err == io.EOF {
				return
			}
			if err != nil {
				var de *codecs.DecodeError
				if !errors.As(err, &de) && !errors.Is(err, io.ErrUnexpectedEOF) {
					// gzip/zstd errors are the decompressor's own.
					if b[0] != 0x1f && b[0] != 0x28 {
						t.Fatalf("error %v is not a DecodeError", err)
					}
				}
				if err2 := src.ReadFrame(&fr); err2 != err {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
				return
			}
			if fr.Len < 0 || len(fr.Data) > maxBlock {
				t.Fatalf("frame of %d/%d bytes", len(fr.Data), fr.Len)
			}
		}
	})
}

// BenchmarkReadFrame reads a pcap of 100,000 frames made by
// conformance/tools/genpcap, one op a frame: from memory through the
// buffered reader, and from the file, memory-mapped (on Linux), frame by
// frame and in batches of 256.
func BenchmarkReadFrame(b *testing.B) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		b.Skip("go command not found: cannot run genpcap")
	}
	p := filepath.Join(b.TempDir(), "gen.pcap")
	cmd := exec.Command(gobin, "run", "./conformance/tools/genpcap", "-n", "100000", "-o", p)
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("genpcap: %v\n%s", err, out)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	open := func(b *testing.B, mapped bool) BatchSource {
		var src Source
		var err error
		if mapped {
			src, err = OpenFile(p)
		} else {
			src, err = NewReader(bytes.NewReader(data), "gen.pcap")
		}
		if err != nil {
			b.Fatal(err)
		}
		return Batch(src)
	}
	for _, c := range []struct {
		name   string
		mapped bool
		batch  int
	}{{"buffered", false, 0}, {"mapped", true, 0}, {"buffered-batch", false, 256}, {"mapped-batch", true, 256}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)) / 100000)
			b.ReportAllocs()
			var src BatchSource
			var f Frame
			fs := make([]Frame, c.batch)
			b.ResetTimer()
			for i := 0; i < b.N; {
				if src == nil {
					b.StopTimer()
					src = open(b, c.mapped)
					b.StartTimer()
				}
				var err error
				if c.batch == 0 {
					if err = src.ReadFrame(&f); err == nil {
						i++
					}
				} else {
					var n int
					n, err = src.ReadFrames(fs[:min(len(fs), b.N-i)])
					i += n
				}
				if err != nil {
					if err != io.EOF {
						b.Fatal(err)
					}
					b.StopTimer()
					src.Close()
					src = nil
					b.StartTimer()
				}
			}
			b.StopTimer()
			if src != nil {
				src.Close()
			}
		})
	}
}

func TestStdin(t *testing.T) {
	b, want := samplePcapng()
	p := writeTemp(t, "in.pcapng", b)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	src, err := OpenFile("-")
	if err != nil {
		t.Fatal(err)
	}
	var got []wantFrame
	for {
		var fr Frame
		if err := src.ReadFrame(&fr); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		got = append(got, wantFrame{fr.TS, bytes.Clone(fr.Data), fr.Len, fr.LinkType, fr.IfIndex})
	}
	src.Close()
	checkFrames(t, got, want)
	if _, err := f.Stat(); err != nil {
		t.Fatalf("Close closed standard input: %v", err)
	}
}
