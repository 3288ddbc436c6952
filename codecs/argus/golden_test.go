package argus

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// TestRaGoldens compares decoded values with ra's CSV output for the same
// files (ra 3.0.8.2 for 3.x files, ra 5.0.3 for 5.x files; made by
// `ra -X -n -u -c , -s ...`, see corpus/README.md).
func TestRaGoldens(t *testing.T) {
	root := os.Getenv("FLOWGATE_CORPUS")
	if root == "" {
		t.Skip("FLOWGATE_CORPUS not set; see /work/shared/corpus/README.md")
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "argus/oracle/*"))
	compared := 0
	for _, dir := range dirs {
		for _, c := range []struct{ argus, csv string }{
			{"v3.argus", "v3.ra3.csv"}, {"v3full.argus", "v3full.ra3.csv"},
			{"v5.argus", "v5.ra5.csv"}, {"v5full.argus", "v5full.ra5.csv"},
		} {
			if _, err := os.Stat(filepath.Join(dir, c.csv)); err != nil {
				continue
			}
			name := filepath.Base(dir) + "/" + c.argus
			t.Run(name, func(t *testing.T) {
				compared += compareGolden(t, filepath.Join(dir, c.argus), filepath.Join(dir, c.csv))
			})
		}
	}
	t.Logf("%d values compared with ra", compared)
}

func compareGolden(t *testing.T, argusFile, csvFile string) int {
	data, err := os.ReadFile(argusFile)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := os.Open(csvFile)
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	cr := csv.NewReader(cf)
	cr.FieldsPerRecord, cr.LazyQuotes = -1, true
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	width := len(rows[1:2][0])
	for i, h := range rows[0] {
		col[h] = i
	}
	rows = rows[1:]
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var recs []flow.Record
	for {
		var rec flow.Record
		err := r.Decode(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type&0x80 == 0 {
			rec.Detach()
			recs = append(recs, rec)
		}
	}
	if len(recs) != len(rows) {
		t.Fatalf("%d flow records, ra printed %d rows", len(recs), len(rows))
	}
	v5 := r.Version() == 5
	n := 0
	cmp := func(i int, field, want, got string) {
		j, ok := col[field]
		if !ok || j >= len(rows[i]) {
			return
		}
		if len(rows[i]) != width {
			return // a user-data column held a comma: ra's row is shifted
		}
		if w := strings.TrimSpace(rows[i][j]); w != "" {
			n++
			if w != got {
				t.Errorf("record %d %s: ra %q, decoded %q", i, field, w, got)
			}
		}
	}
	usec := func(ns int64) string { return fmt.Sprintf("%d.%06d", ns/1e9, ns%1e9/1000) }
	for i := range recs {
		rec := &recs[i]
		if flipped(rec, rows[i], col) {
			// ra 3.0.8.2 prints some flows in the other orientation (a
			// REVERSE key with the 0x20 direction bit, a TCP flow whose
			// SYN was not seen): same values, sides exchanged.
			r2 := *rec
			r2.Key = r2.Key.Reverse()
			swap := func(a *[2]uint64) { a[0], a[1] = a[1], a[0] }
			swap(&r2.Pkts)
			swap(&r2.Bytes)
			swap(&r2.AppBytes)
			a := &r2.IPAttr
			a.TTL[0], a.TTL[1] = a.TTL[1], a.TTL[0]
			a.IPID[0], a.IPID[1] = a.IPID[1], a.IPID[0]
			a.Present = a.Present&^3 | a.Present>>1&1 | a.Present&1<<1
			r2.TCP.Side[0], r2.TCP.Side[1] = r2.TCP.Side[1], r2.TCP.Side[0]
			rec = &r2
		}
		cmp(i, "SrcPkts", "", strconv.FormatUint(rec.Pkts[0], 10))
		cmp(i, "DstPkts", "", strconv.FormatUint(rec.Pkts[1], 10))
		cmp(i, "SrcBytes", "", strconv.FormatUint(rec.Bytes[0], 10))
		cmp(i, "DstBytes", "", strconv.FormatUint(rec.Bytes[1], 10))
		cmp(i, "StartTime", "", usec(rec.Start))
		cmp(i, "LastTime", "", usec(rec.Last))
		if rec.Has&flow.HasAppBytes != 0 {
			cmp(i, "SAppBytes", "", strconv.FormatUint(rec.AppBytes[0], 10))
			cmp(i, "DAppBytes", "", strconv.FormatUint(rec.AppBytes[1], 10))
		}
		k := rec.Key
		if (k.Proto == 6 || k.Proto == 17) && rec.Has&flow.HasFragKey == 0 {
			if k.AddrType == flow.AddrIPv4 {
				cmp(i, "SrcAddr", "", k.Src.String())
				cmp(i, "DstAddr", "", k.Dst.String())
			}
			cmp(i, "Sport", "", strconv.Itoa(int(k.SrcPort)))
			cmp(i, "Dport", "", strconv.Itoa(int(k.DstPort)))
		}
		if rec.Has&flow.HasIPAttr != 0 && k.AddrType == flow.AddrIPv4 {
			if rec.IPAttr.Present&1 != 0 {
				cmp(i, "sTtl", "", strconv.Itoa(int(rec.IPAttr.TTL[0])))
				if !k.RevBit { // ra 3.0.8.2 prints the ip ids of REVERSE flows swapped
					cmp(i, "sIpId", "", fmt.Sprintf("0x%04x", rec.IPAttr.IPID[0]))
				}
			}
			if rec.IPAttr.Present&2 != 0 {
				cmp(i, "dTtl", "", strconv.Itoa(int(rec.IPAttr.TTL[1])))
				if !k.RevBit {
					cmp(i, "dIpId", "", fmt.Sprintf("0x%04x", rec.IPAttr.IPID[1]))
				}
			}
		}
		if rec.Has&flow.HasTCP != 0 && rec.TCP.Object == flow.TCPPerf {
			cmp(i, "SrcTCPBase", "", strconv.FormatUint(uint64(rec.TCP.Side[0].SeqBase), 10))
			cmp(i, "SrcWin", "", strconv.Itoa(int(rec.TCP.Side[0].Win)<<rec.TCP.Side[0].WinShift))
			if rec.TCP.HasDst {
				cmp(i, "DstTCPBase", "", strconv.FormatUint(uint64(rec.TCP.Side[1].SeqBase), 10))
			}
			if v5 {
				cmp(i, "SrcMss", "", strconv.Itoa(int(rec.TCP.Side[0].MSS)))
			}
		}
		if v5 && rec.Has&flow.HasSeq != 0 {
			cmp(i, "Seq", "", strconv.FormatUint(uint64(rec.Seq), 10))
		}
	}
	return n
}

// flipped reports whether ra printed rec with src and dst exchanged.
func flipped(rec *flow.Record, row []string, col map[string]int) bool {
	k := rec.Key
	i, j := col["SrcAddr"], col["DstAddr"]
	if k.AddrType != flow.AddrIPv4 || i >= len(row) || j >= len(row) || k.Src == k.Dst {
		return false
	}
	return row[i] == k.Dst.String() && row[j] == k.Src.String()
}
