package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// zeekLogs lists the corpus's conn.logs, or skips.
func zeekLogs(t *testing.T) []string {
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set: needs zeek/")
	}
	var logs []string
	filepath.Walk(filepath.Join(c, "zeek"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasPrefix(info.Name(), "conn.log") {
			logs = append(logs, p)
		}
		return nil
	})
	if len(logs) < 30 {
		t.Fatalf("only %d conn.logs in the corpus", len(logs))
	}
	return logs
}

// isJSONLog reports whether a conn.log is JSON lines.
func isJSONLog(b []byte) bool { return len(b) > 0 && bytes.TrimSpace(b)[0] == '{' }

// TestConvertZeekRewrite: `flowgate convert -r zeek:LOG -w zeek:OUT` (or
// zeekjson: for a JSON-lines log) rewrites every corpus conn.log byte for
// byte.
func TestConvertZeekRewrite(t *testing.T) {
	dir := t.TempDir()
	for i, l := range zeekLogs(t) {
		orig, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		sink := "zeek:"
		if isJSONLog(orig) {
			sink = "zeekjson:"
		}
		out := filepath.Join(dir, strings.Repeat("x", i%3)+filepath.Base(l))
		if code := run([]string{"convert", "-r", "zeek:" + l, "-w", sink + out}); code != 0 {
			t.Errorf("%s: exit %d", l, code)
			continue
		}
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, orig) {
			t.Errorf("%s: rewritten log differs (%d bytes, want %d)", l, len(got), len(orig))
		}
	}
}

// TestConvertZeekArgusRoundTrip: every corpus conn.log (TSV and JSON
// lines) converted to Argus 5 and to Argus 3 (`flowgate convert -r zeek:LOG
// -w argus:A`, no --lossy) and back (`-r argus:A -w zeek:OUT`) is the same
// log, byte for byte: the columns Argus has no DSR for, the header and the
// trailer travel in the records' labels.
func TestConvertZeekArgusRoundTrip(t *testing.T) {
	dir := t.TempDir()
	logs, records := 0, 0
	for _, l := range zeekLogs(t) {
		orig, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		sink := "zeek:"
		if isJSONLog(orig) {
			sink = "zeekjson:"
		}
		for _, v := range []string{"argus:", "argus3:"} {
			a, out := filepath.Join(dir, "a"), filepath.Join(dir, "out")
			os.Remove(a)
			os.Remove(out)
			if code := run([]string{"convert", "-r", "zeek:" + l, "-w", v + a}); code != 0 {
				t.Errorf("%s to %s: exit %d", l, v, code)
				continue
			}
			if code := run([]string{"convert", "-r", v + a, "-w", sink + out}); code != 0 {
				t.Errorf("%s from %s: exit %d", l, v, code)
				continue
			}
			got, _ := os.ReadFile(out)
			if !bytes.Equal(got, orig) {
				t.Errorf("%s through %s: log differs (%d bytes, want %d)\n%s", l, v, len(got), len(orig), firstDiff(orig, got))
				continue
			}
			logs++
		}
		for _, line := range strings.Split(string(orig), "\n") {
			if line = strings.TrimSpace(line); line != "" && line[0] != '#' {
				records++
			}
		}
	}
	t.Logf("%d conn.logs (%d records) came back byte for byte through Argus 5 and Argus 3 (%d conversions)", logs/2, records, logs)
}

// firstDiff shows the first line where b differs from a.
func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range al {
		if i >= len(bl) || al[i] != bl[i] {
			g := "(none)"
			if i < len(bl) {
				g = bl[i]
			}
			return fmt.Sprintf("line %d\nwant %s\ngot  %s", i+1, al[i], g)
		}
	}
	return fmt.Sprintf("%d lines more", len(bl)-len(al))
}

