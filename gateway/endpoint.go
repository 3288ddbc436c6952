// Package gateway moves flow records from sources to sinks. This file holds
// the endpoint syntax shared by every subcommand: "[format:]path" for files
// and streams, "format+transport://host:port[?options]" for network sources
// and sinks.
package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Format names a record encoding.
type Format string

const (
	FormatAuto   Format = ""       // detect from content (sources only)
	FormatArgus  Format = "argus"  // Argus 5.x
	FormatArgus3 Format = "argus3" // Argus 3.x
	FormatNF     Format = "nf"     // NetFlow v5/v9 or IPFIX, told per message by its version
	FormatNF5    Format = "nf5"    // NetFlow v5
	FormatNF9    Format = "nf9"    // NetFlow v9 (RFC 3954)
	FormatIPFIX  Format = "ipfix"  // IPFIX (RFC 7011)
	FormatJSON   Format = "json"   // ra 5's -M json lines (sinks only)
	// FormatZeek is a Zeek conn.log: TSV or JSON lines when read (told
	// from the content), TSV when written; FormatZeekJSON writes JSON lines.
	FormatZeek     Format = "zeek"
	FormatZeekJSON Format = "zeekjson"
	// FormatCSV is one record per line, comma-separated, with a header
	// line naming the columns of a dialect (see codecs/csv).
	FormatCSV Format = "csv"
	// FormatPcap is a packet capture (pcap or pcapng) read through the
	// sensor, which makes Argus flow records of its packets (sources
	// only). A capture of NetFlow/IPFIX export traffic is "nf:" instead.
	FormatPcap Format = "pcap"
)

// IsNetFlow reports whether f is one of the NetFlow/IPFIX formats.
func (f Format) IsNetFlow() bool {
	return f == FormatNF || f == FormatNF5 || f == FormatNF9 || f == FormatIPFIX
}

// fileFormats are the formats accepted as a "format:" prefix.
var fileFormats = map[string]Format{
	"argus":    FormatArgus,
	"argus5":   FormatArgus,
	"argus3":   FormatArgus3,
	"nf":       FormatNF,
	"nf5":      FormatNF5,
	"nf9":      FormatNF9,
	"ipfix":    FormatIPFIX,
	"json":     FormatJSON,
	"zeek":     FormatZeek,
	"zeekjson": FormatZeekJSON,
	"csv":      FormatCSV,
	"pcap":     FormatPcap,
}

// Transports of network endpoints.
const (
	TransportUDP = "udp"
	TransportTCP = "tcp"
	TransportTLS = "tls"
)

// netSchemes are the accepted "format+transport" schemes. Whether an
// endpoint listens or connects depends on its role: a source listens on its
// address, a sink sends to it.
var netSchemes = map[string]bool{
	"nf+udp": true, "nf5+udp": true, "nf9+udp": true, "ipfix+udp": true,
	"ipfix+tcp": true, "ipfix+tls": true,
}

// Options are the query options of a network endpoint. The zero value
// means "the default" for every field.
type Options struct {
	Workers   int    // sockets/goroutines of a UDP listener (default: number of CPUs)
	RcvBuf    int    // receive buffer in bytes (default 8 MiB)
	ReusePort bool   // SO_REUSEPORT even with one worker (always on with several)
	NoReuse   bool   // reuseport=0: one socket, whatever workers says
	Cert, Key string // TLS certificate and key files (PEM)
	ClientCA  string // TLS: require client certificates signed by this CA (PEM)
	MTU       int    // senders: largest datagram or message (default 1400 for UDP)
	Batch     int    // UDP listener: datagrams per recvmmsg call (default 64)
	Rate      int    // senders: records per second at most (default: as fast as they come)
	Sessions  int    // TCP/TLS listeners: sessions at once at most (default 1024)
	// Times is how IPFIX senders write flow times: "" (auto: milliseconds,
	// or NTP nanoseconds for a record with a finer part), "ms" always
	// milliseconds (for collectors such as nfdump 1.7.1 that misread the
	// NTP-format elements; the finer part is dropped and counted), "ns"
	// always nanoseconds.
	Times string

	// Strict is not a URI option: callers set it so that senders return a
	// record the format cannot hold as an error instead of skipping it.
	Strict bool
}

// ErrEndpoint is what every endpoint syntax error wraps.
var ErrEndpoint = errors.New("bad endpoint")

// EndpointError says which endpoint text is wrong and why.
type EndpointError struct {
	Text   string // the endpoint as given
	Reason string
}

func (e *EndpointError) Error() string {
	return fmt.Sprintf("endpoint %q: %s", e.Text, e.Reason)
}

func (e *EndpointError) Unwrap() error { return ErrEndpoint }

// Endpoint is a parsed source or sink. It is comparable.
type Endpoint struct {
	Format    Format
	Path      string // file path; "-" is stdin or stdout
	Scheme    string // network scheme ("nf+udp", "ipfix+tcp" ...); empty for files
	Transport string // "udp", "tcp" or "tls" for Scheme endpoints
	Addr      string // host:port for Scheme endpoints (host may be empty: all addresses)
	Query     string // the raw query, as given (for String)
	Opts      Options
}

