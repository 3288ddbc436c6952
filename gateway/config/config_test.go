package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow/filter"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/mappings"
)

// TestLoadGood: every kind of source and sink, per-stage queues, rotation,
// a filter and a user mapping, read back as the file says.
func TestLoadGood(t *testing.T) {
	c, err := LoadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 1 || len(c.Pipelines) != 2 {
		t.Fatalf("version %d, %d pipelines", c.Version, len(c.Pipelines))
	}
	p := c.Pipelines[0]
	if p.Name != "edge" || p.Queue != (Queue{Size: 4096, WhenFull: Block}) {
		t.Errorf("pipeline %q queue %v", p.Name, p.Queue)
	}
	type src struct {
		kind Kind
		q    Queue
	}
	want := []src{
		{KindNetFlow, Queue{4096, Block}},
		{KindNetFlow, Queue{4096, Drop}}, // when_full overridden, size inherited
		{KindArgus, Queue{4096, Block}},
		{KindSensor, Queue{4096, Block}},
		{KindKafka, Queue{4096, Block}},
		{KindFile, Queue{4096, Block}},
	}
	if len(p.Sources) != len(want) {
		t.Fatalf("%d sources", len(p.Sources))
	}
	for i, w := range want {
		s := p.Sources[i]
		if s.Kind != w.kind || s.Queue != w.q {
			t.Errorf("source %d %s: kind %v queue %v, want %+v", i, s.Text, s.Kind, s.Queue, w)
		}
	}
	if s := p.Sources[0]; s.Net.Opts.Workers != 2 || s.Net.Addr != ":2055" || s.Pos.Line != 6 || s.Pos.Col != 9 {
		t.Errorf("nf source %+v at %v", s.Net, s.Pos)
	}
	if s := p.Sources[2]; s.Addr != "sensor.example:561" {
		t.Errorf("argus source addr %q", s.Addr)
	}
	if s := p.Sources[3]; s.Iface != "eth0" {
		t.Errorf("sensor iface %q", s.Iface)
	}
	k := p.Sources[4]
	if strings.Join(k.Brokers, ",") != "k1:9092,[::1]:9093" || k.Topic != "flows-raw" ||
		k.Kafka != (KafkaOptions{Format: "raw", Key: "exporter", Group: "gw"}) {
		t.Errorf("kafka source %v %q %+v", k.Brokers, k.Topic, k.Kafka)
	}
	if p.Sources[5].Net.Format != gateway.FormatZeek {
		t.Errorf("zeek source format %q", p.Sources[5].Net.Format)
	}
	if p.Filter != "tcp and dst port 443" || p.Compiled == nil {
		t.Errorf("filter %q", p.Filter)
	}
	if p.Map == nil || p.Map.Schema != "json" || p.Map.Dialect != "mine" || p.MappingAt != "testdata/user-mapping.yaml" {
		t.Errorf("mapping %q at %q: %+v", p.Mapping, p.MappingAt, p.Map)
	}
	if len(p.Sinks) != 4 {
		t.Fatalf("%d sinks", len(p.Sinks))
	}
	if s := p.Sinks[0]; !s.Net.IsStdio() || s.Net.Format != gateway.FormatJSON {
		t.Errorf("stdout sink %+v", s)
	}
	if s := p.Sinks[1]; s.Rotate != (Rotate{Every: 15 * time.Minute, Size: 512 << 20}) ||
		s.Queue != (Queue{100000, Block}) || s.Net.Path != "data/edge.argus" {
		t.Errorf("rotated sink %+v", s)
	}
	if s := p.Sinks[2]; s.Kind != KindKafka || s.Kafka != (KafkaOptions{Format: "json", Key: "flow"}) {
		t.Errorf("kafka sink %+v", s.Kafka)
	}
	if s := p.Sinks[3]; s.Kind != KindNetFlow || s.Net.Addr != "10.0.0.9:4739" {
		t.Errorf("ipfix sink %+v", s)
	}
	a := c.Pipelines[1]
	if a.Map == nil || a.MappingAt != "json-goflow2" || !a.Map.OneWay || a.Queue != (Queue{DefaultQueueSize, Block}) {
		t.Errorf("archive: mapping %q %+v queue %v", a.MappingAt, a.Map, a.Queue)
	}
}

