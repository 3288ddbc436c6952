package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The daemon's own metrics, named flowgate_<stage>_<what>_total as
// goflow2 and Akvorado name theirs. Components add their own (the
// sensor's flowgate_sensor_*, a Kafka client's).
var (
	descSrcRecords = prometheus.NewDesc("flowgate_source_records_total",
		"Records a source handed to its pipeline.", []string{"pipeline", "source"}, nil)
	descSrcRaw = prometheus.NewDesc("flowgate_source_raw_messages_total",
		"Export messages a source handed as received to its pipeline's raw-datagram sinks.", []string{"pipeline", "source"}, nil)
	descSrcRestarts = prometheus.NewDesc("flowgate_source_restarts_total",
		"Times a source failed and was run again.", []string{"pipeline", "source"}, nil)
	descSrcLostMsgs = prometheus.NewDesc("flowgate_source_dropped_messages_total",
		"Export messages (datagrams, sets) a source could not turn into records, by reason and exporter.",
		[]string{"pipeline", "source", "exporter", "reason"}, nil)
	descSrcLost = prometheus.NewDesc("flowgate_source_dropped_records_total",
		"Records lost between a source and its pipeline (queue_full: the source's queue was full, or the pipeline was stopping), or by the source itself.",
		[]string{"pipeline", "source", "exporter", "reason"}, nil)
	descFiltered = prometheus.NewDesc("flowgate_pipeline_filtered_records_total",
		"Records the pipeline's filter did not pass (not a loss: the config asked for it).", []string{"pipeline"}, nil)
	descSinkRecords = prometheus.NewDesc("flowgate_sink_records_total",
		"Records a sink wrote (export messages for a format=raw sink).", []string{"pipeline", "sink"}, nil)
	descSinkLost = prometheus.NewDesc("flowgate_sink_dropped_records_total",
		"Records that did not reach a sink, by reason (queue_full, not_representable, sink_error), the source they came from and their exporter.",
		[]string{"pipeline", "sink", "source", "exporter", "reason"}, nil)
	descSinkErrors = prometheus.NewDesc("flowgate_sink_errors_total",
		"Failed writes, flushes and closes of a sink.", []string{"pipeline", "sink"}, nil)
	descQueue = prometheus.NewDesc("flowgate_queue_records",
		"Records waiting in a stage's queue.", []string{"pipeline", "stage", "name"}, nil)
	descQueueCap = prometheus.NewDesc("flowgate_queue_capacity_records",
		"The bound of a stage's queue.", []string{"pipeline", "stage", "name"}, nil)
	descReady = prometheus.NewDesc("flowgate_gateway_ready",
		"1 when every component is up (what /readyz says).", nil, nil)
	descReloads = prometheus.NewDesc("flowgate_gateway_reloads_total",
		"Config reloads (SIGHUP), by result.", []string{"result"}, nil)
)

