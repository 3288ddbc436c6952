package nfcore

// The element registry: one table, read by the decoder (element -> record
// field) and the encoder (record field -> element). NetFlow v9 field types
// 1-127 are the IPFIX information element ids (RFC 3954 §8, RFC 7012 §4),
// so one table serves both versions.

// PENReverse is the RFC 5103 reverse-element enterprise number: an element
// with this PEN and a forward element's id carries the reverse direction.
const PENReverse = 29305

// VarLen is the IPFIX template length of a variable-length element.
const VarLen = 0xFFFF

// Op says what a decoder does with an element's value.
type Op uint8

// Ops. Counters and per-direction values fill the element's direction
// (forward: flow.Src, RFC 5103 reverse: flow.Dst).
const (
	OpExtra Op = iota // no canonical field: kept in Record.Extra
	OpSkip            // zero-length field: nothing to read
	OpSrcAddr4
	OpDstAddr4
	OpSrcAddr6
	OpDstAddr6
	OpSrcPort
	OpDstPort
	OpProto
	OpOctets      // octetDeltaCount
	OpPackets     // packetDeltaCount
	OpOctetsTotal // octetTotalCount: used when no delta count is present
	OpPacketsTotal
	OpInitOctets // initiatorOctets (231): [Src]
	OpRespOctets // responderOctets (232): [Dst]
	OpInitPackets
	OpRespPackets
	OpTCPFlags
	OpTOS
	OpDSCP
	OpTTL
	OpMinTTL
	OpMaxTTL
	OpInIf
	OpOutIf
	OpNextHop4
	OpNextHop6
	OpBGPNextHop4
	OpBGPNextHop6
	OpSrcAS
	OpDstAS
	OpSrcMask
	OpDstMask
	OpVLAN
	OpDot1qVLAN
	OpSrcMAC
	OpDstMAC
	OpMPLS1
	OpICMPTypeCode4
	OpICMPTypeCode6
	OpICMPType
	OpICMPCode
	OpFlowLabel
	OpStartSec
	OpEndSec
	OpStartMs
	OpEndMs
	OpStartUs // NTP format
	OpEndUs
	OpStartNs // NTP format
	OpEndNs
	OpStartUptime // flowStartSysUpTime / v9 FIRST_SWITCHED, ms
	OpEndUptime
	OpStartDeltaUs // flowStartDeltaMicroseconds: µs before export time
	OpEndDeltaUs
	OpDurMs
	OpDurUs
	OpSysInit // systemInitTimeMilliseconds
	// observationTime* (322-325): kept in Extra, and the flow's time when
	// it has no other (Cisco ASA NSEL sends only 323).
	OpObsSec
	OpObsMs
	OpObsUs
	OpObsNs
	// Kept in Extra too (the encoder writes them from there), and filling
	// the Argus field flow/fields.csv maps them to.
	OpMinLen    // minimumIpTotalLength: PktSize.Min
	OpMaxLen    // maximumIpTotalLength: PktSize.Max
	OpIPID      // fragmentIdentification: IPAttr.IPID
	OpTCPWin    // tcpWindowSize: TCP side Win
	OpTCPSeq    // tcpSequenceNumber: TCP side SeqBase
	OpEtherType // ethernetType: MAC.EtherType
	OpVLANPrio  // dot1qPriority: the VLAN TCI's priority bits
	OpEndReason // flowEndReason: Cause
	OpSamplingInterval
	OpSamplingAlgo
	OpSamplerID
	OpSamplerMode
	OpSamplerRandom
	OpSelectorAlgo
	OpPacketInterval
	OpPacketSpace
	// exporterIPv4Address/exporterIPv6Address (130/131): the Exporter's
	// address when a proxy or collector chain re-exports (RFC 7011 §2,
	// IANA); it replaces the transport's source as Record.Exporter.
	OpExporter4
	OpExporter6
	// OpRule: a user mapping's rule reads the element (mapping.go).
	OpRule
	numOps
)

// Element is one entry of the registry.
type Element struct {
	ID   uint16
	PEN  uint32
	Name string // IANA (or Cisco, for v9-only types) name
	Op   Op
	Len  uint16 // the length the encoder writes (0: variable or not encoded)
}

