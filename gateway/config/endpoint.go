package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flowgate/flowgate/gateway"
)

// Kind is what an endpoint is, whichever role it plays.
type Kind uint8

const (
	KindFile    Kind = iota // a file ("-" is stdin or stdout)
	KindNetFlow             // nf+udp://, ipfix+tcp:// ... (gateway.ParseEndpoint)
	KindArgus               // argus://host:port (source: pull) or argus+tcp://[host]:port (sink: serve)
	KindSensor              // sensor or sensor:IFACE: capture in-process (sources only)
	KindKafka               // kafka://broker[,broker...]/topic[?options]
)

func (k Kind) String() string {
	return [...]string{"file", "netflow", "argus", "sensor", "kafka"}[k]
}

// Role is the side of a pipeline an endpoint is on.
type Role uint8

const (
	RoleSource Role = iota
	RoleSink
)

func (r Role) String() string { return [...]string{"source", "sink"}[r] }

// Endpoint is one parsed source or sink text.
type Endpoint struct {
	Text string // as written
	Kind Kind
	// Net is the gateway endpoint for the kinds gateway.ParseEndpoint
	// knows (KindFile, KindNetFlow); zero otherwise.
	Net gateway.Endpoint
	// Addr is host:port for KindArgus; Iface the interface for
	// KindSensor ("" = the sensor's default).
	Addr, Iface string
	// ArgusVersion is the version an argus+tcp:// sink serves
	// (?version=3 for ra 3.x clients; 0: 5).
	ArgusVersion int
	// KindKafka.
	Brokers []string
	Topic   string
	Kafka   KafkaOptions
}

// KafkaOptions are the query options of a kafka:// endpoint.
type KafkaOptions struct {
	Format string // json (default), argus, raw (NetFlow/IPFIX datagrams with their exporter)
	Key    string // exporter (default for raw), flow, none (default otherwise)
	Group  string // sources: the consumer group (default "flowgate")
	// SessionTimeout (session_timeout=, sources): how long the group
	// waits for a member that stopped heartbeating (a killed process)
	// before its partitions move (0: the client's 45 s).
	SessionTimeout time.Duration

	// Producer options (sinks only).
	Compression string        // compression=: lz4 (default), zstd, snappy, gzip, none
	Linger      time.Duration // linger=: how long a batch waits to fill (0: none)
	BatchBytes  int64         // batch=: max record batch bytes (0: kgo's 1 MB)
	Spill       string        // spill=DIR: the on-disk queue while the broker is away ("" the daemon's default)
	SpillMax    int64         // spill_max=: its bound in bytes (0: 1 GiB)
	SpillFull   string        // spill_full=: block (default) or drop
	SpillAfter  time.Duration // spill_after=: how long a record waits for the broker (0: 5 s)

	// Security (both roles): tls=1 with ca=, cert=, cert_key= (key= is
	// the message key), insecure=1 (tests only); sasl= plain,
	// scram-sha-256 or scram-sha-512 with user= and password_file=
	// (preferred: the secret stays out of the config) or password=.
	TLS                    bool
	CA, Cert, CertKey      string
	Insecure               bool
	SASL, User             string
	Password, PasswordFile string
}

