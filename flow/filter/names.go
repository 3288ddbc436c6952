package filter

import (
	_ "embed"
	"strconv"
	"strings"
)

// kw is a keyword of the filter language.
type kw uint8

const (
	kwNone kw = iota

	// protocol qualifiers (pname)
	kwLink // ether link ppp slip fddi
	kwIP
	kwIPv4
	kwIPv6
	kwARP
	kwRARP
	kwTCP
	kwUDP
	kwICMP
	kwICMP6
	kwIGMP
	kwESP
	kwRTP
	kwRTCP
	kwUDT
	kwMPLS
	kwVLAN
	kwVXLAN
	kwGRE
	kwGeneve
	kwDECnet
	kwLAT
	kwMOPDL
	kwMOPRC
	kwAnon
	pnameEnd

	// direction
	kwSrc
	kwDst

	// address qualifiers
	kwHost
	kwNet
	kwSrcID
	kwInode
	kwInf
	kwGateway
	kwMask
	kwProto

	// integer attributes (iqual)
	kwPort
	kwIPID
	kwTTL
	kwTOS
	kwDSB
	kwVID
	kwVPRI
	kwMID
	kwBytes
	kwAppBytes
	kwPkts
	kwTrans
	kwTCPBase
	kwLoss
	kwSeq
	kwMaxSeg
	kwSPI
	kwGap
	kwASN
	kwNStroke
	kwCo // country code: takes a two-letter code, eq/neq only
	iqualEnd

	// float attributes (fqual)
	kwDur
	kwRate
	kwLoad
	kwJitter
	kwIntPkt
	kwTCPRTT
	kwAvgDur
	fqualEnd

	// TCP/IP indicators that take a direction (tname)
	kwSyn
	kwAck
	kwPush
	kwUrg
	kwFin
	kwRst
	kwEce
	kwCwr
	kwRetrans
	kwOOO
	kwDup
	kwWinShut
	kwECN
	kwMultipath
	kwFrag
	kwFragOnly
	kwReuse
	tnameEnd

	// stand-alone primitives (sname)
	kwStart
	kwStatus
	kwStop
	kwTimeout
	kwShut
	kwError
	kwMan
	kwFar
	kwEvent
	kwIndex
	kwNormal
	kwWait
	kwEst
	kwSynAck
	kwFinAck
	kwICMPMap
	kwEcho
	kwUnreach
	kwRedirect
	kwTimexed
	kwUnrNet // first unr* code keyword; code = kw - kwUnrNet
	kwUnrHost
	kwUnrProto
	kwUnrPort
	kwUnrFrag
	kwUnrSrcFail
	kwUnrNetUnk
	kwUnrHostUnk
	kwUnrISO
	kwUnrNetPro
	kwUnrHostPro
	kwUnrNetTOS
	kwUnrHostTOS
	kwUnrFilter
	kwUnrHostPre
	kwUnrNetPre
	kwRtr
	kwMbr
	kwLvg
	kwTCPOpt // first TCP option keyword (ocode); see tcpOptBits
	kwMSS
	kwWScale
	kwSAckOK
	kwSAck
	kwTCPEcho
	kwTCPEchoReply
	kwTCPTimestamp
	kwTCPCC
	kwTCPCCNew
	kwTCPCCEcho
	kwSECN
	kwDECN
	kwCocode // alone: the record has country codes; with a value: co
	snameEnd

	// other
	kwBroadcast
	kwMulticast
	kwUnsupported // recognised ra keyword this package does not evaluate
)

