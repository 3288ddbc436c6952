// Package argusconf reads argus.conf files: the argus sensor's
// configuration, VARIABLE=value lines with argus's variable names (see
// argus-clients.md §5.1), so that an existing argus.conf configures
// `flowgate sensor -F file` the same way.
//
// Syntax, as argus reads it: one VARIABLE=value per line, no space before
// '=', the value optionally in double quotes, '#' starts a comment line, and
// " //" starts a trailing comment (a space is required before it). Later
// files and later lines override earlier ones.
package argusconf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config holds the variables flowgate's sensor understands, with argus's
// code defaults (not its man page's).
type Config struct {
	MonitorID       string        // ARGUS_MONITOR_ID (-e)
	MonitorIDIncInf bool          // ARGUS_MONITOR_ID_INCLUDE_INF
	AccessPort      int           // ARGUS_ACCESS_PORT (-P); 0 = off
	BindIP          []string      // ARGUS_BIND_IP (-B)
	Interface       string        // ARGUS_INTERFACE (-i)
	Promiscuous     bool          // ARGUS_GO_PROMISCUOUS
	OutputFiles     []string      // ARGUS_OUTPUT_FILE (-w), "path [filter]"
	FlowStatus      time.Duration // ARGUS_FLOW_STATUS_INTERVAL (-S), default 5 s
	MarStatus       time.Duration // ARGUS_MAR_STATUS_INTERVAL (-M), default 60 s
	IPTimeout       time.Duration // ARGUS_IP_TIMEOUT, 30 s
	TCPTimeout      time.Duration // ARGUS_TCP_TIMEOUT, 60 s
	ICMPTimeout     time.Duration // ARGUS_ICMP_TIMEOUT, 5 s
	IGMPTimeout     time.Duration // ARGUS_IGMP_TIMEOUT, 30 s
	FragTimeout     time.Duration // ARGUS_FRAG_TIMEOUT, 5 s
	ARPTimeout      time.Duration // ARGUS_ARP_TIMEOUT, 5 s
	OtherTimeout    time.Duration // ARGUS_OTHER_TIMEOUT, 30 s
	ResponseTime    bool          // ARGUS_GENERATE_RESPONSE_TIME_DATA (-R)
	PacketSize      bool          // ARGUS_GENERATE_PACKET_SIZE (-Z)
	Jitter          bool          // ARGUS_GENERATE_JITTER_DATA (-J)
	MAC             bool          // ARGUS_GENERATE_MAC_DATA (-m)
	AppBytes        bool          // ARGUS_GENERATE_APPBYTE_METRIC (-A)
	TCPPerf         bool          // ARGUS_GENERATE_TCP_PERF_METRIC, default yes
	BidirTimestamps bool          // ARGUS_GENERATE_BIDIRECTIONAL_TIMESTAMPS
	CaptureDataLen  int           // ARGUS_CAPTURE_DATA_LEN (-U)
	TunnelParsing   bool          // ARGUS_TUNNEL_PARSING, default yes
	TunnelDiscovery bool          // ARGUS_TUNNEL_DISCOVERY
	Filter          string        // ARGUS_FILTER (a packet filter)
	FlowType        string        // ARGUS_FLOW_TYPE: Bidirectional or Unidirectional
	FlowKey         string        // ARGUS_FLOW_KEY, default CLASSIC_5_TUPLE
	Ignored         []string      // variables argus knows and flowgate does not use
}

// Default returns argus's defaults (argus -X).
func Default() Config {
	return Config{
		Promiscuous:   true,
		FlowStatus:    5 * time.Second,
		MarStatus:     60 * time.Second,
		IPTimeout:     30 * time.Second,
		TCPTimeout:    60 * time.Second,
		ICMPTimeout:   5 * time.Second,
		IGMPTimeout:   30 * time.Second,
		FragTimeout:   5 * time.Second,
		ARPTimeout:    5 * time.Second,
		OtherTimeout:  30 * time.Second,
		TCPPerf:       true,
		TunnelParsing: true,
		FlowType:      "Bidirectional",
		FlowKey:       "CLASSIC_5_TUPLE",
	}
}

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("argus.conf syntax")

// Error says where a file is wrong.
type Error struct {
	File string
	Line int
	Var  string
	Err  error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s:%d", e.File, e.Line)
	if e.Var != "" {
		s += ": " + e.Var
	}
	return s + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ReadFile applies the file's variables to c.
func (c *Config) ReadFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.Read(f, name)
}

