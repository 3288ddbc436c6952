package main

import (
	"bufio"
	"bytes"
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
)

// zeekRow is one record of a conn.log convert wrote: its endpoints and
// community_id ("-" when unset).
type zeekRow struct {
	origH, origP, respH, respP, proto, cid string
}

// readZeekRows parses a TSV conn.log with a community_id column.
func readZeekRows(t *testing.T, name string) []zeekRow {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var rows []zeekRow
	var cols map[string]int
	for _, line := range strings.Split(string(b), "\n") {
		if f, ok := strings.CutPrefix(line, "#fields\t"); ok {
			cols = map[string]int{}
			for i, c := range strings.Split(f, "\t") {
				cols[c] = i
			}
			if _, ok := cols["community_id"]; !ok {
				t.Fatalf("%s: no community_id column: %s", name, line)
			}
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		get := func(c string) string { return f[cols[c]] }
		rows = append(rows, zeekRow{get("id.orig_h"), get("id.orig_p"), get("id.resp_h"), get("id.resp_p"), get("proto"), get("community_id")})
	}
	return rows
}

// tsharkFlows runs tshark 4.0 on a traffic capture and returns the
// Community IDs it gives the packets between two addresses (in either
// direction), keyed by the sorted address pair. Reassembly is left at
// tshark's default (on), as a flow exporter sees a datagram's ports.
func tsharkFlows(t *testing.T, tshark, pcap string, seed uint16) map[string]map[string]bool {
	t.Helper()
	cmd := exec.Command(tshark, "-n", "-r", pcap, "--enable-protocol", "communityid",
		"-o", "communityid.seed:"+strconv.Itoa(int(seed)),
		"-T", "fields", "-E", "occurrence=f",
		"-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "communityid")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("tshark %s: %v", pcap, err)
	}
	m := map[string]map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 5 || f[4] == "" {
			continue
		}
		a, b := f[0], f[1]
		if a == "" {
			a, b = f[2], f[3]
		}
		k := pairKey(a, b)
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][f[4]] = true
	}
	return m
}

func pairKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + " " + b
}

func needTshark(t *testing.T) (tshark, corpus string) {
	corpus = os.Getenv("FLOWGATE_CORPUS")
	if corpus == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tshark not installed")
		}
		t.Skip("tshark not installed")
	}
	return tshark, corpus
}

// cidTally is what a comparison with tshark found.
type cidTally struct {
	flows, agree, none int
	noneWhy            map[string]int
	known              map[string]int // IDs that differ from tshark's, per reason
}

func newTally() cidTally { return cidTally{noneWhy: map[string]int{}, known: map[string]int{}} }

// compareWithTshark checks every row of a conn.log convert wrote from
// flows of pcap: a row's community_id must be one tshark gives the
// packets between the row's two addresses; a row without one is counted
// with tshark's view of those packets (none: tshark gives them no ID
// either, e.g. ARP; else the reason must be one we expect).
//
// known, if not nil, names the reason a row's ID may differ from tshark's
// (the source keys the flow otherwise than its packets); such rows are
// counted under that reason.
func compareWithTshark(t *testing.T, rows []zeekRow, want map[string]map[string]bool, known func(zeekRow) string, tl *cidTally) {
	t.Helper()
	for _, r := range rows {
		tl.flows++
		ids := want[pairKey(r.origH, r.respH)]
		if r.cid == "-" {
			tl.none++
			why := "tshark gives these packets no ID either"
			if len(ids) > 0 {
				why = fmt.Sprintf("tshark %v", keys(ids))
			}
			tl.noneWhy[r.proto+": "+why]++
			continue
		}
		if !ids[r.cid] {
			if why := ""; known != nil {
				if why = known(r); why != "" {
					tl.known[why]++
					continue
				}
			}
			t.Errorf("flow %s %s:%s -> %s:%s: community_id %s, tshark gives these packets %v", r.proto, r.origH, r.origP, r.respH, r.respP, r.cid, keys(ids))
			continue
		}
		tl.agree++
	}
}

