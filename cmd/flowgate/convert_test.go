package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
)

// convert runs runConvert on endpoint texts with a report.
func convert(t testing.TB, in, out string, o convertOpts) (string, error) {
	t.Helper()
	i, err := gateway.ParseEndpoint(in)
	if err != nil {
		t.Fatal(err)
	}
	w, err := gateway.ParseEndpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	o.report, o.stderr = true, &stderr
	if o.stdout == nil {
		o.stdout = &bytes.Buffer{}
	}
	err = runConvert(context.Background(), i, w, o)
	return stderr.String(), err
}

func TestConvertRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "sample.argus")
	v3 := filepath.Join(dir, "s3.argus")
	v5 := filepath.Join(dir, "s5.argus")
	if _, err := convert(t, "argus:"+src, "argus3:"+v3, convertOpts{}); err != nil {
		t.Fatal(err)
	}
	if _, err := convert(t, "argus3:"+v3, "argus:"+v5, convertOpts{}); err != nil {
		t.Fatal(err)
	}
	if _, err := convert(t, "argus:"+v3, "x.argus", convertOpts{}); err == nil || !strings.Contains(err.Error(), "not argus") {
		t.Errorf("a 3.x file read as argus (5.x): err = %v", err)
	}
	if a, b := raPrint(t, src), raPrint(t, v5); !bytes.Equal(a, b) {
		t.Errorf("5.x -> 3.x -> 5.x changed the records:\n%s\n%s", a, b)
	}
}

func raPrint(t testing.TB, f string, fields ...string) []byte {
	t.Helper()
	if len(fields) == 0 {
		fields = []string{"stime", "ltime", "saddr", "sport", "daddr", "dport", "proto", "spkts", "dpkts", "sbytes", "dbytes", "state", "flgs", "sttl", "dttl"}
	}
	a, err := parseRaArgs(append(append([]string{"-M", "ra5", "-n", "-u", "-c", ",", "-s"}, fields...), "-r", f))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runRa(a, nil, &out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestConvertNotRepresentable uses the upstream 5.x sample, whose monitor
// id is a UUID with an interface name: Argus 3.x cannot hold either.
func TestConvertNotRepresentable(t *testing.T) {
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set: needs argus/openargus-clients/baseline.2024.01.25.out")
	}
	in := filepath.Join(c, "argus", "openargus-clients", "baseline.2024.01.25.out")
	out := "argus3:" + filepath.Join(t.TempDir(), "b3.argus")
	_, err := convert(t, in, out, convertOpts{})
	if err == nil || !strings.Contains(err.Error(), "srcid") {
		t.Fatalf("strict conversion: err = %v, want a not-representable srcid", err)
	}
	rep, err := convert(t, in, out, convertOpts{lossy: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"records read      8222", "srcid:", "inf:"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
}

// exportVariant returns a generated export variant's folder, or skips.
func exportVariant(t testing.TB, name string) string {
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set: needs generated/exports")
	}
	d := filepath.Join(c, "generated", "exports", name)
	if _, err := os.Stat(d); err != nil {
		t.Skip(err)
	}
	return d
}

// nfdumpFlows reads the TCP and UDP flows of an nfdump -o csv file as
// "saddr,sport,daddr,dport,proto,pkts,bytes" lines, sorted.
func nfdumpFlows(t testing.TB, csv string) []string {
	b, err := os.ReadFile(csv)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(l, ",")
		if i == 0 || len(f) < 13 || f[7] != "TCP" && f[7] != "UDP" {
			continue
		}
		out = append(out, strings.Join([]string{f[3], f[5], f[4], f[6], strings.ToLower(f[7]), f[11], f[12]}, ","))
	}
	sort.Strings(out)
	return out
}

// raFlows prints an Argus file's TCP and UDP flows like nfdumpFlows.
func raFlows(t testing.TB, argusFile string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(raPrint(t, argusFile, "saddr", "sport", "daddr", "dport", "proto", "spkts", "sbytes"))), "\n")[1:] {
		f := strings.Split(l, ",")
		if f[4] == "tcp" || f[4] == "udp" {
			// ra leaves the ports of a fragment flow blank; nfdump prints 0.
			if f[1] == "" && f[3] == "" {
				f[1], f[3] = "0", "0"
			}
			out = append(out, strings.Join(f, ","))
		}
	}
	sort.Strings(out)
	return out
}