// parseEndpoint parses s for role: the schemes of gateway.ParseEndpoint
// plus the issue-6 ones it does not know yet. The error is a sentence.
func parseEndpoint(s string, role Role) (Endpoint, error) {
	e := Endpoint{Text: s}
	low := strings.ToLower(s)
	switch {
	case low == "sensor" || strings.HasPrefix(low, "sensor:") && !strings.HasPrefix(low, "sensor://"):
		if role != RoleSource {
			return e, roleErr("the sensor captures packets: it is a source")
		}
		e.Kind = KindSensor
		if i := strings.IndexByte(s, ':'); i > 0 {
			e.Iface = s[i+1:]
			if e.Iface == "" {
				return e, fmt.Errorf("missing interface after sensor:")
			}
		}
		return e, nil
	case strings.HasPrefix(low, "argus://"), strings.HasPrefix(low, "argus+tcp://"):
		e.Kind = KindArgus
		serve := strings.HasPrefix(low, "argus+tcp://")
		if serve && role == RoleSource {
			return e, roleErr("argus+tcp:// serves ra clients: it is a sink (pull from a sensor with argus://host:port)")
		}
		if !serve && role == RoleSink {
			return e, roleErr("argus://host:port pulls from a sensor: it is a source (serve ra clients with argus+tcp://[host]:port)")
		}
		addr, query, _ := strings.Cut(s[strings.Index(s, "://")+3:], "?")
		if query != "" {
			q, err := url.ParseQuery(query)
			if err != nil {
				return e, fmt.Errorf("options %q: %v", query, err)
			}
			for k, vs := range q {
				v := vs[len(vs)-1]
				switch {
				case k == "version" && serve:
					if v != "3" && v != "5" {
						return e, fmt.Errorf("version=%q: want 3 or 5", v)
					}
					e.ArgusVersion = int(v[0] - '0')
				case k == "version":
					return e, fmt.Errorf("version= is for argus+tcp:// sinks (a source reads either)")
				default:
					return e, fmt.Errorf("unknown option %q (version)", k)
				}
			}
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return e, fmt.Errorf("address %q: want host:port (IPv6 in brackets)", addr)
		}
		if err := checkPort(port); err != nil {
			return e, err
		}
		if !serve && host == "" {
			return e, fmt.Errorf("argus:// needs the sensor's host")
		}
		e.Addr = net.JoinHostPort(host, port)
		return e, nil
	case strings.HasPrefix(low, "kafka://"):
		e.Kind = KindKafka
		return e, parseKafka(&e, s[len("kafka://"):], role)
	}
	ge, err := gateway.ParseEndpoint(s)
	if err != nil {
		var ee *gateway.EndpointError
		if asEndpointError(err, &ee) {
			return e, fmt.Errorf("%s", ee.Reason)
		}
		return e, err
	}
	e.Net = ge
	e.Kind = KindFile
	if ge.IsNetwork() {
		e.Kind = KindNetFlow
	}
	switch {
	case role == RoleSource && (ge.Format == gateway.FormatJSON || ge.Format == gateway.FormatZeekJSON):
		return e, roleErr("%s is written, not read: it is a sink format", ge.Format)
	case role == RoleSink && (ge.Format == gateway.FormatPcap):
		return e, roleErr("pcap is read through the sensor: it is a source format")
	case role == RoleSink && e.Kind == KindFile && ge.Format == gateway.FormatAuto:
		return e, roleErr("a sink file needs its format: argus:%s, json:%s, zeek:%s ...", ge.Path, ge.Path, ge.Path)
	}
	return e, nil
}

type roleError struct{ msg string }

func (r *roleError) Error() string { return r.msg }

func roleErr(format string, a ...any) error { return &roleError{fmt.Sprintf(format, a...)} }

func asEndpointError(err error, out **gateway.EndpointError) bool {
	ee, ok := err.(*gateway.EndpointError)
	if ok {
		*out = ee
	}
	return ok
}

func checkPort(port string) error {
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 && port != "0" {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// parseKafka reads broker[,broker...]/topic[?format=&key=&group=].
func parseKafka(e *Endpoint, rest string, role Role) error {
	rest, query, _ := strings.Cut(rest, "?")
	brokers, topic, ok := strings.Cut(rest, "/")
	if !ok || topic == "" {
		return fmt.Errorf("want kafka://broker:port[,broker:port...]/topic")
	}
	for _, b := range strings.Split(brokers, ",") {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			return fmt.Errorf("broker %q: want host:port (IPv6 in brackets)", b)
		}
		if err := checkPort(port); err != nil {
			return fmt.Errorf("broker %q: %v", b, err)
		}
		e.Brokers = append(e.Brokers, net.JoinHostPort(host, port))
	}
	// Kafka's own rule for topic names.
	if len(topic) > 249 || topic == "." || topic == ".." {
		return fmt.Errorf("topic %q: not a Kafka topic name", topic)
	}
	for _, c := range []byte(topic) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic %q: Kafka topic names use only letters, digits, '.', '_' and '-'", topic)
		}
	}
	e.Topic = topic
	e.Kafka = KafkaOptions{Format: "json", Key: "none"}
	if role == RoleSource {
		e.Kafka.Group = "flowgate"
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return fmt.Errorf("options %q: %v", query, err)
	}
	keySet := false
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "format":
			if v != "json" && v != "argus" && v != "raw" {
				return fmt.Errorf("format=%q: want json, argus or raw", v)
			}
			e.Kafka.Format = v
		case "key":
			if v != "exporter" && v != "flow" && v != "none" {
				return fmt.Errorf("key=%q: want exporter, flow or none", v)
			}
			e.Kafka.Key, keySet = v, true
		case "group":
			if role != RoleSource {
				return fmt.Errorf("group= is for kafka sources only")
			}
			if v == "" {
				return fmt.Errorf("group=: want a consumer group name")
			}
			e.Kafka.Group = v
		default:
			if err := kafkaOption(&e.Kafka, k, v, role); err != nil {
				return err
			}
		}
	}
	if err := checkKafkaSecurity(&e.Kafka); err != nil {
		return err
	}
	if e.Kafka.Format == "raw" && !keySet {
		// One consumer must see all of an exporter's templates.
		e.Kafka.Key = "exporter"
	}
	return nil
}

