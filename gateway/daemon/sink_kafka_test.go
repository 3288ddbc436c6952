package daemon

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowgate/flowgate/codecs/jsonl"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/gateway/kafka"
)

func kafkaCluster(t testing.TB, topics ...string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func kafkaSinkCfg(addrs []string, topic string, o config.KafkaOptions, dialect string) config.Sink {
	return config.Sink{Endpoint: config.Endpoint{Text: "kafka://" + strings.Join(addrs, ",") + "/" + topic,
		Kind: config.KindKafka, Brokers: addrs, Topic: topic, Kafka: o}, Dialect: dialect}
}

// topicValues reads n messages of topic with a plain kgo client: their
// values and the headers of the first.
func topicValues(t testing.TB, addrs []string, topic string, n int) (vals []string, hdr map[string]string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	hdr = map[string]string{}
	for len(vals) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if len(vals) == 0 {
				for _, h := range r.Headers {
					hdr[h.Key] = string(h.Value)
				}
			}
			vals = append(vals, string(r.Value))
		})
	}
	return vals, hdr
}

// TestKafkaSink: the corpus's records reach the topic as the ecs
// dialect's JSON lines (as the jsonl writer prints them, a multiset), with
// the format and dialect headers; MARs are lost as not representable and
// nothing else is lost.
func TestKafkaSink(t *testing.T) {
	recs, _ := corpusArgus(t, "oracle/*/v5.argus")
	addrs := kafkaCluster(t, "sink-json", "sink-argus")
	want := map[string]int{}
	var b bytes.Buffer
	w, err := jsonl.NewWriter(&b, "ecs")
	if err != nil {
		t.Fatal(err)
	}
	mars, flows := 0, 0
	for i := range recs {
		if recs[i].Type == flow.TypeMgmt {
			mars++
			continue
		}
		flows++
		b.Reset()
		if err := w.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		want[b.String()]++
	}
	for _, format := range []string{"json", "argus"} {
		t.Run(format, func(t *testing.T) {
			topic := "sink-" + format
			dialect := ""
			if format == "json" {
				dialect = "ecs"
			}
			s, err := newKafkaSink(kafkaSinkCfg(addrs, topic, config.KafkaOptions{Format: format, Key: "flow", Spill: t.TempDir()}, dialect), Env{Pipeline: "p"})
			if err != nil {
				t.Fatal(err)
			}
			l := newTally()
			writeBatches(t, s, recs, 500, nil, 0, l)
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if len(l.recs) != mars || l.n[ReasonNotRepresentable] != mars {
				t.Fatalf("lost %v, want the %d MARs as not representable", l.n, mars)
			}
			vals, hdr := topicValues(t, addrs, topic, flows)
			if len(vals) != flows {
				t.Fatalf("%d messages, want %d", len(vals), flows)
			}
			if format == "argus" {
				if hdr[kafka.HeaderFormat] != kafka.FormatArgus5 {
					t.Fatalf("headers %v", hdr)
				}
				return
			}
			if hdr[kafka.HeaderFormat] != kafka.FormatJSON || hdr[kafka.HeaderDialect] != "ecs" {
				t.Fatalf("headers %v", hdr)
			}
			got := map[string]int{}
			for _, v := range vals {
				got[v]++
			}
			for line, n := range want {
				if got[line] != n {
					t.Fatalf("line %q: %d times in the topic, %d in the input", line, got[line], n)
				}
			}
		})
	}
}

func gather(t testing.TB, cs []prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	for _, c := range cs {
		reg.MustRegister(c)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out[mf.GetName()] = v
		}
	}
	return out
}

// TestKafkaSinkSpill: with the broker down the sink spills and is not
// ready (its metrics say so); closed, it keeps the records on disk; a sink
// started on the same spill with a broker drains them into the topic.
func TestKafkaSinkSpill(t *testing.T) {
	recs, _ := corpusArgus(t, "oracle/*/v5.argus")
	var flows []flow.Record
	for _, r := range recs {
		if r.Type != flow.TypeMgmt && len(flows) < 1000 {
			flows = append(flows, r)
		}
	}
	o := config.KafkaOptions{Format: "json", Spill: t.TempDir(), SpillAfter: time.Second}
	// A closed cluster's address: nothing listens there.
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	dead := c.ListenAddrs()
	c.Close()
	s, err := newKafkaSink(kafkaSinkCfg(dead, "spilled", o, ""), Env{Pipeline: "p"})
	t0 := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.(Readier).Ready(); err != nil {
		t.Fatalf("ready before any record: %v", err)
	}
	l := newTally()
	writeBatches(t, s, flows, 100, nil, 0, l)
	for end := time.Now().Add(5 * time.Second); s.(Readier).Ready() == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("not spilling 5 s after the writes")
		}
	}
	// Flush while spilling returns ErrSpilling at once while kgo still
	// holds records for the dead broker (they reach the spill after
	// SpillAfter): under load that is still so right after the writes.
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		err := s.Flush()
		if err == nil {
			break
		}
		if !errors.Is(err, kafka.ErrSpilling) || time.Now().After(end) {
			t.Fatal(err)
		}
	}
	if err := s.(Readier).Ready(); !errors.Is(err, kafka.ErrSpilling) {
		t.Fatalf("ready: %v, want ErrSpilling", err)
	}
	m := gather(t, s.(Collector).Collectors())
	if m["flowgate_sink_kafka_spilled_records_total"] != 1000 || m["flowgate_sink_kafka_spilling"] != 1 || m["flowgate_sink_kafka_spill_bytes"] == 0 {
		t.Fatalf("metrics %v", m)
	}
	t1 := time.Now()
	if err := s.Close(); err != nil || len(l.recs) != 0 {
		t.Fatalf("close: %v, lost %v", err, l.n)
	}
	t.Logf("spilling after %v; close with the broker away took %v", t1.Sub(t0), time.Since(t1))

	addrs := kafkaCluster(t, "spilled")
	s, err = newKafkaSink(kafkaSinkCfg(addrs, "spilled", o, ""), Env{Pipeline: "p"})
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(10 * time.Second); s.(Readier).Ready() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("still spilling: %v", s.(Readier).Ready())
		}
	}
	m = gather(t, s.(Collector).Collectors())
	if m["flowgate_sink_kafka_drained_records_total"] != 1000 || m["flowgate_sink_kafka_spill_bytes"] != 0 {
		t.Fatalf("metrics %v", m)
	}
	s.Close()
	if vals, _ := topicValues(t, addrs, "spilled", 1000); len(vals) != 1000 {
		t.Fatalf("%d messages in the topic, want 1000", len(vals))
	}
}