// TestConvertCaptureNfdump: `flowgate convert -r nf:capture.pcap -w
// argus:out` on softflowd's v5, v9 and IPFIX exports gives the TCP and UDP
// flows nfcapd stored from the same captures (addresses, ports, protocol,
// packets, bytes), run through the command line.
func TestConvertCaptureNfdump(t *testing.T) {
	for _, variant := range []string{"v5", "v9", "ipfix"} {
		d := exportVariant(t, variant)
		pcaps, _ := filepath.Glob(filepath.Join(d, "pcap", "*.pcap"))
		n := 0
		for _, p := range pcaps {
			name := strings.TrimSuffix(filepath.Base(p), ".pcap")
			want := nfdumpFlows(t, filepath.Join(d, "nfdump", name+".csv.txt"))
			if len(want) == 0 {
				continue
			}
			out := filepath.Join(t.TempDir(), name+".argus")
			if code := run([]string{"convert", "-r", "nf:" + p, "-w", "argus:" + out}); code != 0 {
				t.Fatalf("%s/%s: exit %d", variant, name, code)
			}
			got := raFlows(t, out)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s/%s: flows differ\nours:\n%s\nnfdump:\n%s", variant, name, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			n += len(got)
		}
		if n == 0 {
			t.Errorf("%s: no TCP/UDP flow compared", variant)
		}
		t.Logf("%s: %d flows agree with nfdump", variant, n)
	}
}

