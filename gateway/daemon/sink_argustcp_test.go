package daemon

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/sensor/serve"
	"github.com/prometheus/client_golang/prometheus"
)

// Helpers of the argus+tcp sink and argus:// source tests ("at" for
// Argus over TCP, to keep clear of the other tests' names).

const atTimeout = 15 * time.Second

// atEmitter keeps a detached copy of what a source emits.
type atEmitter struct {
	mu   sync.Mutex
	recs []flow.Record
	n    atomic.Int64
	keep bool // false: count only
}

func (e *atEmitter) Emit(ctx context.Context, recs []flow.Record) error {
	if e.keep {
		e.mu.Lock()
		for i := range recs {
			r := recs[i]
			r.Extra = append([]flow.Field(nil), r.Extra...)
			r.Detach()
			e.recs = append(e.recs, r)
		}
		e.mu.Unlock()
	}
	e.n.Add(int64(len(recs)))
	return nil
}

func (e *atEmitter) Sync(ctx context.Context) error { return nil }

func (e *atEmitter) snapshot() []flow.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]flow.Record(nil), e.recs...)
}

func atEventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(atTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// atCorpus returns the path of a corpus file, or skips.
func atCorpus(t testing.TB, rel string) string {
	t.Helper()
	root := os.Getenv("FLOWGATE_CORPUS")
	if root == "" {
		t.Skip("FLOWGATE_CORPUS is not set")
	}
	p := filepath.Join(root, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skip(err)
	}
	return p
}

// atRead returns the records of an Argus file (detached) and its version.
func atRead(t testing.TB, path string) ([]flow.Record, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := argus.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []flow.Record
	for {
		var rec flow.Record
		if err := r.Decode(&rec); err == io.EOF {
			return out, r.Version()
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rec.Detach()
		out = append(out, rec)
	}
}

// atEncode returns rec's bytes in version (after a writer's MAR).
func atEncode(t testing.TB, version int, rec *flow.Record) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := argus.NewWriter(&b, version)
	if err != nil {
		t.Fatal(err)
	}
	var m flow.Record
	m.Type, m.Cause, m.Has = flow.TypeMgmt, flow.CauseStart, flow.HasMgmt
	if err := w.Encode(&m); err != nil {
		t.Fatal(err)
	}
	if err := w.Encode(rec); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return b.Bytes()[128:]
}

func atSinkCfg(addr string) config.Sink {
	return config.Sink{Endpoint: config.Endpoint{Text: "argus+tcp://" + addr, Kind: config.KindArgus, Addr: addr}}
}

func atSourceCfg(addr string) config.Source {
	return config.Source{Endpoint: config.Endpoint{Text: "argus://" + addr, Kind: config.KindArgus, Addr: addr}}
}

// atLost records what a sink hands to its LostFunc.
type atLost struct {
	mu   sync.Mutex
	recs []flow.Record
	why  []Reason
}

func (l *atLost) fn(r *flow.Record, why Reason) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, *r)
	l.why = append(l.why, why)
}

// atStarted waits for n started clients of the sink's server.
func atStarted(t testing.TB, k *argusTCPSink, n int) {
	t.Helper()
	atEventually(t, "started clients", func() bool {
		c := 0
		for _, cl := range k.srv.Stats().Clients {
			if cl.Started {
				c++
			}
		}
		return c == n
	})
}

// atSyncBuf is an io.Writer safe to read while a process writes to it.
type atSyncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *atSyncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *atSyncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var atRaFields = []string{"-s", "stime", "ltime", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport",
	"spkts", "dpkts", "sbytes", "dbytes", "state"}

