package conformance

// Kafka interop: independent clients read what gateway/kafka produces and
// write what it consumes, on a loopback broker (kfake, started by .ci/run
// as conformance/tools/kfakeserver and named by FLOWGATE_KAFKA):
//
//   - Debian's kcat (librdkafka), -C -f with the value, key and headers
//     of every message, and -P with one file or line per message;
//   - github.com/segmentio/kafka-go, a Go client that shares no code with
//     franz-go: a Reader per partition, and a Writer.
//
// Values are checked against what the corpus says, not our own decoding:
// Argus 5 messages against the corpus files' record bytes; JSON messages
// (argus and goflow2 dialects) against ra 5's CSV of the same files
// (corpus argus/oracle/*/v5.ra5.csv); raw NetFlow/IPFIX messages against
// the captures' UDP payloads, and their decoding against tshark's decode
// of the captures (generated/exports/*/tshark, as TestNetflowExports).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/kafka"
)

// kafkaBroker returns the loopback broker's address. Outside CI a missing
// FLOWGATE_KAFKA skips the test; in CI (.ci/run starts the broker) it fails.
func kafkaBroker(tb testing.TB) string {
	tb.Helper()
	a := os.Getenv("FLOWGATE_KAFKA")
	if a == "" {
		msg := "FLOWGATE_KAFKA not set: start a loopback broker with `go run ./conformance/tools/kfakeserver -port 9092 &` and export FLOWGATE_KAFKA=127.0.0.1:9092 (.ci/run does)"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	if c, err := net.DialTimeout("tcp", a, 2*time.Second); err != nil {
		tb.Fatalf("FLOWGATE_KAFKA=%s: %v", a, err)
	} else {
		c.Close()
	}
	return a
}

// uniqueName makes topic and group names that no earlier run on the same
// long-lived broker used.
func uniqueName(s string) string {
	return s + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// iopMsg is one Kafka message as an outside client saw it.
type iopMsg struct {
	Part    int32
	Off     int64
	Key     []byte // nil: no key
	Value   []byte
	Headers map[string]string
}

func (m iopMsg) id() string { return fmt.Sprintf("%d@%d", m.Part, m.Off) }

// kcatFormat prints a message's partition, offset, value and key sizes,
// then the value and key bytes, then the headers (k=v,k=v).
const kcatFormat = "M %p %o %S %K\\n%s%k\\n%h\\n"

// kcatConsume reads a topic from the start to its end with kcat -C.
func kcatConsume(tb testing.TB, broker, topic string) []iopMsg {
	tb.Helper()
	kcat := nfTool(tb, "kcat")
	cmd := exec.Command(kcat, "-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-q", "-f", strings.ReplaceAll(kcatFormat, `\\n`, `\n`))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("kcat -C: %v: %s", err, stderr.Bytes())
	}
	msgs, err := parseKcat(out)
	if err != nil {
		tb.Fatalf("kcat -C output: %v", err)
	}
	return msgs
}

func parseKcat(out []byte) ([]iopMsg, error) {
	var msgs []iopMsg
	r := bufio.NewReader(bytes.NewReader(out))
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF && line == "" {
			return msgs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", len(msgs), err)
		}
		var m iopMsg
		var vs, ks int
		if _, err := fmt.Sscanf(line, "M %d %d %d %d\n", &m.Part, &m.Off, &vs, &ks); err != nil {
			return nil, fmt.Errorf("message %d: header line %q: %w", len(msgs), line, err)
		}
		m.Value = make([]byte, max(vs, 0))
		if _, err := io.ReadFull(r, m.Value); err != nil {
			return nil, err
		}
		if ks >= 0 {
			m.Key = make([]byte, ks)
			if _, err := io.ReadFull(r, m.Key); err != nil {
				return nil, err
			}
		}
		if b, err := r.ReadByte(); err != nil || b != '\n' {
			return nil, fmt.Errorf("message %s: no newline after the key", m.id())
		}
		h, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		m.Headers = map[string]string{}
		if h = strings.TrimSuffix(h, "\n"); h != "" {
			for _, kv := range strings.Split(h, ",") {
				k, v, _ := strings.Cut(kv, "=")
				m.Headers[k] = v
			}
		}
		msgs = append(msgs, m)
	}
}