// waitBound waits until a UDP socket is bound to addr's port, as
// /proc/net/udp shows (a test bind would race with the listener's).
func waitBound(t testing.TB, addr string) {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	want := fmt.Sprintf(":%04X ", p)
	for i := 0; i < 1000; i++ { // 10 s: a loaded machine can be slow to start the listener
		b, err := os.ReadFile("/proc/net/udp")
		if err != nil {
			t.Skip("no /proc/net/udp")
		}
		for _, l := range strings.Split(string(b), "\n")[1:] {
			if f := strings.Fields(l); len(f) > 2 && strings.HasSuffix(f[1]+" ", want) && f[2] == "00000000:0000" {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing bound to %s", addr)
}

// freeUDPPort finds a port nothing listens on (racy, but on loopback in a
// test that is fine).
func freeUDPPort(t testing.TB) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().String()
}

// TestConvertListenJSON: `-r nf+udp://ADDR -w json:-` prints the records
// of the datagrams sent to it as reading the same capture does, and stops
// at --count.
func TestConvertListenJSON(t *testing.T) {
	d := exportVariant(t, "ipfix")
	pcap := filepath.Join(d, "pcap", "tcp_handshake.pcap")
	var fromFile bytes.Buffer
	if _, err := convert(t, "nf:"+pcap, "json:-", convertOpts{stdout: &fromFile}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(fromFile.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("capture gave %d JSON lines", len(lines))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("invalid JSON line %q", l)
		}
	}
	var payloads [][]byte
	gateway.ReadMessages(pcap, gateway.FormatNF, func(b []gateway.Message) error {
		for _, m := range b {
			payloads = append(payloads, append([]byte(nil), m.Data...))
		}
		return nil
	})
	addr := freeUDPPort(t)
	var out bytes.Buffer
	done := make(chan struct{})
	var rep string
	var err error
	go func() {
		rep, err = convert(t, "nf+udp://"+addr+"?workers=2", "json:-", convertOpts{stdout: &out, count: int64(len(lines)), duration: 10 * time.Second})
		close(done)
	}()
	c, derr := net.Dial("udp", addr)
	if derr != nil {
		t.Fatal(derr)
	}
	defer c.Close()
	// The payloads go once, in order, when the listener is up.
	waitBound(t, addr)
	for _, p := range payloads {
		c.Write(p)
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("convert did not stop")
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != strings.Join(lines, "\n") {
		t.Errorf("listener printed\n%s\nthe capture\n%s", got, fromFile.String())
	}
	for _, want := range []string{"messages ", "IPFIX", "records decoded", "kernel drops 0", "decode errors     none", "records printed   " + strconv.Itoa(len(lines))} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
}

// listener is a NetFlow/IPFIX collector for the sink tests.
type listener interface {
	Serve(ctx context.Context, h gateway.Handler) error
	Stats() gateway.Stats
	Addr() netip.AddrPort
	Close() error
}

// sendAndCollect converts testdata/sample.argus to scheme://ADDR, where a
// gateway listener with the real decoders writes what it receives to an
// Argus file, and returns that file and convert's report.
func sendAndCollect(t *testing.T, scheme string, lossy bool) (string, string) {
	t.Helper()
	src := filepath.Join("..", "..", "testdata", "sample.argus")
	cs := gateway.NewCodecSet()
	var l listener
	var err error
	if strings.HasSuffix(scheme, "+tcp") {
		l, err = gateway.ListenTCP("127.0.0.1:0", gateway.Options{}, cs.New)
	} else {
		l, err = gateway.ListenUDP("127.0.0.1:0", gateway.Options{Workers: 1}, cs.New)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := filepath.Join(t.TempDir(), "got.argus")
	gotEP, _ := gateway.ParseEndpoint("argus:" + got)
	sink, err := openSink(context.Background(), gotEP, gateway.Endpoint{Format: gateway.FormatNF}, convertOpts{stdout: os.Stdout})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	var mu sync.Mutex
	go func() {
		served <- l.Serve(ctx, func(recs []flow.Record) error {
			mu.Lock()
			defer mu.Unlock()
			return sink.write(recs)
		})
	}()
	rep, err := convert(t, "argus:"+src, scheme+"://"+l.Addr().String(), convertOpts{lossy: lossy})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	m := regexp.MustCompile(`in (\d+) messages`).FindStringSubmatch(rep)
	if m == nil {
		t.Fatalf("report:\n%s", rep)
	}
	sent, _ := strconv.Atoi(m[1])
	for deadline := time.Now().Add(5 * time.Second); l.Stats().Messages < uint64(sent) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if err := sink.close(); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Errors != 0 || st.Messages != uint64(sent) {
		t.Errorf("listener: %d of %d messages, errors %d: %v", st.Messages, sent, st.Errors, st.Samples)
	}
	return got, rep
}

var flowFields = []string{"saddr", "sport", "daddr", "dport", "proto", "spkts", "sbytes", "dpkts", "dbytes"}

// raLines prints an Argus file's TCP and UDP flows with flowFields, sorted.
func raLines(t *testing.T, f string, ipv4Only bool) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(raPrint(t, f, flowFields...))), "\n")[1:] {
		c := strings.Split(line, ",")
		if (c[4] != "tcp" && c[4] != "udp") || ipv4Only && strings.Contains(c[0], ":") {
			continue
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

// TestConvertArgusToNF5UDP: `flowgate convert -r argus:in -w
// nf5+udp://ADDR --lossy` sends the IPv4 TCP/UDP flows as v5, which a
// listener decodes back to the same addresses, ports, packets and bytes.
func TestConvertArgusToNF5UDP(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "sample.argus")
	got, rep := sendAndCollect(t, "nf5+udp", true)
	// The v5 records are unidirectional: a biflow came as two.
	want := map[string]bool{}
	for _, line := range raLines(t, src, true) {
		f := strings.Split(line, ",")
		want[strings.Join(f[:7], ",")] = true
		if f[7] != "0" {
			want[strings.Join([]string{f[2], f[3], f[0], f[1], f[4], f[7], f[8]}, ",")] = true
		}
	}
	have := map[string]bool{}
	for _, l := range raFlows(t, got) {
		have[l] = true
	}
	for w := range want {
		if !have[w] {
			t.Errorf("flow %s not received", w)
		}
	}
	if len(want) == 0 {
		t.Fatal("no IPv4 TCP/UDP flow in the sample")
	}
	if !strings.Contains(rep, "not representable 2 records skipped") {
		t.Errorf("report:\n%s", rep)
	}
}

// TestConvertArgusToNF9UDP: over nf9+udp the sample's IPv4 and IPv6
// TCP/UDP flows come back with the same addresses, ports and counters;
// v9 has no reverse elements, so a biflow travels as two flows.
func TestConvertArgusToNF9UDP(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "sample.argus")
	got, rep := sendAndCollect(t, "nf9+udp", false)
	want := map[string]bool{}
	for _, line := range raLines(t, src, false) {
		f := strings.Split(line, ",")
		want[strings.Join(f[:7], ",")+",0,0"] = true
		if f[7] != "0" {
			want[strings.Join([]string{f[2], f[3], f[0], f[1], f[4], f[7], f[8]}, ",")+",0,0"] = true
		}
	}
	g := raLines(t, got, false)
	have := map[string]bool{}
	for _, l := range g {
		have[l] = true
	}
	if len(have) != len(want) {
		t.Errorf("%d flows received, want %d", len(have), len(want))
	}
	for w := range want {
		if !have[w] {
			t.Errorf("flow %s not received; got:\n%s\nreport:\n%s", w, strings.Join(g, "\n"), rep)
		}
	}
}

// TestConvertArgusToIPFIX: over ipfix+udp and ipfix+tcp the sample's
// TCP/UDP flows, IPv6 included, come back as biflows (RFC 5103) with the
// same addresses, ports and counters in both directions.
func TestConvertArgusToIPFIX(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "sample.argus")
	want := raLines(t, src, false)
	for _, scheme := range []string{"ipfix+udp", "ipfix+tcp"} {
		got, rep := sendAndCollect(t, scheme, false)
		if g := raLines(t, got, false); strings.Join(g, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: flows differ\nsent:\n%s\nreceived:\n%s\nreport:\n%s", scheme, strings.Join(want, "\n"), strings.Join(g, "\n"), rep)
		}
	}
}

// TestConvertRawFiles: -w nf5:FILE writes raw v5 messages that -r
// nf5:FILE (and nf:FILE) read back to the same flows.
func TestConvertRawFiles(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "sample.argus")
	dir := t.TempDir()
	raw := filepath.Join(dir, "x.nf5")
	if _, err := convert(t, "argus:"+src, "nf5:"+raw, convertOpts{}); err == nil || !strings.Contains(err.Error(), "--lossy") {
		t.Errorf("strict v5 of a sample with IPv6 or non-IP flows: err = %v", err)
	}
	if _, err := convert(t, "argus:"+src, "nf5:"+raw, convertOpts{lossy: true}); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.argus"), filepath.Join(dir, "b.argus")
	if _, err := convert(t, "nf5:"+raw, "argus:"+a, convertOpts{}); err != nil {
		t.Fatal(err)
	}
	rep, err := convert(t, "nf:"+raw, "argus:"+b, convertOpts{})
	if err != nil {
		t.Fatal(err)
	}
	fa, fb := raFlows(t, a), raFlows(t, b)
	if len(fa) == 0 || strings.Join(fa, "\n") != strings.Join(fb, "\n") {
		t.Errorf("nf5: and nf: read the file differently (%d, %d flows)", len(fa), len(fb))
	}
	if !strings.Contains(rep, "decode errors     none") {
		t.Errorf("report:\n%s", rep)
	}
}

