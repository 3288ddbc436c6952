// Package gateway moves flow records from sources to sinks. This file holds
// the endpoint syntax shared by every subcommand: "[format:]path" for files
// and streams, "scheme://host:port" for network sources and sinks.
package gateway

import (
	"fmt"
	"strings"
)

// Format names a record encoding.
type Format string

const (
	FormatAuto   Format = ""       // detect from content (sources only)
	FormatArgus  Format = "argus"  // Argus 5.x
	FormatArgus3 Format = "argus3" // Argus 3.x
)

// fileFormats are the formats accepted as a "format:" prefix.
var fileFormats = map[string]Format{
	"argus":  FormatArgus,
	"argus5": FormatArgus,
	"argus3": FormatArgus3,
}

// Endpoint is a parsed source or sink.
type Endpoint struct {
	Format Format
	Path   string // file path; "-" is stdin or stdout
	Scheme string // network scheme ("nf+udp", "ipfix+tcp", "kafka" ...); empty for files
	Addr   string // network address for Scheme endpoints
}

// String gives the endpoint back in its canonical text form.
func (e Endpoint) String() string {
	if e.Scheme != "" {
		return e.Scheme + "://" + e.Addr
	}
	if e.Format == FormatAuto {
		return e.Path
	}
	return string(e.Format) + ":" + e.Path
}

// IsStdio reports whether the endpoint is standard input or output.
func (e Endpoint) IsStdio() bool { return e.Scheme == "" && e.Path == "-" }

// ParseEndpoint parses "[format:]path" or "scheme://addr". A prefix before
// the first colon that is not a known format is part of the path, so plain
// paths containing colons keep working.
func ParseEndpoint(s string) (Endpoint, error) {
	if s == "" {
		return Endpoint{}, fmt.Errorf("empty endpoint")
	}
	if i := strings.Index(s, "://"); i > 0 {
		scheme := s[:i]
		return Endpoint{}, fmt.Errorf("endpoint %q: network scheme %q is not supported yet (files and \"-\" only)", s, scheme)
	}
	if i := strings.IndexByte(s, ':'); i > 0 {
		if f, ok := fileFormats[strings.ToLower(s[:i])]; ok {
			p := s[i+1:]
			if p == "" {
				return Endpoint{}, fmt.Errorf("endpoint %q: missing path after format", s)
			}
			return Endpoint{Format: f, Path: p}, nil
		}
	}
	return Endpoint{Path: s}, nil
}