// zeekStatePrintsAs is what ra prints as the State of a TCP connection
// raconvert made from a conn.log with this conn_state (argus-clients.md
// §4.3, from raconvert's code and checked with ra).
var zeekStatePrintsAs = map[string]string{
	"S0": "REQ", "S1": "CON", "SF": "CLO", "REJ": "RST", "S2": "REQ", "S3": "REQ",
	"RSTO": "RST", "RSTR": "RST", "RSTOS0": "RST", "RSTRH": "RST", "SH": "FIN", "SHR": "FIN", "OTH": "CON",
}

// TestConvertZeekArgusRa: a conn.log converted to Argus 3 prints in
// Debian's ra 3.0.8.2 with the conn.log's start time, addresses, ports,
// protocol, packets and IP bytes of each direction, end time and state,
// for every TCP and UDP connection with all of those values; and ra's
// label column shows each connection's uid, service and conn_state as the
// conn.log has them.
func TestConvertZeekArgusRa(t *testing.T) {
	ra, err := exec.LookPath("ra")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ra not installed: .ci/run installs argus-client")
		}
		t.Skip("Debian's ra (argus-client) is not installed")
	}
	dir := t.TempDir()
	compared, labelled := 0, 0
	for _, l := range zeekLogs(t) {
		orig, _ := os.ReadFile(l)
		if isJSONLog(orig) {
			continue
		}
		var want []string
		var wantLabel [][2]string // 4-tuple, label words
		var cols map[string]int
		for _, line := range strings.Split(string(orig), "\n") {
			line = strings.TrimLeft(line, "\t")
			if strings.HasPrefix(line, "#fields") {
				cols = map[string]int{}
				for i, f := range strings.Split(line, "\t")[1:] {
					cols[f] = i
				}
				continue
			}
			if line == "" || line[0] == '#' || cols == nil {
				continue
			}
			f := strings.Split(line, "\t")
			get := func(name string) string {
				if i, ok := cols[name]; ok && i < len(f) {
					return f[i]
				}
				return "-"
			}
			vals := []string{get("ts"), get("id.orig_h"), get("id.orig_p"), get("id.resp_h"), get("id.resp_p"), get("proto"),
				get("orig_pkts"), get("resp_pkts"), get("orig_ip_bytes"), get("resp_ip_bytes")}
			if vals[5] != "tcp" && vals[5] != "udp" || strings.Contains(strings.Join(vals, ","), "-") || strings.Contains(vals[0], "X") {
				continue
			}
			// ra's LastTime is ts + duration (none: one instant), in
			// whole µs as both are written; its State is
			// argus-clients.md §4.3's "prints as" for the conn_state of a
			// TCP connection, and for UDP CON when both sides sent, else
			// INT. (ra's Dur is not LastTime-StartTime for every record:
			// 3.0.8.2 derives it from the directions' times in doubles.)
			dur := "0.000000"
			if d := get("duration"); d != "-" {
				dur = d
			}
			ltime, ok := addMicros(vals[0], dur)
			if !ok {
				continue
			}
			state := zeekStatePrintsAs[get("conn_state")]
			if vals[5] == "udp" {
				state = "INT"
				if vals[7] != "0" {
					state = "CON"
				}
			}
			if state == "" {
				continue
			}
			if vals[0] == "*" {
				ltime = "*"
			}
			vals = append(vals, ltime, state)
			if get("duration") != "0.000000" && vals[6] == "1" && vals[7] == "0" {
				// One packet that lasted: ra folds a one-packet flow to
				// one instant and prints it at its end (slips' synthetic
				// scan rows; Zeek gives one packet no duration).
				vals[0] = "*"
			}
			want = append(want, strings.Join(vals, ","))
			var words []string
			for _, c := range []string{"uid", "service", "conn_state"} {
				if v := get(c); v != "-" && !strings.ContainsAny(v, `\:%`) {
					words = append(words, "zeek."+c+"="+v)
				}
			}
			wantLabel = append(wantLabel, [2]string{strings.Join(vals[1:5], ","), strings.Join(words, " ")})
		}
		if len(want) == 0 {
			continue
		}
		out := filepath.Join(dir, "z.argus")
		os.Remove(out)
		if code := run([]string{"convert", "-r", "zeek:" + l, "-w", "argus3:" + out}); code != 0 {
			t.Fatalf("%s: exit %d", l, code)
		}
		cmd := exec.Command(ra, "-X", "-n", "-u", "-c", ",", "-p", "6", "-r", out, "-s", "stime", "saddr", "sport", "daddr", "dport", "proto", "spkts", "dpkts", "sbytes", "dbytes", "ltime", "state")
		cmd.Env = append(os.Environ(), "TZ=UTC")
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: ra: %v", l, err)
		}
		got := map[string]int{}
		add := func(line string) {
			got[line]++
			if f := strings.SplitN(line, ",", 2); len(f) == 2 {
				got["*,"+f[1]]++
			}
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
			add(line)
			if f := strings.Split(line, ","); len(f) == 12 {
				f[10] = "*" // a folded one-packet flow's end (above)
				add(strings.Join(f, ","))
			}
		}
		miss := 0
		for _, w := range want {
			if got[w] == 0 {
				if miss < 3 {
					t.Errorf("%s: ra does not print %s", l, w)
				}
				miss++
				continue
			}
			got[w]--
			compared++
		}
		if miss > 0 {
			sort.Strings(want)
			t.Errorf("%s: %d of %d connections missing from ra's output", l, miss, len(want))
		}
		// the label: ra -s label prints the words, the conn.log has the values
		cmd = exec.Command(ra, "-X", "-n", "-c", ",", "-r", out, "-s", "saddr", "sport", "daddr", "dport", "label")
		if b, err = cmd.Output(); err != nil {
			t.Fatalf("%s: ra: %v", l, err)
		}
		labels := map[string][]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
			if f := strings.SplitN(line, ",", 5); len(f) == 5 {
				k := strings.Join(f[:4], ",")
				labels[k] = append(labels[k], f[4])
			}
		}
	nextConn:
		for _, w := range wantLabel {
			for _, lab := range labels[w[0]] {
				have := map[string]bool{}
				for _, word := range strings.Split(lab, ":") {
					have[word] = true
				}
				ok := true
				for _, word := range strings.Fields(w[1]) {
					ok = ok && have[word]
				}
				if ok {
					labelled++
					continue nextConn
				}
			}
			t.Errorf("%s: ra prints no label with %s for %s: %q", l, w[1], w[0], labels[w[0]])
		}
	}
	if compared == 0 || labelled == 0 {
		t.Fatal("no connection compared")
	}
	t.Logf("%d TCP/UDP connections print in ra 3.0.8.2 as their conn.log has them; %d with their uid, service and conn_state in ra's label", compared, labelled)
}