// TestConvertTemplatesFile: a collector stopped after an exporter's
// template decodes that exporter's data at once after a restart with
// --templates; without it the data has no template.
func TestConvertTemplatesFile(t *testing.T) {
	d := exportVariant(t, "ipfix")
	var payloads [][]byte
	gateway.ReadMessages(filepath.Join(d, "pcap", "tcp_handshake.pcap"), gateway.FormatNF, func(b []gateway.Message) error {
		for _, m := range b {
			payloads = append(payloads, append([]byte(nil), m.Data...))
		}
		return nil
	})
	if len(payloads) != 1 {
		t.Fatalf("%d payloads, want 1 (template and data)", len(payloads))
	}
	// The data set alone: the message without its template set (set 2).
	msg := payloads[0]
	var dataOnly []byte
	for p := 16; p+4 <= len(msg); {
		id, l := int(msg[p])<<8|int(msg[p+1]), int(msg[p+2])<<8|int(msg[p+3])
		if id != 2 {
			dataOnly = append(dataOnly, msg[p:p+l]...)
		}
		p += l
	}
	dataOnly = append(append([]byte{}, msg[:16]...), dataOnly...)
	dataOnly[2], dataOnly[3] = byte(len(dataOnly)>>8), byte(len(dataOnly))
	dir := t.TempDir()
	tpl := filepath.Join(dir, "templates")
	from, _ := net.ResolveUDPAddr("udp", freeUDPPort(t))
	listen := func(send []byte, templates string) string {
		addr := freeUDPPort(t)
		var out bytes.Buffer
		done := make(chan struct{})
		var rep string
		var err error
		go func() {
			rep, err = convert(t, "nf+udp://"+addr, "json:-", convertOpts{stdout: &out, duration: 500 * time.Millisecond, templates: templates})
			close(done)
		}()
		waitBound(t, addr)
		to, _ := net.ResolveUDPAddr("udp", addr)
		c, cerr := net.DialUDP("udp", from, to) // the same exporter each time
		if cerr != nil {
			t.Fatal(cerr)
		}
		c.Write(send)
		c.Close()
		<-done
		if err != nil {
			t.Fatal(err)
		}
		return rep + out.String()
	}
	listen(msg, tpl)
	if b, err := os.ReadFile(tpl); err != nil || !strings.Contains(string(b), "template 10 "+from.String()) {
		t.Fatalf("templates file: %v\n%s", err, b)
	}
	if got := listen(dataOnly, ""); !strings.Contains(got, "records decoded   0") {
		t.Errorf("data without its template decoded:\n%s", got)
	}
	if got := listen(dataOnly, tpl); strings.Contains(got, "records decoded   0") || !strings.Contains(got, `"proto":"tcp"`) {
		t.Errorf("data after a restart with --templates:\n%s", got)
	}
	if _, err := convert(t, "ipfix+tcp://127.0.0.1:0", "json:-", convertOpts{templates: tpl}); err == nil {
		t.Error("--templates accepted for TCP sessions")
	}
}