// kafkaGoConsume reads every partition of a topic from the start to its
// end with kafka-go.
func kafkaGoConsume(tb testing.TB, broker, topic string) []iopMsg {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := kafkago.DialContext(ctx, "tcp", broker)
	if err != nil {
		tb.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		tb.Fatalf("kafka-go partitions of %s: %v", topic, err)
	}
	var msgs []iopMsg
	for _, p := range parts {
		lc, err := kafkago.DialLeader(ctx, "tcp", broker, topic, p.ID)
		if err != nil {
			tb.Fatal(err)
		}
		last, err := lc.ReadLastOffset()
		lc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: p.ID, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond})
		for {
			km, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				tb.Fatalf("kafka-go %s[%d]: %v", topic, p.ID, err)
			}
			m := iopMsg{Part: int32(km.Partition), Off: km.Offset, Key: km.Key, Value: km.Value, Headers: map[string]string{}}
			for _, h := range km.Headers {
				m.Headers[h.Key] = string(h.Value)
			}
			msgs = append(msgs, m)
			if km.Offset >= last-1 {
				break
			}
		}
		r.Close()
	}
	return msgs
}

// sameMessages checks that two clients saw the same messages.
func sameMessages(tb testing.TB, a, b []iopMsg) {
	tb.Helper()
	byID := map[string]iopMsg{}
	for _, m := range a {
		byID[m.id()] = m
	}
	if len(a) != len(b) || len(byID) != len(a) {
		tb.Fatalf("kcat saw %d messages, kafka-go %d", len(a), len(b))
	}
	for _, m := range b {
		k, ok := byID[m.id()]
		if !ok || !bytes.Equal(k.Value, m.Value) || !bytes.Equal(k.Key, m.Key) || (k.Key == nil) != (len(m.Key) == 0) || !reflect.DeepEqual(k.Headers, m.Headers) {
			tb.Fatalf("message %s: kcat and kafka-go disagree:\nkcat     key %q headers %v value %q\nkafka-go key %q headers %v value %q",
				m.id(), k.Key, k.Headers, clip(k.Value, 80), m.Key, m.Headers, clip(m.Value, 80))
		}
	}
}

// ---- the corpus: Argus 5 files and ra 5's CSV of them ----

type argusCorpus struct {
	mar  []byte        // the first file's MAR
	recs []flow.Record // flow records, detached
	raw  [][]byte      // each record's bytes in its file
	rows []raRow       // ra 5's CSV rows of the same files
}

// raRow holds the columns both dialects carry.
type raRow struct {
	stimeUS                    int64
	saddr, daddr               string
	proto                      string // ra's name
	sport, dport               string // as ra prints them (hex for ICMP)
	spkts, dpkts, sbyte, dbyte uint64
}

func loadArgusCorpus(tb testing.TB, max int) *argusCorpus {
	tb.Helper()
	dir := corpusDir(tb, "argus", "oracle")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "v5.argus"))
	sort.Strings(files)
	c := &argusCorpus{}
	for _, f := range files {
		if len(c.recs) >= max {
			break
		}
		rows := readRa5CSV(tb, strings.TrimSuffix(f, ".argus")+".ra5.csv")
		fh, err := os.Open(f)
		if err != nil {
			tb.Fatal(err)
		}
		r, err := argus.NewReader(fh)
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		d := r.NewRecordDecoder()
		var recs []flow.Record
		var raw [][]byte
		for {
			b, off, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				tb.Fatalf("%s: %v", f, err)
			}
			if c.mar == nil && b[0]&0xf0 == 0x80 {
				c.mar = append([]byte(nil), b...)
			}
			var rec flow.Record
			if err := d.Decode(&rec, b, off); err != nil {
				tb.Fatalf("%s: %v", f, err)
			}
			if rec.Type == flow.TypeMgmt {
				continue
			}
			rec.Detach()
			recs = append(recs, rec)
			raw = append(raw, append([]byte(nil), b...))
		}
		fh.Close()
		if len(rows) != len(recs) {
			// ra 5 printed another set of records: not a file to
			// compare on.
			tb.Logf("%s: %d flow records, ra5 CSV %d rows: skipped", f, len(recs), len(rows))
			continue
		}
		c.recs = append(c.recs, recs...)
		c.raw = append(c.raw, raw...)
		c.rows = append(c.rows, rows...)
	}
	if len(c.recs) == 0 || c.mar == nil {
		tb.Fatal("no Argus 5 flow records in the corpus oracle")
	}
	return c
}

