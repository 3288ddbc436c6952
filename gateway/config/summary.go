package config

import (
	"fmt"
	"strings"
)

// Summary is what `flowgate gateway --check` prints: each pipeline as
// sources → filter → mapping → sinks, and where metrics are served.
func (c *Config) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: version %d, %d pipeline(s)\n", c.Name, c.Version, len(c.Pipelines))
	if c.Metrics != "" {
		fmt.Fprintf(&b, "metrics on http://%s/metrics, /healthz, /readyz\n", c.Metrics)
	}
	for _, p := range c.Pipelines {
		fmt.Fprintf(&b, "pipeline %q (queues %s)\n", p.Name, p.Queue)
		for _, s := range p.Sources {
			fmt.Fprintf(&b, "  source  %s%s\n", s.Describe(RoleSource), queueNote(s.Queue, p.Queue))
		}
		if p.Filter != "" {
			fmt.Fprintf(&b, "  filter  %s\n", p.Filter)
		} else {
			b.WriteString("  filter  (none: every record)\n")
		}
		switch {
		case p.Map == nil:
			b.WriteString("  mapping (none: each codec's built-in)\n")
		case p.MappingAt == p.Mapping && p.Map.Name != p.Mapping:
			fmt.Fprintf(&b, "  mapping %s (built-in, schema %s, %d rules)\n", p.Mapping, p.Map.Schema, len(p.Map.Rules))
		default:
			fmt.Fprintf(&b, "  mapping %s (schema %s, %d rules)\n", p.MappingAt, p.Map.Schema, len(p.Map.Rules))
		}
		for _, s := range p.Sinks {
			rot := ""
			if s.Rotate.Every > 0 || s.Rotate.Size > 0 {
				rot = " " + s.Rotate.String()
			}
			fmt.Fprintf(&b, "  sink    %s%s%s\n", s.Describe(RoleSink), rot, queueNote(s.Queue, p.Queue))
		}
	}
	return b.String()
}

func (q Queue) String() string { return fmt.Sprintf("%d records, when full %s", q.Size, q.WhenFull) }

func queueNote(q, def Queue) string {
	if q == def {
		return ""
	}
	return " [queue " + q.String() + "]"
}

// String is "rotate every 1h0m0s or 1073741824 bytes" in words a user
// reads back against the file.
func (r Rotate) String() string {
	var parts []string
	if r.Every > 0 {
		parts = append(parts, "every "+r.Every.String())
	}
	if r.Size > 0 {
		parts = append(parts, "at "+sizeText(r.Size))
	}
	return "rotated " + strings.Join(parts, " or ")
}

func sizeText(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n%u.m == 0 {
			return fmt.Sprintf("%d%s", n/u.m, u.s)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// Describe says what the endpoint does in role, in one line.
func (e Endpoint) Describe(role Role) string {
	switch e.Kind {
	case KindSensor:
		if e.Iface == "" {
			return "sensor: capture in-process"
		}
		return "sensor: capture on " + e.Iface
	case KindArgus:
		if role == RoleSource {
			return "argus://" + e.Addr + ": pull Argus records, reconnecting"
		}
		v := e.ArgusVersion
		if v == 0 {
			v = 5
		}
		return fmt.Sprintf("%s: serve Argus %d records to ra clients on tcp %s", e.Text, v, e.Addr)
	case KindKafka:
		verb := "produce to"
		if role == RoleSource {
			verb = "consume (group " + e.Kafka.Group + ") from"
		}
		return fmt.Sprintf("%s: %s topic %s on %s as %s, key %s", e.Text, verb, e.Topic, strings.Join(e.Brokers, ","), e.Kafka.Format, e.Kafka.Key)
	case KindNetFlow:
		if role == RoleSource {
			return fmt.Sprintf("%s: listen on %s %s", e.Net, e.Net.Transport, e.Net.Addr)
		}
		return fmt.Sprintf("%s: export to %s %s", e.Net, e.Net.Transport, e.Net.Addr)
	}
	f := string(e.Net.Format)
	if f == "" {
		f = "auto-detected format"
	}
	if e.Net.IsStdio() {
		if role == RoleSource {
			return e.Text + ": " + f + " on stdin"
		}
		return e.Text + ": " + f + " on stdout"
	}
	return e.Text + ": " + f + " file " + e.Net.Path
}