// TestLoadErrors: one file with every kind of error; all are reported at
// once, in file order, each with file:line:col (counted by hand in
// testdata/bad.yaml) and the path inside the file.
func TestLoadErrors(t *testing.T) {
	_, err := LoadFile("testdata/bad.yaml")
	want := `testdata/bad.yaml:4:5: pipelines[0].colour: unknown key: "colour" (want one of name, sources, filter, mapping, sinks, queue)
testdata/bad.yaml:7:9: pipelines[0].sources[1]: bad endpoint: "nf+udp://:99999": port "99999" is not a number from 0 to 65535
testdata/bad.yaml:8:9: pipelines[0].sources[2]: endpoint not usable here: "json:-": json is written, not read: it is a sink format
testdata/bad.yaml:9:9: pipelines[0].sources[3]: bad endpoint: "argus://:561": argus:// needs the sensor's host
testdata/bad.yaml:10:9: pipelines[0].sources[4]: bad endpoint: "kafka://k1:9092/bad topic": topic "bad topic": Kafka topic names use only letters, digits, '.', '_' and '-'
testdata/bad.yaml:11:19: pipelines[0].sources[5].endpoint: bad endpoint: "kafka://k1:9092/t?format=xml": format="xml": want json, argus or raw
testdata/bad.yaml:12:23: pipelines[0].sources[5].queue.size: wrong type: want an integer, have scalar "many"
testdata/bad.yaml:13:9: pipelines[0].sources[6].endpoint: missing key: the source's endpoint
testdata/bad.yaml:14:21: pipelines[0].filter: bad filter: "tcp and prot 443": offset 8: unknown host "prot"
testdata/bad.yaml:15:14: pipelines[0].mapping: bad mapping: "nosuch.yaml" is neither a built-in mapping (csv-argus, csv-nfdump, ipfix, json-argus, json-ecs, json-goflow2, json-nfdump, netflow9, zeek-conn) nor a file (testdata/nosuch.yaml not found)
testdata/bad.yaml:16:19: pipelines[0].queue.size: bad value: 0: want records from 1 to 67108864
testdata/bad.yaml:16:33: pipelines[0].queue.when_full: bad value: "later": want block or drop
testdata/bad.yaml:19:17: pipelines[0].sinks[0].rotate: endpoint not usable here: only file sinks rotate, not "argus+tcp://:561"
testdata/bad.yaml:21:25: pipelines[0].sinks[1].rotate.every: bad value: "10ms": want a duration of 1s or more (30s, 5m, 1h)
testdata/bad.yaml:21:37: pipelines[0].sinks[1].rotate.size: bad value: "12": want a size of 1M or more (suffix K, M or G)
testdata/bad.yaml:22:9: pipelines[0].sinks[2]: endpoint not usable here: "sensor": the sensor captures packets: it is a source
testdata/bad.yaml:23:9: pipelines[0].sinks[3]: endpoint not usable here: "data.bin": a sink file needs its format: argus:data.bin, json:data.bin, zeek:data.bin ...
testdata/bad.yaml:24:9: pipelines[0].sinks[4]: endpoint not usable here: "argus://collector:561": argus://host:port pulls from a sensor: it is a source (serve ra clients with argus+tcp://[host]:port)
testdata/bad.yaml:25:5: pipelines[1]: duplicate: pipeline "edge" already defined at 3:5
testdata/bad.yaml:26:15: pipelines[1].sources[0]: duplicate: ipfix+udp://:2055 listens where nf+udp://:2055 (6:9) already does
testdata/bad.yaml:26:34: pipelines[1].sources[1]: duplicate: nf+udp://:2055 listens where nf+udp://:2055 (6:9) already does
testdata/bad.yaml:27:21: pipelines[1].filter: bad filter: "udp and": offset 7: unexpected end of expression
testdata/bad.yaml:28:14: pipelines[1].mapping: bad mapping: "bad-mapping.yaml": testdata/bad-mapping.yaml:6:5: fields[0].colour: unknown key: "colour" (want one of external, canonical, convert, default, direction, drop, note)
	testdata/bad-mapping.yaml:5:16: fields[0].canonical: unknown canonical field: "nosuchfield" is not in flow/fields.csv
testdata/bad.yaml:29:12: pipelines[1].sinks: missing key: the list is empty
testdata/bad.yaml:30:5: pipelines[2].name: missing key: every pipeline has a name (it labels its metrics)
testdata/bad.yaml:30:14: pipelines[2].sources: wrong type: want a list, have scalar "argus:x"
testdata/bad.yaml:33:17: pipelines[2].sinks[0].rotate: missing key: rotate by every:, size: or both
testdata/bad.yaml:33:17: pipelines[2].sinks[0].rotate: endpoint not usable here: only file sinks rotate, not "json:-"`
	if err == nil {
		t.Fatal("no error")
	}
	if got := err.Error(); got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, g, w)
			}
		}
	}
	for _, s := range []error{ErrUnknownKey, ErrEndpoint, ErrRole, ErrType, ErrMissing, ErrFilter, ErrMapping, ErrValue, ErrDuplicate} {
		if !errors.Is(err, s) {
			t.Errorf("errors.Is(err, %v) = false", s)
		}
	}
	// The causes found by other packages stay reachable.
	var se *filter.SyntaxError
	if !errors.As(err, &se) || se.Offset != 8 || !errors.Is(err, filter.ErrUnknownName) {
		t.Errorf("filter cause: %v", se)
	}
	if !errors.Is(err, mappings.ErrUnknownKey) || !errors.Is(err, mappings.ErrUnknownField) {
		t.Error("mapping causes not reachable")
	}
	var es Errors
	if !errors.As(err, &es) || len(es) != 28 {
		t.Fatalf("Errors: %d", len(es))
	}
	if e := es[8]; e.File != "testdata/bad.yaml" || e.Line != 14 || e.Col != 21 || e.Path != "pipelines[0].filter" {
		t.Errorf("filter error at %+v", e.Pos)
	}
}