func readRa5CSV(tb testing.TB, path string) []raRow {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	all, err := cr.ReadAll()
	if err != nil || len(all) == 0 {
		tb.Fatalf("%s: %v", path, err)
	}
	col := map[string]int{}
	for i, h := range all[0] {
		if _, dup := col[h]; !dup {
			col[h] = i
		}
	}
	for _, h := range []string{"StartTime", "SrcAddr", "DstAddr", "Proto", "Sport", "Dport", "SrcPkts", "DstPkts", "SrcBytes", "DstBytes"} {
		if _, ok := col[h]; !ok {
			tb.Fatalf("%s: no column %s", path, h)
		}
	}
	var rows []raRow
	for _, r := range all[1:] {
		get := func(h string) string { return r[col[h]] }
		num := func(h string) uint64 {
			v, err := strconv.ParseUint(get(h), 10, 64)
			if err != nil {
				tb.Fatalf("%s: %s %q", path, h, get(h))
			}
			return v
		}
		st, err := strconv.ParseFloat(get("StartTime"), 64)
		if err != nil {
			tb.Fatalf("%s: StartTime %q", path, get("StartTime"))
		}
		rows = append(rows, raRow{
			stimeUS: int64(math.Round(st * 1e6)),
			saddr:   get("SrcAddr"), daddr: get("DstAddr"), proto: get("Proto"),
			sport: get("Sport"), dport: get("Dport"),
			spkts: num("SrcPkts"), dpkts: num("DstPkts"), sbyte: num("SrcBytes"), dbyte: num("DstBytes"),
		})
	}
	return rows
}

// raProtos are the protocols whose number the comparison checks (ra
// prints names; others are compared by addresses and counters only). ra 5
// names a UDP flow it recognises as UDT (UDP-based Data Transfer) "udt".
var raProtos = map[string]int{"tcp": 6, "udp": 17, "udt": 17, "icmp": 1, "ipv6-icmp": 58}

// knownProto: the numbers of raProtos.
var knownProto = map[int]bool{6: true, 17: true, 1: true, 58: true}

// raPort reads a port as ra prints it: decimal, or hex (0x0008) for ICMP
// type/code; ok false when empty.
func raPort(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 0, 16)
	return v, err == nil
}

// tuple is the comparable view of a record: what ra printed, in one line.
func (r raRow) tuple(oneWay bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "t=%d %s>%s", r.stimeUS, ipOrL2(r.saddr), ipOrL2(r.daddr))
	if p, ok := raProtos[r.proto]; ok {
		fmt.Fprintf(&b, " p=%d", p)
		if p == 6 || p == 17 {
			sp, _ := raPort(r.sport)
			dp, _ := raPort(r.dport)
			fmt.Fprintf(&b, " %d>%d", sp, dp)
		}
	}
	fmt.Fprintf(&b, " pk=%d by=%d", r.spkts, r.sbyte)
	if !oneWay {
		fmt.Fprintf(&b, " rpk=%d rby=%d", r.dpkts, r.dbyte)
	}
	return b.String()
}

// jsonTuple builds the same line from a JSON message of a dialect.
func jsonTuple(tb testing.TB, dialect string, v []byte) string {
	tb.Helper()
	var o map[string]any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&o); err != nil {
		tb.Fatalf("%s JSON %q: %v", dialect, clip(v, 200), err)
	}
	str := func(k string) string {
		s, _ := o[k].(string)
		return s
	}
	num := func(k string) (string, bool) {
		n, ok := o[k].(json.Number)
		return string(n), ok
	}
	var b strings.Builder
	switch dialect {
	case "argus":
		st, _ := num("stime")
		f, _ := strconv.ParseFloat(st, 64)
		fmt.Fprintf(&b, "t=%d %s>%s", int64(math.Round(f*1e6)), ipOrL2(str("saddr")), ipOrL2(str("daddr")))
		if p, _ := strconv.Atoi(numOr(o["proto"])); knownProto[p] {
			fmt.Fprintf(&b, " p=%d", p)
			if p == 6 || p == 17 {
				fmt.Fprintf(&b, " %s>%s", numOr(o["sport"]), numOr(o["dport"]))
			}
		}
		fmt.Fprintf(&b, " pk=%s by=%s rpk=%s rby=%s", numOr(o["spkts"]), numOr(o["sbytes"]), numOr(o["dpkts"]), numOr(o["dbytes"]))
	case "goflow2":
		ns, _ := num("time_flow_start_ns")
		n, _ := strconv.ParseInt(ns, 10, 64)
		fmt.Fprintf(&b, "t=%d %s>%s", n/1000, ipOrL2(str("src_addr")), ipOrL2(str("dst_addr")))
		if p := goflow2Proto(o["proto"]); knownProto[p] {
			fmt.Fprintf(&b, " p=%d", p)
			if p == 6 || p == 17 {
				fmt.Fprintf(&b, " %s>%s", numOr(o["src_port"]), numOr(o["dst_port"]))
			}
		}
		fmt.Fprintf(&b, " pk=%s by=%s", numOr(o["packets"]), numOr(o["bytes"]))
	}
	return b.String()
}

// ipOrL2 keeps an IP address; anything else (ra prints MAC addresses for
// layer-2 flows, the dialects write no address) is "L2".
func ipOrL2(s string) string {
	if _, err := netip.ParseAddr(s); err != nil {
		return "L2"
	}
	return s
}