var keywords = map[string]kw{
	"ether": kwLink, "link": kwLink, "ppp": kwLink, "slip": kwLink, "fddi": kwLink,
	"ip": kwIP, "ipv4": kwIPv4, "ipv6": kwIPv6, "arp": kwARP, "rarp": kwRARP,
	"tcp": kwTCP, "udp": kwUDP, "icmp": kwICMP, "icmp6": kwICMP6, "icmpv6": kwICMP6, "ipv6-icmp": kwICMP6,
	"igmp": kwIGMP, "esp": kwESP, "rtp": kwRTP, "rtcp": kwRTCP, "udt": kwUDT,
	"mpls": kwMPLS, "vlan": kwVLAN, "vxlan": kwVXLAN, "gre": kwGRE, "geneve": kwGeneve,
	"decnet": kwDECnet, "lat": kwLAT, "mopdl": kwMOPDL, "moprc": kwMOPRC, "anon": kwAnon,

	"src": kwSrc, "dst": kwDst,

	"host": kwHost, "addr": kwHost, "net": kwNet, "srcid": kwSrcID, "sid": kwSrcID,
	"inode": kwInode, "node": kwInode, "inf": kwInf, "gateway": kwGateway, "mask": kwMask, "proto": kwProto,

	"port": kwPort, "ipid": kwIPID, "ttl": kwTTL, "tos": kwTOS, "dsb": kwDSB, "dsbyte": kwDSB,
	"vid": kwVID, "vpri": kwVPRI, "mid": kwMID,
	"bytes": kwBytes, "byte": kwBytes, "appbytes": kwAppBytes, "appbyte": kwAppBytes, "data": kwAppBytes,
	"pkts": kwPkts, "pkt": kwPkts, "trans": kwTrans, "count": kwTrans,
	"tcpb": kwTCPBase, "base": kwTCPBase, "loss": kwLoss, "seq": kwSeq, "maxseg": kwMaxSeg, "spi": kwSPI,
	"gap": kwGap, "as": kwASN, "asn": kwASN, "nstroke": kwNStroke, "nstrokes": kwNStroke, "co": kwCo,

	"dur": kwDur, "rate": kwRate, "load": kwLoad, "jitter": kwJitter, "jit": kwJitter,
	"intpkt": kwIntPkt, "inter": kwIntPkt, "tcprtt": kwTCPRTT, "avgdur": kwAvgDur,

	"syn": kwSyn, "ack": kwAck, "push": kwPush, "urg": kwUrg, "fin": kwFin, "rst": kwRst, "reset": kwRst,
	"ece": kwEce, "cwr": kwCwr, "retrans": kwRetrans, "drop": kwRetrans, "outoforder": kwOOO, "ooo": kwOOO,
	"dup": kwDup, "winshut": kwWinShut, "ecn": kwECN, "multipath": kwMultipath, "mpath": kwMultipath,
	"frag": kwFrag, "fragonly": kwFragOnly, "reuse": kwReuse,

	"start": kwStart, "init": kwStart, "status": kwStatus, "stop": kwStop, "timeout": kwTimeout,
	"shut": kwShut, "error": kwError, "man": kwMan, "mar": kwMan, "far": kwFar, "event": kwEvent,
	"index": kwIndex, "normal": kwNormal, "wait": kwWait, "est": kwEst, "con": kwEst, "avail": kwEst,
	"synack": kwSynAck, "finack": kwFinAck, "icmpmap": kwICMPMap, "echo": kwEcho,
	"unreach": kwUnreach, "unr": kwUnreach, "redirect": kwRedirect, "timexed": kwTimexed,
	"unrnet": kwUnrNet, "unrhost": kwUnrHost, "unrproto": kwUnrProto, "unrport": kwUnrPort,
	"unrfrag": kwUnrFrag, "unrsrcfail": kwUnrSrcFail, "unrnetunk": kwUnrNetUnk, "unrhostunk": kwUnrHostUnk,
	"unriso": kwUnrISO, "unrnetpro": kwUnrNetPro, "unrhostpro": kwUnrHostPro, "unrnettos": kwUnrNetTOS,
	"unrhosttos": kwUnrHostTOS, "unrfilter": kwUnrFilter, "unrhostpre": kwUnrHostPre, "unrnetpre": kwUnrNetPre,
	"rtr": kwRtr, "mbr": kwMbr, "lvg": kwLvg,
	"tcpopt": kwTCPOpt, "mss": kwMSS, "wscale": kwWScale, "selackok": kwSAckOK, "selack": kwSAck,
	"tcpecho": kwTCPEcho, "tcpechoreply": kwTCPEchoReply, "tcptimestamp": kwTCPTimestamp, "tcpcc": kwTCPCC,
	"tcpccnew": kwTCPCCNew, "tcpccecho": kwTCPCCEcho, "secn": kwSECN, "decn": kwDECN, "cocode": kwCocode,

	"broadcast": kwBroadcast, "multicast": kwMulticast,

	// ra keywords recognised so that they are not taken for host names;
	// unsupportedWhy says why each is refused.
	"lcl": kwUnsupported, "rem": kwUnsupported, "rmt": kwUnsupported, "class": kwUnsupported,
	"cor": kwUnsupported, "deldur": kwUnsupported, "delstime": kwUnsupported,
	"delltime": kwUnsupported, "masklen": kwUnsupported, "mlen": kwUnsupported, "intflow": kwUnsupported,
	"intflowsdev": kwUnsupported, "intpktact": kwUnsupported, "intpktidle": kwUnsupported,
	"jitact": kwUnsupported, "jitidle": kwUnsupported, "ploss": kwUnsupported, "pcr": kwUnsupported,
	"pcratio": kwUnsupported, "abr": kwUnsupported, "abratio": kwUnsupported, "loc": kwUnsupported,
	"lon": kwUnsupported, "isis": kwUnsupported, "hello": kwUnsupported, "lsp": kwUnsupported,
	"csnp": kwUnsupported, "psnp": kwUnsupported, "local": kwUnsupported, "intranet": kwUnsupported,
	"remote": kwUnsupported, "internet": kwUnsupported, "inbound": kwUnsupported, "outbound": kwUnsupported,
	"svc": kwUnsupported, "baseline": kwUnsupported, "match": kwUnsupported, "len": kwUnsupported,
	"length": kwUnsupported, "encaps": kwUnsupported,
	"req": kwUnsupported, "rsp": kwUnsupported, "auth": kwUnsupported, "recurs": kwUnsupported,
}