// TestLoadFileErrors: errors about the file as a whole.
func TestLoadFileErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "", `c.yaml:1:1: missing key: empty file (a config starts with version: 1)`},
		// yaml.v3 gives no column, and for a parser (not scanner) error
		// the 0-based line of the construct that is not closed: the '['
		// is on line 3. Its number is kept as it is.
		{"syntax", "version: 1\npipelines:\n  - name: [x\n", `c.yaml:2:1: yaml syntax: line 2: did not find expected ',' or ']'`},
		{"tab", "version: 1\n\tpipelines: []\n", `c.yaml:2:1: yaml syntax: line 2: found a tab character that violates indentation`},
		{"version", "version: 2\npipelines: []\n", "c.yaml:1:10: version: unsupported version: 2 (this flowgate reads version 1)\nc.yaml:2:12: pipelines: missing key: the list is empty"},
		{"no version", "pipelines:\n  - {name: a, sources: [sensor], sinks: [json:-]}\n", `c.yaml:1:1: version: missing key: a config starts with version: 1`},
		{"version type", "version: one\npipelines: {}\n", "c.yaml:1:10: version: wrong type: want an integer, have scalar \"one\"\nc.yaml:2:12: pipelines: wrong type: want a list, have a mapping"},
		{"top list", "- 1\n", `c.yaml:1:1: wrong type: want a mapping, have a list`},
		{"dup key", "version: 1\nversion: 1\npipelines: []\n", `c.yaml:2:1: version: duplicate: key "version" given twice` + "\nc.yaml:3:12: pipelines: missing key: the list is empty"},
		{"udp and tcp on one port", "version: 1\npipelines:\n  - {name: a, sources: [nf+udp://:2055, ipfix+tcp://:2055], sinks: [argus+tcp://:561]}\n", ""},
		{"tcp port twice", "version: 1\npipelines:\n  - {name: a, sources: [ipfix+tcp://:561], sinks: [argus+tcp://:561]}\n",
			`c.yaml:3:52: pipelines[0].sinks[0]: duplicate: argus+tcp://:561 listens where ipfix+tcp://:561 (3:25) already does`},
		{"sink twice", "version: 1\npipelines:\n  - {name: a, sources: [nf+udp://:2055], sinks: [json:x.json, json:x.json]}\n",
			`c.yaml:3:63: pipelines[0].sinks[1]: duplicate: sink json:x.json given twice in pipeline "a"`},
		{"one file, two pipelines", "version: 1\npipelines:\n  - {name: a, sources: [nf+udp://:2055], sinks: [json:x.json]}\n  - {name: b, sources: [nf+udp://:2056], sinks: ['csv:./x.json']}\n",
			`c.yaml:4:50: pipelines[1].sinks[0]: duplicate: csv:./x.json writes the file json:x.json (3:50) writes`},
	} {
		_, err := Load("c.yaml", []byte(tc.text), ".")
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// TestDefault: the embedded default validates and is what issue 6 says
// `make run` starts: NetFlow/IPFIX on UDP 2055 and 4739, Argus served on
// 561, rotated Argus v5 files under ./data, JSON to stdout.
func TestDefault(t *testing.T) {
	c, err := LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Pipelines) != 1 {
		t.Fatalf("%d pipelines", len(c.Pipelines))
	}
	p := c.Pipelines[0]
	var listen []string
	for _, s := range p.Sources {
		listen = append(listen, s.Net.Transport+" "+s.Net.Addr)
	}
	if strings.Join(listen, ", ") != "udp :2055, udp :4739" {
		t.Errorf("sources listen on %v", listen)
	}
	var served, argus, stdout bool
	for _, s := range p.Sinks {
		switch {
		case s.Kind == KindArgus && s.Addr == ":561":
			served = true
		case s.Kind == KindFile && s.Net.Format == gateway.FormatArgus && strings.HasPrefix(s.Net.Path, "data/") && s.Rotate.Every > 0:
			argus = true
		case s.Net.IsStdio() && s.Net.Format == gateway.FormatJSON:
			stdout = true
		}
	}
	if !served || !argus || !stdout {
		t.Errorf("sinks: served %v, rotated argus under data/ %v, json stdout %v", served, argus, stdout)
	}
	if string(Default()) != string(defaultYAML) {
		t.Error("Default() differs from the embedded file")
	}
	b, err := os.ReadFile("default.yaml")
	if err != nil || string(b) != string(Default()) {
		t.Errorf("default.yaml on disk and embedded differ (%v)", err)
	}
}

