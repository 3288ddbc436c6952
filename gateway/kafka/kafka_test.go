package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/jsonl"
	"github.com/flowgate/flowgate/flow"
)

var brokers []string

func TestMain(m *testing.M) {
	// One in-process broker; every test uses its own topic and group.
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "rt-argus5", "rt-json", "alo", "bad", "restart", "stop", "poison"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
	brokers = c.ListenAddrs()
	code := m.Run()
	c.Close()
	os.Exit(code)
}

// corpus holds N flow records read from real Argus 5 files, each with the
// record's bytes as the file has them.
type corpus struct {
	recs []flow.Record
	raw  [][]byte
}

func loadCorpus(t testing.TB, n int) *corpus {
	t.Helper()
	var files []string
	if dir := os.Getenv("FLOWGATE_CORPUS"); dir != "" {
		files, _ = filepath.Glob(filepath.Join(dir, "argus/oracle/*/v5.argus"))
	}
	if len(files) == 0 {
		files = []string{"../../testdata/sample.argus"}
	}
	c := &corpus{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := argus.NewReader(fh)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		d := r.NewRecordDecoder()
		for len(c.recs) < n {
			b, off, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var rec flow.Record
			if err := d.Decode(&rec, b, off); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if rec.Type == flow.TypeMgmt {
				continue
			}
			rec.Detach()
			c.recs = append(c.recs, rec)
			c.raw = append(c.raw, append([]byte(nil), b...))
		}
		fh.Close()
	}
	if len(c.recs) == 0 {
		t.Fatal("no flow records in the corpus")
	}
	// Repeat the corpus up to n: duplicates are fine, records are compared
	// as a multiset.
	for i := 0; len(c.recs) < n; i++ {
		c.recs = append(c.recs, c.recs[i])
		c.raw = append(c.raw, c.raw[i])
	}
	return c
}

// argusBytes encodes one record as bare Argus 5 bytes (no MAR).
type argusEnc struct {
	buf bytes.Buffer
	w   *argus.Writer
	mar bool
}

func (e *argusEnc) encode(t testing.TB, r *flow.Record) string {
	if e.w == nil {
		var err error
		if e.w, err = argus.NewWriter(&e.buf, 5); err != nil {
			t.Fatal(err)
		}
	}
	e.buf.Reset()
	if err := e.w.Encode(r); err != nil {
		t.Fatal(err)
	}
	if err := e.w.Flush(); err != nil {
		t.Fatal(err)
	}
	b := e.buf.Bytes()
	if !e.mar {
		b, e.mar = b[128:], true
	}
	return string(b)
}

type jsonEnc struct {
	buf bytes.Buffer
	w   *jsonl.Writer
}

func (e *jsonEnc) encode(t testing.TB, r *flow.Record) string {
	if e.w == nil {
		var err error
		if e.w, err = jsonl.NewWriter(&e.buf, "argus"); err != nil {
			t.Fatal(err)
		}
	}
	e.buf.Reset()
	if err := e.w.Encode(r); err != nil {
		t.Fatal(err)
	}
	if err := e.w.Flush(); err != nil {
		t.Fatal(err)
	}
	return e.buf.String()
}