// unsupportedWhy explains, for some refused keywords, why they are refused
// (the error message); the others get a plain "is not supported".
var unsupportedWhy = map[string]string{
	"len":      "arithmetic (len, proto[x:y]) is not supported",
	"length":   "arithmetic (len, proto[x:y]) is not supported",
	"gateway":  "gateway needs the gateway's hardware address from an ethers database, which flowgate does not read",
	"lcl":      "locality needs ra's RA_LOCAL configuration, which flowgate does not have",
	"rem":      "locality needs ra's RA_LOCAL configuration, which flowgate does not have",
	"rmt":      "locality needs ra's RA_LOCAL configuration, which flowgate does not have",
	"local":    "locality needs ra's RA_LOCAL configuration, which flowgate does not have",
	"intranet": "locality needs ra's RA_LOCAL configuration, which flowgate does not have",
	"remote":   "locality needs ra's RA_LOCAL configuration, which flowgate does not have",
	"internet": "locality needs ra's RA_LOCAL configuration, which flowgate does not have",
	"inbound":  "direction of traffic needs ra's RA_LOCAL configuration, which flowgate does not have",
	"outbound": "direction of traffic needs ra's RA_LOCAL configuration, which flowgate does not have",
}

// tcpOptBits are the Argus TCP option bits (argus-format.md §7.7) of the
// option keywords, indexed from kwTCPOpt; "tcpopt" is any of them.
var tcpOptBits = [...]uint32{
	kwTCPOpt - kwTCPOpt:       0xfff00000,
	kwMSS - kwTCPOpt:          0x00100000,
	kwWScale - kwTCPOpt:       0x00200000,
	kwSAckOK - kwTCPOpt:       0x00400000,
	kwSAck - kwTCPOpt:         0x00800000,
	kwTCPEcho - kwTCPOpt:      0x01000000,
	kwTCPEchoReply - kwTCPOpt: 0x02000000,
	kwTCPTimestamp - kwTCPOpt: 0x04000000,
	kwTCPCC - kwTCPOpt:        0x08000000,
	kwTCPCCNew - kwTCPOpt:     0x10000000,
	kwTCPCCEcho - kwTCPOpt:    0x20000000,
	kwSECN - kwTCPOpt:         0x40000000,
	kwDECN - kwTCPOpt:         0x80000000,
}