// elements lists the IANA elements with a canonical field, and a few
// well-known ones without (their Op is OpExtra; the name helps reports).
var elements = []Element{
	{1, 0, "octetDeltaCount", OpOctets, 8},
	{2, 0, "packetDeltaCount", OpPackets, 8},
	{3, 0, "deltaFlowCount", OpExtra, 0},
	{4, 0, "protocolIdentifier", OpProto, 1},
	{5, 0, "ipClassOfService", OpTOS, 1},
	{6, 0, "tcpControlBits", OpTCPFlags, 2},
	{7, 0, "sourceTransportPort", OpSrcPort, 2},
	{8, 0, "sourceIPv4Address", OpSrcAddr4, 4},
	{9, 0, "sourceIPv4PrefixLength", OpSrcMask, 1},
	{10, 0, "ingressInterface", OpInIf, 4},
	{11, 0, "destinationTransportPort", OpDstPort, 2},
	{12, 0, "destinationIPv4Address", OpDstAddr4, 4},
	{13, 0, "destinationIPv4PrefixLength", OpDstMask, 1},
	{14, 0, "egressInterface", OpOutIf, 4},
	{15, 0, "ipNextHopIPv4Address", OpNextHop4, 4},
	{16, 0, "bgpSourceAsNumber", OpSrcAS, 4},
	{17, 0, "bgpDestinationAsNumber", OpDstAS, 4},
	{18, 0, "bgpNextHopIPv4Address", OpBGPNextHop4, 4},
	{21, 0, "flowEndSysUpTime", OpEndUptime, 4},
	{22, 0, "flowStartSysUpTime", OpStartUptime, 4},
	{23, 0, "postOctetDeltaCount", OpExtra, 0},
	{24, 0, "postPacketDeltaCount", OpExtra, 0},
	{27, 0, "sourceIPv6Address", OpSrcAddr6, 16},
	{28, 0, "destinationIPv6Address", OpDstAddr6, 16},
	{29, 0, "sourceIPv6PrefixLength", OpSrcMask, 1},
	{30, 0, "destinationIPv6PrefixLength", OpDstMask, 1},
	{31, 0, "flowLabelIPv6", OpFlowLabel, 4},
	{32, 0, "icmpTypeCodeIPv4", OpICMPTypeCode4, 2},
	{34, 0, "samplingInterval", OpSamplingInterval, 4},
	{38, 0, "engineType", OpExtra, 0},
	{39, 0, "engineId", OpExtra, 0},
	{44, 0, "sourceIPv4Prefix", OpExtra, 0},
	{45, 0, "destinationIPv4Prefix", OpExtra, 0},
	{35, 0, "samplingAlgorithm", OpSamplingAlgo, 0},
	{48, 0, "samplerId", OpSamplerID, 0},
	{49, 0, "samplerMode", OpSamplerMode, 0},
	{50, 0, "samplerRandomInterval", OpSamplerRandom, 0},
	{25, 0, "minimumIpTotalLength", OpMinLen, 0},
	{26, 0, "maximumIpTotalLength", OpMaxLen, 0},
	{52, 0, "minimumTTL", OpMinTTL, 0},
	{53, 0, "maximumTTL", OpMaxTTL, 0},
	{54, 0, "fragmentIdentification", OpIPID, 0},
	{56, 0, "sourceMacAddress", OpSrcMAC, 6},
	{57, 0, "postDestinationMacAddress", OpExtra, 0},
	{58, 0, "vlanId", OpVLAN, 2},
	{59, 0, "postVlanId", OpExtra, 0},
	{60, 0, "ipVersion", OpExtra, 0},
	{61, 0, "flowDirection", OpExtra, 0},
	{62, 0, "ipNextHopIPv6Address", OpNextHop6, 16},
	{63, 0, "bgpNextHopIPv6Address", OpBGPNextHop6, 16},
	{70, 0, "mplsTopLabelStackSection", OpMPLS1, 3},
	{80, 0, "destinationMacAddress", OpDstMAC, 6},
	{81, 0, "postSourceMacAddress", OpExtra, 0},
	{82, 0, "interfaceName", OpExtra, 0},
	{85, 0, "octetTotalCount", OpOctetsTotal, 0},
	{86, 0, "packetTotalCount", OpPacketsTotal, 0},
	{89, 0, "forwardingStatus", OpExtra, 0},
	{92, 0, "srcTrafficIndex", OpExtra, 0},
	{93, 0, "dstTrafficIndex", OpExtra, 0},
	{95, 0, "applicationId", OpExtra, 0},
	{96, 0, "applicationName", OpExtra, 0},
	{98, 0, "postIpDiffServCodePoint", OpExtra, 0},
	{130, 0, "exporterIPv4Address", OpExporter4, 4},
	{131, 0, "exporterIPv6Address", OpExporter6, 16},
	{136, 0, "flowEndReason", OpEndReason, 0},
	{138, 0, "observationPointId", OpExtra, 0},
	{139, 0, "icmpTypeCodeIPv6", OpICMPTypeCode6, 2},
	{143, 0, "meteringProcessId", OpExtra, 0},
	{144, 0, "exportingProcessId", OpExtra, 0},
	{147, 0, "wlanSSID", OpExtra, 0},
	{148, 0, "flowId", OpExtra, 0},
	{150, 0, "flowStartSeconds", OpStartSec, 0},
	{151, 0, "flowEndSeconds", OpEndSec, 0},
	{152, 0, "flowStartMilliseconds", OpStartMs, 8},
	{153, 0, "flowEndMilliseconds", OpEndMs, 8},
	{154, 0, "flowStartMicroseconds", OpStartUs, 0},
	{155, 0, "flowEndMicroseconds", OpEndUs, 0},
	{156, 0, "flowStartNanoseconds", OpStartNs, 8},
	{157, 0, "flowEndNanoseconds", OpEndNs, 8},
	{158, 0, "flowStartDeltaMicroseconds", OpStartDeltaUs, 0},
	{159, 0, "flowEndDeltaMicroseconds", OpEndDeltaUs, 0},
	{160, 0, "systemInitTimeMilliseconds", OpSysInit, 0},
	{161, 0, "flowDurationMilliseconds", OpDurMs, 0},
	{162, 0, "flowDurationMicroseconds", OpDurUs, 0},
	{176, 0, "icmpTypeIPv4", OpICMPType, 0},
	{177, 0, "icmpCodeIPv4", OpICMPCode, 0},
	{178, 0, "icmpTypeIPv6", OpICMPType, 0},
	{179, 0, "icmpCodeIPv6", OpICMPCode, 0},
	{180, 0, "udpSourcePort", OpSrcPort, 0},
	{181, 0, "udpDestinationPort", OpDstPort, 0},
	{182, 0, "tcpSourcePort", OpSrcPort, 0},
	{183, 0, "tcpDestinationPort", OpDstPort, 0},
	{184, 0, "tcpSequenceNumber", OpTCPSeq, 0},
	{186, 0, "tcpWindowSize", OpTCPWin, 0},
	{192, 0, "ipTTL", OpTTL, 1},
	{195, 0, "ipDiffServCodePoint", OpDSCP, 0},
	{196, 0, "ipPrecedence", OpExtra, 0},
	{210, 0, "paddingOctets", OpExtra, 0},
	{225, 0, "postNATSourceIPv4Address", OpExtra, 0},
	{322, 0, "observationTimeSeconds", OpObsSec, 0},
	{323, 0, "observationTimeMilliseconds", OpObsMs, 0},
	{324, 0, "observationTimeMicroseconds", OpObsUs, 0},
	{325, 0, "observationTimeNanoseconds", OpObsNs, 0},
	{226, 0, "postNATDestinationIPv4Address", OpExtra, 0},
	{227, 0, "postNAPTSourceTransportPort", OpExtra, 0},
	{228, 0, "postNAPTDestinationTransportPort", OpExtra, 0},
	{231, 0, "initiatorOctets", OpInitOctets, 0},
	{232, 0, "responderOctets", OpRespOctets, 0},
	{233, 0, "firewallEvent", OpExtra, 0},
	{234, 0, "ingressVRFID", OpExtra, 0},
	{235, 0, "egressVRFID", OpExtra, 0},
	{236, 0, "VRFname", OpExtra, 0},
	{239, 0, "biflowDirection", OpExtra, 0},
	{243, 0, "dot1qVlanId", OpDot1qVLAN, 0},
	{244, 0, "dot1qPriority", OpVLANPrio, 0},
	{256, 0, "ethernetType", OpEtherType, 0},
	{278, 0, "newConnectionDeltaCount", OpExtra, 0},
	{298, 0, "initiatorPackets", OpInitPackets, 0},
	{299, 0, "responderPackets", OpRespPackets, 0},
	{302, 0, "selectorId", OpSamplerID, 0},
	{304, 0, "selectorAlgorithm", OpSelectorAlgo, 0},
	{305, 0, "samplingPacketInterval", OpPacketInterval, 0},
	{306, 0, "samplingPacketSpace", OpPacketSpace, 0},
	{346, 0, "privateEnterpriseNumber", OpExtra, 0},
	{351, 0, "layer2SegmentId", OpExtra, 0},
	{365, 0, "staMacAddress", OpExtra, 0},
	{366, 0, "staIPv4Address", OpExtra, 0},
	{367, 0, "wtpMacAddress", OpExtra, 0},
}