func produce(t testing.TB, cfg ProducerConfig, recs []flow.Record) ProducerStats {
	t.Helper()
	cfg.Brokers = brokers
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < len(recs); i += 1000 {
		if err := p.Produce(ctx, recs[i:min(i+1000, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return p.Stats()
}

// consume runs a consumer until want records have been handed over
// successfully (or 15 s pass) and returns its stats. h sees every call.
func consume(t testing.TB, topic, group string, want int, h Handler) (ConsumerStats, error) {
	t.Helper()
	c, err := NewConsumer(ConsumerConfig{Brokers: brokers, Topic: topic, Group: group, Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.OnError(func(e *MessageError) { t.Errorf("malformed: %v", e) })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var got atomic.Int64
	err = c.Run(ctx, func(ctx context.Context, recs []flow.Record) error {
		if err := h(ctx, recs); err != nil {
			return err
		}
		if got.Add(int64(len(recs))) >= int64(want) {
			cancel()
		}
		return nil
	})
	return c.Stats(), err
}

func TestRoundTrip(t *testing.T) {
	const n = 10000
	c := loadCorpus(t, n)
	for _, tc := range []struct {
		format string
		key    Keying
		comp   string
	}{
		{FormatArgus5, KeyFlow, "lz4"},
		{FormatJSON, KeyExporter, "zstd"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			topic := "rt-" + tc.format
			// want: the input as a multiset of texts. Argus: the corpus
			// file's own record bytes, which the consumed records must
			// encode back to. JSON: the argus dialect's line of the input.
			want := map[string]int{}
			var je jsonEnc
			for i := range c.recs {
				if tc.format == FormatArgus5 {
					want[string(c.raw[i])]++
				} else {
					want[je.encode(t, &c.recs[i])]++
				}
			}
			t0 := time.Now()
			ps := produce(t, ProducerConfig{Topic: topic, Format: tc.format, Dialect: "argus",
				MappingVersion: "test-1", Key: tc.key, Compression: tc.comp, Linger: 5 * time.Millisecond}, c.recs)
			tp := time.Since(t0)
			if ps != (ProducerStats{Produced: n}) {
				t.Fatalf("producer stats %+v, want %d produced and nothing else", ps, n)
			}
			var ae argusEnc
			var je2 jsonEnc
			got := 0
			t1 := time.Now()
			cs, err := consume(t, topic, "g-"+topic, n, func(_ context.Context, recs []flow.Record) error {
				for i := range recs {
					var s string
					if tc.format == FormatArgus5 {
						s = ae.encode(t, &recs[i])
					} else {
						s = je2.encode(t, &recs[i])
					}
					if want[s] == 0 {
						t.Errorf("record %d: not in the input (or a duplicate): %q", got, s)
					}
					want[s]--
					got++
				}
				return nil
			})
			tc := time.Since(t1)
			if err != nil {
				t.Fatal(err)
			}
			if got != n || cs.Records != n || cs.Malformed != 0 || cs.Retries != 0 {
				t.Fatalf("consumed %d records, stats %+v; want %d", got, cs, n)
			}
			for s, k := range want {
				if k != 0 {
					t.Fatalf("record count off by %d: %q", k, s)
				}
			}
			t.Logf("%d records: produce %v (%.0f rec/s), consume %v (%.0f rec/s)",
				n, tp, n/tp.Seconds(), tc, n/tc.Seconds())
		})
	}
}

// TestAtLeastOnce: a handler error means the batch comes again, in place
// (Retries) or, when the consumer gives up, to the next group member,
// since nothing of it was committed.
func TestAtLeastOnce(t *testing.T) {
	const n = 2000
	c := loadCorpus(t, n)
	topic := "alo"
	produce(t, ProducerConfig{Topic: topic, Format: FormatArgus5, Key: KeyFlow}, c.recs)

	// A handler that fails once: the records are handed over again.
	var calls, seen int
	var once sync.Once
	cs, err := consume(t, topic, "alo-1", n, func(_ context.Context, recs []flow.Record) error {
		calls++
		fail := false
		once.Do(func() { fail = true })
		seen += len(recs)
		if fail {
			return errors.New("sink down")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cs.Retries != 1 || cs.Records != n || seen <= n {
		t.Fatalf("stats %+v, %d records seen in %d calls; want 1 retry, %d records and some seen twice", cs, seen, calls, n)
	}
	t.Logf("redelivered %d records in 1 retry", seen-n)

	// A consumer whose handler always fails gives up without committing;
	// the next member of its group gets every record.
	cs, err = consume(t, topic, "alo-2", n, func(context.Context, []flow.Record) error { return errors.New("sink down") })
	if !errors.Is(err, ErrHandler) || cs.Records != 0 {
		t.Fatalf("err %v, stats %+v; want ErrHandler and nothing handed over", err, cs)
	}
	got := 0
	cs, err = consume(t, topic, "alo-2", n, func(_ context.Context, recs []flow.Record) error {
		got += len(recs)
		return nil
	})
	if err != nil || got != n || cs.Records != n {
		t.Fatalf("second member: %d records, stats %+v, err %v; want %d", got, cs, err, n)
	}
}

// TestMalformed: messages that are not ours are counted with where they
// are, committed, and do not stop the records after them.
func TestMalformed(t *testing.T) {
	c := loadCorpus(t, 10)
	topic := "bad"
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: topic, Format: FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Produce(ctx, c.recs); err != nil {
		t.Fatal(err)
	}
	// Bad messages through the same client: no header, a truncated Argus
	// record, JSON that is not.
	for _, m := range []struct{ format, value string }{
		{"", "x"}, {FormatArgus5, "\x10\x00\x00\x10abc"}, {FormatJSON, `{"saddr":`}, {FormatJSON, "{}"},
	} {
		kr := newRecord(m.format, m.value)
		p.cl.Produce(ctx, kr, p.promise)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cons, err := NewConsumer(ConsumerConfig{Brokers: brokers, Topic: topic, Group: "bad"})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var errs []*MessageError
	cons.OnError(func(e *MessageError) { errs = append(errs, e) })
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got := 0
	cons.Run(rctx, func(_ context.Context, recs []flow.Record) error {
		got += len(recs)
		if cons.Stats().Messages >= 14 {
			cancel()
		}
		return nil
	})
	if got != 11 || len(errs) != 3 || cons.Stats().Malformed != 3 {
		t.Fatalf("got %d records, errors %v; want 11 (10 and an empty object) and 3", got, errs)
	}
	for _, e := range errs {
		if e.Topic != topic || e.Offset < 0 || e.Err == nil {
			t.Errorf("error without its place: %v", e)
		}
	}
}

func newRecord(format, value string) *kgo.Record {
	kr := &kgo.Record{Value: []byte(value)}
	if format != "" {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: HeaderFormat, Value: []byte(format)})
	}
	if format == FormatJSON {
		// Same headers as the good messages: the bad one falls in their
		// run, which is then decoded message by message.
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: HeaderDialect, Value: []byte("argus")})
	}
	return kr
}
