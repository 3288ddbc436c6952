package argus

import (
	"bytes"
	"io"
	"math"
	"math/big"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// statBits are float32 patterns the Stat conversions must carry exactly:
// zeros, subnormals, extremes, infinities and NaNs of both signs, quiet
// and signalling, with and without payload (ffc00000 is the stdev the
// sensors write for a single sample).
var statBits = []uint32{
	0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0xff7fffff,
	0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fbfffff,
	0x7fffffff, 0xffffffff, 0x7fc12345, 0x3f800000, 0x4b7fffff, 0x45875104, 0x461c4000,
}

// forStatBits calls f with statBits and a sweep of the float32 space.
func forStatBits(f func(u uint32)) {
	for _, u := range statBits {
		f(u)
	}
	for u := uint64(0); u < 1<<32; u += 65521 {
		f(uint32(u))
		f(uint32(u) ^ 0x007fffff)
	}
}

func TestStatConversionsExact(t *testing.T) {
	thousand := big.NewFloat(1000)
	forStatBits(func(u uint32) {
		f := math.Float32frombits(u)
		if got := narrow(widen(u)); got != u {
			t.Fatalf("narrow(widen(%08x)) = %08x", u, got)
		}
		if got := nsToUs(usToNs(u)); got != u {
			t.Fatalf("nsToUs(usToNs(%08x)) = %08x", u, got)
		}
		w, ns := widen(u), usToNs(u)
		if f != f {
			if w == w || ns == ns || math.Signbit(w) != (u>>31 == 1) || math.Signbit(ns) != (u>>31 == 1) {
				t.Fatalf("%08x: NaN widened to %x, %x", u, math.Float64bits(w), math.Float64bits(ns))
			}
			return
		}
		if w != float64(f) {
			t.Fatalf("widen(%08x) = %v, want %v", u, w, f)
		}
		if math.IsInf(w, 0) {
			if ns != w {
				t.Fatalf("usToNs(%08x) = %v", u, ns)
			}
			return
		}
		// the ns value is the µs value times 1000 exactly
		want := new(big.Float).SetPrec(128).Mul(new(big.Float).SetPrec(128).SetFloat64(w), thousand)
		if new(big.Float).SetPrec(128).SetFloat64(ns).Cmp(want) != 0 || math.Signbit(ns) != math.Signbit(w) {
			t.Fatalf("usToNs(%08x) = %v, want %v", u, ns, want)
		}
	})
	// a float64 NaN whose payload is only in its low bits stays a NaN
	if got := narrow(math.Float64frombits(0xfff0000000000001)); got != 0xffc00000 {
		t.Errorf("narrow(low-payload NaN) = %08x", got)
	}
	// values that are not float32 round to nearest
	if got := nsToUs(1.0000001e3); got != math.Float32bits(1.0000001) {
		t.Errorf("nsToUs(1000.0001) = %08x", got)
	}
}

// rewriteEdited decodes data (a MAR and one record), applies edit to the
// record and writes both back with a writer of the input's version.
func rewriteEdited(t *testing.T, data []byte, edit func(*flow.Record)) []byte {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := NewWriter(&out, r.Version())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		var rec flow.Record
		err := r.Decode(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			edit(&rec)
		}
		if err := w.Encode(&rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// residueOf returns the residue bytes kept for the record's first DSR of
// type typ.
func residueOf(rec *flow.Record, typ byte) int {
	L := &rec.Argus
	for i := 0; i < int(L.N); i++ {
		if L.Hdr[i][0] == typ {
			return int(L.AuxLen[i])
		}
	}
	return -1
}

// Jitter values live in the record only: a 3.x µs float whose ns value
// is not a float32 (16777215 µs) and a NaN stdev are read exactly, with
// no residue, and an edited value is written as edited.
func TestJitterValuesNoResidue(t *testing.T) {
	flowV4 := "02 01 01 05 0a000001 0a000002 06 00 9c40 0050 0000 "
	for _, c := range []struct {
		name string
		ver  byte
		dsr  string
		us   bool
	}{
		{"3.x µs", 3, "46 00 05 0b 00000004 4b7fffff 4b7ffffe ffc00000 7f800001 00000001 3f800000 461c4000 7fc12345 ff800000", true},
		{"5.0.3 ns", 5, "46 00 05 0f 00000004 4b7fffff 4b7ffffe ffc00000 7f800001 0102030405060708 00000001 3f800000 461c4000 7fc12345 ff800000 0000000000000000", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := append(marBytes(int(c.ver)), far(c.ver, hx(t, flowV4+c.dsr))...)
			rec := decodeOne(t, data)
			if n := residueOf(rec, dsrJitter); n != 0 {
				t.Errorf("jitter residue %d bytes, want 0", n)
			}
			scale := 1.0
			if c.us {
				scale = 1000
			}
			s := rec.Jitter.Act[0]
			check(t, "min", s.Min, 16777215*scale)
			check(t, "mean", s.Mean, 16777214*scale)
			check(t, "stdev bits", math.Float64bits(s.StdDev), 0xfff8000000000000)
			check(t, "max bits", math.Float64bits(s.Max), 0x7ff0000020000000)
			check(t, "dst max", rec.Jitter.Act[1].Max, math.Inf(-1))
			out := rewriteEdited(t, data, func(r *flow.Record) {
				r.Jitter.Act[0].Mean = 10000 * scale
				r.Jitter.Act[1].Min = math.NaN()
			})
			want := bytes.Replace(data, hx(t, "4b7ffffe"), hx(t, "461c4000"), 1)
			want = bytes.Replace(want, hx(t, "00000001 3f800000"), hx(t, "00000001 7fc00000"), 1) // math.NaN() is the quiet NaN
			if !bytes.Equal(out, want) {
				t.Errorf("edited rewrite:\nwant % x\ngot  % x", want, out)
			}
		})
	}
}

// AGR statistics keep their exact bits too, NaNs included.
func TestAgrStatBits(t *testing.T) {
	agr := "60 04 01 14 00000003 " + "0100000002000000 0300000004000000" +
		" 03000000 0000c0ff 0100807f ffff7f7f 01000000 0102030405060708" +
		" 02000000 00000080 0000807f 45231f3f 009a8d48 0000000000000000"
	rec := decodeOne(t, append(marBytes(3), far(3, hx(t, "02 01 01 05 0a000001 0a000002 06 00 9c40 0050 0000 "+agr))...))
	if n := residueOf(rec, dsrAgr); n != 0 {
		t.Errorf("AGR residue %d bytes, want 0", n)
	}
	a := rec.Agr
	check(t, "act min bits", math.Float64bits(a.Act.Min), 0xfff8000000000000)
	check(t, "act mean bits", math.Float64bits(a.Act.Mean), 0x7ff0000020000000)
	check(t, "act stdev", a.Act.StdDev, math.MaxFloat32)
	check(t, "idle min", math.Signbit(a.Idle.Min), true)
	check(t, "idle mean", a.Idle.Mean, math.Inf(1))
	check(t, "idle max", a.Idle.Max, 290000)
}
