package argus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

func readAll(t testing.TB, data []byte) ([]flow.Record, int) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var recs []flow.Record
	for {
		var rec flow.Record
		err := r.Decode(&rec)
		if err == io.EOF {
			return recs, r.Version()
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.Detach()
		recs = append(recs, rec)
	}
}

// values prints the decoded values of rec without the encoding details
// (layout, MAR cookie/version/id placement), NaN-safe.
func values(rec flow.Record) string {
	rec.Argus = flow.ArgusLayout{}
	rec.Mgmt.Cookie, rec.Mgmt.Major, rec.Mgmt.ID = 0, 0, [16]byte{}
	if rec.SrcID.Type == flow.SrcIDNone && rec.Has&flow.HasSrcID != 0 {
		rec.SrcID.Type = flow.SrcIDIPv4 // §9.3 step 3
	}
	return fmt.Sprintf("%+v", rec)
}

// TestConvert3to5 writes every 3.x corpus file as 5.x and checks that the
// 5.x reader gives back the same values (§9.3 is lossless).
func TestConvert3to5(t *testing.T) {
	for _, f := range corpusFiles(t) {
		if !strings.Contains(filepath.Base(f), "v3") {
			continue
		}
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			out, _, w, err := rewrite(t, data, 5)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := readAll(t, data)
			b, v := readAll(t, out)
			if v != 5 || len(a) != len(b) {
				t.Fatalf("version %d, %d records, want 5 and %d", v, len(b), len(a))
			}
			for i := range a {
				if va, vb := values(a[i]), values(b[i]); va != vb {
					t.Fatalf("record %d differs after 3->5:\n3: %s\n5: %s", i, va, vb)
				}
			}
			if rep := w.Report(); rep.Converted != int64(len(a)) || rep.Refused != 0 {
				t.Errorf("report %+v", rep)
			}
		})
	}
}