// TestConvertNetFlowArgusIPFIX: a NetFlow v9 export (ipt_NETFLOW, from
// flowbeat's corpus) converted to Argus without --lossy keeps its context
// in the label: Debian's ra 3.0.8.2 prints the exporter (the datagrams'
// sender), interfaces and next hop of every flow as tshark decodes them
// from the export; the Argus file converted to IPFIX has the same
// interfaces, next hop, observation domain and (--sampling-rate) sampling
// interval, as tshark decodes that IPFIX.
func TestConvertNetFlowArgusIPFIX(t *testing.T) {
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	for _, tool := range []string{"ra", "tshark"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed", tool)
			}
			t.Skip(err)
		}
	}
	// tshark's flows: saddr,sport,daddr,dport -> inif,outif,nexthop,exporter
	flows := func(pcap string, decodeAs ...string) map[string][]string {
		args := append([]string{"-r", pcap, "-n"}, decodeAs...)
		args = append(args, "-T", "fields", "-E", "aggregator=|", "-e", "ip.src", "-e", "udp.srcport",
			"-e", "cflow.srcaddr", "-e", "cflow.srcport", "-e", "cflow.dstaddr", "-e", "cflow.dstport",
			"-e", "cflow.inputint", "-e", "cflow.outputint", "-e", "cflow.nexthop", "-e", "cflow.sampling_interval", "-e", "cflow.od_id", "-e", "cflow.source_id")
		b, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		out := map[string][]string{}
		for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			f := strings.Split(line, "\t")
			if len(f) < 12 || f[2] == "" {
				continue
			}
			n := len(strings.Split(f[2], "|"))
			col := func(i int) []string {
				if f[i] == "" { // an element the template lacks
					return make([]string, n)
				}
				return strings.Split(f[i], "|")
			}
			sa, sp, da, dp, in, outIf, nh, smp := col(2), col(3), col(4), col(5), col(6), col(7), col(8), col(9)
			for i := range sa {
				if i >= len(sp) || i >= len(da) || i >= len(dp) || i >= len(in) || i >= len(outIf) || i >= len(nh) || i >= len(smp) {
					t.Fatalf("tshark: uneven columns: %s", line)
				}
				k := strings.Join([]string{sa[i], sp[i], da[i], dp[i]}, ",")
				dom := f[10] + f[11] // od_id (IPFIX) or source_id (v9)
				if dom == "" {
					dom = "0" // v5: no domain in the header
				}
				out[k] = append(out[k], strings.Join([]string{in[i], outIf[i], nh[i], f[0] + ":" + f[1], dom, smp[i]}, ","))
			}
		}
		return out
	}
	nRa, nIPFIX := 0, 0
	for _, name := range []string{"ipt_netflow_v9.pcap", "netflow9_ubiquiti_edgerouter.pcap", "ipt_netflow_v5.pcap"} {
		src := filepath.Join(c, "netflow-exports", "flowbeat", "pcap", name)
		if _, err := os.Stat(src); err != nil {
			t.Fatal(err)
		}
		r, i := netflowArgusIPFIX(t, src, flows)
		nRa, nIPFIX = nRa+r, nIPFIX+i
	}
	if nRa < 50 || nIPFIX < 50 {
		t.Fatalf("%d flows compared in ra, %d in IPFIX", nRa, nIPFIX)
	}
	t.Logf("%d flows: exporter, interfaces, next hop, domain in ra's label; %d in the IPFIX tshark decodes", nRa, nIPFIX)
}