// Read applies the variables read from r (named name in errors) to c.
func (c *Config) Read(r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.Index(line, " //"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		eq := strings.IndexByte(line, '=')
		if eq <= 0 || line[eq-1] == ' ' {
			return &Error{File: name, Line: n, Err: fmt.Errorf("%w: want VARIABLE=value", ErrSyntax)}
		}
		v, val := line[:eq], strings.TrimSpace(line[eq+1:])
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		if err := c.set(v, val); err != nil {
			return &Error{File: name, Line: n, Var: v, Err: err}
		}
	}
	return sc.Err()
}

func (c *Config) set(v, val string) error {
	dur := func(d *time.Duration) error {
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || f < 0 || f > 65534 {
			return fmt.Errorf("%w: %q is not a number of seconds (0..65534)", ErrSyntax, val)
		}
		*d = time.Duration(f * float64(time.Second))
		return nil
	}
	yes := func(b *bool) error {
		switch strings.ToLower(val) {
		case "yes", "y", "1", "true", "on":
			*b = true
		case "no", "n", "0", "false", "off", "":
			*b = false
		default:
			return fmt.Errorf("%w: %q is not yes or no", ErrSyntax, val)
		}
		return nil
	}
	num := func(i *int) error {
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: %q is not a count", ErrSyntax, val)
		}
		*i = n
		return nil
	}
	switch v {
	case "ARGUS_MONITOR_ID":
		c.MonitorID = val
	case "ARGUS_MONITOR_ID_INCLUDE_INF":
		// "yes" or an interface name
		if strings.EqualFold(val, "no") {
			c.MonitorIDIncInf = false
		} else {
			c.MonitorIDIncInf = val != ""
		}
	case "ARGUS_ACCESS_PORT":
		return num(&c.AccessPort)
	case "ARGUS_BIND_IP":
		c.BindIP = strings.Split(val, ",")
	case "ARGUS_INTERFACE":
		c.Interface = val
	case "ARGUS_GO_PROMISCUOUS":
		return yes(&c.Promiscuous)
	case "ARGUS_OUTPUT_FILE":
		c.OutputFiles = append(c.OutputFiles, val)
	case "ARGUS_FLOW_STATUS_INTERVAL":
		return dur(&c.FlowStatus)
	case "ARGUS_MAR_STATUS_INTERVAL":
		return dur(&c.MarStatus)
	case "ARGUS_IP_TIMEOUT":
		return dur(&c.IPTimeout)
	case "ARGUS_TCP_TIMEOUT":
		return dur(&c.TCPTimeout)
	case "ARGUS_ICMP_TIMEOUT":
		return dur(&c.ICMPTimeout)
	case "ARGUS_IGMP_TIMEOUT":
		return dur(&c.IGMPTimeout)
	case "ARGUS_FRAG_TIMEOUT":
		return dur(&c.FragTimeout)
	case "ARGUS_ARP_TIMEOUT":
		return dur(&c.ARPTimeout)
	case "ARGUS_OTHER_TIMEOUT":
		return dur(&c.OtherTimeout)
	case "ARGUS_GENERATE_RESPONSE_TIME_DATA":
		return yes(&c.ResponseTime)
	case "ARGUS_GENERATE_PACKET_SIZE":
		return yes(&c.PacketSize)
	case "ARGUS_GENERATE_JITTER_DATA":
		return yes(&c.Jitter)
	case "ARGUS_GENERATE_MAC_DATA":
		return yes(&c.MAC)
	case "ARGUS_GENERATE_APPBYTE_METRIC":
		return yes(&c.AppBytes)
	case "ARGUS_GENERATE_TCP_PERF_METRIC":
		return yes(&c.TCPPerf)
	case "ARGUS_GENERATE_BIDIRECTIONAL_TIMESTAMPS":
		return yes(&c.BidirTimestamps)
	case "ARGUS_CAPTURE_DATA_LEN":
		return num(&c.CaptureDataLen)
	case "ARGUS_TUNNEL_PARSING":
		return yes(&c.TunnelParsing)
	case "ARGUS_TUNNEL_DISCOVERY":
		return yes(&c.TunnelDiscovery)
	case "ARGUS_FILTER":
		c.Filter = val
	case "ARGUS_FLOW_TYPE":
		if !strings.EqualFold(val, "Bidirectional") && !strings.EqualFold(val, "Unidirectional") {
			return fmt.Errorf("%w: %q: want Bidirectional or Unidirectional", ErrSyntax, val)
		}
		c.FlowType = val
	case "ARGUS_FLOW_KEY":
		c.FlowKey = val
	default:
		if !strings.HasPrefix(v, "ARGUS_") {
			return fmt.Errorf("%w: unknown variable", ErrSyntax)
		}
		c.Ignored = append(c.Ignored, v)
	}
	return nil
}
