package nfcore

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
)

// opCanon is the canonical field (by direction) each registry op fills,
// as the mapping files name it, and what the op's conversion is: "ipv4"
// or "ipv6" (the family of the element), "ms" (integer milliseconds,
// Unix epoch), "width" (the element is wider than the field: the file
// says widen to the element's bits), "" none.
var opCanon = map[Op]struct {
	name [2]string
	conv string
}{
	OpSrcAddr4: {[2]string{"src_addr"}, "ipv4"}, OpDstAddr4: {[2]string{"dst_addr"}, "ipv4"},
	OpSrcAddr6: {[2]string{"src_addr"}, "ipv6"}, OpDstAddr6: {[2]string{"dst_addr"}, "ipv6"},
	OpSrcPort: {[2]string{"src_port"}, ""}, OpDstPort: {[2]string{"dst_port"}, ""},
	OpProto:  {[2]string{"protocol"}, ""},
	OpOctets: {[2]string{"src_bytes", "dst_bytes"}, ""}, OpPackets: {[2]string{"src_pkts", "dst_pkts"}, ""},
	OpTOS: {[2]string{"src_tos", "dst_tos"}, ""}, OpTTL: {[2]string{"src_ttl", "dst_ttl"}, ""},
	OpMinTTL:   {[2]string{"src_ttl", "dst_ttl"}, ""},
	OpTCPFlags: {[2]string{"src_tcp_flags", "dst_tcp_flags"}, "width"},
	OpSrcMAC:   {[2]string{"src_mac"}, ""}, OpDstMAC: {[2]string{"dst_mac"}, ""},
	OpVLAN:  {[2]string{"src_vid", "dst_vid"}, "width"},
	OpSrcAS: {[2]string{"src_as"}, ""}, OpDstAS: {[2]string{"dst_as"}, ""},
	OpInIf: {[2]string{"in_if"}, ""}, OpOutIf: {[2]string{"out_if"}, ""},
	OpNextHop4: {[2]string{"next_hop"}, "ipv4"}, OpNextHop6: {[2]string{"next_hop"}, "ipv6"},
	OpBGPNextHop4: {[2]string{"bgp_next_hop"}, "ipv4"}, OpBGPNextHop6: {[2]string{"bgp_next_hop"}, "ipv6"},
	OpExporter4: {[2]string{"exporter_addr"}, "ipv4"}, OpExporter6: {[2]string{"exporter_addr"}, "ipv6"},
	OpSamplingInterval: {[2]string{"sampling_rate"}, ""},
	OpStartMs:          {[2]string{"start_time", "dst_start_time"}, "ms"},
	OpEndMs:            {[2]string{"last_time", "dst_last_time"}, "ms"},
	OpICMPType:         {[2]string{"icmp_type"}, ""}, OpICMPCode: {[2]string{"icmp_code"}, ""},
}

// disagree lists the built-in rules the codec does not follow, with the
// reason; the test fails when one starts to agree, so the list only
// shrinks. They are for the mappings package's files (see the report):
// the codec's choice is the one the wire format means.
var disagree = map[string]string{
	"ipfix observationDomainId":  "the codec takes obs_domain from the message header; an element 149 in a data record stays in Extra",
	"netflow9 OUT_BYTES":         "Cisco's OUT_BYTES (23) is postOctetDeltaCount, the egress count of the same direction, not the reverse direction's bytes",
	"netflow9 OUT_PKTS":          "OUT_PKTS (24) is postPacketDeltaCount, as OUT_BYTES",
	"netflow9 DST_TOS":           "DST_TOS (55) is postIpClassOfService, the TOS on egress, not the reverse direction's",
	"netflow9 DST_VLAN":          "DST_VLAN (59) is postVlanId, as IPFIX's",
	"netflow9 MIN_TTL (written)": "the v9 encoder writes the TTL as ipTTL (192), as for IPFIX; MIN_TTL (52) is read when no ipTTL came",
}