// TestEndpointSyntax: the issue-6 schemes this package parses itself.
func TestEndpointSyntax(t *testing.T) {
	for _, tc := range []struct {
		text string
		role Role
		want string // "" ok; else the error text
	}{
		{"argus://[::1]:561", RoleSource, ""},
		{"argus://host", RoleSource, `address "host": want host:port (IPv6 in brackets)`},
		{"argus://h:70000", RoleSource, `port "70000" is not a number from 0 to 65535`},
		{"argus+tcp://127.0.0.1:561", RoleSink, ""},
		{"argus+tcp://:561?version=3", RoleSink, ""},
		{"argus+tcp://:561?version=4", RoleSink, `version="4": want 3 or 5`},
		{"argus://s:561?version=3", RoleSource, "version= is for argus+tcp:// sinks (a source reads either)"},
		{"argus+tcp://:561?filter=tcp", RoleSink, `unknown option "filter" (version)`},
		{"argus+tcp://:561", RoleSource, "argus+tcp:// serves ra clients: it is a sink (pull from a sensor with argus://host:port)"},
		{"sensor", RoleSource, ""},
		{"sensor:", RoleSource, "missing interface after sensor:"},
		{"kafka://k:9092", RoleSink, "want kafka://broker:port[,broker:port...]/topic"},
		{"kafka://k/t", RoleSink, `broker "k": want host:port (IPv6 in brackets)`},
		{"kafka://k:9092/t?group=g", RoleSink, "group= is for kafka sources only"},
		{"kafka://k:9092/t?acks=1", RoleSink, `unknown option "acks" (format, key, group, session_timeout, compression, linger, batch, spill, spill_max, spill_full, spill_after, tls, ca, cert, cert_key, insecure, sasl, user, password, password_file)`},
		{"kafka://k:9092/" + strings.Repeat("t", 250), RoleSink, `topic "` + strings.Repeat("t", 250) + `": not a Kafka topic name`},
		{"kafka://k:9092/..", RoleSink, `topic "..": not a Kafka topic name`},
		{"pcap:x.pcap", RoleSink, "pcap is read through the sensor: it is a source format"},
		{"pcap:x.pcap", RoleSource, ""},
		{"x.argus", RoleSource, ""},
		{"nf+tcp://:1", RoleSource, `unknown scheme "nf+tcp" (nf+udp, nf5+udp, nf9+udp, ipfix+udp, ipfix+tcp, ipfix+tls)`},
	} {
		_, err := parseEndpoint(tc.text, tc.role)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s as %v:\n got %s\nwant %s", tc.text, tc.role, got, tc.want)
		}
	}
}