// TestConvert5to3 checks §9.4: a 16-byte id is refused unless lossy; the
// lossy output is a valid 3.x stream that our reader (and ra 3.0.8.2 when
// installed) reads with the same counters and µs times.
func TestConvert5to3(t *testing.T) {
	data := spec124(t)
	var out bytes.Buffer
	w, _ := NewWriter(&out, 3)
	recs, _ := readAll(t, data)
	err := w.Encode(&recs[0])
	var nr *codecs.NotRepresentableError
	if !errors.As(err, &nr) || !errors.Is(err, codecs.ErrNotRepresentable) || nr.Field != "srcid" {
		t.Fatalf("MAR: err = %v, want NotRepresentable srcid", err)
	}
	// a flow record alone (synthesised MAR) is refused the same way
	w, _ = NewWriter(&out, 3)
	if err := w.Encode(&recs[1]); !errors.As(err, &nr) || nr.Field != "srcid" {
		t.Fatalf("FAR: err = %v, want NotRepresentable srcid", err)
	}
	// without the id, the interface name is the next refusal
	r := recs[1]
	r.SrcID.Type, r.SrcID.ID = flow.SrcIDInt, [16]byte{0, 0, 4, 0xd2}
	w, _ = NewWriter(&out, 3)
	if err := w.Encode(&r); !errors.As(err, &nr) || nr.Field != "inf" {
		t.Fatalf("FAR: err = %v, want NotRepresentable inf", err)
	}
	r.SrcID.HasInf = false
	if err := w.Encode(&r); !errors.As(err, &nr) || nr.Field != "smss" {
		t.Fatalf("FAR: err = %v, want NotRepresentable smss", err)
	}

	var lost []string
	out.Reset()
	w, _ = NewWriter(&out, 3, WithLossy(func(field, reason string) { lost = append(lost, field) }))
	for i := range recs {
		if err := w.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	got, v := readAll(t, out.Bytes())
	if v != 3 || len(got) != 2 {
		t.Fatalf("version %d, %d records", v, len(got))
	}
	g, o := got[1], recs[1]
	check(t, "pkts", g.Pkts, o.Pkts)
	check(t, "bytes", g.Bytes, o.Bytes)
	check(t, "last", g.Last, o.Last)
	check(t, "src lasttime", g.TCP.Side[0].LastTime, o.TCP.Side[0].LastTime)
	check(t, "jitter max", g.Jitter.Idle[0].Max, o.Jitter.Idle[0].Max)
	check(t, "suser", string(g.SrcUser.Data), string(o.SrcUser.Data))
	check(t, "srcid type", g.SrcID.Type, flow.SrcIDInt)
	check(t, "srcid (ra's reversed 4 bytes)", [4]byte(g.SrcID.ID[:4]), [4]byte{0x33, 0x22, 0x11, 0x00})
	check(t, "mss dropped", g.TCP.Side[0].MSS, 0)
	check(t, "time unit", g.Argus.TimeNS, false)
	rep := w.Report()
	if rep.Lossy["srcid"] != 2 || rep.Lossy["inf"] != 2 || rep.Lossy["smss"] != 1 || rep.Lossy["dmss"] != 1 {
		t.Errorf("report %+v (callback saw %v)", rep, lost)
	}
	// the converted layouts: 3-word transport, µs time, 30-word TCP_PERF, 5-word jitter blocks
	for _, want := range []string{"01 03 20 03", "03 02 18 05", "30 05 00 1e", "46 00 0a 0b"} {
		if !bytes.Contains(out.Bytes(), hx(t, want)) {
			t.Errorf("3.x output lacks DSR header %s", want)
		}
	}
}

// spec124 is the §5.4 5.x MAR plus the §12.4 record (UUID + interface).
func spec124(t testing.TB) []byte {
	mar := hx(t, `85 10 00 20 00 b0 00 00 e5 71 50 cb 00 00 00 00 00 00 00 00 00 00 00 01
6b 08 56 66 00 04 24 48 6b 08 56 66 00 04 28 98 05 00 00 00 00 05 00 3c`)
	mar = append(mar, make([]byte, 0x6c-len(mar))...)
	mar = append(mar, hx(t, "00112233 44556677 8899aabb ccddeeff ffffffff")...)
	data := append(mar, hx(t, `15 10 00 64
01 03 32 07 00112233 44556677 8899aabb ccddeeff "eth0" 00000001
02 01 01 05 0a000001 0a000002 06 00 9c 40 00 50 00 00
03 02 19 05 6553f100 00000000 6553f100 006d67d0
10 04 02 04 0005 0134 0012 0003 012d 0077
30 05 02 20 0000001f 00000009 04700000 000004d2 00000064
6553f100 006d67d0 0000001d 000003e8 000003fb 00001400 00000002 00000012 00000000 00000000 00000000 7210 1b 07 05b4 0000
6553f100 005a9380 0000001a 00001388 00001400 000003fb 00000002 00000077 00000000 00000000 00000000 7120 1b 08 0578 0000
46 00 0a 0f 00000004 47c35000 49dacfa0 498df0b5 4a352700 00000000 00000000
            00000002 49d3ab80 4a0f7e60 4916a281 4a352700 00000000 00000000
48 00 03 03 40 10 38 12 3f 08 7a 56
12 03 02 03 0036 004a 0036 00ad
50 90 00 07 0020 0012 "GET / HTTP/1.0\r\n\r\n" 00 00
50 a0 00 0a 0020 0020 "HTTP/1.0 200 OK\r\n\r\nxxxxxxxxxxxxx"
42 00 00 05 02 00 00 00 00 02 02 00 00 00 00 01 00 08 00 00
20 00 00 03 00000002 00000002`)...)
	return bytes.ReplaceAll(data, []byte(`\r\n`), []byte("\r\n"))
}

// TestConvert5to3Corpus writes every 5.x corpus file as lossy 3.x and
// reads it back; with ra 3.0.8.2 installed, ra must read it too.
func TestConvert5to3Corpus(t *testing.T) {
	ra, _ := exec.LookPath("ra")
	for _, f := range corpusFiles(t) {
		if strings.Contains(filepath.Base(f), "v3") {
			continue
		}
		name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, _ := os.ReadFile(f)
			out, _, w, err := rewrite(t, data, 3, WithLossy(nil))
			if err != nil {
				t.Fatal(err)
			}
			a, _ := readAll(t, data)
			b, v := readAll(t, out)
			if v != 3 || len(a) != len(b) {
				t.Fatalf("version %d, %d records, want 3 and %d", v, len(b), len(a))
			}
			for i := range a {
				if a[i].Pkts != b[i].Pkts || a[i].Bytes != b[i].Bytes || a[i].Key != b[i].Key ||
					a[i].Start/1000 != b[i].Start/1000 || a[i].Last/1000 != b[i].Last/1000 {
					t.Fatalf("record %d: %v %v %v %v -> %v %v %v %v", i, a[i].Pkts, a[i].Bytes, a[i].Start, a[i].Key,
						b[i].Pkts, b[i].Bytes, b[i].Start, b[i].Key)
				}
			}
			if ra == "" || testing.Short() {
				return
			}
			tmp := filepath.Join(t.TempDir(), "v3.argus")
			os.WriteFile(tmp, out, 0o644)
			cmd := exec.Command(ra, "-X", "-n", "-u", "-c", ",", "-r", tmp, "-s", "spkts", "dpkts", "sbytes", "dbytes")
			cmd.Env = append(os.Environ(), "TZ=UTC")
			res, err := cmd.Output()
			if err != nil {
				t.Fatalf("ra 3.0.8.2 rejects the output: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(res)), "\n")
			flows := 0
			for _, r := range a {
				if r.Type&0x80 == 0 {
					flows++
				}
			}
			if len(lines)-1 != flows {
				t.Errorf("ra printed %d rows for %d flows", len(lines)-1, flows)
			}
			_ = w
		})
	}
}

// TestCanonical writes records that carry no Argus layout (as another
// decoder would build them) and reads them back.
func TestCanonical(t *testing.T) {
	rec := flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart,
		Has:   flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasTCP | flow.HasIPAttr | flow.HasSrcID | flow.HasSeq | flow.HasLabel | flow.HasSrcUser,
		Key:   flow.Key{Src: ip("192.0.2.1"), Dst: ip("2001:db8::1"), SrcPort: 1, DstPort: 2, Proto: 6},
		Start: t0 + 5, Last: t0 + 2_000_000_123, Pkts: [2]uint64{300, 2}, Bytes: [2]uint64{70000, 100},
		TCP:    flow.TCP{Object: flow.TCPPerf, HasDst: true, Status: 0x1f, Side: [2]flow.TCPSide{{SeqBase: 7, MSS: 1460, LastTime: t0 + 123}, {SeqBase: 9}}},
		IPAttr: flow.IPAttr{Present: 3, TTL: [2]uint8{64, 63}},
		SrcID:  flow.SrcID{Type: flow.SrcIDIPv4, ID: [16]byte{10, 1, 2, 3}},
		Seq:    42, Label: []byte("svc=http"), SrcUser: flow.UserData{Limit: 8, Data: []byte("GET ")},
	}
	rec.Key.Dst = ip("192.0.2.2")
	for _, v := range []int{5, 3} {
		var out bytes.Buffer
		w, _ := NewWriter(&out, v, WithLossy(nil))
		if err := w.Encode(&rec); err != nil {
			t.Fatal(err)
		}
		w.Close()
		got, gv := readAll(t, out.Bytes())
		if gv != v || len(got) != 2 {
			t.Fatalf("v%d: version %d, %d records", v, gv, len(got))
		}
		g := got[1]
		check(t, "key", g.Key.Src, rec.Key.Src)
		check(t, "pkts", g.Pkts, rec.Pkts)
		check(t, "bytes", g.Bytes, rec.Bytes)
		check(t, "seq", g.Seq, 42)
		check(t, "label", string(g.Label), "svc=http")
		check(t, "suser", string(g.SrcUser.Data), "GET ")
		check(t, "seqbase", g.TCP.Side[1].SeqBase, 9)
		check(t, "mar srcid", got[0].SrcID.ID, rec.SrcID.ID)
		if v == 5 {
			check(t, "ns start", g.Start, rec.Start)
			check(t, "ns last", g.Last, rec.Last)
			check(t, "mss", g.TCP.Side[0].MSS, 1460)
			check(t, "tcp lasttime", g.TCP.Side[0].LastTime, t0+123)
			check(t, "metric width", g.Argus.Hdr[3][2], 3) // SRCDST_INT: 70000 > 65535
		} else {
			check(t, "µs start", g.Start, t0)
			check(t, "µs last", g.Last, t0+2_000_000_000)
			check(t, "lossy", w.Report().Lossy["smss"], 1)
		}
	}
}