func keys(m map[string]bool) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// TestConvertCommunityIDNetFlowTshark: softflowd 1.1.0's NetFlow v9
// exports of the generated captures, converted to a conn.log, carry for
// every flow the Community ID tshark 4.0 gives that flow's packets in the
// capture the exports were made from, with seed 0 and with seed 4711
// (--community-id-seed, tshark's communityid.seed).
func TestConvertCommunityIDNetFlowTshark(t *testing.T) {
	tshark, corpus := needTshark(t)
	exports, _ := filepath.Glob(filepath.Join(corpus, "generated/exports/v9/pcap/*.pcap"))
	if len(exports) < 10 {
		t.Fatalf("%d v9 export captures", len(exports))
	}
	dir := t.TempDir()
	for _, seed := range []uint16{0, 4711} {
		tl := newTally()
		for _, ex := range exports {
			traffic := filepath.Join(corpus, "generated/pcaps", filepath.Base(ex))
			out := filepath.Join(dir, "conn.log")
			args := []string{"convert", "-r", "nf:" + ex, "-w", "zeek:" + out}
			if seed != 0 {
				args = append(args, "--community-id-seed", strconv.Itoa(int(seed)))
			}
			if code := run(args); code != 0 {
				t.Fatalf("%s: exit %d", ex, code)
			}
			var known func(zeekRow) string
			if filepath.Base(ex) == "ipv4_frag.pcap" {
				known = func(r zeekRow) string {
					if r.origP == "0" && r.respP == "0" {
						// softflowd keys a datagram's non-first fragments
						// as a flow of their own with ports 0, and NetFlow
						// v9 has no field saying so; tshark hashes those
						// packets without ports.
						return "softflowd's flow of non-first fragments (ports 0; tshark hashes them port-less)"
					}
					return ""
				}
			}
			compareWithTshark(t, readZeekRows(t, out), tsharkFlows(t, tshark, traffic, seed), known, &tl)
		}
		t.Logf("seed %d: %d v9 flows of %d captures: %d with tshark's ID, %d without (%v), known to differ: %v", seed, tl.flows, len(exports), tl.agree, tl.none, tl.noneWhy, tl.known)
		if n := tl.known["softflowd's flow of non-first fragments (ports 0; tshark hashes them port-less)"]; n != 2 {
			t.Errorf("seed %d: %d fragment flows, want 2 (a UDP and an ICMP datagram of ipv4_frag)", seed, n)
		}
		if tl.agree < tl.flows/2 {
			t.Errorf("seed %d: only %d of %d flows have an ID", seed, tl.agree, tl.flows)
		}
	}
}

