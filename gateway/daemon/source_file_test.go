package daemon

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/config"
)

// memEmitter keeps a copy of every record emitted; syncs counts Sync calls.
type memEmitter struct {
	mu       sync.Mutex
	recs     []flow.Record
	batches  int
	syncs    int
	err      error   // returned by Emit when set
	syncErrs []error // returned by the next Syncs, one each
}

func (m *memEmitter) Emit(ctx context.Context, recs []flow.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	for i := range recs {
		r := recs[i]
		r.Detach()
		m.recs = append(m.recs, r)
	}
	m.batches++
	return nil
}

func (m *memEmitter) Sync(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.syncs++
	if len(m.syncErrs) > 0 {
		err := m.syncErrs[0]
		m.syncErrs = m.syncErrs[1:]
		return err
	}
	return nil
}

func (m *memEmitter) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs)
}

func (m *memEmitter) snapshot() []flow.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]flow.Record(nil), m.recs...)
}

// argusBytes encodes recs as an Argus 5 stream.
func argusBytes(t testing.TB, recs []flow.Record, version int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := argus.NewWriter(&buf, version)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := w.Encode(&recs[i]); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func corpus(t testing.TB, rel string) string {
	t.Helper()
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set: needs " + rel)
	}
	p := filepath.Join(c, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skip(err)
	}
	return p
}

func sourceOf(t testing.TB, text string) config.Source {
	t.Helper()
	if text == "sensor" || strings.HasPrefix(text, "sensor:") {
		_, iface, _ := strings.Cut(text, ":")
		return config.Source{Endpoint: config.Endpoint{Text: text, Kind: config.KindSensor, Iface: iface}}
	}
	ep, err := gateway.ParseEndpoint(text)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return config.Source{Endpoint: config.Endpoint{Text: text, Kind: config.KindFile, Net: ep}}
}

