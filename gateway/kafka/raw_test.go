package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/ipfix"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/mappings"
)

// createTopic creates a topic of parts partitions on bs (TestMain's
// broker seeds its own topics and creates no others).
func createTopic(t testing.TB, bs []string, topic string, parts int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, parts, 1
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Topics {
		if e := kerrOf(r.ErrorCode); e != nil {
			t.Fatalf("create topic %s: %v", topic, e)
		}
	}
}

func kerrOf(code int16) error {
	if code == 0 || code == 36 { // 36: TOPIC_ALREADY_EXISTS
		return nil
	}
	return fmt.Errorf("kafka error code %d", code)
}

// exportCaptures reads the generated export captures of the corpus
// (softflowd and pmacct: v5, v9, IPFIX), one message list each, or skips.
func exportCaptures(t testing.TB) [][][]byte {
	t.Helper()
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set: needs generated/exports")
	}
	files, _ := filepath.Glob(filepath.Join(c, "generated", "exports", "*", "pcap", "*.pcap"))
	sort.Strings(files)
	var out [][][]byte
	for _, f := range files {
		var s [][]byte
		if _, err := gateway.ReadMessages(f, gateway.FormatNF, func(b []gateway.Message) error {
			for _, m := range b {
				s = append(s, append([]byte(nil), m.Data...))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(s) > 0 {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		t.Skip("no export captures")
	}
	return out
}

// directDecode decodes each exporter's messages with its own fresh
// decoders, as a collector reading the captures would: the reference.
func directDecode(t testing.TB, newDec gateway.NewDecoders, from []netip.AddrPort, streams [][][]byte) map[netip.AddrPort][]flow.Record {
	want := map[netip.AddrPort][]flow.Record{}
	for i, s := range streams {
		d := newDec()
		var recs []flow.Record
		for _, b := range s {
			recs, _ = d.Decode(b, from[i], recs)
		}
		for k := range recs {
			recs[k].Detach()
		}
		want[from[i]] = append(want[from[i]], recs...)
	}
	return want
}

// recordSink gathers detached copies of consumed records by exporter.
type recordSink struct {
	mu sync.Mutex
	by map[netip.AddrPort][]flow.Record
	n  int
}

func (s *recordSink) handle(_ context.Context, recs []flow.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by == nil {
		s.by = map[netip.AddrPort][]flow.Record{}
	}
	for _, r := range recs {
		r.Detach()
		s.by[r.Exporter] = append(s.by[r.Exporter], r)
	}
	s.n += len(recs)
	return nil
}

// consumeRaw runs a consumer of topic until it has fetched msgs messages
// (or 20 s pass).
func consumeRaw(t testing.TB, bs []string, topic, group string, newDec gateway.NewDecoders, msgs int, h Handler, onErr func(*MessageError)) ConsumerStats {
	t.Helper()
	c, err := NewConsumer(ConsumerConfig{Brokers: bs, Topic: topic, Group: group})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if newDec != nil {
		c.SetRawDecoders(newDec)
	}
	if onErr == nil {
		onErr = func(e *MessageError) { t.Errorf("malformed: %v", e) }
	}
	c.OnError(onErr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if c.Stats().Messages >= int64(msgs) {
				time.Sleep(50 * time.Millisecond) // the last handler call and commit
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	if err := c.Run(ctx, h); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Messages < int64(msgs) {
		t.Fatalf("consumed %d of %d messages", st.Messages, msgs)
	}
	return st
}

func compareByExporter(t testing.TB, got, want map[netip.AddrPort][]flow.Record) int {
	t.Helper()
	n := 0
	for e, w := range want {
		g := got[e]
		if len(g) != len(w) {
			t.Fatalf("exporter %s: %d records, direct decoding %d", e, len(g), len(w))
		}
		for i := range w {
			if !reflect.DeepEqual(w[i], g[i]) {
				t.Fatalf("exporter %s record %d differs:\n%s", e, i, cmp.Diff(w[i], g[i], cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})))
			}
		}
		n += len(w)
	}
	if len(got) != len(want) {
		t.Fatalf("records of %d exporters, want %d", len(got), len(want))
	}
	return n
}

// TestRawTopic: the corpus's export captures, each sent over UDP by an
// exporter of its own to a two-socket listener whose raw hook produces to
// a 4-partition topic, consumed by a group member that decodes them with
// one decoder set per exporter: every exporter's records equal the direct
// decoding of its capture. The messages carry the exporter as key and
// header and the receive time as header and timestamp.
func TestRawTopic(t *testing.T) {
	streams := exportCaptures(t)
	topic := "raw-udp"
	createTopic(t, brokers, topic, 4)
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: topic, Format: FormatRaw, Key: KeyExporter, Linger: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l, err := gateway.ListenUDP("127.0.0.1:0", gateway.Options{Workers: 2}, gateway.NewCodecSet().New)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.SetRaw(p.RawHandler(ctx), false); err != nil {
		t.Fatal(err)
	}
	var senders []*net.UDPConn
	var from []netip.AddrPort
	for range streams {
		c, err := net.Dial("udp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		senders = append(senders, c.(*net.UDPConn))
		from = append(from, c.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Serve(sctx, nil) }()
	start := time.Now()
	sent := 0
	for i, s := range streams {
		for k, b := range s {
			if _, err := senders[i].Write(b); err != nil {
				t.Fatal(err)
			}
			sent++
			if k%256 == 255 {
				time.Sleep(time.Millisecond) // stay under the receive buffer
			}
		}
	}
	for deadline := time.Now().Add(10 * time.Second); l.Messages() < uint64(sent) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	if st := l.Stats(); st.Messages != uint64(sent) || st.KernelDrops != 0 {
		t.Fatalf("listener got %d of %d datagrams (kernel drops %d)", st.Messages, sent, st.KernelDrops)
	}
	if ps := p.Stats(); ps.Produced != int64(sent) || ps.Failed != 0 {
		t.Fatalf("produced %+v, want %d", ps, sent)
	}

	var sink recordSink
	cs := consumeRaw(t, brokers, topic, "raw-udp", nil, sent, sink.handle, nil)
	want := directDecode(t, gateway.NewCodecSet().New, from, streams)
	n := compareByExporter(t, sink.by, want)
	if cs.Malformed != 0 || n == 0 {
		t.Fatalf("%d malformed, %d records", cs.Malformed, n)
	}

	// The messages themselves, read with a plain client.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	byExp := map[string][][]byte{}
	partOf := map[string]int32{}
	for seen := 0; seen < sent; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fs.Records() {
			seen++
			exp := header(r, HeaderExporter)
			ap, err := netip.ParseAddrPort(exp)
			if err != nil || string(r.Key) != ap.Addr().String() || header(r, HeaderFormat) != FormatRaw {
				t.Fatalf("message %d@%d: key %q, headers %v", r.Partition, r.Offset, r.Key, r.Headers)
			}
			ts, err := time.Parse(time.RFC3339Nano, header(r, HeaderReceived))
			// The Kafka timestamp is the produce time (ms), after the
			// receive time (ns, in the header).
			if err != nil || r.Timestamp.Before(ts.Truncate(time.Millisecond)) || r.Timestamp.After(end) || ts.Before(start) || ts.After(end) {
				t.Fatalf("message %d@%d: received %q (%v), timestamp %v, window %v..%v", r.Partition, r.Offset, header(r, HeaderReceived), err, r.Timestamp, start, end)
			}
			if p, ok := partOf[exp]; ok && p != r.Partition {
				t.Fatalf("exporter %s in partitions %d and %d", exp, p, r.Partition)
			}
			partOf[exp] = r.Partition
			byExp[exp] = append(byExp[exp], r.Value)
		}
	}
	for i, s := range streams {
		got := byExp[from[i].String()]
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("exporter %s: %d messages on the topic differ from the %d sent", from[i], len(got), len(s))
		}
	}
	t.Logf("%d captures, %d datagrams, %d records, %d partitions used", len(streams), sent, n, len(distinct(partOf)))
}

func distinct(m map[string]int32) map[int32]bool {
	d := map[int32]bool{}
	for _, p := range m {
		d[p] = true
	}
	return d
}

// flowbeatDat reads flowbeat vendor payloads by name, or skips.
func flowbeatDat(t testing.TB, names ...string) [][]byte {
	t.Helper()
	dir := os.Getenv("FLOWGATE_CORPUS")
	if dir == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, "netflow-exports/flowbeat/dat", n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestRawTemplateScope: exporter A sends a template and data, exporter B
// (interleaved with A, in one partition: no key) only the same data
// message: B's data has no template (counted, with its place), A's
// decodes. Templates never cross exporters. The decoders hold no data set
// for a template to come (WithPendingLimit(-1)), so B's is an error at
// once.
func TestRawTemplateScope(t *testing.T) {
	dats := flowbeatDat(t, "ipfix_test_mikrotik_tpl.dat", "ipfix_test_mikrotik_data258.dat")
	topic := "raw-scope"
	createTopic(t, brokers, topic, 1)
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: topic, Format: FormatRaw, Key: KeyNone})
	if err != nil {
		t.Fatal(err)
	}
	a, b := netip.MustParseAddrPort("192.0.2.1:2055"), netip.MustParseAddrPort("192.0.2.2:2055")
	ctx := context.Background()
	batch := []gateway.Message{
		{Data: dats[0], From: a, TS: 1}, {Data: dats[1], From: b, TS: 2}, {Data: dats[1], From: a, TS: 3},
	}
	if err := p.ProduceRaw(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var errs []*MessageError
	var sink recordSink
	newDec := gateway.NewCodecSet(ipfix.WithPendingLimit(-1, 0)).New
	consumeRaw(t, brokers, topic, "raw-scope", newDec, 3, sink.handle, func(e *MessageError) { errs = append(errs, e) })
	want := directDecode(t, newDec, []netip.AddrPort{a}, [][][]byte{{dats[0], dats[1]}})
	if len(want[a]) == 0 {
		t.Fatal("the Mikrotik template and data give no records")
	}
	compareByExporter(t, sink.by, want)
	if len(errs) != 1 || errs[0].Offset != 1 || errs[0].Format != FormatRaw || !errors.Is(errs[0].Err, codecs.ErrTemplateNotFound) {
		t.Fatalf("errors %v: want exporter B's data at offset 1, no template", errs)
	}
}

// TestRawReplayMapping: a raw topic consumed again by a new group with a
// mapping that names an enterprise element gives the records of the new
// mapping: decoding is replayed, not stored.
func TestRawReplayMapping(t *testing.T) {
	msgs := flowbeatDat(t, "ipfix_test_netscaler_tpl.dat", "ipfix_test_netscaler_data.dat")
	topic := "raw-replay"
	createTopic(t, brokers, topic, 2)
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: topic, Format: FormatRaw, Key: KeyExporter})
	if err != nil {
		t.Fatal(err)
	}
	from := netip.MustParseAddrPort("192.0.2.9:4739")
	ctx := context.Background()
	if err := p.ProduceRaw(ctx, []gateway.Message{{Data: msgs[0], From: from}, {Data: msgs[1], From: from}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var plain recordSink
	consumeRaw(t, brokers, topic, "replay-1", nil, 2, plain.handle, nil)
	recs := plain.by[from]
	var pen, id uint32
	for _, e := range recs[0].Extra {
		if e.Enterprise != 0 && e.Enterprise != 29305 && len(e.Value) == 4 {
			pen, id = e.Enterprise, e.ID
			break
		}
	}
	if pen == 0 {
		t.Fatalf("no 4-byte enterprise element in the export (%d records)", len(recs))
	}
	f, err := mappings.Load("user.yaml", []byte(fmt.Sprintf("version: 1\nschema: ipfix\nfields:\n  - {external: %d/%d, canonical: seq}\n", pen, id)))
	if err != nil {
		t.Fatal(err)
	}
	var cfg gateway.CodecConfig
	if err := cfg.SetMapping(f); err != nil {
		t.Fatal(err)
	}
	var mapped recordSink
	consumeRaw(t, brokers, topic, "replay-2", gateway.NewCodecSetConfig(cfg).New, 2, mapped.handle, nil)
	got := mapped.by[from]
	if len(got) != len(recs) {
		t.Fatalf("replay: %d records, first pass %d", len(got), len(recs))
	}
	for i := range got {
		var raw []byte
		for _, e := range recs[i].Extra {
			if e.Enterprise == pen && e.ID == id {
				raw = e.Value
			}
		}
		if got[i].Has&flow.HasSeq == 0 || got[i].Seq != binary.BigEndian.Uint32(raw) {
			t.Fatalf("record %d: seq %d, element %d/%d holds %x", i, got[i].Seq, pen, id, raw)
		}
	}
}

// TestRawConfig: a raw producer takes no flow key and no records; a
// raw message without an exporter is malformed.
func TestRawConfig(t *testing.T) {
	if _, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: "x", Format: FormatRaw, Key: KeyFlow}); !errors.Is(err, ErrConfig) {
		t.Errorf("raw keyed by flow: %v", err)
	}
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: "bad", Format: FormatRaw})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if err := p.Produce(context.Background(), []flow.Record{{}}); !errors.Is(err, ErrFormat) {
		t.Errorf("records to a raw producer: %v", err)
	}
	j, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: "bad", Format: FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(context.Background())
	if err := j.ProduceRaw(context.Background(), []gateway.Message{{Data: []byte{0, 10}}}); !errors.Is(err, ErrFormat) {
		t.Errorf("raw messages to a JSON producer: %v", err)
	}
	c := &Consumer{}
	for _, h := range []string{"", "192.0.2.1", "x:1"} {
		r := &kgo.Record{Value: []byte{0, 10, 0, 16}}
		if h != "" {
			r.Headers = []kgo.RecordHeader{{Key: HeaderExporter, Value: []byte(h)}}
		}
		if err := c.decodeRaw(r); !errors.Is(err, ErrExporter) {
			t.Errorf("exporter %q: %v", h, err)
		}
	}
}

