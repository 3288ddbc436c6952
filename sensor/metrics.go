package sensor

import (
	"github.com/flowgate/flowgate/sensor/decode"
	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metrics: the counters of Stats, read once a scrape (Stats is
// atomic loads, so a scrape never waits for the packet path).
var (
	descPackets  = prometheus.NewDesc("flowgate_sensor_packets_total", "Frames the sensor processed.", nil, nil)
	descBytes    = prometheus.NewDesc("flowgate_sensor_bytes_total", "Wire bytes of the frames the sensor processed.", nil, nil)
	descBad      = prometheus.NewDesc("flowgate_sensor_undecoded_packets_total", "Frames that did not decode, by reason.", []string{"reason"}, nil)
	descDrops    = prometheus.NewDesc("flowgate_sensor_dropped_packets_total", "Frames lost before decoding: by the kernel (capture ring full) or by the sensor (every shard buffer busy).", []string{"by"}, nil)
	descKernRcvd = prometheus.NewDesc("flowgate_sensor_kernel_received_packets_total", "Frames the kernel received for the capture socket, dropped ones included.", nil, nil)
	descRecords  = prometheus.NewDesc("flowgate_sensor_records_total", "Flow records emitted.", nil, nil)
	descCreated  = prometheus.NewDesc("flowgate_sensor_flows_created_total", "Flows created in the flow tables.", nil, nil)
	descForced   = prometheus.NewDesc("flowgate_sensor_flows_forced_expired_total", "Flows expired early to keep the flow tables under the memory cap.", nil, nil)
	descActive   = prometheus.NewDesc("flowgate_sensor_active_flows", "Flows in the flow tables.", nil, nil)
	descMem      = prometheus.NewDesc("flowgate_sensor_table_memory_bytes", "Bytes the flow tables hold.", nil, nil)
	descShards   = prometheus.NewDesc("flowgate_sensor_shards", "Flow tables (one goroutine each when more than one).", nil, nil)
)

// Collector returns a prometheus.Collector of the sensor's counters.
func (s *Sensor) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Sensor }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descBytes, descBad, descDrops, descKernRcvd,
		descRecords, descCreated, descForced, descActive, descMem, descShards} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(descPackets, st.Packets)
	counter(descBytes, st.Bytes)
	for r := decode.Reason(1); r < decode.NumReasons; r++ {
		counter(descBad, st.Bad[r], r.String())
	}
	counter(descDrops, st.KernelDrops, "kernel")
	counter(descDrops, st.OurDrops, "sensor")
	if c.s.opt.KernelStats != nil {
		counter(descKernRcvd, st.KernelReceived)
	}
	counter(descRecords, st.Records)
	counter(descCreated, st.Created)
	counter(descForced, st.Forced)
	gauge(descActive, st.Active)
	gauge(descMem, st.MemBytes)
	gauge(descShards, int64(st.Shards))
}