// TestConvertSIGTERM: `flowgate convert -r nf+udp://... -w argus:FILE`
// run through the command line stops on SIGTERM, flushes what it received
// and exits 0.
func TestConvertSIGTERM(t *testing.T) {
	d := exportVariant(t, "v5")
	pcap := filepath.Join(d, "pcap", "tcp_handshake.pcap")
	want := nfdumpFlows(t, filepath.Join(d, "nfdump", "tcp_handshake.csv.txt"))
	var payloads [][]byte
	gateway.ReadMessages(pcap, gateway.FormatNF, func(b []gateway.Message) error {
		for _, m := range b {
			payloads = append(payloads, append([]byte(nil), m.Data...))
		}
		return nil
	})
	addr := freeUDPPort(t)
	out := filepath.Join(t.TempDir(), "out.argus")
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"convert", "-r", "nf+udp://" + addr, "-w", "argus:" + out, "--duration", "20s"})
	}()
	waitBound(t, addr) // the signal handler is set before the socket is bound
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range payloads {
		c.Write(p)
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not stop convert")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("stopping took %v", time.Since(start))
	}
	if got := raFlows(t, out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("flows\n%s\nwant (nfdump)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestConvertRelay: a live relay, v5 in and IPFIX out (`-r nf+udp://A
// -w ipfix+udp://B`): the few records wait in the sink's batch and go out
// on its one-second flush; the collector at B sees the flows nfdump has
// for the v5 capture.
func TestConvertRelay(t *testing.T) {
	d := exportVariant(t, "v5")
	pcap := filepath.Join(d, "pcap", "tcp_handshake.pcap")
	want := nfdumpFlows(t, filepath.Join(d, "nfdump", "tcp_handshake.csv.txt"))
	var payloads [][]byte
	gateway.ReadMessages(pcap, gateway.FormatNF, func(b []gateway.Message) error {
		for _, m := range b {
			payloads = append(payloads, append([]byte(nil), m.Data...))
		}
		return nil
	})
	cs := gateway.NewCodecSet()
	coll, err := gateway.ListenUDP("127.0.0.1:0", gateway.Options{Workers: 1}, cs.New)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	got := filepath.Join(t.TempDir(), "got.argus")
	gotEP, _ := gateway.ParseEndpoint("argus:" + got)
	sink, err := openSink(context.Background(), gotEP, gateway.Endpoint{Format: gateway.FormatNF}, convertOpts{stdout: os.Stdout})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- coll.Serve(ctx, sink.write) }()

	relay := freeUDPPort(t)
	done := make(chan error, 1)
	go func() {
		_, err := convert(t, "nf+udp://"+relay, "ipfix+udp://"+coll.Addr().String(), convertOpts{duration: 1500 * time.Millisecond})
		done <- err
	}()
	waitBound(t, relay)
	c, err := net.Dial("udp", relay)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range payloads {
		c.Write(p)
	}
	// Before the flush tick nothing has gone out.
	time.Sleep(200 * time.Millisecond)
	if n := coll.Messages(); n != 0 {
		t.Errorf("%d messages before the flush", n)
	}
	for deadline := time.Now().Add(5 * time.Second); coll.Messages() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("convert ended before its flush sent anything")
	default:
	}
	if coll.Messages() == 0 {
		t.Fatal("nothing relayed after the flush tick")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if err := sink.close(); err != nil {
		t.Fatal(err)
	}
	if st := coll.Stats(); st.IPFIX == 0 || st.Errors != 0 {
		t.Errorf("collector: %+v", st)
	}
	if g := raFlows(t, got); strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("relayed flows\n%s\nwant (nfdump)\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
}

// TestConvertBadEndpoints: the errors name what is wrong.
func TestConvertBadEndpoints(t *testing.T) {
	for _, tc := range []struct{ in, out, want string }{
		{"nf+udp://127.0.0.1:0", "nf+udp://127.0.0.1:9", "needs its version"},
		{"argus:x", "json:-", "no such file"},
		{"ipfix+tls://127.0.0.1:0", "json:-", "cert"},
		{"json:x", "json:-", "no such file"}, // JSON lines are a source now (--dialect)
	} {
		_, err := convert(t, tc.in, tc.out, convertOpts{duration: time.Second})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -> %s: err = %v, want %q", tc.in, tc.out, err, tc.want)
		}
	}
	if code := run([]string{"convert", "-r", "nf+udp://:2055?wokers=2", "-w", "json:-"}); code != 2 {
		t.Errorf("a typo in an option: exit %d, want 2", code)
	}
}

// TestConvertRenormalize: softflowd's v5 header gives no sampling
// interval, its v9/IPFIX options say 1 in 1 (samplingPacketInterval 1,
// space 0, as tshark shows). --sampling-rate 10 --renormalize multiplies
// the v5 counts nfcapd stored by ten and leaves v9/IPFIX alone (the
// exporter's own rate wins); --force-sampling-rate multiplies them all;
// without --renormalize the counts stay.
func TestConvertRenormalize(t *testing.T) {
	times10 := func(flows []string) []string {
		out := make([]string, len(flows))
		for i, l := range flows {
			f := strings.Split(l, ",")
			for _, j := range []int{5, 6} {
				n, _ := strconv.Atoi(f[j])
				f[j] = strconv.Itoa(10 * n)
			}
			out[i] = strings.Join(f, ",")
		}
		return out
	}
	for _, variant := range []string{"v5", "v9", "ipfix"} {
		d := exportVariant(t, variant)
		p := filepath.Join(d, "pcap", "tcp_handshake.pcap")
		plain := nfdumpFlows(t, filepath.Join(d, "nfdump", "tcp_handshake.csv.txt"))
		if len(plain) == 0 {
			t.Fatalf("%s: nfdump stored no flow", variant)
		}
		byDefault := plain
		if variant == "v5" {
			byDefault = times10(plain)
		}
		for _, c := range []struct {
			flags []string
			want  []string
		}{
			{[]string{"--sampling-rate", "10", "--renormalize"}, byDefault},
			{[]string{"--sampling-rate", "10", "--force-sampling-rate", "--renormalize"}, times10(plain)},
			{[]string{"--sampling-rate", "10", "--force-sampling-rate"}, plain},
		} {
			out := filepath.Join(t.TempDir(), "r.argus")
			if code := run(append([]string{"convert", "-r", "nf:" + p, "-w", "argus:" + out}, c.flags...)); code != 0 {
				t.Fatalf("%s %v: exit %d", variant, c.flags, code)
			}
			if got := raFlows(t, out); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("%s %v:\nours:\n%s\nwant:\n%s", variant, c.flags, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		}
	}
}

// TestConvertSentCountsFlows: "records sent" counts the flows that went
// out, not the Argus MARs of the source (which have no NetFlow/IPFIX
// form): it equals the flows the raw file reads back as, and the MARs ra
// prints with -M man are reported apart.
func TestConvertSentCountsFlows(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "sample.argus")
	a, err := parseRaArgs([]string{"-M", "man", "-n", "-c", ",", "-s", "type", "-r", src})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runRa(a, nil, &out); err != nil {
		t.Fatal(err)
	}
	var mars int
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.TrimSpace(l) == "man" {
			mars++
		}
	}
	if mars == 0 {
		t.Fatal("sample.argus has no MAR: the test needs one")
	}
	raw := filepath.Join(t.TempDir(), "x.ipfix")
	rep, err := convert(t, "argus:"+src, "ipfix:"+raw, convertOpts{lossy: true})
	if err != nil {
		t.Fatal(err)
	}
	back, err := convert(t, "ipfix:"+raw, "json:-", convertOpts{})
	if err != nil {
		t.Fatal(err)
	}
	var sent, decoded, mgmt int
	for _, l := range strings.Split(rep+back, "\n") {
		f := strings.Fields(l)
		switch {
		case strings.HasPrefix(l, "  records sent"):
			sent, _ = strconv.Atoi(f[2])
		case strings.HasPrefix(l, "  records decoded"):
			decoded, _ = strconv.Atoi(f[2])
		case strings.HasPrefix(l, "  management"):
			mgmt, _ = strconv.Atoi(f[1])
		}
	}
	if sent == 0 || sent != decoded || mgmt != mars {
		t.Errorf("sent %d, decoded back %d, MARs reported %d (ra: %d)\n%s%s", sent, decoded, mgmt, mars, rep, back)
	}
}