func isPname(k kw) bool { return k > kwNone && k < pnameEnd }
func isIqual(k kw) bool { return k >= kwPort && k < iqualEnd }
func isFqual(k kw) bool { return k > iqualEnd && k < fqualEnd }
func isTname(k kw) bool { return k > fqualEnd && k < tnameEnd }
func isSname(k kw) bool { return k > tnameEnd && k < snameEnd }

// IP protocol numbers by name (a subset of /etc/protocols), for "proto NAME".
var ipProtos = map[string]uint8{
	"ip": 0, "hopopt": 0, "icmp": 1, "igmp": 2, "ggp": 3, "ipencap": 4, "ipip": 4, "st": 5, "tcp": 6,
	"egp": 8, "igp": 9, "pup": 12, "udp": 17, "hmp": 20, "xns-idp": 22, "rdp": 27, "iso-tp4": 29,
	"dccp": 33, "xtp": 36, "ddp": 37, "idpr-cmtp": 38, "ipv6": 41, "ipv6-route": 43, "ipv6-frag": 44,
	"idrp": 45, "rsvp": 46, "gre": 47, "esp": 50, "ah": 51, "skip": 57, "ipv6-icmp": 58, "icmp6": 58,
	"icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "rspf": 73, "vmtp": 81, "eigrp": 88, "ospf": 89,
	"ax.25": 93, "ipip-old": 94, "etherip": 97, "encap": 98, "pim": 103, "ipcomp": 108, "vrrp": 112,
	"l2tp": 115, "isis": 124, "sctp": 132, "fc": 133, "mobility-header": 135, "udplite": 136,
	"mpls-in-ip": 137, "manet": 138, "hip": 139, "shim6": 140, "wesp": 141, "rohc": 142, "ethernet": 143,
}

// Ethernet types by name, for "ether proto NAME".
var etherTypes = map[string]uint16{
	"ip": 0x0800, "ipv4": 0x0800, "ipv6": 0x86dd, "arp": 0x0806, "rarp": 0x8035, "vlan": 0x8100,
	"mpls": 0x8847, "mpls-mc": 0x8848, "lldp": 0x88cc, "pppoed": 0x8863, "pppoes": 0x8864,
	"qinq": 0x88a8, "decnet": 0x6003, "lat": 0x6004, "mopdl": 0x6001, "moprc": 0x6002,
	"ipx": 0x8137, "atalk": 0x809b, "aarp": 0x80f3, "loopback": 0x9000, "sca": 0x6007,
	"eapol": 0x888e, "macsec": 0x88e5, "ptp": 0x88f7, "pbb": 0x88e7, "fcoe": 0x8906,
}

// service is one entry of the embedded services table.
type service struct {
	port     uint16
	tcp, udp bool
}

//go:embed services.txt
var servicesText string

// services maps a service name or alias to its port and protocols.
var services = parseServices(servicesText)

func parseServices(text string) map[string]service {
	m := make(map[string]service)
	for line := range strings.SplitSeq(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		portStr, proto, ok := strings.Cut(f[1], "/")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil {
			continue
		}
		for _, name := range append([]string{f[0]}, f[2:]...) {
			s := m[name]
			s.port = uint16(port)
			switch proto {
			case "tcp":
				s.tcp = true
			case "udp":
				s.udp = true
			}
			m[name] = s
		}
	}
	return m
}