// The oracle: Debian's ra 3.0.8.2 reads an argus+tcp sink serving Argus 3
// with `ra -S 127.0.0.1:PORT` and prints what `ra -r` prints for the file
// the records came from (files written by the argus 3.0.8.2 sensor).
func TestArgusTCPSinkRa(t *testing.T) {
	if _, err := os.Stat("/usr/bin/ra"); err != nil {
		t.Skip("ra (Debian argus-client) is not installed")
	}
	for _, rel := range []string{"traffic_slips_test7-malicious/v3.argus", "generated_tcp_handshake/v3full.argus",
		"generated_ipv6_tcp/v3full.argus", "traffic_tcpdump_dns_udp/v3.argus", "generated_icmp_unreach/v3.argus"} {
		t.Run(rel, func(t *testing.T) {
			path := atCorpus(t, filepath.Join("argus", "oracle", rel))
			recs, _ := atRead(t, path)
			args := append([]string{"-X", "-n", "-u", "-c", ","}, atRaFields...)
			wantOut, err := exec.Command("ra", append(append([]string{}, args[:5]...), append([]string{"-r", path}, args[5:]...)...)...).Output()
			if err != nil {
				t.Fatalf("ra -r: %v", err)
			}
			want := string(wantOut)
			if strings.Count(want, "\n") < 2 {
				t.Fatalf("ra -r printed %q", want)
			}
			k, err := newArgusTCPSinkOpts(atSinkCfg("127.0.0.1:0"), Env{}, serve.Options{Version: 3})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*atTimeout)
			defer cancel()
			var out, errb atSyncBuf
			cmd := exec.CommandContext(ctx, "ra", append(append([]string{}, args[:5]...), append([]string{"-S", k.Addr()}, args[5:]...)...)...)
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Kill()
				cmd.Wait()
			}()
			atStarted(t, k, 1)
			var lost atLost
			rest := recs[1:]
			for len(rest) > 0 { // batches of 7, as a pipeline hands them
				n := min(7, len(rest))
				if err := k.Write(rest[:n], lost.fn); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			if err := k.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if len(lost.recs) != 0 {
				t.Fatalf("%d records lost: %v", len(lost.recs), lost.why)
			}
			n := strings.Count(want, "\n")
			atEventually(t, "ra's lines", func() bool { return strings.Count(out.String(), "\n") >= n })
			time.Sleep(50 * time.Millisecond) // anything extra ra would print
			if got := out.String(); got != want {
				t.Errorf("ra -S printed\n%s\nra -r printed\n%s\nstderr %s", got, want, errb.String())
			}
			if st := k.srv.Stats(); st.Sent != int64(len(recs)-1) || st.Dropped != 0 || st.EncodeErrors != 0 {
				t.Errorf("server stats %+v", st)
			}
		})
	}
}