// numOr prints a JSON number, or 0 for an absent one (a zero counter is
// not written).
func numOr(v any) string {
	if n, ok := v.(json.Number); ok {
		return string(n)
	}
	return "0"
}

// goflow2Proto reads goflow2's proto: a name for the common ones (its
// JSON marshalling of the enum), else a number.
func goflow2Proto(v any) int {
	switch p := v.(type) {
	case string:
		return map[string]int{"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58, "SCTP": 132}[p]
	case json.Number:
		n, _ := p.Int64()
		return int(n)
	}
	return -1
}

// multiset compares two lists of lines as multisets and reports the
// lines only one side has.
func multiset(tb testing.TB, what string, want, got []string) {
	tb.Helper()
	n := map[string]int{}
	for _, w := range want {
		n[w]++
	}
	for _, g := range got {
		n[g]--
	}
	var missing, extra []string
	for l, k := range n {
		for ; k > 0; k-- {
			missing = append(missing, l)
		}
		for ; k < 0; k++ {
			extra = append(extra, l)
		}
	}
	if len(missing)+len(extra) == 0 && len(want) == len(got) {
		return
	}
	sort.Strings(missing)
	sort.Strings(extra)
	tb.Fatalf("%s: %d lines, want %d; missing %d: %s\nunexpected %d: %s", what, len(got), len(want),
		len(missing), strings.Join(missing[:min(len(missing), 5)], "\n  "), len(extra), strings.Join(extra[:min(len(extra), 5)], "\n  "))
}

// createTopic makes a topic of 4 partitions (with kafka-go): our producer
// does not ask the broker to create topics.
func createTopic(tb testing.TB, broker, topic string) {
	tb.Helper()
	conn, err := kafkago.Dial("tcp", broker)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	if err := conn.CreateTopics(kafkago.TopicConfig{Topic: topic, NumPartitions: 4, ReplicationFactor: 1}); err != nil {
		tb.Fatalf("create topic %s: %v", topic, err)
	}
}

// ourProduce publishes records with our producer and waits for the acks.
func ourProduce(tb testing.TB, cfg kafka.ProducerConfig, recs []flow.Record) kafka.ProducerStats {
	tb.Helper()
	createTopic(tb, cfg.Brokers[0], cfg.Topic)
	p, err := kafka.NewProducer(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < len(recs); i += 500 {
		err := p.Produce(ctx, recs[i:min(i+500, len(recs))])
		var ee *kafka.EncodeError
		if err != nil && !(errors.As(err, &ee) && cfg.Dialect == "goflow2") {
			tb.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		tb.Fatal(err)
	}
	return p.Stats()
}

// TestKafkaInteropArgus5: corpus Argus 5 records produced by our producer
// as argus5 messages (lz4, keyed by flow), read back by kcat and
// kafka-go: every value is one of the corpus files' records, byte for
// byte; the values behind a MAR make a stream codecs/argus reads; the key
// is the 74-byte flow key whose addresses are ra's; headers say argus5
// and the mapping version.
func TestKafkaInteropArgus5(t *testing.T) {
	broker := kafkaBroker(t)
	c := loadArgusCorpus(t, 3000)
	topic := uniqueName("iop-argus5")
	st := ourProduce(t, kafka.ProducerConfig{Brokers: []string{broker}, Topic: topic, Format: kafka.FormatArgus5,
		Key: kafka.KeyFlow, MappingVersion: "m-7"}, c.recs)
	if st.Produced != int64(len(c.recs)) || st.Failed != 0 {
		t.Fatalf("produced %+v of %d", st, len(c.recs))
	}
	kc := kcatConsume(t, broker, topic)
	sameMessages(t, kc, kafkaGoConsume(t, broker, topic))

	want := make([]string, len(c.raw))
	for i, b := range c.raw {
		want[i] = string(b)
	}
	got := make([]string, len(kc))
	stream := append([]byte(nil), c.mar...)
	rowOf := map[string]raRow{}
	for i, r := range c.raw {
		rowOf[string(r)] = c.rows[i]
	}
	for i, m := range kc {
		got[i] = string(m.Value)
		stream = append(stream, m.Value...)
		if m.Headers[kafka.HeaderFormat] != kafka.FormatArgus5 || m.Headers[kafka.HeaderMapping] != "m-7" || len(m.Headers) != 2 {
			t.Fatalf("message %s: headers %v", m.id(), m.Headers)
		}
		row, ok := rowOf[string(m.Value)]
		if !ok {
			continue // multiset below reports it
		}
		if len(m.Key) != 74 {
			t.Fatalf("message %s: key of %d bytes, want 74", m.id(), len(m.Key))
		}
		src := netip.AddrFrom16([16]byte(m.Key[0:16])).Unmap()
		dst := netip.AddrFrom16([16]byte(m.Key[16:32])).Unmap()
		if _, err := netip.ParseAddr(row.saddr); err == nil && (src.String() != row.saddr || dst.String() != row.daddr) {
			t.Fatalf("message %s: key addresses %s > %s, ra %s > %s", m.id(), src, dst, row.saddr, row.daddr)
		}
	}
	multiset(t, "argus5 values vs corpus records", want, got)

	// The bytes as a file: one MAR, then the messages.
	r, err := argus.NewReader(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	d := r.NewRecordDecoder()
	n := 0
	for {
		b, off, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the kcat bytes at %d: %v", off, err)
		}
		var rec flow.Record
		if err := d.Decode(&rec, b, off); err != nil {
			t.Fatalf("record at %d: %v", off, err)
		}
		if rec.Type == flow.TypeFlow {
			n++
		}
	}
	if n != len(c.recs) {
		t.Fatalf("codecs/argus read %d flow records from the kcat bytes, want %d", n, len(c.recs))
	}
	t.Logf("%d Argus 5 records: kcat and kafka-go saw %d messages, equal to the corpus bytes", len(c.recs), len(kc))
}

// TestKafkaInteropJSON: the same records produced as JSON in the argus
// (zstd, no key) and goflow2 (snappy, keyed by exporter) dialects: the
// values kcat and kafka-go read carry ra's addresses, ports, protocol,
// start time and counters (goflow2: the forward direction only).
func TestKafkaInteropJSON(t *testing.T) {
	broker := kafkaBroker(t)
	c := loadArgusCorpus(t, 3000)
	for _, tc := range []struct {
		dialect, comp string
		key           kafka.Keying
	}{
		{"argus", "zstd", kafka.KeyNone},
		{"goflow2", "snappy", kafka.KeyExporter},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			topic := uniqueName("iop-json-" + tc.dialect)
			st := ourProduce(t, kafka.ProducerConfig{Brokers: []string{broker}, Topic: topic, Format: kafka.FormatJSON,
				Dialect: tc.dialect, Compression: tc.comp, Key: tc.key}, c.recs)
			if st.Produced != int64(len(c.recs)) {
				t.Fatalf("produced %+v of %d", st, len(c.recs))
			}
			kc := kcatConsume(t, broker, topic)
			sameMessages(t, kc, kafkaGoConsume(t, broker, topic))
			oneWay := tc.dialect == "goflow2"
			want := make([]string, len(c.rows))
			for i, r := range c.rows {
				want[i] = r.tuple(oneWay)
			}
			got := make([]string, len(kc))
			for i, m := range kc {
				if m.Headers[kafka.HeaderFormat] != kafka.FormatJSON || m.Headers[kafka.HeaderDialect] != tc.dialect {
					t.Fatalf("message %s: headers %v", m.id(), m.Headers)
				}
				if m.Key != nil {
					t.Fatalf("message %s: key %q: Argus records have no exporter, so no key", m.id(), m.Key)
				}
				got[i] = jsonTuple(t, tc.dialect, m.Value)
			}
			multiset(t, tc.dialect+" JSON vs ra", want, got)
			t.Logf("%s: %d messages (lossy %d) match ra's CSV", tc.dialect, len(kc), st.Lossy)
		})
	}
}

// ourConsume reads a topic with our consumer until it has fetched n
// messages; it returns the records, detached.
func ourConsume(tb testing.TB, broker, topic string, n int, newDec gateway.NewDecoders) ([]flow.Record, kafka.ConsumerStats, []*kafka.MessageError) {
	tb.Helper()
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: []string{broker}, Topic: topic, Group: uniqueName("iop")})
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if newDec != nil {
		c.SetRawDecoders(newDec)
	}
	var mu sync.Mutex
	var errs []*kafka.MessageError
	c.OnError(func(e *kafka.MessageError) { mu.Lock(); errs = append(errs, e); mu.Unlock() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []flow.Record
	err = c.Run(ctx, func(_ context.Context, rs []flow.Record) error {
		for _, r := range rs {
			r.Detach()
			recs = append(recs, r)
		}
		if c.Stats().Messages >= int64(n) {
			cancel()
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	st := c.Stats()
	if st.Messages < int64(n) {
		tb.Fatalf("our consumer fetched %d of %d messages", st.Messages, n)
	}
	return recs, st, errs
}

// argusBare re-encodes a record as bare Argus 5 bytes (no MAR), as our
// producer does.
func argusBare(tb testing.TB, recs []flow.Record) []string {
	var buf bytes.Buffer
	w, err := argus.NewWriter(&buf, 5)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]string, len(recs))
	for i := range recs {
		buf.Reset()
		if err := w.Encode(&recs[i]); err != nil {
			tb.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		b := buf.Bytes()
		if i == 0 {
			b = b[binary.BigEndian.Uint16(b[2:])*4:]
		}
		out[i] = string(b)
	}
	return out
}

// goflow2Line writes a goflow2 JSON line from ra's values, by hand: what
// a goflow2 collector prints, not what our writer does.
func goflow2Line(r raRow) string {
	proto := map[int]string{6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMPv6"}[raProtos[r.proto]]
	var b strings.Builder
	fmt.Fprintf(&b, `{"type":"IPFIX","time_received_ns":1700000000000000000,"time_flow_start_ns":%d,"bytes":%d,"packets":%d,"src_addr":%q,"dst_addr":%q,"etype":"IPv4"`,
		r.stimeUS*1000, r.sbyte, r.spkts, r.saddr, r.daddr)
	if proto != "" {
		fmt.Fprintf(&b, `,"proto":%q`, proto)
		if proto == "TCP" || proto == "UDP" {
			sp, _ := raPort(r.sport)
			dp, _ := raPort(r.dport)
			fmt.Fprintf(&b, `,"src_port":%d,"dst_port":%d`, sp, dp)
		}
	}
	b.WriteString("}")
	return b.String()
}

// recordTuple is raRow.tuple's line from one of our records.
func recordTuple(r *flow.Record, oneWay bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "t=%d %s>%s", r.Start/1000, r.Key.Src, r.Key.Dst)
	if p := int(r.Key.Proto); knownProto[p] {
		fmt.Fprintf(&b, " p=%d", p)
		if p == 6 || p == 17 {
			fmt.Fprintf(&b, " %d>%d", r.Key.SrcPort, r.Key.DstPort)
		}
	}
	fmt.Fprintf(&b, " pk=%d by=%d", r.Pkts[0], r.Bytes[0])
	if !oneWay {
		fmt.Fprintf(&b, " rpk=%d rby=%d", r.Pkts[1], r.Bytes[1])
	}
	return b.String()
}

// outsideProducer writes messages to a topic: kcat -P or kafka-go.
type outsideProducer func(tb testing.TB, broker, topic string, key string, headers [][2]string, values [][]byte)

// kcatProduce sends each value as one message: kcat -P takes each file
// argument as a message.
func kcatProduce(tb testing.TB, broker, topic string, key string, headers [][2]string, values [][]byte) {
	tb.Helper()
	kcat := nfTool(tb, "kcat")
	dir := tb.TempDir()
	args := []string{"-P", "-b", broker, "-t", topic, "-p", "0", "-z", "lz4"}
	if key != "" {
		args = append(args, "-k", key)
	}
	for _, h := range headers {
		args = append(args, "-H", h[0]+"="+h[1])
	}
	for i, v := range values {
		f := filepath.Join(dir, fmt.Sprintf("m%06d", i))
		if err := os.WriteFile(f, v, 0o644); err != nil {
			tb.Fatal(err)
		}
		args = append(args, f)
	}
	if out, err := exec.Command(kcat, args...).CombinedOutput(); err != nil {
		tb.Fatalf("kcat -P: %v: %s", err, out)
	}
}

func kafkaGoProduce(tb testing.TB, broker, topic string, key string, headers [][2]string, values [][]byte) {
	tb.Helper()
	w := &kafkago.Writer{Addr: kafkago.TCP(broker), Topic: topic, Balancer: &kafkago.Hash{}, RequiredAcks: kafkago.RequireAll,
		AllowAutoTopicCreation: true, BatchTimeout: 10 * time.Millisecond, Compression: kafkago.Gzip}
	defer w.Close()
	var hs []kafkago.Header
	for _, h := range headers {
		hs = append(hs, kafkago.Header{Key: h[0], Value: []byte(h[1])})
	}
	msgs := make([]kafkago.Message, len(values))
	for i, v := range values {
		msgs[i] = kafkago.Message{Value: v, Headers: hs}
		if key != "" {
			msgs[i].Key = []byte(key)
		} else {
			// One partition keeps the order the raw test needs.
			msgs[i].Key = []byte("k")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A first write may find the topic being created: retry it.
	var err error
	for try := 0; try < 20; try++ {
		if err = w.WriteMessages(ctx, msgs...); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("kafka-go write: %v", err)
}

// TestKafkaInteropToUs: kcat and kafka-go write, in each format, what our
// consumer reads: corpus Argus 5 records (one file per message) decode to
// records that re-encode to the same bytes; goflow2 JSON lines written by
// hand from ra's CSV decode to ra's values; flowbeat datagrams with an
// fg-exporter header decode, per exporter, as a collector decodes them.
func TestKafkaInteropToUs(t *testing.T) {
	broker := kafkaBroker(t)
	c := loadArgusCorpus(t, 400)
	dats := flowbeatDats(t)
	for _, cl := range []struct {
		name string
		send outsideProducer
	}{{"kcat", kcatProduce}, {"kafka-go", kafkaGoProduce}} {
		t.Run(cl.name+"/argus5", func(t *testing.T) {
			topic := uniqueName("iop-in-argus5")
			cl.send(t, broker, topic, "", [][2]string{{kafka.HeaderFormat, kafka.FormatArgus5}}, c.raw)
			recs, st, errs := ourConsume(t, broker, topic, len(c.raw), nil)
			if len(errs) != 0 || st.Malformed != 0 {
				t.Fatalf("malformed: %v", errs)
			}
			want := make([]string, len(c.raw))
			for i, b := range c.raw {
				want[i] = string(b)
			}
			multiset(t, cl.name+" argus5 records re-encoded vs corpus", want, argusBare(t, recs))
		})
		t.Run(cl.name+"/goflow2", func(t *testing.T) {
			topic := uniqueName("iop-in-goflow2")
			var lines [][]byte
			var want []string
			for _, r := range c.rows {
				if _, err := netip.ParseAddr(r.saddr); err != nil {
					continue // ARP and the like: no IP addresses
				}
				lines = append(lines, []byte(goflow2Line(r)))
				want = append(want, r.tuple(true))
			}
			cl.send(t, broker, topic, "", [][2]string{{kafka.HeaderFormat, kafka.FormatJSON}, {kafka.HeaderDialect, "goflow2"}}, lines)
			recs, _, errs := ourConsume(t, broker, topic, len(lines), nil)
			if len(errs) != 0 {
				t.Fatalf("malformed: %v", errs)
			}
			got := make([]string, len(recs))
			for i := range recs {
				got[i] = recordTuple(&recs[i], true)
			}
			multiset(t, cl.name+" goflow2 lines vs ra", want, got)
		})
		t.Run(cl.name+"/raw", func(t *testing.T) {
			topic := uniqueName("iop-in-raw")
			from := netip.MustParseAddrPort("192.0.2.7:2055")
			cl.send(t, broker, topic, from.Addr().String(), [][2]string{{kafka.HeaderFormat, kafka.FormatRaw}, {kafka.HeaderExporter, from.String()}}, dats)
			recs, st, _ := ourConsume(t, broker, topic, len(dats), nil)
			// Direct decoding of the same datagrams in the same order,
			// errors and all (some flowbeat payloads are invalid on purpose).
			d := gateway.NewCodecSet().New()
			var want []flow.Record
			derrs := 0
			for _, b := range dats {
				var err error
				if want, err = d.Decode(b, from, want); err != nil {
					derrs++
				}
			}
			for i := range want {
				want[i].Detach()
			}
			if len(want) == 0 || len(recs) != len(want) || int(st.Malformed) != derrs {
				t.Fatalf("%d records (%d malformed), direct decoding %d (%d errors)", len(recs), st.Malformed, len(want), derrs)
			}
			for i := range want {
				if !reflect.DeepEqual(want[i], recs[i]) {
					t.Fatalf("record %d differs from direct decoding", i)
				}
			}
			t.Logf("%d datagrams, %d records, %d decode errors as direct decoding", len(dats), len(recs), derrs)
		})
	}
}

// flowbeatDats reads the flowbeat vendor payloads (each one datagram),
// sorted by name as the gateway tests send them.
func flowbeatDats(tb testing.TB) [][]byte {
	dir := corpusDir(tb, "netflow-exports", "flowbeat", "dat")
	files, _ := filepath.Glob(filepath.Join(dir, "*.dat"))
	sort.Strings(files)
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		tb.Skip("no flowbeat payloads")
	}
	return out
}

// TestKafkaInteropRaw: the generated export captures (v5, v9, IPFIX;
// softflowd and pmacct), each sent over UDP by an exporter of its own to
// a listener whose raw hook produces to the topic (gzip). kcat and
// kafka-go see, per exporter, the capture's UDP payloads in order, keyed
// by the exporter's address with fg-exporter, fg-received and fg-format
// headers; our consumer's records, per exporter, are the flows tshark
// decoded from the capture (the differences conformance lists for our
// decoders and tshark, and no others).
func TestKafkaInteropRaw(t *testing.T) {
	broker := kafkaBroker(t)
	root := corpusDir(t, "generated", "exports")
	type capture struct {
		scope string
		msgs  [][]byte
		ts    []nfFlow
	}
	var caps []capture
	for _, v := range exportVariants {
		pcaps, _ := filepath.Glob(filepath.Join(root, v, "pcap", "*.pcap"))
		sort.Strings(pcaps)
		for _, pc := range pcaps {
			base := strings.TrimSuffix(filepath.Base(pc), ".pcap")
			cp := capture{scope: v + "/" + base}
			if _, err := gateway.ReadMessages(pc, gateway.FormatNF, func(b []gateway.Message) error {
				for _, m := range b {
					cp.msgs = append(cp.msgs, append([]byte(nil), m.Data...))
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			js, err := os.ReadFile(filepath.Join(root, v, "tshark", base+".json"))
			if err != nil {
				t.Fatal(err)
			}
			tp, err := parseTsharkJSON(js)
			if err != nil {
				t.Fatalf("%s: %v", cp.scope, err)
			}
			for _, p := range tp {
				cp.ts = append(cp.ts, p.Flows...)
			}
			if len(cp.msgs) > 0 {
				caps = append(caps, cp)
			}
		}
	}
	if len(caps) == 0 {
		t.Skip("no export captures")
	}
	topic := uniqueName("iop-raw")
	createTopic(t, broker, topic)
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: []string{broker}, Topic: topic, Format: kafka.FormatRaw,
		Key: kafka.KeyExporter, Compression: "gzip", Linger: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l, err := gateway.ListenUDP("127.0.0.1:0", gateway.Options{Workers: 2}, gateway.NewCodecSet().New)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := l.SetRaw(p.RawHandler(ctx), false); err != nil {
		t.Fatal(err)
	}
	senders := make([]*net.UDPConn, len(caps))
	scopeOf := map[netip.AddrPort]int{}
	for i := range caps {
		c, err := net.Dial("udp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		senders[i] = c.(*net.UDPConn)
		scopeOf[c.LocalAddr().(*net.UDPAddr).AddrPort()] = i
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Serve(sctx, nil) }()
	sent := 0
	for i, cp := range caps {
		for k, b := range cp.msgs {
			if _, err := senders[i].Write(b); err != nil {
				t.Fatal(err)
			}
			if sent++; k%256 == 255 {
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
	if st := p.Stats(); st.Produced != int64(sent) {
		t.Fatalf("produced %+v, sent %d datagrams", st, sent)
	}

	kc := kcatConsume(t, broker, topic)
	sameMessages(t, kc, kafkaGoConsume(t, broker, topic))
	byCap := make([][][]byte, len(caps))
	for _, m := range kc {
		from, err := netip.ParseAddrPort(m.Headers[kafka.HeaderExporter])
		i, ok := scopeOf[from]
		if err != nil || !ok || string(m.Key) != from.Addr().String() || m.Headers[kafka.HeaderFormat] != kafka.FormatRaw {
			t.Fatalf("message %s: key %q headers %v", m.id(), m.Key, m.Headers)
		}
		if _, err := time.Parse(time.RFC3339Nano, m.Headers[kafka.HeaderReceived]); err != nil {
			t.Fatalf("message %s: %s %q: %v", m.id(), kafka.HeaderReceived, m.Headers[kafka.HeaderReceived], err)
		}
		byCap[i] = append(byCap[i], m.Value)
	}
	for i, cp := range caps {
		if !reflect.DeepEqual(byCap[i], cp.msgs) {
			t.Fatalf("%s: kcat read %d messages, not the capture's %d UDP payloads in order", cp.scope, len(byCap[i]), len(cp.msgs))
		}
	}

	recs, st, errs := ourConsume(t, broker, topic, sent, gateway.NewCodecSet().New)
	if len(errs) != 0 || st.Malformed != 0 {
		t.Fatalf("malformed: %v", errs)
	}
	ours := make([][]nfFlow, len(caps))
	for i := range recs {
		k, ok := scopeOf[recs[i].Exporter]
		if !ok {
			t.Fatalf("record from unknown exporter %s", recs[i].Exporter)
		}
		ours[k] = append(ours[k], recordFlow(&recs[i]))
	}
	kd := nfKnownDiffs(t, "tshark-ours")
	kd.partial["tshark-ours"] = true // TestNetflowExports checks staleness
	var diffs []nfDiff
	matched := 0
	for i, cp := range caps {
		m, d := compareFlows(cp.ts, ours[i], nfCompareOpts{Kind: "tshark-ours", Scope: cp.scope, TimeTol: tsharkTol})
		matched += m
		diffs = append(diffs, d...)
	}
	explained := kd.check(t, diffs)
	t.Logf("%d captures, %d datagrams through Kafka; kcat = kafka-go = the UDP payloads; %d records, %d flows matched tshark, %d listed differences", len(caps), sent, len(recs), matched, explained)
}