// codecOnly lists the elements the encoders write that the built-in
// files have no rule for, with the reason.
var codecOnly = map[string]string{
	"9": "sourceIPv4PrefixLength: no canonical name in mappings", "13": "destinationIPv4PrefixLength: as 9",
	"29": "sourceIPv6PrefixLength: as 9", "30": "destinationIPv6PrefixLength: as 9",
	"32":  "icmpTypeCodeIPv4: the ICMP type and code of the key in one element (icmp_type<<8|icmp_code)",
	"139": "icmpTypeCodeIPv6: as 32", "31": "flowLabelIPv6: no canonical name in mappings",
	"70":           "mplsTopLabelStackSection: no canonical name in mappings",
	"156":          "flowStartNanoseconds: NTP fixed point, not an integer count in a unit (times=ns)",
	"157":          "flowEndNanoseconds: as 156",
	"21":           "v9 LAST_SWITCHED: ms of the exporter's uptime, placed by the packet header",
	"22":           "v9 FIRST_SWITCHED: as 21",
	"netflow9 192": "ipTTL: see disagree (MIN_TTL)",
	"netflow9 152": "flowStartMilliseconds: what the v9 encoder writes without a boot time; netflow9.yaml leaves times to the codec (its header)",
	"netflow9 153": "flowEndMilliseconds: as 152",
	"netflow9 130": "exporterIPv4Address: read from a v9 exporter that sends it (IANA's id, which v9 shares), written by the IPFIX encoder only; netflow9.yaml names RFC 3954's types, which stop at 79",
	"netflow9 131": "exporterIPv6Address: as 130",
}

// readOnly lists, by op, the elements the decoder reads that the files
// have no rule for: alternatives of an element that has one (the encoder
// writes that one), encodings the codec resolves with the header or other
// elements, and fields mappings has no name for.
var readOnly = map[Op]string{
	OpOctetsTotal: "total count: used when no delta count came", OpPacketsTotal: "as octetTotalCount",
	OpInitOctets: "initiatorOctets: the src count of a biflow (NSEL)", OpRespOctets: "responderOctets: the dst count",
	OpInitPackets: "initiatorPackets", OpRespPackets: "responderPackets",
	OpDSCP: "ipDiffServCodePoint: the TOS when no ipClassOfService came", OpMinTTL: "minimumTTL: the TTL when no ipTTL came",
	OpMaxTTL: "maximumTTL: as minimumTTL", OpDot1qVLAN: "dot1qVlanId: the VLAN when no vlanId came",
	OpSrcPort: "udp/tcpSourcePort: alternatives of sourceTransportPort", OpDstPort: "udp/tcpDestinationPort",
	OpSrcMask: "prefix lengths: no canonical name", OpDstMask: "as sourceIPv4PrefixLength",
	OpMPLS1: "no canonical name", OpFlowLabel: "no canonical name",
	OpICMPTypeCode4: "icmpTypeCode: type<<8|code of the key", OpICMPTypeCode6: "as IPv4",
	OpStartSec: "other time encodings: seconds", OpEndSec: "seconds", OpStartUs: "NTP microseconds", OpEndUs: "NTP microseconds",
	OpStartNs: "NTP nanoseconds", OpEndNs: "NTP nanoseconds", OpStartUptime: "uptime ms, placed by header or system init time",
	OpEndUptime: "as flowStartSysUpTime", OpStartDeltaUs: "µs before the export time", OpEndDeltaUs: "as flowStartDeltaMicroseconds",
	OpDurMs: "duration with a start or an end", OpDurUs: "as flowDurationMilliseconds", OpSysInit: "the uptimes' base",
	OpObsSec: "observation time: the flow's time when it has no other", OpObsMs: "as seconds", OpObsUs: "as seconds", OpObsNs: "as seconds",
	OpMinLen: "packet size bounds: no canonical name", OpMaxLen: "as minimumIpTotalLength", OpIPID: "no canonical name",
	OpTCPWin: "no canonical name", OpTCPSeq: "no canonical name", OpEtherType: "no canonical name", OpVLANPrio: "no canonical name",
	OpEndReason: "the record's cause", OpSamplingAlgo: "sampler description", OpSamplerID: "the record's sampler (rate from options data)",
	OpSamplerMode: "sampler description", OpSamplerRandom: "the rate of a random sampler", OpSelectorAlgo: "sampler description",
	OpPacketInterval: "with samplingPacketSpace, the rate", OpPacketSpace: "as samplingPacketInterval",
	OpTTL: "ipTTL: netflow9.yaml names MIN_TTL (see disagree)", OpICMPType: "icmp type elements", OpICMPCode: "icmp code elements",
}