// BenchmarkProduceRaw: corpus datagrams produced raw (as a listener's
// batches of up to 64) to the in-process broker, acknowledged (acks=all,
// lz4). cpu-ns/msg is the whole process's CPU time (the broker's too).
func BenchmarkProduceRaw(b *testing.B) {
	streams := exportCaptures(b)
	var batch []gateway.Message
	bytes := 0
	for i, s := range streams {
		from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 2055)
		for _, m := range s {
			batch = append(batch, gateway.Message{Data: m, From: from, TS: time.Now().UnixNano()})
			bytes += len(m)
		}
	}
	topic := "raw-bench"
	createTopic(b, brokers, topic, 4)
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: topic, Format: FormatRaw, Key: KeyExporter, Linger: 5 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(int64(bytes) / int64(len(batch)))
	b.ReportAllocs()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		j := sent % len(batch)
		k := min(j+64, len(batch), j+b.N-sent)
		if err := p.ProduceRaw(ctx, batch[j:k]); err != nil {
			b.Fatal(err)
		}
		sent += k - j
	}
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	st := p.Stats()
	b.ReportMetric(float64(st.Produced)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(st.Produced, 1)), "cpu-ns/msg")
	if st.Failed != 0 || st.Produced != int64(b.N) {
		b.Fatalf("produced %d of %d, %d failed", st.Produced, b.N, st.Failed)
	}
}