// FuzzLoad: no input panics, and a config that loads has what Load
// promises (a version, pipelines with sources and sinks).
func FuzzLoad(f *testing.F) {
	for _, n := range []string{"testdata/good.yaml", "testdata/bad.yaml", "default.yaml"} {
		b, _ := os.ReadFile(n)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Load("f.yaml", b, "testdata")
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 || es[0].Line < 1 {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		if c.Version != 1 || len(c.Pipelines) == 0 {
			t.Fatalf("loaded %+v", c)
		}
		for _, p := range c.Pipelines {
			if len(p.Sources) == 0 || len(p.Sinks) == 0 {
				t.Fatalf("pipeline %q without sources or sinks", p.Name)
			}
		}
	})
}

// TestMetricsAndDialect: the top-level metrics address and a sink's
// dialect, with the errors each gives.
func TestMetricsAndDialect(t *testing.T) {
	good := "version: 1\nmetrics: 127.0.0.1:9800\npipelines:\n  - name: a\n    sources: [nf+udp://:2055]\n    sinks:\n      - {endpoint: 'json:-', dialect: goflow2}\n      - {endpoint: 'kafka://k:9092/flows', dialect: ecs}\n"
	c, err := Load("m.yaml", []byte(good), ".")
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics != "127.0.0.1:9800" || c.Pipelines[0].Sinks[0].Dialect != "goflow2" || c.Pipelines[0].Sinks[1].Dialect != "ecs" {
		t.Errorf("metrics %q, dialects %q %q", c.Metrics, c.Pipelines[0].Sinks[0].Dialect, c.Pipelines[0].Sinks[1].Dialect)
	}
	bad := "version: 1\nmetrics: nowhere\npipelines:\n  - name: a\n    sources: [nf+udp://:2055]\n    sinks:\n      - {endpoint: 'json:-', dialect: yaml}\n      - {endpoint: 'argus:x.argus', dialect: ecs}\n"
	_, err = Load("m.yaml", []byte(bad), ".")
	want := []string{
		`m.yaml:2:10: metrics: bad value: "nowhere": want host:port or :port ("" serves no metrics)`,
		`m.yaml:7:39: pipelines[0].sinks[0].dialect: bad value: "yaml": want one of argus, ecs, goflow2, nfdump, ipfix`,
		`m.yaml:8:9: pipelines[0].sinks[1].dialect: endpoint not usable here: only json:, csv: and kafka:// (format=json) sinks have a dialect, not "argus:x.argus"`,
	}
	var es Errors
	if !errors.As(err, &es) || len(es) != len(want) {
		t.Fatalf("errors %v, want %d", err, len(want))
	}
	for i, e := range es {
		if e.Error() != want[i] {
			t.Errorf("error %d\n got %s\nwant %s", i, e, want[i])
		}
	}
}

