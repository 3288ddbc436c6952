package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sample is one line of the Prometheus text format.
type sample struct {
	name, labels string
	v            float64
}

func scrape(url string) ([]sample, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	var out []sample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], name[i:]
		}
		out = append(out, sample{name, labels, v})
	}
	return out, sc.Err()
}

func sum(ss []sample, name string) float64 {
	var t float64
	for _, s := range ss {
		if s.name == name {
			t += s.v
		}
	}
	return t
}

// cmdMetrics scrapes a gateway's /metrics and prints its record counters
// summed over labels, and every non-zero loss counter with its labels.
// With -wait-sink N it first polls until the sinks have written N records
// (-wait-metric) and reports how long that took from the start and from
// the first record.
func cmdMetrics(args []string) error {
	fs := flag.NewFlagSet("metrics", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:9800/metrics", "metrics `URL`")
	wait := fs.Float64("wait-sink", 0, "poll until the -wait-metric sum reaches this")
	waitMetric := fs.String("wait-metric", "flowgate_sink_records_total",
		"counter -wait-sink polls (a kafka:// sink's records are in the topic at flowgate_sink_kafka_produced_records_total)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up waiting after this long")
	settle := fs.Duration("settle", 3*time.Second, "stop waiting short of -wait-sink once the counter has reached the sinks' records and not moved for this long")
	fs.Parse(args)
	v := map[string]any{"cmd": "metrics"}
	start := time.Now()
	var ss []sample
	var err error
	if *wait > 0 {
		var first, moved time.Time
		var firstN, lastN float64
		for {
			ss, err = scrape(*url)
			if err == nil {
				n := sum(ss, *waitMetric)
				if n > 0 && first.IsZero() {
					first, firstN = time.Now(), n
				}
				if n >= *wait {
					break
				}
				if n != lastN || moved.IsZero() {
					lastN, moved = n, time.Now()
				} else if n > 0 && n >= sum(ss, "flowgate_sink_records_total") && time.Since(moved) > *settle {
					// Every record the sinks took is through and
					// nothing moved for a while: the rest was lost
					// before (the counters say where).
					v["settled"] = true
					break
				}
			}
			if time.Since(start) > *timeout {
				v["timeout"] = true
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		done := time.Now()
		if v["settled"] == true {
			done = moved
		}
		v["wait_s"] = round3(done.Sub(start).Seconds())
		if !first.IsZero() {
			// From the first scrape that saw records (±50 ms).
			v["first_to_done_s"] = round3(done.Sub(first).Seconds())
			v["first_seen"] = firstN
		}
	} else {
		ss, err = scrape(*url)
	}
	if err != nil {
		return err
	}
	for _, name := range []string{"flowgate_source_records_total", "flowgate_source_raw_messages_total",
		"flowgate_pipeline_filtered_records_total", "flowgate_sink_records_total"} {
		v[strings.TrimPrefix(name, "flowgate_")] = sum(ss, name)
	}
	for _, s := range ss {
		// A Kafka client's own counters, summed over sinks or sources.
		if strings.HasPrefix(s.name, "flowgate_sink_kafka_") || strings.HasPrefix(s.name, "flowgate_source_kafka_") {
			k := strings.TrimPrefix(s.name, "flowgate_")
			f, _ := v[k].(float64)
			v[k] = f + s.v
		}
	}
	var lost []string
	for _, s := range ss {
		if s.v != 0 && (strings.Contains(s.name, "dropped") || strings.Contains(s.name, "errors_total") ||
			strings.Contains(s.name, "failed") || strings.Contains(s.name, "spill")) {
			lost = append(lost, fmt.Sprintf("%s%s %g", s.name, s.labels, s.v))
		}
	}
	v["nonzero_loss_counters"] = lost
	report(v)
	if v["timeout"] == true {
		return errors.New("timed out waiting for the sinks")
	}
	return nil
}