// oraclePcap returns the capture an argus/oracle entry was made from
// (INDEX.tsv's path, under the corpus folder that holds it), or "".
func oraclePcap(corpus, rel string) string {
	for _, p := range []string{
		filepath.Join(corpus, rel),
		filepath.Join(corpus, "generated/pcaps", strings.TrimPrefix(rel, "generated/")),
		filepath.Join(corpus, "zeek/zeek-btest/traces", strings.TrimPrefix(rel, "zeek-traces/")),
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// TestConvertCommunityIDArgusTshark: the Argus files Debian's argus
// 3.0.8.2 (v3) and argus 5.0.3 (v5) wrote of the generated captures
// (argus/oracle), converted to a conn.log, carry for every flow the
// Community ID tshark 4.0 gives that flow's packets in the capture.
func TestConvertCommunityIDArgusTshark(t *testing.T) {
	tshark, corpus := needTshark(t)
	index, err := os.ReadFile(filepath.Join(corpus, "argus/oracle/INDEX.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tl := newTally()
	files := 0
	for _, line := range strings.Split(strings.TrimSpace(string(index)), "\n") {
		name, rel, _ := strings.Cut(line, "\t")
		if !strings.HasPrefix(name, "generated_") {
			continue
		}
		pcap := oraclePcap(corpus, rel)
		if pcap == "" {
			t.Fatalf("%s: no capture %s", name, rel)
		}
		want := tsharkFlows(t, tshark, pcap, 0)
		for _, v := range []string{"v3", "v5"} {
			in := filepath.Join(corpus, "argus/oracle", name, v+".argus")
			out := filepath.Join(dir, "conn.log")
			if code := run([]string{"convert", "-r", in, "-w", "zeek:" + out}); code != 0 {
				t.Fatalf("%s: exit %d", in, code)
			}
			rows := readZeekRows(t, out)
			if v == "v5" {
				// the ECS CSV dialect carries the same IDs (tshark's,
				// checked on the conn.log below) in network.community_id
				csvOut := filepath.Join(dir, "ecs.csv")
				if code := run([]string{"convert", "-r", in, "-w", "csv:" + csvOut, "--dialect", "ecs", "--lossy"}); code != 0 {
					t.Fatalf("%s: csv: exit %d", in, code)
				}
				if got, want := csvColumn(t, csvOut, "network.community_id"), zeekIDs(rows); strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("%s: ecs csv community IDs %v, conn.log %v", in, got, want)
				}
			}
			compareWithTshark(t, rows, want, func(r zeekRow) string {
				if r.proto != "icmp" || !strings.Contains(r.origH, ":") {
					return ""
				}
				switch {
				case v == "v5" && r.origH == "::" && r.respH == "::":
					return "argus 5.0.3: ICMPv6 flow keys with all-zero addresses (docs/oracles.md)"
				case name == "generated_ipv6_icmp" && r.origH == "2001:db8::2" && r.respH == "2001:db8::1":
					// The neighbour advertisement, keyed as a
					// solicitation from the advertiser
					// (flow.Record.SetCommunityID's doc).
					return "argus: ICMPv6 neighbour advertisement keyed as a solicitation"
				}
				return ""
			}, &tl)
			files++
		}
	}
	t.Logf("%d Argus files: %d flows, %d with tshark's ID, %d without (%v), known to differ: %v", files, tl.flows, tl.agree, tl.none, tl.noneWhy, tl.known)
	if files < 28 || tl.agree < tl.flows/2 {
		t.Errorf("%d files, %d of %d flows with an ID", files, tl.agree, tl.flows)
	}
}

// TestConvertCommunityIDArgusRoundTrip: openargus-clients' Argus 5 file
// has no capture to ask tshark about, so this is only a round-trip check
// of the plumbing: each flow's community_id in the conn.log convert
// writes is the ID flow.CommunityID gives the record's key (computed
// here), "-" where SetCommunityID gives none.
func TestConvertCommunityIDArgusRoundTrip(t *testing.T) {
	corpus := os.Getenv("FLOWGATE_CORPUS")
	if corpus == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	in := filepath.Join(corpus, "argus/openargus-clients/baseline.2024.01.25.out")
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := argus.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for {
		var r flow.Record
		if err := rd.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if r.Type == flow.TypeMgmt || zeek.NotIP(&r) {
			continue // a conn.log has IP connections only
		}
		id := "-"
		if r.Has&flow.HasCommunityID == 0 {
			if _, ok := r.SetCommunityID(nil, 0); ok {
				b, _ := flow.CommunityID(nil, &r.Key, 0)
				id = string(b)
			}
		}
		want = append(want, id)
	}
	out := filepath.Join(t.TempDir(), "conn.log")
	if code := run([]string{"convert", "-r", in, "-w", "zeek:" + out}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	rows := readZeekRows(t, out)
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	with := 0
	for i, r := range rows {
		if r.cid != want[i] {
			t.Errorf("row %d (%s %s:%s -> %s:%s): community_id %s, want %s", i+1, r.proto, r.origH, r.origP, r.respH, r.respP, r.cid, want[i])
		}
		if r.cid != "-" {
			with++
		}
	}
	t.Logf("%d flows, %d with an ID", len(rows), with)
}

// TestConvertCommunityIDKept: an ID read from a conn.log's community_id
// column is written as read (not recomputed, whatever the seed), and a
// log converted with --community-id=false from a source without IDs has
// no community_id column.
func TestConvertCommunityIDKept(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.log")
	// The first ID is not the flow's (1:3k1SoWXs/FltHw2aBCgUTgbDQF4= with
	// seed 0, tshark on generated/pcaps/tcp_handshake.pcap): it must be
	// kept all the same.
	log := "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n" +
		"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tcommunity_id\n" +
		"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\n" +
		"1700000000.000000\tCabc\t10.0.0.1\t40000\t10.0.0.2\t80\ttcp\t1:AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" +
		"1700000001.000000\tCdef\t10.0.0.1\t40000\t10.0.0.2\t80\ttcp\t-\n"
	if err := os.WriteFile(in, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.json")
	if code := run([]string{"convert", "--community-id-seed", "4711", "-r", "zeek:" + in, "-w", "zeekjson:" + out}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	got, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"community_id":"1:AAAAAAAAAAAAAAAAAAAAAAAAAAA="`) || strings.Contains(lines[1], "community_id") {
		t.Errorf("JSON lines:\n%s\nwant the first ID as read, the second unset as read", got)
	}
	// TSV to TSV with the log's header: byte for byte.
	tsv := filepath.Join(dir, "out.log")
	if code := run([]string{"convert", "-r", "zeek:" + in, "-w", "zeek:" + tsv}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if b, _ := os.ReadFile(tsv); string(b) != log {
		t.Errorf("rewrite:\n%s\nwant\n%s", b, log)
	}

	corpus := os.Getenv("FLOWGATE_CORPUS")
	if corpus == "" {
		t.Skip("FLOWGATE_CORPUS not set: the --community-id=false case needs argus/oracle")
	}
	argusIn := filepath.Join(corpus, "argus/oracle/generated_tcp_handshake/v3.argus")
	if code := run([]string{"convert", "--community-id=false", "-r", argusIn, "-w", "zeek:" + tsv}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if b, _ := os.ReadFile(tsv); bytes.Contains(b, []byte("community_id")) || bytes.Contains(b, []byte("\t1:")) {
		t.Errorf("--community-id=false wrote IDs:\n%s", b)
	}
}

// TestConvertCommunityIDColumnFirstWithout: a log written with its own
// header has the community_id column even when no record has an ID
// (generated_arp holds one ARP flow, which a conn.log leaves out, as Zeek
// logs IP connections only), as with Zeek's community-id-logging script:
// after the conn columns, type string.
func TestConvertCommunityIDColumnFirstWithout(t *testing.T) {
	corpus := os.Getenv("FLOWGATE_CORPUS")
	if corpus == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	out := filepath.Join(t.TempDir(), "conn.log")
	if code := run([]string{"convert", "-r", filepath.Join(corpus, "argus/oracle/generated_arp/v3.argus"), "-w", "zeek:" + out}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	b, _ := os.ReadFile(out)
	if !bytes.Contains(b, []byte("\ttunnel_parents\tip_proto\tcommunity_id\n")) || !bytes.Contains(b, []byte("\tset[string]\tcount\tstring\n")) {
		t.Errorf("header without community_id after the conn columns:\n%s", b)
	}
	if rows := readZeekRows(t, out); len(rows) != 0 {
		t.Errorf("rows %v: want none (the ARP flow left out)", rows)
	}
}

// TestSetCommunityIDsAllocs: the batch handler's Community IDs cost no
// allocation per record once the arena has grown to a batch.
func TestSetCommunityIDsAllocs(t *testing.T) {
	recs := make([]flow.Record, 256)
	var arena []byte
	reset := func() {
		for i := range recs {
			recs[i] = flow.Record{Type: flow.TypeFlow, Has: flow.HasKey}
			recs[i].Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: 6,
				Src: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: uint16(40000 + i), DstPort: 80}
		}
	}
	reset()
	arena = flow.SetCommunityIDs(recs, arena, 0)
	allocs := testing.AllocsPerRun(20, func() {
		for i := range recs {
			recs[i].Has &^= flow.HasCommunityID
			recs[i].CommunityID = nil
		}
		arena = flow.SetCommunityIDs(recs, arena, 0)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch of %d", allocs, len(recs))
	}
	for i := range recs {
		want, _ := flow.CommunityID(nil, &recs[i].Key, 0)
		if string(recs[i].CommunityID) != string(want) {
			t.Fatalf("record %d: %s, want %s", i, recs[i].CommunityID, want)
		}
	}
}

// BenchmarkSetCommunityIDs: the batch handler's cost per record (IPv4 TCP
// keys, batches of 256).
func BenchmarkSetCommunityIDs(b *testing.B) {
	recs := make([]flow.Record, 256)
	for i := range recs {
		recs[i].Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: 6,
			Src: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: uint16(40000 + i), DstPort: 80}
	}
	var arena []byte
	b.ReportAllocs()
	for n := 0; n < b.N; n += len(recs) {
		for i := range recs {
			recs[i].Has = flow.HasKey
			recs[i].CommunityID = nil
		}
		arena = flow.SetCommunityIDs(recs, arena, 0)
	}
}

// csvColumn returns a CSV file's column, sorted, without empty cells.
func csvColumn(t *testing.T, name, col string) []string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := stdcsv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("%s: %v", name, err)
	}
	i := slices.Index(rows[0], col)
	if i < 0 {
		t.Fatalf("%s: no column %s in %v", name, col, rows[0])
	}
	var out []string
	for _, r := range rows[1:] {
		if r[i] != "" {
			out = append(out, r[i])
		}
	}
	sort.Strings(out)
	return out
}

// zeekIDs returns the rows' Community IDs, sorted, without unset ones.
func zeekIDs(rows []zeekRow) []string {
	var out []string
	for _, r := range rows {
		if r.cid != "-" && r.cid != "" {
			out = append(out, r.cid)
		}
	}
	sort.Strings(out)
	return out
}