// ipfixMessages encodes n synthetic IPv4 TCP flows with codecs/ipfix (MTU
// 1400: 30 records a message, as gateway's BenchmarkUDPReceiveIPFIX).
func ipfixMessages(t testing.TB, n int) [][]byte {
	enc := ipfix.NewEncoder(nil, ipfix.WithMTU(1400))
	recs := make([]flow.Record, n)
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	for i := range recs {
		r := &recs[i]
		r.Type = flow.TypeFlow
		r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics
		r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4,
			Src: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Dst: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}),
			SrcPort: uint16(1024 + i%50000), DstPort: 443, Proto: 6}
		r.Start, r.Last = base+int64(i)*1e6, base+int64(i)*1e6+5e8
		r.Pkts[0], r.Bytes[0] = uint64(1+i%100), uint64(60*(1+i%100))
	}
	var out [][]byte
	for len(recs) > 0 {
		b, k, err := enc.AppendPacket(nil, recs)
		if err != nil || k == 0 {
			t.Fatalf("encode: %d, %v", k, err)
		}
		out = append(out, b)
		recs = recs[k:]
	}
	return out
}

// BenchmarkUDPRawToKafka: IPFIX datagrams of 30 records over loopback to
// a one-socket listener whose raw hook produces each datagram (lz4,
// acks=all) to the in-process broker, acknowledged: the nf -> Kafka raw
// path. ns/op is per datagram; records/s counts the records the datagrams
// carry (decoded later, by consumers); cpu-ns/datagram is the whole
// process (sender and broker included).
func BenchmarkUDPRawToKafka(b *testing.B) {
	msgs := ipfixMessages(b, 30*200)
	topic := "raw-udp-bench"
	createTopic(b, brokers, topic, 4)
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: topic, Format: FormatRaw, Key: KeyExporter, Linger: 5 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	l, err := gateway.ListenUDP("127.0.0.1:0", gateway.Options{Workers: 1}, gateway.NewCodecSet().New)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	// Produce under a context of its own: ending Serve's must not cancel
	// the records kgo still holds.
	if err := l.SetRaw(p.RawHandler(context.Background()), false); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, nil) }()
	var ru0, ru1 syscall.Rusage
	b.SetBytes(int64(len(msgs[1])))
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		conn.Write(msgs[i%len(msgs)])
		if i%128 == 127 {
			// Stay under the receive buffer: this measures the path,
			// not the kernel's drops.
			for d := time.Now().Add(time.Second); l.Messages()+512 < uint64(i) && time.Now().Before(d); {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}
	for d := time.Now().Add(10 * time.Second); l.Messages() < uint64(b.N) && time.Now().Before(d); {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	st, ps := l.Stats(), p.Stats()
	b.ReportMetric(float64(ps.Produced*30)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(ps.Produced, 1)), "cpu-ns/datagram")
	b.ReportMetric(float64(st.KernelDrops), "drops")
	if ps.Produced != int64(st.Messages) || ps.Failed != 0 {
		b.Fatalf("produced %+v, listener got %d datagrams", ps, st.Messages)
	}
}

