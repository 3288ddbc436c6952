package zeek

import (
	"bytes"
	"encoding/json"
	"math"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// TestCorpusValues checks every corpus record's fields against the log
// text parsed independently: strings.Split on the TSV columns,
// encoding/json for JSON lines, strconv for the numbers.
func TestCorpusValues(t *testing.T) {
	var checked int
	for _, f := range corpusLogs(t) {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rd := NewReader(bytes.NewReader(in), WithFileName(f))
		var rec flow.Record
		var fields []string
		for _, line := range strings.Split(strings.TrimSuffix(string(in), "\n"), "\n") {
			if strings.HasPrefix(strings.TrimLeft(line, "\t"), "#") {
				if strings.HasPrefix(line, "#fields\t") {
					fields = strings.Split(line, "\t")[1:]
				}
				continue
			}
			want := map[string]string{}
			if strings.HasPrefix(line, "{") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatal(err)
				}
				for k, v := range m {
					switch v := v.(type) {
					case string:
						want[k] = v
					case float64:
						want[k] = strconv.FormatFloat(v, 'f', -1, 64)
					case bool:
						want[k] = map[bool]string{true: "T", false: "F"}[v]
					}
				}
			} else {
				for i, v := range strings.Split(line, "\t") {
					if v != "-" {
						want[fields[i]] = v
					}
				}
			}
			if err := rd.Decode(&rec); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			checkRecord(t, f, want, &rec)
			checked++
		}
	}
	t.Logf("%d records checked", checked)
}

func checkRecord(t *testing.T, f string, want map[string]string, rec *flow.Record) {
	t.Helper()
	eq := func(col string, got string) {
		t.Helper()
		w, ok := want[col]
		if !ok {
			return
		}
		if w == "(empty)" {
			w = ""
		}
		if got != w {
			t.Errorf("%s uid %s: %s = %q, want %q", f, want["uid"], col, got, w)
		}
	}
	u := func(x uint64) string { return strconv.FormatUint(x, 10) }
	alias := func(a, b string) {
		if v, ok := want[b]; ok {
			want[a] = v
		}
	}
	alias("id.orig_h", "src")
	alias("id.orig_p", "src_port")
	alias("id.resp_h", "dst")
	alias("id.resp_p", "dst_port")
	eq("uid", string(rec.Zeek.UID))
	eq("service", string(rec.Zeek.Service))
	eq("history", string(rec.Zeek.History))
	eq("conn_state", string(rec.Zeek.State))
	eq("id.orig_p", u(uint64(rec.Key.SrcPort)))
	eq("id.resp_p", u(uint64(rec.Key.DstPort)))
	if a, err := netip.ParseAddr(want["id.orig_h"]); err == nil && a != rec.Key.Src {
		t.Errorf("%s: orig_h %v, want %v", f, rec.Key.Src, a)
	}
	if a, err := netip.ParseAddr(want["id.resp_h"]); err == nil && a != rec.Key.Dst {
		t.Errorf("%s: resp_h %v, want %v", f, rec.Key.Dst, a)
	}
	eq("orig_pkts", u(rec.Pkts[0]))
	eq("resp_pkts", u(rec.Pkts[1]))
	eq("orig_ip_bytes", u(rec.Bytes[0]))
	eq("resp_ip_bytes", u(rec.Bytes[1]))
	eq("orig_bytes", u(rec.AppBytes[0]))
	eq("resp_bytes", u(rec.AppBytes[1]))
	eq("ip_proto", u(uint64(rec.Key.Proto)))
	if p := map[string]uint8{"tcp": 6, "udp": 17}[want["proto"]]; p != 0 && p != rec.Key.Proto {
		t.Errorf("%s: proto %d, want %s", f, rec.Key.Proto, want["proto"])
	}
	if want["proto"] == "icmp" && rec.Key.Proto != 1 && rec.Key.Proto != 58 {
		t.Errorf("%s: proto %d, want icmp", f, rec.Key.Proto)
	}
	eq("vlan", u(uint64(rec.VLAN.TCI[0])))
	if ts, err := strconv.ParseFloat(want["ts"], 64); err == nil {
		if d := math.Abs(float64(rec.Start)/1e9 - ts); d > 1e-6 {
			t.Errorf("%s: ts %d ns, want %s", f, rec.Start, want["ts"])
		}
	}
	if dur, err := strconv.ParseFloat(want["duration"], 64); err == nil {
		if d := math.Abs(float64(rec.Last-rec.Start)/1e9 - dur); d > 1e-6 {
			t.Errorf("%s: duration %d ns, want %s", f, rec.Last-rec.Start, want["duration"])
		}
	}
	for _, col := range []string{"local_orig", "local_resp", "missed_bytes", "tunnel_parents", "inner_vlan", "label", "detailedlabel"} {
		w, ok := want[col]
		var got *flow.Field
		for i := range rec.Extra {
			if n := ColumnName(rec.Extra[i].ID); n == col && rec.Extra[i].Offset != verbatimOffset {
				got = &rec.Extra[i]
			}
		}
		switch {
		case !ok && got != nil:
			t.Errorf("%s: %s unset but in Extra", f, col)
		case ok && got == nil:
			t.Errorf("%s: %s missing from Extra", f, col)
		case ok && got.Enterprise == formTSV && string(got.Value) != w:
			t.Errorf("%s: %s = %q, want %q", f, col, got.Value, w)
		}
	}
	for _, col := range []string{"orig_l2_addr", "resp_l2_addr"} {
		m := rec.MAC.Src
		if col == "resp_l2_addr" {
			m = rec.MAC.Dst
		}
		if w, ok := want[col]; ok {
			got := strings.ToLower(strings.Join(func() []string {
				var p []string
				for _, x := range m {
					p = append(p, strconv.FormatUint(uint64(x)|0x100, 16)[1:])
				}
				return p
			}(), ":"))
			if got != w {
				t.Errorf("%s: %s = %s, want %s", f, col, got, w)
			}
		}
	}
}
