// Package nfcore is the part NetFlow v9 (RFC 3954) and IPFIX (RFC 7011)
// share, for the decoders in codecs/netflow9 and codecs/ipfix and their
// encoders:
//
//   - the element registry (elements.go): one table from IANA element ids
//     (v9 field types 1-127 are the same numbers) to flow.Record fields,
//     read by the decoder (Lookup) and the encoder (RecordFields,
//     AppendRecord). It is the built-in mappings (mappings/builtin/
//     ipfix.yaml, netflow9.yaml) in Go: TestBuiltinMappingAgrees holds
//     them together and lists where they differ and why;
//   - user mapping files laid over it (mapping.go: NewMapping,
//     Config.Mapping, EncOptions.Map), resolved per template and per
//     encoder field list into the same per-field ops;
//   - templates compiled once into per-field ops, so a data record decodes
//     with no map lookup and no allocation;
//   - the template cache, scoped by (exporter address and port,
//     observation domain or v9 source id, template id), bounded per
//     exporter, with expiry, IPFIX withdrawal and Save/Load (save.go);
//   - a bounded per-exporter buffer of data sets that came before their
//     template, decoded when it comes;
//   - options data (sampling per exporter, domain and sampler id; system
//     init time), sequence tracking per exporter and domain, and the
//     counters (Stats) with rejections counted by Reason.
//
// Extra: elements with no canonical field go to Record.Extra with their
// enterprise number, id, template length (Field.Offset; VarLen for a
// variable-length one) and value (aliasing the message until Detach).
// A few elements fill an Argus field and are kept in Extra too (packet
// size bounds, IP id, TCP window and sequence, ethertype, VLAN priority,
// flowEndReason, observation times, sampler ids and modes), so that the
// encoder writes them back exactly as they came.
//
// Sets: template sets take effect at once; data sets are decoded at the
// end of their message, each with the template it came under, so options
// data and templates anywhere in a message serve all its data.
//
// Times: every encoding becomes Unix ns. Absolute seconds, milliseconds,
// and NTP-format micro/nanoseconds directly; flowStart/EndSysUpTime (v9
// FIRST/LAST_SWITCHED) from systemInitTimeMilliseconds when the record or
// the exporter's options gave it, else (v9) from the header: the flow's
// age is sysUpTime minus the field modulo 2^32, read as signed, so the
// 49.7-day uptime wrap costs nothing; flowStart/EndDeltaMicroseconds back
// from the export time; durations fill a missing end (or start);
// dateTimeMicroseconds to whole microseconds (RFC 7011 §6.1.9); an
// observation time when there is no other; uptime times more than 10 s
// past the export time (an exporter bug) keep their duration and end at
// the export time; no time at all: the export time (Stats.NoTime).
//
// Record type: decoded records are flow.TypeFlow. Written by codecs/argus
// as Argus 3 and printed by Debian ra 3.0.8.2 with 45 fields, the 68
// records of the generated IPFIX exports print the same as TypeFlow and
// as TypeNetFlow (0x30, what argus's own NetFlow import writes) but for
// flgs, where 0x30 shows 'N'; ra prints etype, abr and tf for 0x10 only.
// TypeFlow keeps those and is what every other reader and writer expects
// of a flow (codecs/netflow5 decides the same); the exporter is in
// srcid and Exporter. (codecs/ipfix TestRaPrints.) The exporter is the
// transport's source, or the record's exporterIPv4Address/
// exporterIPv6Address (130/131) when it has one: a proxy or collector
// re-exporting names the Exporter it speaks for (RFC 7011 §2, IANA), as
// the IPFIX encoder does for a record whose Exporter is known.
package nfcore