// TestRawManyExporters: past maxRawExporters decoder sets, further
// exporters share one, and their templates still stay their own (the
// decoders key templates by exporter): every exporter that sent the
// template decodes its data, the one that did not gets no records.
func TestRawManyExporters(t *testing.T) {
	dats := flowbeatDat(t, "ipfix_test_mikrotik_tpl.dat", "ipfix_test_mikrotik_data258.dat")
	c := &Consumer{}
	c.SetRawDecoders(gateway.NewCodecSet(ipfix.WithPendingLimit(-1, 0)).New)
	msg := func(from netip.AddrPort, v []byte) *kgo.Record {
		return &kgo.Record{Value: v, Headers: []kgo.RecordHeader{{Key: HeaderExporter, Value: []byte(from.String())}}}
	}
	const n = maxRawExporters + 50
	exp := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), 2055)
	}
	per := -1
	for i := 0; i < n; i++ {
		if err := c.decodeRaw(msg(exp(i), dats[0])); err != nil {
			t.Fatalf("exporter %d template: %v", i, err)
		}
		before := len(c.recs)
		if err := c.decodeRaw(msg(exp(i), dats[1])); err != nil {
			t.Fatalf("exporter %d data: %v", i, err)
		}
		got := len(c.recs) - before
		if per < 0 {
			per = got
		}
		if got != per || got == 0 {
			t.Fatalf("exporter %d: %d records, the first exporter %d", i, got, per)
		}
		for _, r := range c.recs[before:] {
			if r.Exporter != exp(i) {
				t.Fatalf("exporter %d: a record from %s", i, r.Exporter)
			}
		}
	}
	if len(c.raw.sets) != maxRawExporters || c.raw.overflow == nil {
		t.Fatalf("%d decoder sets, overflow %v", len(c.raw.sets), c.raw.overflow != nil)
	}
	// An exporter in the shared set that never sent the template.
	stranger := exp(n + 1)
	before := len(c.recs)
	if err := c.decodeRaw(msg(stranger, dats[1])); !errors.Is(err, codecs.ErrTemplateNotFound) || len(c.recs) != before {
		t.Fatalf("data without its exporter's template: %v, %d records", err, len(c.recs)-before)
	}
}

