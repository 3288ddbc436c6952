// Package config loads the gateway's YAML config (`flowgate gateway -c
// FILE`). Loading is strict, as for mapping files: an unknown key, a wrong
// type or a bad value is an error naming file:line:col and the path inside
// the file (pipelines[0].sinks[1].rotate.every), and every error of a file
// is reported at once (Errors, each an *Error wrapping a sentinel). A YAML
// syntax error is the one exception: yaml.v3 stops at it and gives a line
// but no column (and, for an unclosed bracket, the line before the one it
// opens on), so it is reported alone at that line, column 1.
//
// The file:
//
//	version: 1                      # required; the only version
//	pipelines:                      # required, one or more
//	  - name: edge                  # required, unique; labels metrics
//	    queue: {size: 65536, when_full: block}   # default of every stage below
//	    sources:                    # one or more
//	      - nf+udp://:2055          # an endpoint text, or:
//	      - endpoint: ipfix+tcp://:4739
//	        queue: {size: 1024, when_full: drop}
//	    filter: tcp and port 443    # optional: ra's filter language
//	    mapping: json-goflow2       # optional: a built-in mapping or a file
//	    sinks:                      # one or more
//	      - json:-
//	      - endpoint: argus:data/flows.argus
//	        rotate: {every: 1h, size: 1G}
//
// Endpoints are gateway.ParseEndpoint's ("[format:]path",
// "nf+udp://[host]:port" ...), plus these:
//
//	argus://host:port      source: pull records from an argus sensor or another flowgate
//	argus+tcp://[host]:port sink: serve records to ra clients (ra -S host:port)
//	sensor, sensor:IFACE   source: capture in-process
//	kafka://broker:port[,broker:port...]/topic[?format=json|argus|raw&key=exporter|flow|none&group=NAME]
//
// A sink file names its format (argus:, argus3:, json:, zeek:, csv:, nf:
// ...); "-" is stdout. A source file may leave it out (detected).
//
// Defaults: a queue holds DefaultQueueSize (65536) records and blocks the
// stage feeding it when full (back-pressure); when_full: drop drops the
// record instead and counts it with reason "queue full". A source's or
// sink's queue: overrides the pipeline's, key by key. rotate: applies to
// file sinks only: every: is a Go duration of 1s or more, size: a byte
// count of 1M or more (K, M, G are powers of 1024); the file rotates at
// whichever comes first. Without rotate: a file is written once. A
// mapping: that is not a built-in name (mappings.Builtins) is a file path,
// relative to the config file's directory.
//
// Default() is the embedded default.yaml that `make run` starts:
// NetFlow/IPFIX on UDP 2055 and 4739, Argus served on TCP 561, Argus v5
// files under ./data rotated hourly or at 1G, and JSON lines on stdout.
package config