// String gives the endpoint back in its canonical text form.
func (e Endpoint) String() string {
	if e.Scheme != "" {
		s := e.Scheme + "://" + e.Addr
		if e.Query != "" {
			s += "?" + e.Query
		}
		return s
	}
	if e.Format == FormatAuto {
		return e.Path
	}
	return string(e.Format) + ":" + e.Path
}

// IsStdio reports whether the endpoint is standard input or output.
func (e Endpoint) IsStdio() bool { return e.Scheme == "" && e.Path == "-" }

// IsNetwork reports whether the endpoint is a network address.
func (e Endpoint) IsNetwork() bool { return e.Scheme != "" }

// ParseEndpoint parses "[format:]path" or "format+transport://addr[?opts]".
// A prefix before the first colon that is not a known format is part of
// the path, so plain paths containing colons keep working.
func ParseEndpoint(s string) (Endpoint, error) {
	bad := func(format string, a ...any) (Endpoint, error) {
		return Endpoint{}, &EndpointError{Text: s, Reason: fmt.Sprintf(format, a...)}
	}
	if s == "" {
		return bad("empty")
	}
	if i := strings.Index(s, "://"); i > 0 {
		scheme := strings.ToLower(s[:i])
		if !netSchemes[scheme] {
			return bad("unknown scheme %q (nf+udp, nf5+udp, nf9+udp, ipfix+udp, ipfix+tcp, ipfix+tls)", scheme)
		}
		f, tr, _ := strings.Cut(scheme, "+")
		rest := s[i+3:]
		addr, query, _ := strings.Cut(rest, "?")
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return bad("address %q: want [host]:port (IPv6 in brackets)", addr)
		}
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 && port != "0" {
			return bad("port %q is not a number from 0 to 65535", port)
		}
		e := Endpoint{Format: Format(f), Scheme: scheme, Transport: tr, Addr: net.JoinHostPort(host, port), Query: query}
		if err := parseOptions(&e.Opts, query, tr); err != nil {
			return bad("%v", err)
		}
		if tr == TransportTLS && (e.Opts.Cert == "") != (e.Opts.Key == "") {
			return bad("cert and key go together")
		}
		return e, nil
	}
	if i := strings.IndexByte(s, ':'); i > 0 {
		if f, ok := fileFormats[strings.ToLower(s[:i])]; ok {
			p := s[i+1:]
			if p == "" {
				return bad("missing path after format")
			}
			return Endpoint{Format: f, Path: p}, nil
		}
	}
	return Endpoint{Path: s}, nil
}

// parseOptions reads the query of a network endpoint strictly: an unknown
// key or a bad value is an error, so a typo is not silently ignored.
func parseOptions(o *Options, query, transport string) error {
	if query == "" {
		return nil
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return fmt.Errorf("options %q: %v", query, err)
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "workers":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1024 {
				return fmt.Errorf("workers=%q: want 1 to 1024", v)
			}
			o.Workers = n
		case "rcvbuf":
			n, err := ParseSize(v)
			if err != nil || n < 4096 || n > 1<<31-1 {
				return fmt.Errorf("rcvbuf=%q: want a size from 4K to 2G (suffix K, M or G)", v)
			}
			o.RcvBuf = int(n)
		case "batch":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1024 {
				return fmt.Errorf("batch=%q: want 1 to 1024", v)
			}
			o.Batch = n
		case "reuseport":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("reuseport=%q: want 0 or 1", v)
			}
			o.ReusePort, o.NoReuse = b, !b
		case "sessions":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1<<20 {
				return fmt.Errorf("sessions=%q: want 1 to 1048576", v)
			}
			o.Sessions = n
		case "rate":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("rate=%q: want records per second, 1 or more", v)
			}
			o.Rate = n
		case "mtu":
			n, err := strconv.Atoi(v)
			if err != nil || n < 256 || n > 65507 {
				return fmt.Errorf("mtu=%q: want 256 to 65507", v)
			}
			o.MTU = n
		case "times":
			if v != "auto" && v != "ms" && v != "ns" {
				return fmt.Errorf("times=%q: want auto, ms or ns", v)
			}
			if v != "auto" {
				o.Times = v
			}
		case "cert", "key", "clientca":
			if transport != TransportTLS {
				return fmt.Errorf("%s= is for ipfix+tls only", k)
			}
			switch k {
			case "cert":
				o.Cert = v
			case "key":
				o.Key = v
			default:
				o.ClientCA = v
			}
		default:
			return fmt.Errorf("unknown option %q (workers, rcvbuf, batch, reuseport, mtu, rate, times, sessions, cert, key, clientca)", k)
		}
	}
	return nil
}

// ParseSize parses a byte count with an optional K, M or G suffix (powers
// of 1024, case-insensitive, optional trailing B or iB).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mul := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mul = 1 << 10
		case 'M':
			mul = 1 << 20
		case 'G':
			mul = 1 << 30
		}
		if mul > 1 {
			t = t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mul {
		return 0, fmt.Errorf("size %q: not a byte count", s)
	}
	return n * mul, nil
}
