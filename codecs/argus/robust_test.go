package argus

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// recordOffsets returns the start offset of every record in data.
func recordOffsets(t testing.TB, data []byte) []int {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	var rec flow.Record
	for {
		off := r.Offset()
		if err := r.Decode(&rec); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			return offs
		}
		offs = append(offs, int(off))
	}
}

// drain decodes a stream to its end and rewrites what it decoded; it must
// never panic. With resync off it stops at the first error, which must be
// a *codecs.DecodeError.
func drain(t testing.TB, data []byte, resync bool) {
	var opts []Option
	if resync {
		opts = append(opts, WithResync())
	}
	r, err := NewReader(bytes.NewReader(data), opts...)
	if err != nil {
		var de *codecs.DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("NewReader error %T %v", err, err)
		}
		return
	}
	w, _ := NewWriter(io.Discard, r.Version(), WithLossy(nil))
	var rec flow.Record
	for i := 0; ; i++ {
		err := r.Decode(&rec)
		if err == io.EOF {
			return
		}
		if err != nil {
			var de *codecs.DecodeError
			if !errors.As(err, &de) || de.Format != "argus" {
				t.Fatalf("error %T %v", err, err)
			}
			if !errors.Is(err, codecs.ErrTruncated) && !errors.Is(err, codecs.ErrCorrupt) {
				t.Fatalf("error %v wraps neither ErrTruncated nor ErrCorrupt", err)
			}
			if resync {
				t.Fatalf("resyncing reader returned %v", err)
			}
			return
		}
		w.Encode(&rec)
		if i > 1e6 {
			t.Fatal("no progress")
		}
	}
}

// TestTruncated cuts every corpus file at every 97th byte. Records before
// the cut decode exactly as in the whole file, so each cut is checked on
// the MAR plus the record it falls in (and the rest up to the cut).
func TestTruncated(t *testing.T) {
	for _, f := range corpusFiles(t) {
		data, _ := os.ReadFile(f)
		offs := recordOffsets(t, data)
		mar := data[:offs[min(1, len(offs)-1)]]
		k := 0
		for cut := 97; cut < len(data); cut += 97 {
			for k+1 < len(offs) && offs[k+1] <= cut {
				k++
			}
			var in []byte
			if offs[k] == 0 {
				in = data[:cut]
			} else {
				in = append(append([]byte(nil), mar...), data[offs[k]:cut]...)
			}
			drain(t, in, false)
			drain(t, in, true)
			if offs[k] != 0 && cut > offs[k] {
				// a plain reader reports the cut record as truncated
				r, _ := NewReader(bytes.NewReader(in))
				var rec flow.Record
				r.Decode(&rec)
				err := r.Decode(&rec)
				var de *codecs.DecodeError
				if !errors.As(err, &de) || !errors.Is(err, codecs.ErrTruncated) || de.Offset != int64(len(mar)) {
					t.Fatalf("%s cut at %d: err %v, want truncated record at %d", f, cut, err, len(mar))
				}
			}
		}
	}
}

