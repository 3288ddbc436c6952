package zeek

// icmpCounterpart returns what Zeek logs as an ICMP connection's resp_p:
// the counterpart of the message type (echo request and reply ...), or
// the code for a type without one; one is true when the type has a
// counterpart, and the code is then not in the log. These are Zeek's
// ICMP4_counterpart and ICMP6_counterpart (packet_analysis/protocol/icmp/
// ICMP.cc), which key the connection by the pair.
func icmpCounterpart(v6 bool, typ, code uint8) (resp uint8, paired bool) {
	if v6 {
		switch typ {
		case 128, 129: // echo request, reply
			return other(typ, 128, 129), true
		case 133, 134: // router solicitation, advertisement
			return other(typ, 133, 134), true
		case 135, 136: // neighbor solicitation, advertisement
			return other(typ, 135, 136), true
		case 130, 131: // MLD listener query, report
			return other(typ, 130, 131), true
		case 139, 140: // node information query, response
			return other(typ, 139, 140), true
		case 144, 145: // home agent address discovery request, reply
			return other(typ, 144, 145), true
		}
		return code, false
	}
	switch typ {
	case 8, 0: // echo, echo reply
		return other(typ, 8, 0), true
	case 13, 14: // timestamp, reply
		return other(typ, 13, 14), true
	case 15, 16: // information request, reply
		return other(typ, 15, 16), true
	case 10, 9: // router solicitation, advertisement
		return other(typ, 10, 9), true
	case 17, 18: // address mask request, reply
		return other(typ, 17, 18), true
	}
	return code, false
}

// other returns b for a, a for b.
func other(typ, a, b uint8) uint8 {
	if typ == a {
		return b
	}
	return a
}