// TestKafkaOptions: the producer, spill, TLS and SASL options of a
// kafka:// endpoint, read back, and each error.
func TestKafkaOptions(t *testing.T) {
	e, err := parseEndpoint("kafka://k1:9092,k2:9093/flows?compression=zstd&linger=5ms&batch=512k&spill=/var/spool/fg&spill_max=2G&spill_full=drop&spill_after=3s"+
		"&tls=1&ca=/etc/ca.pem&cert=/etc/c.pem&cert_key=/etc/c.key&sasl=SCRAM-SHA-512&user=fg&password_file=/etc/fg.pw&key=flow", RoleSink)
	if err != nil {
		t.Fatal(err)
	}
	want := KafkaOptions{Format: "json", Key: "flow", Compression: "zstd", Linger: 5 * time.Millisecond, BatchBytes: 512 << 10,
		Spill: "/var/spool/fg", SpillMax: 2 << 30, SpillFull: "drop", SpillAfter: 3 * time.Second,
		TLS: true, CA: "/etc/ca.pem", Cert: "/etc/c.pem", CertKey: "/etc/c.key",
		SASL: "scram-sha-512", User: "fg", PasswordFile: "/etc/fg.pw"}
	if e.Kafka != want {
		t.Errorf("got  %+v\nwant %+v", e.Kafka, want)
	}
	e, err = parseEndpoint("kafka://k:9092/flows?sasl=plain&user=u&password=p&group=g2", RoleSource)
	if err != nil || e.Kafka.SASL != "plain" || e.Kafka.Password != "p" || e.Kafka.Group != "g2" || e.Kafka.Compression != "" {
		t.Errorf("source: %+v %v", e.Kafka, err)
	}
	for _, tc := range []struct {
		q    string
		role Role
		want string
	}{
		{"compression=brotli", RoleSink, `compression="brotli": want lz4, zstd, snappy, gzip or none`},
		{"compression=lz4", RoleSource, "compression= is for kafka sinks only"},
		{"spill=/x", RoleSource, "spill= is for kafka sinks only"},
		{"session_timeout=6s", RoleSink, "session_timeout= is for kafka sources only"},
		{"session_timeout=10ms", RoleSource, `session_timeout="10ms": want a duration of 1s or more (6s, 45s)`},
		{"linger=5", RoleSink, `linger="5": want a duration (5ms, 2s)`},
		{"linger=-1s", RoleSink, `linger="-1s": want a duration (5ms, 2s)`},
		{"spill_after=500ms", RoleSink, `spill_after="500ms": at least 1s (the Kafka client's least record timeout)`},
		{"batch=2G", RoleSink, `batch="2G": want a size in bytes (with k, M or G) up to 1G`},
		{"spill_max=0", RoleSink, `spill_max="0": want a size in bytes (with k, M or G) up to 1024G`},
		{"spill_max=10x", RoleSink, `spill_max="10x": want a size in bytes (with k, M or G) up to 1024G`},
		{"spill_full=wait", RoleSink, `spill_full="wait": want block or drop`},
		{"spill=", RoleSink, "spill=: want a directory"},
		{"tls=yes", RoleSink, `tls="yes": want 1 or 0`},
		{"ca=/x", RoleSink, "ca= needs tls=1"},
		{"tls=0&insecure=1", RoleSink, "insecure= needs tls=1"},
		{"tls=1&cert=/c", RoleSink, "a client certificate needs both cert= and cert_key="},
		{"tls=1&cert_key=/k", RoleSource, "a client certificate needs both cert= and cert_key="},
		{"sasl=gssapi&user=u&password=p", RoleSink, `sasl="gssapi": want plain, scram-sha-256 or scram-sha-512`},
		{"sasl=plain&password=p", RoleSink, "sasl=plain needs user="},
		{"sasl=plain&user=u", RoleSink, "sasl=plain needs password_file= (or password=)"},
		{"sasl=plain&user=u&password=p&password_file=/f", RoleSink, "password= and password_file= both given: keep password_file="},
		{"user=u", RoleSink, "user= and password= need sasl=plain, scram-sha-256 or scram-sha-512"},
		{"user=", RoleSink, "user=: empty"},
	} {
		_, err := parseEndpoint("kafka://k:9092/t?"+tc.q, tc.role)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s as %v:\n got %s\nwant %s", tc.q, tc.role, got, tc.want)
		}
	}
}

// TestSourceDialect: csv: sources take a dialect:, others do not.
func TestSourceDialect(t *testing.T) {
	c, err := Load("s.yaml", []byte("version: 1\npipelines:\n  - name: a\n    sources: [{endpoint: 'csv:in.csv', dialect: nfdump}]\n    sinks: [json:-]\n"), ".")
	if err != nil || c.Pipelines[0].Sources[0].Dialect != "nfdump" {
		t.Fatalf("%v %+v", err, c)
	}
	_, err = Load("s.yaml", []byte("version: 1\npipelines:\n  - name: a\n    sources: [{endpoint: 'argus:in.argus', dialect: nfdump}, {endpoint: 'csv:x.csv', dialect: xml}]\n    sinks: [json:-]\n"), ".")
	want := "s.yaml:4:53: pipelines[0].sources[0].dialect: endpoint not usable here: only csv: sources have a dialect, not \"argus:in.argus\"\n" +
		"s.yaml:4:95: pipelines[0].sources[1].dialect: bad value: \"xml\": want one of argus, ecs, goflow2, nfdump, ipfix"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}