// Argus 5 (the default) from the sink to an argus:// source, over
// loopback: the corpus records of the argus 5.0.3 sensor arrive with
// their bytes; then the sink goes away and a new one comes up on the same
// port, and the source reconnects and goes on.
func TestArgusTCPSinkToSource(t *testing.T) {
	recs, ver := atRead(t, atCorpus(t, "argus/oracle/traffic_slips_test7-malicious/v5full.argus"))
	if ver != 5 {
		t.Fatalf("version %d", ver)
	}
	k, err := newArgusTCPSink(atSinkCfg("127.0.0.1:0"), Env{Pipeline: "p"})
	if err != nil {
		t.Fatal(err)
	}
	ks := k.(*argusTCPSink)
	addr := ks.Addr()
	if l := ks.Listening(); len(l) != 1 || !strings.Contains(l[0], addr) {
		t.Errorf("Listening = %q", l)
	}
	src, err := newArgusSourceOpts(atSourceCfg(addr), Env{Pipeline: "p"},
		serve.RemoteOptions{MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	em := &atEmitter{keep: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, em) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		src.Close()
	}()
	atStarted(t, ks, 1)
	atEventually(t, "ready", func() bool { return src.Ready() == nil })
	var lost atLost
	if err := k.Write(recs[1:], lost.fn); err != nil {
		t.Fatal(err)
	}
	atEventually(t, "the records", func() bool { return em.n.Load() == int64(len(recs)-1) })
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	atEventually(t, "not ready", func() bool { return src.Ready() != nil })
	// The same port again: another gateway's sink restarted.
	k2, err := newArgusTCPSink(atSinkCfg(addr), Env{Pipeline: "p"})
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	defer k2.Close()
	atStarted(t, k2.(*argusTCPSink), 1)
	if err := k2.Write(recs[1:], lost.fn); err != nil {
		t.Fatal(err)
	}
	want := 2 * (len(recs) - 1)
	atEventually(t, "the records again", func() bool { return em.n.Load() == int64(want) })
	got := em.snapshot()
	for i := range got {
		w := &recs[1+i%(len(recs)-1)]
		if !bytes.Equal(atEncode(t, 5, &got[i]), atEncode(t, 5, w)) || got[i].SrcID != w.SrcID {
			t.Fatalf("record %d differs:\n got %+v\nwant %+v", i, got[i], *w)
		}
	}
	if len(lost.recs) != 0 {
		t.Errorf("lost %d", len(lost.recs))
	}
	st := src.Stats()
	if st.Records != uint64(want) || len(st.Lost) != 0 {
		t.Errorf("source stats %+v", st)
	}
	// The collectors of two sources and two sinks register side by side.
	reg := prometheus.NewRegistry()
	src2, _ := newArgusSourceOpts(atSourceCfg("127.0.0.1:9"), Env{Pipeline: "q"}, serve.RemoteOptions{})
	for _, c := range [][]prometheus.Collector{src.Collectors(), src2.Collectors(), ks.Collectors(), k2.(*argusTCPSink).Collectors()} {
		for _, m := range c {
			if err := reg.Register(m); err != nil {
				t.Fatalf("register: %v", err)
			}
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			lbl := ""
			for _, l := range m.GetLabel() {
				lbl += l.GetValue() + ","
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			vals[mf.GetName()+"{"+lbl+"}"] = v
		}
	}
	srcKey := "{p,argus://" + addr + ",}"
	if vals["flowgate_source_argus_connects_total"+srcKey] != 2 || vals["flowgate_source_argus_connected"+srcKey] != 1 {
		t.Errorf("source metrics %v", vals)
	}
	sinkKey := "{p,argus+tcp://" + addr + ",}"
	if vals["flowgate_sink_argus_client_sent_records_total"+sinkKey] != float64(len(recs)-1) {
		t.Errorf("sink metrics %v", vals)
	}
}

// A record the served version cannot hold is lost as not representable;
// the others reach the client.
func TestArgusTCPSinkNotRepresentable(t *testing.T) {
	k, err := newArgusTCPSinkOpts(atSinkCfg("127.0.0.1:0"), Env{}, serve.Options{Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	src, _ := newArgusSourceOpts(atSourceCfg(k.Addr()), Env{}, serve.RemoteOptions{})
	em := &atEmitter{keep: true}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go src.Run(ctx, em)
	atStarted(t, k, 1)
	recs := make([]flow.Record, 3)
	for i := range recs {
		r := &recs[i]
		r.Type, r.Cause = flow.TypeFlow, flow.CauseStart
		r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics
		r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: 17,
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: uint16(1000 + i), DstPort: 53}
		r.Start, r.Last = 1700000000_000000000, 1700000001_000000000
		r.Pkts, r.Bytes = [2]uint64{1, 1}, [2]uint64{80, 120}
	}
	// A UUID monitor id: Argus 3 has 32 bits for it (argus-format.md §9.4).
	recs[1].SrcID = flow.SrcID{Type: flow.SrcIDUUID, ID: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}
	recs[1].Has |= flow.HasSrcID
	var lost atLost
	if err := k.Write(recs, lost.fn); err != nil {
		t.Fatal(err)
	}
	if len(lost.recs) != 1 || lost.why[0] != ReasonNotRepresentable || lost.recs[0].Key.SrcPort != 1001 {
		t.Fatalf("lost %d records (%v), want the second as not representable", len(lost.recs), lost.why)
	}
	atEventually(t, "two records", func() bool { return em.n.Load() == 2 })
	if got := em.snapshot(); got[0].Key.SrcPort != 1000 || got[1].Key.SrcPort != 1002 {
		t.Errorf("got ports %d %d", got[0].Key.SrcPort, got[1].Key.SrcPort)
	}
	// After Close every record is lost as a sink error.
	k.Close()
	lost = atLost{}
	if err := k.Write(recs[:2], lost.fn); err == nil || len(lost.recs) != 2 || lost.why[0] != ReasonSinkError {
		t.Errorf("Write after Close: %v, lost %v", err, lost.why)
	}
}

// The address is bound at construction: a taken port is an error then.
func TestArgusTCPSinkBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = newArgusTCPSink(atSinkCfg(ln.Addr().String()), Env{})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("err = %v, want address already in use", err)
	}
}

// BenchmarkArgusTCPLoopback: records through an argus+tcp sink and an
// argus:// source on loopback (Argus 5, 256-record batches), at most 4096
// in flight so that the client's queue (4 MB) does not overflow.
func BenchmarkArgusTCPLoopback(b *testing.B) {
	recs, _ := atRead(b, atCorpus(b, "argus/oracle/traffic_slips_test7-malicious/v5full.argus"))
	var flows []flow.Record
	for _, r := range recs {
		if r.Type != flow.TypeMgmt {
			flows = append(flows, r)
		}
	}
	batch := make([]flow.Record, 0, 256)
	for len(batch) < cap(batch) {
		batch = append(batch, flows[len(batch)%len(flows)])
	}
	k, err := newArgusTCPSink(atSinkCfg("127.0.0.1:0"), Env{})
	if err != nil {
		b.Fatal(err)
	}
	ks := k.(*argusTCPSink)
	src, _ := newArgusSourceOpts(atSourceCfg(ks.Addr()), Env{}, serve.RemoteOptions{})
	em := &atEmitter{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go src.Run(ctx, em)
	atStarted(b, ks, 1)
	lost := func(*flow.Record, Reason) { b.Fatal("lost") }
	b.ReportAllocs()
	b.ResetTimer()
	// wait until at most n records are in flight; a record the server
	// dropped for the client (queue full) would never arrive.
	wait := func(sent, n int) {
		for i := 0; int64(sent)-em.n.Load() > int64(n); i++ {
			if i%1000 == 999 {
				if st := ks.srv.Stats(); st.Dropped != 0 {
					b.Fatalf("the server dropped %d records for the client", st.Dropped)
				}
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	sent := 0
	for sent < b.N {
		wait(sent, 4096)
		n := min(len(batch), b.N-sent)
		k.Write(batch[:n], lost)
		sent += n
	}
	wait(sent, 0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	k.Close()
	src.Close()
}

// A relay through the daemon, as radium is used: an upstream server (fed
// with a file written by Debian's argus 3.0.8.2, served in Argus 3) ->
// argus:// source -> pipeline filter "tcp" -> argus+tcp:// sink (Argus 5)
// -> a client. The flows the client gets, written to an Argus 3 file,
// print in ra 3.0.8.2 as ra prints the original file with the filter.
func TestArgusRelayDaemon(t *testing.T) {
	if _, err := os.Stat("/usr/bin/ra"); err != nil {
		t.Skip("ra (Debian argus-client) is not installed")
	}
	path := atCorpus(t, "argus/oracle/traffic_slips_test7-malicious/v3.argus")
	recs, _ := atRead(t, path)
	mar := recs[0]
	up := serve.New(serve.Options{Version: 3, MAR: func() flow.Record { return mar }})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go up.Serve(ln)
	defer up.Close()

	cfg, err := config.Load("relay.yaml", []byte(`version: 1
metrics: "127.0.0.1:0"
pipelines:
  - name: relay
    sources: [argus://`+ln.Addr().String()+`]
    filter: tcp
    sinks: [argus+tcp://127.0.0.1:0]
`), ".")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sinkAddr string
	for _, l := range d.Listening() {
		// "relay: argus+tcp tcp 127.0.0.1:33415 (Argus 5, ra -S)"
		if f := strings.Fields(l); len(f) >= 4 && f[1] == "argus+tcp" {
			sinkAddr = f[3]
		}
	}
	if sinkAddr == "" {
		t.Fatalf("no argus+tcp address in %q", d.Listening())
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("daemon Run: %v", err)
		}
	}()

	// The FILTER round trip shows the sink's server has taken our
	// commands; START is in the same breath.
	var got []flow.Record
	var mu sync.Mutex
	client := serve.NewRemote(sinkAddr, serve.RemoteOptions{Filter: "man or tcp", MinBackoff: 10 * time.Millisecond})
	cctx, ccancel := context.WithCancel(context.Background())
	defer ccancel()
	go client.Run(cctx, func(rs []flow.Record) error {
		mu.Lock()
		defer mu.Unlock()
		for i := range rs {
			r := rs[i]
			r.Extra = append([]flow.Field(nil), r.Extra...)
			r.Detach()
			got = append(got, r)
		}
		return nil
	})
	atEventually(t, "the client and the daemon's source", func() bool {
		started := 0
		for _, c := range up.Stats().Clients {
			if c.Started {
				started++
			}
		}
		return client.Ready() == nil && started == 1
	})
	time.Sleep(100 * time.Millisecond)

	wantOut, err := exec.Command("ra", append([]string{"-X", "-n", "-u", "-c", ",", "-r", path}, append(atRaFields, "-", "tcp")...)...).Output()
	if err != nil {
		t.Fatalf("ra -r: %v", err)
	}
	want := 0
	for _, l := range strings.Split(string(wantOut), "\n") {
		if l != "" && l[0] >= '0' && l[0] <= '9' { // not the header
			want++
		}
	}
	for i := 1; i < len(recs); i++ {
		up.Publish(&recs[i])
	}
	flows := func() []flow.Record {
		mu.Lock()
		defer mu.Unlock()
		var out []flow.Record
		for _, r := range got {
			if r.Type != flow.TypeMgmt {
				out = append(out, r)
			}
		}
		return out
	}
	deadline := time.Now().Add(atTimeout)
	for len(flows()) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d flows relayed; source records %v, sink records %v, filtered %v, sink lost %v, server %+v",
				len(flows()), want, metric(t, d, "flowgate_source_records_total"), metric(t, d, "flowgate_sink_records_total"),
				metric(t, d, "flowgate_pipeline_filtered_records_total"), metric(t, d, "flowgate_sink_dropped_records_total"), up.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // anything extra
	fl := flows()
	if len(fl) != want {
		t.Fatalf("%d flows relayed, ra -r selects %d", len(fl), want)
	}
	var buf bytes.Buffer
	w, err := argus.NewWriter(&buf, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Encode(&mar); err != nil {
		t.Fatal(err)
	}
	for i := range fl {
		if err := w.Encode(&fl[i]); err != nil {
			t.Fatalf("flow %d back to Argus 3: %v", i, err)
		}
	}
	w.Flush()
	out := filepath.Join(t.TempDir(), "relayed.argus")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	gotOut, err := exec.Command("ra", append([]string{"-X", "-n", "-u", "-c", ",", "-r", out}, atRaFields...)...).Output()
	if err != nil {
		t.Fatalf("ra -r relayed: %v", err)
	}
	if string(gotOut) != string(wantOut) {
		t.Errorf("relayed flows print\n%s\nthe original (filter tcp) prints\n%s", gotOut, wantOut)
	}
	if v := metric(t, d, "flowgate_source_argus_connected"); v != 1 {
		t.Errorf("flowgate_source_argus_connected = %v", v)
	}
	if v := metric(t, d, "flowgate_sink_argus_client_sent_records_total"); v < float64(want) {
		t.Errorf("flowgate_sink_argus_client_sent_records_total = %v, want >= %d", v, want)
	}
	t.Logf("%d flows relayed", want)
}

// TestArgusTCPSinkVersionOption: argus+tcp://...?version=3 serves Argus
// 3 (for ra 3.x clients, which read no 5.x), the default 5.
func TestArgusTCPSinkVersionOption(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want int
	}{{"argus+tcp://127.0.0.1:0?version=3", 3}, {"argus+tcp://127.0.0.1:0", 5}} {
		c := load(t, "version: 1\npipelines:\n  - name: p\n    sources: [nf+udp://127.0.0.1:0]\n    sinks: ['"+tc.url+"']\n")
		sk, err := newArgusTCPSink(c.Pipelines[0].Sinks[0], Env{})
		if err != nil {
			t.Fatal(err)
		}
		if v := sk.(*argusTCPSink).version; v != tc.want {
			t.Errorf("%s serves version %d, want %d", tc.url, v, tc.want)
		}
		sk.Close()
	}
}