// TestRawTCP: IPFIX over TCP, two sessions, through a TCP listener's raw
// hook to the topic: each message whole, keyed by its session, decoded
// per session as the listener would decode it.
func TestRawTCP(t *testing.T) {
	msgs := ipfixMessages(t, 30*50)
	topic := "raw-tcp"
	createTopic(t, brokers, topic, 4)
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: topic, Format: FormatRaw, Key: KeyExporter})
	if err != nil {
		t.Fatal(err)
	}
	l, err := gateway.ListenTCP("127.0.0.1:0", gateway.Options{}, gateway.NewCodecSet().New)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.SetRaw(p.RawHandler(context.Background()), false); err != nil {
		t.Fatal(err)
	}
	var stream []byte
	for _, m := range msgs {
		stream = append(stream, m...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, nil) }()
	var from []netip.AddrPort
	for s := 0; s < 2; s++ {
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		from = append(from, conn.LocalAddr().(*net.TCPAddr).AddrPort())
		for i := 0; i < len(stream); i += 1000 { // pieces that cut messages
			if _, err := conn.Write(stream[i:min(i+1000, len(stream))]); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()
	}
	want := 2 * len(msgs)
	for d := time.Now().Add(10 * time.Second); l.Stats().Messages < uint64(want) && time.Now().Before(d); {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Produced != int64(want) {
		t.Fatalf("produced %+v, want %d", st, want)
	}
	var sink recordSink
	consumeRaw(t, brokers, topic, "raw-tcp", nil, want, sink.handle, nil)
	n := compareByExporter(t, sink.by, directDecode(t, gateway.NewCodecSet().New, from, [][][]byte{msgs, msgs}))
	if n != 2*30*50 {
		t.Fatalf("%d records, want %d", n, 2*30*50)
	}
}

// BenchmarkConsumeRaw: a raw topic of 30-record IPFIX datagrams from 8
// exporters (each with its template first) read by one group member that
// decodes them: b.N datagrams. records/s and cpu-ns/record count the
// consume, decode and detach path (the broker's fetch work included).
func BenchmarkConsumeRaw(b *testing.B) {
	msgs := ipfixMessages(b, 30*500)
	topic := uniqueTopic("raw-consume-bench")
	createTopic(b, brokers, topic, 4)
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: topic, Format: FormatRaw, Key: KeyExporter, Linger: 5 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	batch := make([]gateway.Message, 0, 64)
	for i := 0; i < b.N; {
		from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%8)}), 2055)
		k := i / 8 % len(msgs)
		if i < 8 {
			k = 0 // each exporter's first message holds the template
		}
		batch = append(batch, gateway.Message{Data: msgs[k], From: from, TS: 1})
		if i++; len(batch) == cap(batch) || i == b.N {
			if err := p.ProduceRaw(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
	// A raw message holds many records (30 here): MaxPoll counts
	// messages, and 10000 of them would be 300000 records (690 MB) in one
	// handler call.
	c, err := NewConsumer(ConsumerConfig{Brokers: brokers, Topic: topic, Group: topic, MaxPoll: 256})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var errs int
	c.OnError(func(*MessageError) { errs++ })
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var recs int
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	err = c.Run(rctx, func(_ context.Context, rs []flow.Record) error {
		recs += len(rs)
		if c.Stats().Messages >= int64(b.N) {
			cancel()
		}
		return nil
	})
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	if err != nil {
		b.Fatal(err)
	}
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(recs)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(recs, 1)), "cpu-ns/record")
	if st := c.Stats(); st.Messages != int64(b.N) || errs != 0 {
		b.Fatalf("%d of %d messages, %d errors", st.Messages, b.N, errs)
	}
}