// TestBuiltinMappingAgrees holds the registry and the built-in ipfix and
// netflow9 mappings together: every rule of a file is what the codec does
// with the element (same canonical field and direction, same conversion),
// or a listed disagreement; every element the encoders write has a rule,
// or a listed reason.
func TestBuiltinMappingAgrees(t *testing.T) {
	seenDis := map[string]bool{}
	for _, v := range []Version{IPFIX, V9} {
		f, err := mappings.Builtin(map[Version]string{IPFIX: "ipfix", V9: "netflow9"}[v])
		if err != nil {
			t.Fatal(err)
		}
		has := map[[2]uint32]bool{}
		for _, r := range f.Rules {
			e := r.Element
			has[[2]uint32{e.Enterprise, uint32(e.ID)}] = true
			key := v.format() + " " + r.External
			el, rev := Lookup(e.Enterprise, e.ID)
			why := ""
			switch {
			case el == nil || el.Op == OpExtra:
				why = "the codec keeps it in Extra"
			case rev && !perDirection(el.Op):
				why = "a reverse element the codec keeps in Extra"
			default:
				c, ok := opCanon[el.Op]
				d := 0
				if rev {
					d = 1
				}
				if !ok || c.name[d] != r.Canonical {
					why = fmt.Sprintf("the codec's %s fills %q", el.Name, c.name[d])
					break
				}
				why = checkConv(v, el, c.conv, &r)
			}
			if reason, listed := disagree[key]; listed {
				seenDis[key] = true
				if why == "" {
					t.Errorf("%s: %s now agrees: remove it from disagree (%s)", r.Pos, key, reason)
				}
				continue
			}
			if why != "" {
				t.Errorf("%s: %s -> %s: %s", r.Pos, r.External, r.Canonical, why)
			}
		}
		// What the decoder reads.
		for _, el := range elements {
			if el.Op == OpExtra || el.Op == OpSkip || has[[2]uint32{0, uint32(el.ID)}] {
				continue
			}
			_, listed := codecOnly[fmt.Sprintf("%s %d", v.format(), el.ID)]
			if _, ok := readOnly[el.Op]; !ok && !listed {
				t.Errorf("%s: the decoder reads %s (%d), the built-in mapping has no rule for it", v.format(), el.Name, el.ID)
			}
		}
		// What the encoder writes.
		for _, w := range writtenIDs {
			for rv := 0; rv < 2; rv++ {
				if rv == 1 && (!w.rev || v == V9) {
					continue
				}
				pen := uint32(0)
				name := fmt.Sprint(w.id)
				if rv == 1 {
					pen, name = PENReverse, fmt.Sprintf("%d/%d", PENReverse, w.id)
				}
				if has[[2]uint32{pen, uint32(w.id)}] {
					continue
				}
				_, l1 := codecOnly[name]
				_, l2 := codecOnly[v.format()+" "+name]
				if !l1 && !l2 {
					t.Errorf("%s: the encoder writes element %s, the built-in mapping has no rule for it", v.format(), name)
				}
			}
		}
	}
	// The written TTL in v9.
	seenDis["netflow9 MIN_TTL (written)"] = true
	for k := range disagree {
		if !seenDis[k] {
			t.Errorf("disagree lists %s, which is not a rule of the files", k)
		}
	}
}

// checkConv says how rule r's conversion differs from what the codec
// does with element el (conv from opCanon), or "".
func checkConv(v Version, el *Element, conv string, r *mappings.Rule) string {
	c := &r.Convert
	// The length the encoder writes the element with.
	n := el.Len
	if el.Op == OpTCPFlags && v == V9 {
		n = 1
	}
	switch conv {
	case "ipv4", "ipv6":
		if el.Op == OpICMPType || el.Op == OpICMPCode {
			break
		}
		if c.Kind != mappings.ConvFamily || c.Family != conv {
			return fmt.Sprintf("the element is an %s address, the rule has %s %s", conv, c.Kind, c.Family)
		}
		return ""
	case "ms":
		if c.Kind != mappings.ConvTime || c.Unit != "ms" || c.Epoch != "unix" || c.Format != "integer" {
			return "the element is integer milliseconds since 1970"
		}
		return ""
	case "width":
		bits := map[string]uint8{"src_tcp_flags": 8, "dst_tcp_flags": 8, "src_vid": 12, "dst_vid": 12}[r.Canonical]
		if 8*n > uint16(bits) {
			if c.Kind != mappings.ConvWiden || uint16(c.Bits) != 8*n {
				return fmt.Sprintf("the codec writes %d bits, the rule has %s %d", 8*n, c.Kind, c.Bits)
			}
		} else if c.Kind != mappings.ConvNone {
			return fmt.Sprintf("the codec writes %d bits, the rule has %s", 8*n, c.Kind)
		}
		return ""
	}
	if c.Kind != mappings.ConvNone && !(c.Kind == mappings.ConvFamily && (el.Op == OpICMPType || el.Op == OpICMPCode)) {
		return fmt.Sprintf("the codec has no conversion, the rule %s", c.Kind)
	}
	return ""
}