// kafkaOption reads a kafka:// option other than format, key and group.
func kafkaOption(o *KafkaOptions, k, v string, role Role) error {
	switch k {
	case "compression", "linger", "batch", "spill", "spill_max", "spill_full", "spill_after":
		if role != RoleSink {
			return fmt.Errorf("%s= is for kafka sinks only", k)
		}
	case "session_timeout":
		if role != RoleSource {
			return fmt.Errorf("%s= is for kafka sources only", k)
		}
	}
	var err error
	switch k {
	case "compression":
		switch v {
		case "lz4", "zstd", "snappy", "gzip", "none":
			o.Compression = v
		default:
			return fmt.Errorf("compression=%q: want lz4, zstd, snappy, gzip or none", v)
		}
	case "session_timeout":
		d, perr := time.ParseDuration(v)
		if perr != nil || d < time.Second {
			return fmt.Errorf("session_timeout=%q: want a duration of 1s or more (6s, 45s)", v)
		}
		o.SessionTimeout = d
	case "linger", "spill_after":
		d, perr := time.ParseDuration(v)
		if perr != nil || d < 0 {
			return fmt.Errorf("%s=%q: want a duration (5ms, 2s)", k, v)
		}
		if k == "linger" {
			o.Linger = d
		} else if d < time.Second {
			return fmt.Errorf("spill_after=%q: at least 1s (the Kafka client's least record timeout)", v)
		} else {
			o.SpillAfter = d
		}
	case "batch":
		if o.BatchBytes, err = kafkaSize(k, v, 1<<30); err != nil {
			return err
		}
	case "spill_max":
		if o.SpillMax, err = kafkaSize(k, v, 1<<40); err != nil {
			return err
		}
	case "spill":
		if v == "" {
			return fmt.Errorf("spill=: want a directory")
		}
		o.Spill = v
	case "spill_full":
		if v != "block" && v != "drop" {
			return fmt.Errorf("spill_full=%q: want block or drop", v)
		}
		o.SpillFull = v
	case "tls", "insecure":
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			return fmt.Errorf("%s=%q: want 1 or 0", k, v)
		}
		if k == "tls" {
			o.TLS = b
		} else {
			o.Insecure = b
		}
	case "ca", "cert", "cert_key", "user", "password", "password_file":
		if v == "" {
			return fmt.Errorf("%s=: empty", k)
		}
		*map[string]*string{"ca": &o.CA, "cert": &o.Cert, "cert_key": &o.CertKey, "user": &o.User,
			"password": &o.Password, "password_file": &o.PasswordFile}[k] = v
	case "sasl":
		v = strings.ToLower(v)
		if v != "plain" && v != "scram-sha-256" && v != "scram-sha-512" {
			return fmt.Errorf("sasl=%q: want plain, scram-sha-256 or scram-sha-512", v)
		}
		o.SASL = v
	default:
		return fmt.Errorf("unknown option %q (format, key, group, session_timeout, compression, linger, batch, spill, spill_max, spill_full, spill_after, tls, ca, cert, cert_key, insecure, sasl, user, password, password_file)", k)
	}
	return nil
}

// kafkaSize reads a byte count with an optional k, M or G suffix (1024s).
func kafkaSize(k, v string, limit int64) (int64, error) {
	num, mul := v, int64(1)
	if n := len(v); n > 0 {
		switch v[n-1] {
		case 'k', 'K':
			num, mul = v[:n-1], 1<<10
		case 'M':
			num, mul = v[:n-1], 1<<20
		case 'G':
			num, mul = v[:n-1], 1<<30
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > limit/mul {
		return 0, fmt.Errorf("%s=%q: want a size in bytes (with k, M or G) up to %s", k, v, sizeText(limit))
	}
	return n * mul, nil
}

// checkKafkaSecurity: options that only mean something together.
func checkKafkaSecurity(o *KafkaOptions) error {
	if !o.TLS {
		for _, x := range []struct {
			name string
			set  bool
		}{{"ca", o.CA != ""}, {"cert", o.Cert != ""}, {"cert_key", o.CertKey != ""}, {"insecure", o.Insecure}} {
			if x.set {
				return fmt.Errorf("%s= needs tls=1", x.name)
			}
		}
	}
	if (o.Cert == "") != (o.CertKey == "") {
		return fmt.Errorf("a client certificate needs both cert= and cert_key=")
	}
	if o.SASL == "" {
		if o.User != "" || o.Password != "" || o.PasswordFile != "" {
			return fmt.Errorf("user= and password= need sasl=plain, scram-sha-256 or scram-sha-512")
		}
		return nil
	}
	if o.User == "" {
		return fmt.Errorf("sasl=%s needs user=", o.SASL)
	}
	if o.Password != "" && o.PasswordFile != "" {
		return fmt.Errorf("password= and password_file= both given: keep password_file=")
	}
	if o.Password == "" && o.PasswordFile == "" {
		return fmt.Errorf("sasl=%s needs password_file= (or password=)", o.SASL)
	}
	return nil
}