// TestMutations flips 10,000 random single bytes (fixed seed) across the
// corpus and decodes, resyncs and rewrites the result.
func TestMutations(t *testing.T) {
	files := corpusFiles(t)
	var datas [][]byte
	var offs [][]int
	for _, f := range files {
		d, _ := os.ReadFile(f)
		datas = append(datas, d)
		offs = append(offs, recordOffsets(t, d))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const window = 16 << 10
	for n := 0; n < 10000; n++ {
		i := rng.IntN(len(datas))
		d, o := datas[i], offs[i]
		pos := rng.IntN(len(d))
		// the MAR plus a window starting at the record holding pos
		k := 0
		for k+1 < len(o) && o[k+1] <= pos {
			k++
		}
		var in []byte
		if o[k] == 0 {
			in = append([]byte(nil), d[:min(len(d), window)]...)
		} else {
			in = append(append([]byte(nil), d[:o[1]]...), d[o[k]:min(len(d), o[k]+window)]...)
			pos = pos - o[k] + o[1]
		}
		in[pos] ^= byte(1 + rng.IntN(255))
		drain(t, in, false)
		drain(t, in, true)
	}
}

func TestResyncSkips(t *testing.T) {
	rec := far(3, hx(t, "02 01 01 05 0a000001 0a000002 06 00 9c40 0050 0000 03 01 18 03 6553f100 00000000 10 01 06 02 0001 003e"))
	data := append(marBytes(3), rec...)
	data = append(data, 0x13, 0x10, 0x00, 0x09, 0x02, 0x01, 0x01, 0x30) // DSR longer than its record
	data = append(data, make([]byte, 28)...)
	data = append(data, rec...)
	r, _ := NewReader(bytes.NewReader(data), WithResync(), WithFileName("x.argus"))
	var got flow.Record
	n := 0
	for r.Decode(&got) == nil {
		n++
	}
	if n != 3 {
		t.Fatalf("decoded %d records, want MAR + 2 flows", n)
	}
	if b, recs := r.Skipped(); b != 36 || recs != 1 {
		t.Errorf("Skipped() = %d bytes %d regions, want 36, 1", b, recs)
	}

	// without resync: a DecodeError naming the part, then Resync continues
	r, _ = NewReader(bytes.NewReader(data), WithFileName("x.argus"))
	r.Decode(&got)
	r.Decode(&got)
	err := r.Decode(&got)
	var de *codecs.DecodeError
	if !errors.As(err, &de) || de.File != "x.argus" || de.Offset != int64(128+len(rec)) || de.Part != "DSR 0x02 flow" ||
		de.PartOff != de.Offset+4 || !errors.Is(err, codecs.ErrCorrupt) {
		t.Fatalf("err = %#v", err)
	}
	if r.Decode(&got) != err {
		t.Fatal("error not sticky")
	}
	if err := r.Resync(); err != nil {
		t.Fatal(err)
	}
	if err := r.Decode(&got); err != nil || got.Pkts[0] != 1 {
		t.Fatalf("after Resync: %v %v", err, got.Pkts)
	}
}

func TestCompressed(t *testing.T) {
	data := append(marBytes(5), far(5, hx(t, "02 01 01 05 0a000001 0a000002 06 00 9c40 0050 0000"))...)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	recs, v := readAll(t, gz.Bytes())
	if v != 5 || len(recs) != 2 || recs[1].Key.DstPort != 80 {
		t.Fatalf("gzip: version %d, %d records", v, len(recs))
	}
	if _, err := NewReader(bytes.NewReader([]byte("not an argus stream at all"))); !errors.Is(err, codecs.ErrUnknownFormat) {
		t.Fatalf("err = %v", err)
	}
}

// ---- fuzzing ----

func seeds(f *testing.F) {
	flowV4 := "02 01 01 05 0a000001 0a000002 06 00 9c40 0050 0000 03 02 18 05 6553f100 00000000 6553f100 00011170 10 01 02 03 0005 012c 0003 00be"
	for _, d := range []string{
		flowV4,
		flowV4 + " 30 05 00 06 0000001f 00000009 00700000 00002710 00002710",
		flowV4 + " 46 00 0a 0b 00000004 461c4000 4688b800 45875104 469c4000 00000002 469c4000 46c35000 459c4000 46ea6000",
		flowV4 + ` 50 90 00 04 0008 0008 "GET / HT" 66 00 00 03 "svc=http"`,
		// carried context in the label (label.go): ours, then a word
		// ralabel appended
		flowV4 + ` 66 00 00 12 "fg.cid=1%3Aab:zeek.uid=C1:zeek.x=%09:fg.zpos=3:a=b:fg.exp=::1%3A" 00000000`,
		"01 03 32 07 00112233 44556677 8899aabb ccddeeff \"eth0\" 00000001 " + flowV4 + " 03 7d 18 06 6553f100 00000000 00001c02 00000000 00001c02",
		"02 41 02 0b 20010db8000000000000000000000002 20010db8000000000000000000000001 11000000 162e 04d2 7e 01 02 02 deadbeef",
		flowV4 + " 41 00 00 07 00000800 02010105 0102020a 0202020a 2f000000 00000000 60 04 01 14 00000003" + " 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000",
	} {
		for _, v := range []byte{3, 5} {
			f.Add(append(marBytes(int(v)), far(v, hxF(d))...))
		}
	}
}

func hxF(s string) []byte {
	b, err := parseHex(s)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzDecode feeds whole streams; nothing may panic and a stream read
// without error must rewrite to the same bytes.
func FuzzDecode(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		drain(t, data, false)
		drain(t, data, true)
		roundTrip(t, data)
	})
}