func netflowArgusIPFIX(t *testing.T, src string, flows func(string, ...string) map[string][]string) (nRa, nIPFIX int) {
	want := flows(src)
	dir := t.TempDir()
	a, a3, ipx := filepath.Join(dir, "a.argus"), filepath.Join(dir, "a3.argus"), filepath.Join(dir, "x.ipfix")
	if code := run([]string{"convert", "--sampling-rate", "100", "-r", "nf:" + src, "-w", "argus:" + a}); code != 0 {
		t.Fatalf("nf to argus: exit %d", code)
	}
	// --lossy: v5's nanosecond times need Argus 5 (the label is checked)
	if code := run([]string{"convert", "--lossy", "-r", "argus:" + a, "-w", "argus3:" + a3}); code != 0 {
		t.Fatalf("argus to argus3: exit %d", code)
	}
	// ra's label words, by flow
	b, err := exec.Command("ra", "-X", "-n", "-c", ",", "-r", a3, "-s", "saddr", "sport", "daddr", "dport", "label").Output()
	if err != nil {
		t.Fatalf("ra: %v", err)
	}
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		f := strings.SplitN(line, ",", 5)
		if len(f) < 5 {
			continue
		}
		w := map[string]string{}
		for _, word := range strings.Split(f[4], ":") {
			if k, v, ok := strings.Cut(word, "="); ok {
				w[k] = strings.ReplaceAll(v, "%3A", ":")
			}
		}
		dom := w["fg.odid"]
		if dom == "" {
			dom = "0"
		}
		k := strings.Join(f[:4], ",")
		got[k] = append(got[k], strings.Join([]string{w["fg.inif"], w["fg.outif"], w["fg.nexthop"], w["fg.exp"] + ":" + w["fg.expport"], dom, w["fg.sampling"]}, ","))
	}
	compare := func(what string, got map[string][]string, withExporter bool) int {
		n := 0
		for k, ws := range want {
			g := got[k]
			for _, w := range ws {
				wf := strings.Split(w, ",")
				wf[5] = "100" // the flag's sampling interval
				if !withExporter {
					wf[3] = "-"
				}
				found := false
				for _, x := range g {
					xf := strings.Split(x, ",")
					if !withExporter {
						xf[3] = "-"
					}
					if strings.Join(xf, ",") == strings.Join(wf, ",") {
						found = true
						break
					}
				}
				if !found {
					if n < 0 || len(g) == 0 {
						t.Errorf("%s %s: flow %s missing", filepath.Base(src), what, k)
					} else {
						t.Errorf("%s %s: flow %s: %q, want %s", filepath.Base(src), what, k, g, strings.Join(wf, ","))
					}
					continue
				}
				n++
			}
		}
		return n
	}
	nRa = compare("ra", got, true)

	if code := run([]string{"convert", "-r", "argus:" + a, "-w", "ipfix:" + ipx}); code != 0 {
		t.Fatalf("argus to ipfix: exit %d", code)
	}
	raw, _ := os.ReadFile(ipx)
	pcap := filepath.Join(dir, "x.pcap")
	if err := os.WriteFile(pcap, udpPcap(t, raw, 4739), 0o644); err != nil {
		t.Fatal(err)
	}
	ix := flows(pcap, "-d", "udp.port==4739,cflow")
	// IPFIX has no exporter field in the record (the sender is the
	// exporter); the sampling interval is per record (element 34)
	nIPFIX = compare("ipfix", ix, false)
	return nRa, nIPFIX
}