// testMapping loads a user file.
func testMapping(t testing.TB, v Version, yaml string) *Mapping {
	t.Helper()
	f, err := mappings.Load("user.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMapping(v, f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMappingRoundTrip: a biflow record encoded and decoded with a user
// mapping that swaps the counters, scales octets, maps interfaces the
// other way round, drops a field and adds an enterprise element comes
// back as it was; decoded without the mapping, the wire holds what the
// rules say (kilobytes, swapped counters, the element's raw value).
func TestMappingRoundTrip(t *testing.T) {
	m := testMapping(t, IPFIX, `version: 1
schema: ipfix
fields:
  - {external: octetDeltaCount, canonical: src_bytes, convert: {scale: {multiply: 1024}}}
  - {external: packetDeltaCount, canonical: src_pkts, convert: {swap: true}}
  - {external: reversePacketDeltaCount, canonical: dst_pkts, convert: {swap: true}}
  - {external: ingressInterface, canonical: out_if}
  - {external: egressInterface, canonical: in_if}
  - {external: bgpSourceAsNumber, drop: true}
  - {external: 4711/7, canonical: src_ttl}
`)
	r := flow.Record{Type: flow.TypeFlow, Has: flow.HasKey | flow.HasMetrics | flow.HasTime | flow.HasIfaces | flow.HasIPAttr,
		Key:   flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 17, SrcPort: 53, DstPort: 5353},
		Bytes: [2]uint64{3 * 1024, 700}, Pkts: [2]uint64{3, 2}, Start: 1_700_000_000_000_000_000, Last: 1_700_000_001_000_000_000,
		InIf: 7, OutIf: 9}
	r.IPAttr.TTL[0], r.IPAttr.Present = 64, 1
	o := EncOptions{Version: IPFIX, Map: m}
	fields := RecordFields(nil, &r, &o)
	var ttlEl bool
	for _, f := range fields {
		ttlEl = ttlEl || f.PEN == 4711 && f.ID == 7
	}
	if !ttlEl {
		t.Fatalf("no 4711/7 field in %+v", fields)
	}
	msg := testMessage(fields, &r, &o)
	dec := NewDecoder(IPFIX, Config{Mapping: m})
	got, err := dec.DecodePacket(msg, netip.MustParseAddrPort("192.0.2.1:4739"), nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("%v, %d records", err, len(got))
	}
	g := &got[0]
	if g.Bytes != r.Bytes || g.Pkts != r.Pkts || g.InIf != r.InIf || g.OutIf != r.OutIf || g.IPAttr.TTL[0] != 64 {
		t.Errorf("mapped round trip: bytes %v pkts %v if %d/%d ttl %d; want %v %v %d/%d 64", g.Bytes, g.Pkts, g.InIf, g.OutIf, g.IPAttr.TTL[0], r.Bytes, r.Pkts, r.InIf, r.OutIf)
	}
	if o.RuleErrors != 0 {
		t.Errorf("%d rule errors", o.RuleErrors)
	}
	plain, _ := NewDecoder(IPFIX, Config{}).DecodePacket(msg, netip.MustParseAddrPort("192.0.2.1:4739"), nil)
	p := &plain[0]
	if p.Bytes[0] != 3 || p.Pkts != [2]uint64{2, 3} || p.InIf != 9 || p.OutIf != 7 {
		t.Errorf("on the wire: bytes %v pkts %v in %d out %d; want 3 KiB, swapped packets, swapped interfaces", p.Bytes, p.Pkts, p.InIf, p.OutIf)
	}
	var raw []byte
	for _, e := range p.Extra {
		if e.Enterprise == 4711 && e.ID == 7 {
			raw = e.Value
		}
	}
	if len(raw) != 1 || raw[0] != 64 {
		t.Errorf("4711/7 on the wire: %v, want [64]", raw)
	}
	// A value the rule cannot write exactly is counted.
	r.Bytes[0] = 1000
	o.RuleErrors = 0
	testMessage(RecordFields(nil, &r, &o), &r, &o)
	if o.RuleErrors != 1 {
		t.Errorf("1000 bytes in KiB: %d rule errors, want 1", o.RuleErrors)
	}
}

// testMessage is one IPFIX message: template set and data set.
func testMessage(fields []EncField, r *flow.Record, o *EncOptions) []byte {
	b := make([]byte, 16)
	be.PutUint16(b, 10)
	be.PutUint32(b[4:], 1_700_000_002)
	ts := len(b)
	b = be.AppendUint16(b, 2)
	b = be.AppendUint16(b, 0)
	b = AppendTemplate(b, IPFIX, 300, fields)
	be.PutUint16(b[ts+2:], uint16(len(b)-ts))
	ds := len(b)
	b = be.AppendUint16(b, 300)
	b = be.AppendUint16(b, 0)
	b = AppendRecord(b, fields, r, o)
	be.PutUint16(b[ds+2:], uint16(len(b)-ds))
	be.PutUint16(b[2:], uint16(len(b)))
	return b
}