// TestConvertIPFIXTimesMsNfdump: Debian's nfdump 1.7.1 prints the
// NTP-format time elements (flowStart/EndNanoseconds) as 1970; with
// ?times=ms an IPFIX sink writes milliseconds, and the flows nfcapd
// stores print with their start and end to the millisecond (the finer
// part dropped and counted in the report).
func TestConvertIPFIXTimesMsNfdump(t *testing.T) {
	nfcapd, err := exec.LookPath("nfcapd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nfcapd not installed: .ci/run installs nfdump")
		}
		t.Skip("nfcapd not installed (apt-get install nfdump)")
	}
	src := filepath.Join("..", "..", "testdata", "sample.argus")
	want := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(raPrint(t, src, "stime", "ltime", "saddr", "daddr", "proto"))), "\n")[1:] {
		f := strings.Split(l, ",")
		if f[4] != "tcp" && f[4] != "udp" && f[4] != "icmp" {
			continue
		}
		var ms [2]string
		for i := range 2 {
			v, _ := strconv.ParseFloat(f[i], 64)
			ms[i] = time.UnixMilli(int64(v * 1000)).UTC().Format("2006-01-02T15:04:05.000")
		}
		want[strings.Join([]string{ms[0], ms[1], f[2], f[3]}, ",")] = true
	}
	dir := t.TempDir()
	port := strings.TrimPrefix(freeUDPPort(t), "127.0.0.1:")
	cmd := exec.Command(nfcapd, "-p", port, "-b", "127.0.0.1", "-w", dir, "-t", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitBound(t, "127.0.0.1:"+port)
	rep, err := convert(t, "argus:"+src, "ipfix+udp://127.0.0.1:"+port+"?times=ms", convertOpts{lossy: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep, "times cut to ms") {
		t.Errorf("report does not count the times cut to the millisecond:\n%s", rep)
	}
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	out, err := exec.Command("nfdump", "-R", dir, "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var flows []map[string]any
	if err := json.Unmarshal(out, &flows); err != nil {
		t.Fatalf("nfdump -o json: %v\n%s", err, out)
	}
	got := 0
	for _, f := range flows {
		sa, _ := f["src4_addr"].(string)
		if sa == "" {
			sa, _ = f["src6_addr"].(string)
		}
		da, _ := f["dst4_addr"].(string)
		if da == "" {
			da, _ = f["dst6_addr"].(string)
		}
		k := strings.Join([]string{fmt.Sprint(f["first"]), fmt.Sprint(f["last"]), sa, da}, ",")
		if !want[k] {
			t.Errorf("nfdump printed a flow we did not send: %s", k)
		}
		got++
	}
	if got == 0 || got != len(want) {
		t.Errorf("nfdump printed %d flows, we sent %d:\n%s", got, len(want), out)
	}
}