// udpPcap wraps concatenated IPFIX messages in a pcap of UDP datagrams
// (127.0.0.1 to 127.0.0.1:port, one message each) for tshark.
func udpPcap(t *testing.T, msgs []byte, port uint16) []byte {
	out := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101, 0, 0, 0} // LINKTYPE_RAW
	le32 := func(b []byte, v int) []byte { return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24)) }
	for len(msgs) >= 16 {
		n := int(msgs[2])<<8 | int(msgs[3])
		if n < 16 || n > len(msgs) {
			t.Fatalf("IPFIX message length %d of %d bytes", n, len(msgs))
		}
		ipLen := 28 + n
		out = le32(out, 0)
		out = le32(out, 0)
		out = le32(out, ipLen)
		out = le32(out, ipLen)
		ip := []byte{0x45, 0, byte(ipLen >> 8), byte(ipLen), 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}
		var sum uint32
		for i := 0; i < 20; i += 2 {
			sum += uint32(ip[i])<<8 | uint32(ip[i+1])
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		ip[10], ip[11] = byte(^sum>>8), byte(^sum)
		out = append(out, ip...)
		out = append(out, 0x12, 0x34, byte(port>>8), byte(port), byte((8+n)>>8), byte(8+n), 0, 0)
		out = append(out, msgs[:n]...)
		msgs = msgs[n:]
	}
	return out
}