// uniqueTopic names a topic no earlier benchmark round used (b.N grows
// over rounds on one broker).
func uniqueTopic(s string) string {
	return fmt.Sprintf("%s-%d", s, time.Now().UnixNano())
}

// TestRawSpill: raw messages produced while the broker is away go to the
// spill with their key and headers and reach the topic once it
// is back (a new broker on its port, with its data): every datagram, each
// exporter's in order, its fg-exporter and fg-received as produced.
func TestRawSpill(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3 s broker outage")
	}
	msgs := ipfixMessages(t, 30*300)[:300] // distinct datagrams
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := t.TempDir()
	up := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(data), kfake.SeedTopics(2, "raw-spill"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cl := up()
	addrs := cl.ListenAddrs()
	p, err := NewProducer(ProducerConfig{Brokers: addrs, Topic: "raw-spill", Format: FormatRaw, Key: KeyExporter,
		Linger: 5 * time.Millisecond, Spill: t.TempDir(), SpillAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exps := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:2055"), netip.MustParseAddrPort("[2001:db8::2]:4739")}
	base := time.Date(2026, 11, 27, 1, 0, 0, 123456789, time.UTC).UnixNano()
	send := func(from, to int) {
		for i := from; i < to; i += 10 {
			var batch []gateway.Message
			for k := i; k < min(i+10, to); k++ {
				batch = append(batch, gateway.Message{Data: msgs[k], From: exps[k%2], TS: base + int64(k)})
			}
			if err := p.ProduceRaw(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(0, 100)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	send(100, 200) // kgo holds them, then they spill
	for end := time.Now().Add(10 * time.Second); !errors.Is(p.Ready(), ErrSpilling); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("never spilled with the broker away")
		}
	}
	send(200, 300) // straight to the spill
	time.Sleep(time.Second)
	cl = up()
	defer cl.Close()
	for end := time.Now().Add(30 * time.Second); p.Ready() != nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the spill did not drain: %v", p.Ready())
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Spilled == 0 || st.Drained != st.Spilled || st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	c, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("raw-spill"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	index := map[string]int{}
	for k, m := range msgs {
		index[string(m)] = k
	}
	last := map[string]int{}
	seen := map[int]int{}
	for len(seen) < len(msgs) && rctx.Err() == nil {
		fs := c.PollFetches(rctx)
		for _, r := range fs.Records() {
			k, ok := index[string(r.Value)]
			if !ok {
				t.Fatalf("message %d@%d is no datagram sent", r.Partition, r.Offset)
			}
			seen[k]++
			exp, rcv := header(r, HeaderExporter), header(r, HeaderReceived)
			if exp != exps[k%2].String() || string(r.Key) != exps[k%2].Addr().String() || rcv != time.Unix(0, base+int64(k)).UTC().Format(time.RFC3339Nano) {
				t.Fatalf("datagram %d: key %q, %s %q, %s %q", k, r.Key, HeaderExporter, exp, HeaderReceived, rcv)
			}
			if prev, ok := last[exp]; ok && k < prev && seen[k] == 1 {
				t.Fatalf("exporter %s: datagram %d after %d", exp, k, prev)
			}
			last[exp] = max(last[exp], k)
		}
	}
	dups := 0
	for k := range msgs {
		if seen[k] == 0 {
			t.Fatalf("datagram %d lost", k)
		}
		dups += seen[k] - 1
	}
	t.Logf("%d datagrams, %d spilled and drained, %d duplicates (resent %d)", len(msgs), st.Spilled, dups, st.Resent)
}
