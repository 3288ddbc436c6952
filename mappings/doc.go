// Package mappings is flowgate's mapping-file language: YAML files that say
// how the fields of one external schema (IPFIX, NetFlow v9, Zeek conn.log,
// a JSON dialect, CSV) become canonical fields of a flow.Record and back,
// so that users change translations without touching Go code.
//
// # File format (version 1)
//
//	version: 1               # required; only 1 exists
//	schema: zeek             # ipfix, netflow9, zeek, json or csv
//	dialect: conn            # free name (ecs, argus, nfdump ...), shown by Explain
//	doc: text                # optional
//	oneway: false            # true: records are one-directional (goflow2)
//	fields:                  # the rules, in order
//	  - external: ts         # the external field
//	    canonical: start_time
//	    convert: {time: {unit: s, format: decimal, digits: 6}}
//	  - external: id.orig_h
//	    canonical: src_addr
//	  - external: proto
//	    canonical: protocol
//	    convert:
//	      enum: {values: {tcp: "6", udp: "17", icmp: "1"}}
//	    default: tcp         # used when the field is missing (an external value)
//	  - external: bytes_total
//	    canonical: bytes     # a total is derived: it can only be written
//	    direction: out       # both (default), in (read only), out (write only)
//	    note: free text
//
// external is, by schema: an IPFIX element by IANA name
// (octetDeltaCount), number (1) or enterprise/number (29305/1); a NetFlow
// v9 type by Cisco name (IN_BYTES) or number; a Zeek column (id.orig_h); a
// JSON key or dotted path (source.ip is {"source":{"ip":...}}); a CSV
// column. IPFIX and v9 names must be known (the element table is
// flow/fields.csv's ipfix and netflow9 columns plus a few more); unknown
// numbers are accepted.
//
// canonical is a name from flow/fields.csv: one of ra's columns
// (flow.Fields) or of the Record fields ra has no column for
// (flow.RecordFields: zeek_uid, community_id, in_if, next_hop,
// src_tcp_flags, icmp_type ...). A name in fields.csv that the package
// cannot reach yet is an error.
//
// convert holds exactly one conversion of the closed set:
//
//	widen: 16            the external integer has 16 bits, more than the field
//	                     (reading a larger value is an error)
//	narrow: 16           the external integer has 16 bits, fewer than the field
//	                     (writing a larger value is an error)
//	scale: {multiply: 8} canonical = external × 8; or {divide: 8}
//	time: {unit: ms, epoch: ntp, format: integer, digits: 6}
//	                     unit s, ms, us, ns (default s); epoch unix (default)
//	                     or ntp; format integer (default), decimal
//	                     ("1300475167.096535", digits fraction digits when
//	                     writing, default 6, cut as ra cuts %T.%f; round:
//	                     true rounds half up, as printf's %.6f and Zeek),
//	                     iso ("2006-01-02T15:04:05.000Z", fraction by unit,
//	                     cut) or datetime (iso without zone, UTC).
//	                     Durations take unit and format integer/decimal,
//	                     and zero: true (0 for a record without an end
//	                     time, as ra prints dur; default: left out, as
//	                     Zeek's "-").
//	enum: {values: {ext: can, ...}, oneway: false, others: error}
//	                     a two-way table must be one to one; a one-way table
//	                     may map several external values to one canonical
//	                     value and writes the first one listed; a value
//	                     outside the table is an error, or with others:
//	                     pass read and written unconverted (goflow2 names
//	                     five protocols, other numbers stay numbers)
//	family: ipv4         the rule only applies to IPv4 (or ipv6) addresses:
//	                     two rules per address field split the families;
//	                     on icmp_type and icmp_code the family is the
//	                     protocol's (ICMP 1 or ICMPv6 58: icmpTypeIPv4 and
//	                     icmpTypeIPv6)
//	swap: true           the rule reads/writes the other direction's field
//	                     (src_bytes becomes dst_bytes): for an exporter
//	                     that reports from the other end
//	constant: "6"        reading sets this canonical value whatever the
//	                     input holds; writing emits it whatever the record holds
//
// Strictness: an unknown key anywhere is an error; so is a value of the
// wrong type, a conversion that does not fit the field's kind, an enum
// value, constant or default that does not parse, and two rules for one
// external field in one direction. Load reports every error it finds, each
// as file:line:col: path: sentinel: detail, for example
//
//	my.yaml:6:33: fields[0].convert.scale.multiply: wrong type: want an integer from 1 to 4294967295, have 0
//
// # Protocols
//
// A protocol field reads a number or a name: an IANA keyword (Assigned
// Internet Protocol Numbers: tcp, udp, ipv6-icmp, sctp ...) in any case,
// or ICMPv6, ICMP6 (goflow2, nfdump). Writing gives the number unless the
// rule has an enum table.
//
// # ICMP
//
// An ICMP or ICMPv6 flow's src_port and dst_port are its type and code, as
// ra 5 prints them (sport, dport) and Zeek writes them (id.orig_p,
// id.resp_p); the Record holds them in Key.ICMPType and ICMPCode. Formats
// with keys of their own name icmp_type and icmp_code (nfdump's icmp_type,
// goflow2's, IPFIX icmpTypeIPv4 ...). Either kind of key carries them: a
// value written through one counts as written for the other.
//
// # What a mapping cannot carry
//
// Plan.EncodeUnwritten reports, per record and without allocating, the
// canonical fields the record carries that the plan did not write, as a
// FieldSet (ids: CanonicalFields order; FieldName, FieldID). Derived
// fields (the totals, duration) are never in it. Two kinds of loss:
//
//   - Declared (Plan.Declared): the mapping has no rule for the field, so
//     `flowgate mapping check` lists it as not carried before any traffic
//     flows. Codecs count these values and go on (convert --report prints
//     them as "not representable N field").
//   - Not declared: a rule exists but the value did not go out (out of
//     range, not a multiple of a scale, outside an enum table, an address
//     of a family no rule takes), or the mapping is one-way (oneway: true)
//     and a biflow's reverse counters (dst_pkts, dst_bytes, dst_app_bytes)
//     are not zero. A codec reports these as errors wrapping
//     codecs.ErrNotRepresentable; convert refuses the record unless
//     --lossy, which leaves the value out and counts it.
//
// A one-way file that maps a reverse counter is an error; a user file
// says oneway: false to lay two-way keys over a one-way built-in.
//
// # Built-ins and overrides
//
// Built-in mappings are embedded (Builtins, Builtin): zeek-conn, ipfix, netflow9
// (IANA names, also the JSON ipfix dialect's keys), json-argus, json-ecs,
// json-goflow2, json-nfdump. A user file of the same schema is laid over a
// built-in with Merge: a user rule replaces the built-in rules for the
// same external field in the directions it covers (a direction: out rule
// replaces only the writing half); drop: true removes them; any other user
// rule is added. A user file of another schema is an error
// (ErrSchemaMismatch).
//
// # Plans
//
// Compile turns a File into a Plan for one direction (In: external to
// canonical, Out: canonical to external). A codec resolves Plan.Columns
// once (to header positions, element ids ...) and then, per record, calls
// Decode with a Source or Encode with a Sink; neither allocates. Values
// read as text alias the codec's buffer, like every Record slice.
//
// Check reports every canonical field a mapping cannot carry out, every
// narrowing and every non-reversible rule; Explain prints what a
// conversion between two mappings does with each canonical field.
package mappings