// TestConvertZeekArgusLongHeader: a conn.log whose header is longer than
// a label (a corpus log with 60 more columns, all but one unset) goes to Argus in pieces on
// its first records and comes back byte for byte; a one-record log with
// such a header cannot be carried, which is an error naming the label
// word, or with --lossy a log with a header of flowgate's own.
func TestConvertZeekArgusLongHeader(t *testing.T) {
	var src string
	for _, l := range zeekLogs(t) {
		if strings.HasSuffix(l, filepath.Join("scripts.base.protocols.ssh.basic", "conn.log")) {
			src = l
		}
	}
	if src == "" {
		t.Fatal("no ssh.basic conn.log in the corpus")
	}
	orig, _ := os.ReadFile(src)
	var b strings.Builder
	n := 0
	for _, line := range strings.SplitAfter(string(orig), "\n") {
		body := strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(body, "#fields"):
			for i := range 60 {
				body += fmt.Sprintf("\tpolicy_column_%02d", i)
			}
		case strings.HasPrefix(body, "#types"):
			body += strings.Repeat("\tstring", 60)
		case body != "" && body[0] != '#':
			// unset but the first: the header is what is long
			body += fmt.Sprintf("\tv%d", n) + strings.Repeat("\t-", 59)
			n++
		}
		b.WriteString(body)
		if strings.HasSuffix(line, "\n") {
			b.WriteString("\n")
		}
	}
	dir := t.TempDir()
	long := filepath.Join(dir, "conn.log")
	os.WriteFile(long, []byte(b.String()), 0o644)
	a, out := filepath.Join(dir, "a.argus"), filepath.Join(dir, "out.log")
	if code := run([]string{"convert", "-r", "zeek:" + long, "-w", "argus:" + a}); code != 0 {
		t.Fatalf("to argus: exit %d", code)
	}
	if code := run([]string{"convert", "-r", "argus:" + a, "-w", "zeek:" + out}); code != 0 {
		t.Fatalf("from argus: exit %d", code)
	}
	if got, _ := os.ReadFile(out); string(got) != b.String() {
		t.Fatalf("log differs\n%s", firstDiff([]byte(b.String()), got))
	}
	if ab, _ := os.ReadFile(a); bytes.Count(ab, []byte(":fg.zhdrc=")) < 2 || bytes.Count(ab, []byte(":fg.zhdr=")) != 1 {
		t.Errorf("the header did not go in pieces (%d continued, %d last)", bytes.Count(ab, []byte(":fg.zhdrc=")), bytes.Count(ab, []byte(":fg.zhdr=")))
	}
	hdr := strings.Index(b.String(), "\n#close")
	if hdr < 1500 {
		t.Fatalf("header only %d bytes", hdr)
	}
	// one record
	lines := strings.SplitAfter(b.String(), "\n")
	var one strings.Builder
	recs := 0
	for _, l := range lines {
		if l != "" && l[0] != '#' {
			if recs++; recs > 1 {
				continue
			}
		}
		one.WriteString(l)
	}
	os.WriteFile(long, []byte(one.String()), 0o644)
	os.Remove(a)
	if code := run([]string{"convert", "-r", "zeek:" + long, "-w", "argus:" + a}); code == 0 {
		t.Error("a one-record log with a 2 KB header went to Argus without --lossy")
	}
	os.Remove(a)
	if code := run([]string{"convert", "--lossy", "-r", "zeek:" + long, "-w", "argus:" + a}); code != 0 {
		t.Fatalf("--lossy: exit %d", code)
	}
}

// addMicros adds two decimal texts with at most 6 fraction digits (a
// conn.log's ts and duration) exactly, as ra prints the sum with -p 6.
func addMicros(a, b string) (string, bool) {
	us := func(t string) (int64, bool) {
		i, f, _ := strings.Cut(t, ".")
		if len(f) > 6 {
			return 0, false
		}
		f += strings.Repeat("0", 6-len(f))
		n, err := strconv.ParseInt(i+f, 10, 64)
		return n, err == nil
	}
	x, ok1 := us(a)
	y, ok2 := us(b)
	if !ok1 || !ok2 {
		return "", false
	}
	s := strconv.FormatInt(x+y, 10)
	return s[:len(s)-6] + "." + s[len(s)-6:], true
}