// maxIANA bounds the direct-index table of IANA (PEN 0) elements.
const maxIANA = 512

var (
	iana     [maxIANA]*Element
	byName   = map[string]*Element{}
	opToElem [numOps]*Element // the element an encoder writes for an op
)

func init() {
	for i := range elements {
		e := &elements[i]
		iana[e.ID] = e
		byName[e.Name] = e
		if e.Len != 0 && opToElem[e.Op] == nil {
			opToElem[e.Op] = e
		}
	}
}

// Lookup returns the registry entry for an element. Reverse elements
// (PENReverse) return their forward element; reverse reports whether the
// element is a reverse one.
func Lookup(pen uint32, id uint16) (e *Element, reverse bool) {
	if pen == PENReverse {
		pen, reverse = 0, true
	}
	if pen == 0 && int(id) < maxIANA {
		return iana[id], reverse
	}
	return nil, reverse
}

// ByName returns the registry entry of an element name (IANA spelling).
func ByName(name string) *Element { return byName[name] }

// Name returns the element's name, or "" when the registry has none.
func Name(pen uint32, id uint16) string {
	e, rev := Lookup(pen, id)
	if e == nil {
		return ""
	}
	if rev {
		return "reverse" + string(e.Name[0]-'a'+'A') + e.Name[1:]
	}
	return e.Name
}