// FuzzDSR feeds the bytes of one record (its header is built around them)
// after a valid MAR of each version.
func FuzzDSR(f *testing.F) {
	f.Add(hxF("02 01 01 05 0a000001 0a000002 06 00 9c40 0050 0000"))
	f.Add(hxF("30 05 02 20 0000001f"))
	f.Add(hxF("46 00 05 0f 00000001"))
	f.Add(hxF("03 7d 18 06 6553f100 00000000 00001c02 00000000 00001c02"))
	f.Add(hxF(`66 00 00 12 "fg.cid=1%3Aab:zeek.uid=C1:zeek.x=%09:fg.zpos=3:a=b:fg.exp=::1%3A" 00000000`))
	f.Add(hxF(`66 00 00 0c "svc=a:fg.sampling=10:fg.inif=2:zeekv.ts=X" 000000`))
	f.Fuzz(func(t *testing.T, dsrs []byte) {
		dsrs = dsrs[:len(dsrs)&^3]
		if len(dsrs) > maxRecord-4 {
			return
		}
		for _, v := range []byte{3, 5} {
			data := append(marBytes(int(v)), far(v, dsrs)...)
			drain(t, data, false)
			roundTrip(t, data)
		}
	})
}

// FuzzRoundTrip is read-write-read: any stream that decodes must rewrite
// byte for byte, and the rewrite must decode to the same values; a
// version change must decode too.
func FuzzRoundTrip(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, data)
	})
}

func roundTrip(t *testing.T, data []byte) {
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return
	}
	var out bytes.Buffer
	w, _ := NewWriter(&out, r.Version())
	other := 8 - r.Version()
	var conv bytes.Buffer
	cw, _ := NewWriter(&conv, other, WithLossy(nil))
	var rec flow.Record
	var want []string
	end := 0
	first := true
	for {
		off := r.Offset()
		err := r.Decode(&rec)
		if err != nil {
			end = int(off)
			break
		}
		if first && rec.Type&0x80 == 0 {
			return // no initial MAR: the writer would synthesise one
		}
		first = false
		if notRemembered(&rec, int(r.Offset()-off)) || int(rec.Argus.Major) != r.Version() {
			return // canonical encoding, or a record converted to the stream's version
		}
		want = append(want, values(rec))
		if err := w.Encode(&rec); err != nil {
			t.Fatalf("Encode: %v", err)
		}
		cw.Encode(&rec)
	}
	w.Flush()
	cw.Flush()
	if !bytes.Equal(out.Bytes(), data[:end]) {
		t.Fatalf("rewrite differs\nin  % x\nout % x", data[:end], out.Bytes())
	}
	if conv.Len() > 0 {
		if r2, err := NewReader(bytes.NewReader(conv.Bytes())); err == nil {
			for r2.Decode(&rec) == nil {
			}
			if err := r2.Decode(&rec); err != io.EOF {
				t.Fatalf("converted stream does not decode: %v", err)
			}
		}
	}
}

// notRemembered reports a record whose layout was too large to remember
// (more than flow.MaxArgusDSRs DSRs, or 64 KiB of residue): the writer then
// uses canonical encodings, so the bytes may differ.
func notRemembered(rec *flow.Record, n int) bool {
	L := &rec.Argus
	if rec.Type&0x80 != 0 {
		return n-4*int(L.Lead) != marLen && L.Verbatim == 0
	}
	return L.N == 0 && n-4*int(L.Lead) > 4
}