type collector struct{ d *Daemon }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSrcRecords, descSrcRaw, descSrcRestarts, descSrcLostMsgs, descSrcLost, descFiltered,
		descSinkRecords, descSinkLost, descSinkErrors, descQueue, descQueueCap, descReady, descReloads} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	// Counters of a component are summed with those of its retired
	// predecessors (same pipeline and name) so that none goes backwards
	// across a reload.
	type id struct{ pipeline, name string }
	type key3 struct {
		id
		source   string
		exporter string
		reason   Reason
	}
	srcRec := map[id]uint64{}
	srcRestarts := map[id]uint64{}
	srcRaw := map[id]uint64{}
	srcLost := map[key3]uint64{}
	srcMsgs := map[key3]uint64{}
	snkRec := map[id]uint64{}
	snkErr := map[id]uint64{}
	snkLost := map[key3]uint64{}
	addLost := func(m map[key3]uint64, i id, l map[lossKey]uint64) {
		for k, v := range l {
			m[key3{i, k.source, exporterLabel(k.exporter), k.reason}] += v
		}
	}
	// A source's own losses: records, or messages (datagrams, packets).
	addOwn := func(i id, ls []Loss) {
		for _, l := range ls {
			k := key3{i, "", l.Exporter, l.Reason}
			if l.Unit == "records" {
				srcLost[k] += l.N
			} else {
				srcMsgs[k] += l.N
			}
		}
	}
	d.mu.RLock()
	for _, r := range d.retired {
		i := id{r.pipeline, r.name}
		if r.stage == "source" {
			srcRec[i] += r.records
			srcRestarts[i] += r.restarts
			srcRaw[i] += r.raw
			addLost(srcLost, i, r.lost)
			addOwn(i, r.srcLost)
		} else {
			snkRec[i] += r.written
			addLost(snkLost, i, r.lost)
		}
	}
	for _, s := range d.sources {
		i := id{s.pipeline, s.name}
		srcRec[i] += s.emitted.Load()
		s.errMu.Lock()
		srcRestarts[i] += s.restarts
		s.errMu.Unlock()
		srcRaw[i] += s.rawMsgs.Load()
		addLost(srcLost, i, s.lost.snapshot())
		addOwn(i, s.src.Stats().Lost)
		gauge(descQueue, float64(s.q.len()), s.pipeline, "source", s.name)
		gauge(descQueueCap, float64(s.q.max), s.pipeline, "source", s.name)
	}
	for _, s := range d.sinks {
		i := id{s.pipeline, s.name}
		snkRec[i] += s.written.Load()
		snkErr[i] += s.errors.Load()
		addLost(snkLost, i, s.lost.snapshot())
		gauge(descQueue, float64(s.q.len()), s.pipeline, "sink", s.name)
		gauge(descQueueCap, float64(s.q.max), s.pipeline, "sink", s.name)
	}
	for name, f := range d.filtered {
		counter(descFiltered, f.Load(), name)
	}
	d.mu.RUnlock()
	for i, v := range srcRec {
		counter(descSrcRecords, v, i.pipeline, i.name)
	}
	for i, v := range srcRaw {
		if v > 0 {
			counter(descSrcRaw, v, i.pipeline, i.name)
		}
	}
	for i, v := range srcRestarts {
		counter(descSrcRestarts, v, i.pipeline, i.name)
	}
	for k, v := range srcLost {
		counter(descSrcLost, v, k.pipeline, k.name, k.exporter, string(k.reason))
	}
	for k, v := range srcMsgs {
		counter(descSrcLostMsgs, v, k.pipeline, k.name, k.exporter, string(k.reason))
	}
	for i, v := range snkRec {
		counter(descSinkRecords, v, i.pipeline, i.name)
	}
	for i, v := range snkErr {
		counter(descSinkErrors, v, i.pipeline, i.name)
	}
	for k, v := range snkLost {
		counter(descSinkLost, v, k.pipeline, k.name, k.source, k.exporter, string(k.reason))
	}
	ready := 0.0
	if d.Ready() == nil {
		ready = 1
	}
	gauge(descReady, ready)
	counter(descReloads, d.reloads[0].Load(), "ok")
	counter(descReloads, d.reloads[1].Load(), "failed")
}

// metricDef is one of a component's own metrics.
type metricDef struct {
	name, help string
	gauge      bool
}

// componentCollector serves a component's own counters and gauges (an
// argus:// client's, a Kafka producer's...). Its descriptors carry the
// pipeline and component as constant labels, so that two components of a
// kind register as two collectors; read gives the values, in defs'
// order, at each scrape.
type componentCollector struct {
	descs []*prometheus.Desc
	types []prometheus.ValueType
	read  func() []float64
}

func newComponentCollector(labels prometheus.Labels, defs []metricDef, read func() []float64) *componentCollector {
	c := &componentCollector{read: read}
	for _, m := range defs {
		c.descs = append(c.descs, prometheus.NewDesc(m.name, m.help, nil, labels))
		t := prometheus.CounterValue
		if m.gauge {
			t = prometheus.GaugeValue
		}
		c.types = append(c.types, t)
	}
	return c
}

func (c *componentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *componentCollector) Collect(ch chan<- prometheus.Metric) {
	for i, v := range c.read() {
		ch <- prometheus.MustNewConstMetric(c.descs[i], c.types[i], v)
	}
}

// b2f is a gauge of a condition.
func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