// kept says which ops keep the value in Extra as well as filling a field:
// the encoder writes these elements from Extra, so an IPFIX to IPFIX
// round trip keeps them exactly.
func kept(op Op) bool {
	switch op {
	case OpObsSec, OpObsMs, OpObsUs, OpObsNs, OpMinLen, OpMaxLen, OpIPID,
		OpTCPWin, OpTCPSeq, OpEtherType, OpVLANPrio, OpEndReason,
		// Sampling elements in data records (a sampler id, its mode): the
		// record's rate comes from them, and they go back out as sent.
		// Not samplingInterval (34): it is the rate itself, which the
		// encoder writes as 34 (Huawei sends it in data records).
		OpSamplingAlgo, OpSamplerID, OpSamplerMode,
		OpSamplerRandom, OpSelectorAlgo, OpPacketInterval, OpPacketSpace,
		// Alternatives of canonical elements (the encoder writes the
		// canonical one, ipClassOfService, ipTTL, vlanId, from the field):
		// kept so the element that came goes back too.
		OpDSCP, OpMinTTL, OpMaxTTL, OpDot1qVLAN:
		return true
	}
	return false
}

// perDirection says which ops fill the element's direction, so that an
// RFC 5103 reverse element of them fills flow.Dst. Reverse elements of
// other ops (a reverse source address makes no sense) go to Extra.
func perDirection(op Op) bool {
	switch op {
	case OpOctets, OpPackets, OpOctetsTotal, OpPacketsTotal, OpTCPFlags,
		OpTOS, OpDSCP, OpTTL, OpMinTTL, OpMaxTTL, OpVLAN, OpDot1qVLAN,
		OpMPLS1, OpMinLen, OpMaxLen, OpIPID, OpTCPWin, OpTCPSeq, OpVLANPrio, OpStartSec, OpEndSec, OpStartMs, OpEndMs, OpStartUs,
		OpEndUs, OpStartNs, OpEndNs, OpStartDeltaUs, OpEndDeltaUs,
		OpDurMs, OpDurUs:
		// Not the uptimes: YAF sends 29305/21 as reverseFlowDeltaMilliseconds
		// (reverse start minus forward start), not a reverse uptime.
		return true
	}
	return false
}