func makeSource(t testing.TB, text string) Source {
	t.Helper()
	s := sourceOf(t, text)
	mk, err := sourceMaker(s)
	if err != nil {
		t.Fatal(err)
	}
	src, err := mk(s, Env{Pipeline: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// ra5Flows are the TCP and UDP flows of ra 5's CSV golden of an Argus
// file (saddr,sport,daddr,dport,spkts,dpkts), sorted.
func ra5Flows(t testing.TB, golden string) []string {
	t.Helper()
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		f := strings.Split(line, ",")
		if f[3] == "tcp" || f[3] == "udp" {
			out = append(out, strings.Join([]string{f[4], f[5], f[7], f[8], f[9], f[10]}, ","))
		}
	}
	slices.Sort(out)
	return out
}

// ourFlows are the same columns of recs.
func ourFlows(recs []flow.Record) []string {
	var out []string
	for i := range recs {
		r := &recs[i]
		if r.Type == flow.TypeMgmt || r.Key.Proto != 6 && r.Key.Proto != 17 {
			continue
		}
		out = append(out, fmt.Sprintf("%s,%d,%s,%d,%d,%d", r.Key.Src, r.Key.SrcPort, r.Key.Dst, r.Key.DstPort, r.Pkts[0], r.Pkts[1]))
	}
	slices.Sort(out)
	return out
}

func flows(recs []flow.Record) int {
	n := 0
	for i := range recs {
		if recs[i].Type != flow.TypeMgmt {
			n++
		}
	}
	return n
}

// A corpus Argus 5 file read once: the records rewrite to the file's own
// bytes, and its TCP and UDP flows are those ra 5 prints (the corpus's
// golden: 8220 flow records).
func TestFileSourceArgus(t *testing.T) {
	path := corpus(t, "argus/openargus-clients/baseline.2024.01.25.out")
	src := makeSource(t, path)
	var em memEmitter
	if err := src.Run(context.Background(), &em); err != nil {
		t.Fatal(err)
	}
	recs := em.snapshot()
	want, _ := os.ReadFile(path)
	if got := argusBytes(t, recs, 5); !bytes.Equal(got, want) {
		t.Errorf("rewrite: %d bytes, the file has %d", len(got), len(want))
	}
	if n := flows(recs); n != 8220 {
		t.Errorf("%d flow records, ra 5 prints 8220", n)
	}
	golden := corpus(t, "argus/derived/baseline.2024.01.25.ra5.csv")
	if got, want := ourFlows(recs), ra5Flows(t, golden); !slices.Equal(got, want) {
		t.Errorf("%d TCP/UDP flows differ from ra 5's %d", len(got), len(want))
	}
	st := src.Stats()
	if st.Records != uint64(len(recs)) || len(st.Lost) != 0 {
		t.Errorf("stats %+v, want %d records, no loss", st, len(recs))
	}
}

// A corrupt region in the middle of an Argus file is counted with the
// file and its byte offset; the records before and after it are kept.
func TestFileSourceArgusCorrupt(t *testing.T) {
	path := corpus(t, "argus/openargus-clients/baseline.2024.01.25.out")
	data, _ := os.ReadFile(path)
	var whole memEmitter
	if err := makeSource(t, path).Run(context.Background(), &whole); err != nil {
		t.Fatal(err)
	}
	// Find the offset of the 1000th record and break its header.
	off := 0
	for range 1000 {
		off += (int(data[off+2])<<8 | int(data[off+3])) * 4
	}
	end := off + (int(data[off+2])<<8|int(data[off+3]))*4
	bad := bytes.Clone(data)
	copy(bad[off:], []byte{0xff, 0xff, 0x00, 0x01})
	p := filepath.Join(t.TempDir(), "bad.out")
	os.WriteFile(p, bad, 0o644)
	src := makeSource(t, "argus:"+p)
	var em memEmitter
	if err := src.Run(context.Background(), &em); err != nil {
		t.Fatal(err)
	}
	got, all := em.len(), whole.len()
	if all == 0 || got < all-3 || got > all+1 {
		t.Fatalf("%d records kept of %d (one broken)", got, all)
	}
	// The records before the break and after it are the file's: the
	// reader resumes at the next plausible record.
	ours, theirs := em.snapshot(), whole.snapshot()
	if !bytes.Equal(argusBytes(t, ours[:1000], 5), argusBytes(t, theirs[:1000], 5)) {
		t.Error("the 1000 records before the break differ")
	}
	if !bytes.Equal(argusBytes(t, ours[got-7000:], 5)[128:], argusBytes(t, theirs[all-7000:], 5)[128:]) {
		t.Error("the last 7000 records differ")
	}
	st := src.Stats()
	var at int
	if len(st.Lost) == 1 {
		if _, rest, ok := strings.Cut(st.Lost[0].Detail, "record at byte "); ok {
			at, _ = strconv.Atoi(strings.Fields(strings.TrimRight(rest, ":"))[0])
			at, _ = strconv.Atoi(strings.TrimRight(strings.Fields(rest)[0], ":"))
		}
	}
	if len(st.Lost) != 1 || st.Lost[0].Reason != ReasonMalformed || st.Lost[0].N != 1 ||
		!strings.Contains(st.Lost[0].Detail, p) || at < off || at >= end {
		t.Errorf("loss %+v, want one malformed in %s at byte %d-%d", st.Lost, p, off, end)
	}
}

// Detection: each corpus file read with no format named gets the format
// its name says.
func TestDetectFormat(t *testing.T) {
	for _, c := range []struct {
		rel  string
		want gateway.Format
	}{
		{"argus/openargus-clients/baseline.2024.01.25.out", gateway.FormatAuto},
		{"zeek/slips/test9-mixed-zeek-dir/conn.log", gateway.FormatZeek},
		{"zeek/zeek-btest/baselines/core.pppoe/conn.log", gateway.FormatZeek},
		{"argus/slips-binetflow/test3-mixed.binetflow", gateway.FormatCSV},
		{"traffic/gopacket/test_dns.pcap", gateway.FormatPcap},
		{"netflow-exports/flowbeat/dat/ipfix.dat", gateway.FormatIPFIX},
	} {
		p := corpus(t, c.rel)
		b, _ := os.ReadFile(p)
		got, ok := detectFormat(b[:min(len(b), 512)])
		if !ok || got != c.want {
			t.Errorf("%s: %q %v, want %q", c.rel, got, ok, c.want)
		}
	}
	if _, ok := detectFormat([]byte{0x01, 0x02, 0x00, 0xff}); ok {
		t.Error("binary junk detected as a format")
	}
}

// copyFile copies a corpus file into dir under name, complete: written to
// a dot file and renamed (IN_MOVED_TO), or written in place (IN_CLOSE_WRITE).
func copyFile(t testing.TB, from, dir, name string, rename bool) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if rename {
		tmp := filepath.Join(dir, "."+name)
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A watched directory: files present at start are read in name order,
// then files that appear (moved in, written in place, in subdirectories
// made or moved in; not in hidden ones); a bad file is
// counted; each file is listed in .flowgate-done once its records are
// synced, and a restart reads none of them again.
func TestFileSourceDirectory(t *testing.T) {
	argusFile := corpus(t, "argus/openargus-clients/baseline.2024.01.25.out")
	zeekJSON := corpus(t, "zeek/slips/test9-mixed-zeek-dir/conn.log")
	zeekTSV := corpus(t, "zeek/zeek-btest/baselines/core.pppoe/conn.log")
	count := func(p string) int {
		var em memEmitter
		if err := makeSource(t, p).Run(context.Background(), &em); err != nil {
			t.Fatal(err)
		}
		return em.len()
	}
	nArgus, nJSON, nTSV := count(argusFile), count(zeekJSON), count(zeekTSV)

	dir := t.TempDir()
	copyFile(t, zeekTSV, dir, "b.log", false)
	copyFile(t, argusFile, dir, "a.argus", false)
	os.WriteFile(filepath.Join(dir, "c.bin"), []byte{0x01, 0x02, 0x03, 0xff, 0x00}, 0o644)

	run := func(em *memEmitter) (Source, context.CancelFunc, chan error) {
		src := makeSource(t, dir)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- src.Run(ctx, em) }()
		return src, cancel, done
	}
	var em memEmitter
	src, cancel, done := run(&em)
	waitFor(t, "the files present at start", 20*time.Second, func() bool { return em.len() == nArgus+nTSV })
	// Name order: a.argus's records (its MAR first) before b.log's.
	if r := em.snapshot(); r[0].Type != flow.TypeMgmt || r[nArgus].Type != flow.TypeFlow || len(r[nArgus].Zeek.UID) == 0 {
		t.Errorf("not in name order: record 0 type %v, record %d uid %q", r[0].Type, nArgus, r[nArgus].Zeek.UID)
	}
	copyFile(t, zeekJSON, dir, "d.log", true)
	waitFor(t, "a file moved in", 10*time.Second, func() bool { return em.len() == nArgus+nTSV+nJSON })
	copyFile(t, zeekTSV, dir, "e.log", false)
	waitFor(t, "a file written in place", 10*time.Second, func() bool { return em.len() == nArgus+2*nTSV+nJSON })
	// Subdirectories, as nfcapd -S and argus archives make them: one
	// made and a file moved in, one moved in with its file, a hidden one.
	os.MkdirAll(filepath.Join(dir, "2026", "11"), 0o755)
	time.Sleep(100 * time.Millisecond) // its watch is added
	copyFile(t, zeekTSV, filepath.Join(dir, "2026", "11"), "g.log", true)
	waitFor(t, "a file in a new subdirectory", 10*time.Second, func() bool { return em.len() == nArgus+3*nTSV+nJSON })
	out := filepath.Join(t.TempDir(), "2027")
	os.Mkdir(out, 0o755)
	copyFile(t, zeekTSV, out, "h.log", false)
	if err := os.Rename(out, filepath.Join(dir, "2027")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a subdirectory moved in", 10*time.Second, func() bool { return em.len() == nArgus+4*nTSV+nJSON })
	os.Mkdir(filepath.Join(dir, ".snap"), 0o755)
	copyFile(t, zeekTSV, filepath.Join(dir, ".snap"), "x.log", false)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %v to stop", d)
	}
	st := src.Stats()
	if len(st.Lost) != 1 || !strings.Contains(st.Lost[0].Detail, "c.bin") || st.Lost[0].Reason != ReasonMalformed {
		t.Errorf("loss %+v, want c.bin malformed", st.Lost)
	}
	list, _ := os.ReadFile(filepath.Join(dir, doneList))
	if string(list) != "a.argus\nb.log\nc.bin\nd.log\ne.log\n2026/11/g.log\n2027/h.log\n" {
		t.Errorf(".flowgate-done:\n%s", list)
	}
	em.mu.Lock()
	if em.syncs < 7 {
		t.Errorf("%d syncs for 7 files", em.syncs)
	}
	em.mu.Unlock()

	// Restart: nothing again; a file gone is dropped from the list; a new
	// file is read.
	os.Remove(filepath.Join(dir, "c.bin"))
	var em2 memEmitter
	_, cancel2, done2 := run(&em2)
	copyFile(t, zeekTSV, dir, "f.log", true)
	waitFor(t, "a new file after restart", 10*time.Second, func() bool { return em2.len() >= nTSV })
	time.Sleep(300 * time.Millisecond)
	cancel2()
	<-done2
	if em2.len() != nTSV {
		t.Errorf("after restart %d records, want %d (f.log only)", em2.len(), nTSV)
	}
	list, _ = os.ReadFile(filepath.Join(dir, doneList))
	if string(list) != "a.argus\nb.log\nd.log\ne.log\n2026/11/g.log\n2027/h.log\nf.log\n" {
		t.Errorf(".flowgate-done after restart:\n%s", list)
	}
}

// Without inotify the directory is polled: a file is taken once its size
// and time held over two looks.
func TestDirWatcherPolling(t *testing.T) {
	dir := t.TempDir()
	w := newPollingWatcher(dir)
	os.WriteFile(filepath.Join(dir, "x"), []byte("1"), 0o644)
	if got := w.scan(true); len(got) != 0 {
		t.Errorf("first look listed %v", got)
	}
	if got := w.scan(true); len(got) != 1 || got[0] != "x" {
		t.Errorf("second look listed %v, want [x]", got)
	}
	os.WriteFile(filepath.Join(dir, "x"), []byte("12"), 0o644)
	if got := w.scan(true); len(got) != 0 {
		t.Errorf("a growing file was listed: %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.wait(ctx); err == nil {
		t.Error("wait ignores a done ctx")
	}
}

// The directory source without inotify: a file written in place is read
// once it has stopped changing, one written slowly only when complete.
func TestFileSourceDirectoryPolling(t *testing.T) {
	if !setNoInotify(true) {
		t.Skip("inotify is Linux's: other systems always poll")
	}
	defer setNoInotify(false)
	zeekTSV := corpus(t, "zeek/zeek-btest/baselines/core.pppoe/conn.log")
	data, _ := os.ReadFile(zeekTSV)
	want := len(readZeek(t, data))
	dir := t.TempDir()
	src := makeSource(t, dir)
	var em memEmitter
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, &em) }()
	time.Sleep(pollEvery / 2) // past the look at start, which takes what is there
	// Written in two halves, with a look between them: that look must not
	// take the half file (a writer pausing longer than a poll would be
	// read half: polling is the fallback; nfcapd renames its files).
	os.Mkdir(filepath.Join(dir, "sub"), 0o755) // polling looks into subdirectories too
	p := filepath.Join(dir, "sub", "slow.log")
	os.WriteFile(p, data[:len(data)/2], 0o644)
	time.Sleep(pollEvery * 3 / 4)
	f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(data[len(data)/2:])
	f.Close()
	waitFor(t, "the file", 4*pollEvery, func() bool { return em.len() >= want })
	time.Sleep(pollEvery + pollEvery/2)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if em.len() != want || len(src.Stats().Lost) != 0 {
		t.Errorf("%d records (want %d), loss %+v", em.len(), want, src.Stats().Lost)
	}
	if list, _ := os.ReadFile(filepath.Join(dir, doneList)); string(list) != "sub/slow.log\n" {
		t.Errorf(".flowgate-done: %q", list)
	}
}

// A directory of raw IPFIX datagrams, template first then data (as the
// flowbeat vendor captures come): templates carry from file to file, and
// the records are the ones in flowbeat's golden events (addresses, ports
// and protocol).
func TestFileSourceDirectoryIPFIX(t *testing.T) {
	dat := corpus(t, "netflow-exports/flowbeat/dat")
	golden := corpus(t, "netflow-exports/flowbeat/golden/IPFIX-Barracuda-firewall.golden.json")
	dir := t.TempDir()
	copyFile(t, filepath.Join(dat, "ipfix_test_barracuda_tpl.dat"), dir, "1.dat", false)
	copyFile(t, filepath.Join(dat, "ipfix_test_barracuda_data256.dat"), dir, "2.dat", false)
	src := makeSource(t, dir)
	var em memEmitter
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, &em) }()
	b, _ := os.ReadFile(golden)
	type end struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
	}
	var g struct {
		Events []struct {
			Fields struct {
				Src     end `json:"source"`
				Dst     end `json:"destination"`
				Network struct {
					Protocol string `json:"protocol"`
				} `json:"network"`
			} `json:"Fields"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the records", 10*time.Second, func() bool { return em.len() >= len(g.Events) })
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	var want, got []string
	for _, e := range g.Events {
		f := e.Fields
		want = append(want, fmt.Sprintf("%s:%d - %s:%d %s", f.Src.IP, f.Src.Port, f.Dst.IP, f.Dst.Port, strings.ToUpper(f.Network.Protocol)))
	}
	names := map[uint8]string{6: "TCP", 17: "UDP", 1: "ICMP"}
	for _, r := range em.snapshot() {
		got = append(got, fmt.Sprintf("%s:%d - %s:%d %s", r.Key.Src, r.Key.SrcPort, r.Key.Dst, r.Key.DstPort, names[r.Key.Proto]))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("records:\n%s\nflowbeat's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := src.Stats(); len(st.Lost) != 0 {
		t.Errorf("loss %+v", st.Lost)
	}
}

// The ra 5 CSV of the corpus Argus file, read as a CSV file source,
// holds the same TCP/UDP flows as the Argus file itself.
func TestFileSourceCSV(t *testing.T) {
	golden := corpus(t, "argus/derived/baseline.2024.01.25.ra5.csv")
	src := makeSource(t, "csv:"+golden)
	var em memEmitter
	if err := src.Run(context.Background(), &em); err != nil {
		t.Fatal(err)
	}
	if got, want := ourFlows(em.snapshot()), ra5Flows(t, golden); !slices.Equal(got, want) {
		t.Errorf("%d TCP/UDP flows, ra 5's CSV has %d", len(got), len(want))
	}
	// Its 149 ARP and 4 LLC flows have no IP flow key to read into:
	// counted malformed, with the line of the first.
	b, _ := os.ReadFile(golden)
	nonIP := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, ","); len(f) > 3 && (f[3] == "arp" || f[3] == "llc") {
			nonIP++
		}
	}
	st := src.Stats()
	if n := em.len(); nonIP != 153 || n != 8220-nonIP || len(st.Lost) != 1 || st.Lost[0].N != uint64(nonIP) ||
		!strings.Contains(st.Lost[0].Detail, "line 40 field 4 (Proto): \"arp\"") {
		t.Errorf("%d records, loss %+v; want %d and %d ARP/LLC flows", n, st.Lost, 8220-nonIP, nonIP)
	}
}

// Compressed files (Zeek archives its logs gzipped) are read from their
// decompressed stream: the records are those of the plain file.
func TestFileSourceCompressed(t *testing.T) {
	dir := t.TempDir()
	for _, rel := range []string{
		"zeek/slips/test18-malicious-ctu-sme-11-win/zeek-labeled/conn.log.labeled",
		"zeek/slips/test9-mixed-zeek-dir/conn.log",
		"argus/openargus-clients/baseline.2024.01.25.out",
	} {
		p := corpus(t, rel)
		var plain memEmitter
		if err := makeSource(t, p).Run(context.Background(), &plain); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(p)
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(data)
		zw.Close()
		cp := filepath.Join(dir, filepath.Base(rel)+".gz")
		os.WriteFile(cp, gz.Bytes(), 0o644)
		for _, text := range []string{cp, "zeek:" + cp} {
			if strings.HasSuffix(rel, ".out") && strings.HasPrefix(text, "zeek:") {
				continue
			}
			// zeek:FILE.gz is an archive: read once, not followed.
			fs, ok := makeSource(t, text).(*fileSource)
			if !ok {
				t.Fatalf("%s: not a file source", text)
			}
			var em memEmitter
			if err := fs.Run(context.Background(), &em); err != nil {
				t.Fatal(err)
			}
			if err := sameRecords(em.snapshot(), plain.snapshot()); err != nil {
				t.Errorf("%s: %v", text, err)
			}
			if st := fs.Stats(); len(st.Lost) != 0 {
				t.Errorf("%s: loss %+v", text, st.Lost)
			}
		}
	}
	// A zeek: directory of gzipped archives.
	src := makeSource(t, "zeek:"+dir)
	if _, ok := src.(*fileSource); !ok {
		t.Fatalf("zeek:DIR made a %T", src)
	}
}

// A directory file whose records a sink failed to take (Sync fails) is
// read again, then listed done once.
func TestFileSourceDirectorySyncFailure(t *testing.T) {
	defer func(d time.Duration) { syncRetry = d }(syncRetry)
	syncRetry = 50 * time.Millisecond
	zeekTSV := corpus(t, "zeek/zeek-btest/baselines/core.pppoe/conn.log")
	data, _ := os.ReadFile(zeekTSV)
	want := readZeek(t, data)
	dir := t.TempDir()
	copyFile(t, zeekTSV, dir, "a.log", false)
	src := makeSource(t, dir)
	em := &memEmitter{syncErrs: []error{errors.New("sink_error: 2 records")}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, em) }()
	waitFor(t, "the file twice", 5*time.Second, func() bool { return em.len() >= 2*len(want) })
	waitFor(t, "the list", 5*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, doneList))
		return string(b) == "a.log\n"
	})
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := em.snapshot()
	if err := sameRecords(got[len(want):], want); err != nil || len(got) != 2*len(want) {
		t.Errorf("%d records (want the file twice, %d): %v", len(got), 2*len(want), err)
	}
}
