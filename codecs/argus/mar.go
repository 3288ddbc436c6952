package argus

import (
	"github.com/flowgate/flowgate/flow"
)

// decMgmt fills m from a 128-byte MAR (argus-format.md §5.1; offsets are
// from the start of the record).
func decMgmt(m *flow.Mgmt, b []byte) {
	m.Status, m.Cookie = be.Uint32(b[4:]), be.Uint32(b[8:])
	m.LocalNet, m.NetMask, m.NextSeq = be.Uint32(b[12:]), be.Uint32(b[16:]), be.Uint32(b[20:])
	m.StartTime = tsDec(be.Uint32(b[24:]), be.Uint32(b[28:]), false)
	m.Now = tsDec(be.Uint32(b[32:]), be.Uint32(b[36:]), false)
	m.Major, m.Minor, m.IfType, m.IfStatus = b[40], b[41], b[42], b[43]
	m.ReportInterval, m.MarInterval = be.Uint16(b[44:]), be.Uint16(b[46:])
	m.PktsRcvd, m.BytesRcvd, m.Drift = be.Uint64(b[48:]), be.Uint64(b[56:]), be.Uint64(b[64:])
	m.Records, m.Flows, m.Dropped, m.Queue = be.Uint32(b[72:]), be.Uint32(b[76:]), be.Uint32(b[80:]), be.Uint32(b[84:])
	m.Output, m.Clients, m.Bufs, m.BytesOut = be.Uint32(b[88:]), be.Uint32(b[92:]), be.Uint32(b[96:]), be.Uint32(b[100:])
	m.SUserLen, m.DUserLen = be.Uint16(b[104:]), be.Uint16(b[106:])
	m.ID = [16]byte(b[108:124])
	m.RecordLen = int32(be.Uint32(b[124:]))
}

// appendMgmt appends the 124 bytes after the record header.
func appendMgmt(dst []byte, m *flow.Mgmt) []byte {
	var b [124]byte
	a := b[:]
	be.PutUint32(a[0:], m.Status)
	be.PutUint32(a[4:], m.Cookie)
	be.PutUint32(a[8:], m.LocalNet)
	be.PutUint32(a[12:], m.NetMask)
	be.PutUint32(a[16:], m.NextSeq)
	s, u := tsEnc(m.StartTime, false)
	be.PutUint32(a[20:], s)
	be.PutUint32(a[24:], u)
	s, u = tsEnc(m.Now, false)
	be.PutUint32(a[28:], s)
	be.PutUint32(a[32:], u)
	a[36], a[37], a[38], a[39] = m.Major, m.Minor, m.IfType, m.IfStatus
	be.PutUint16(a[40:], m.ReportInterval)
	be.PutUint16(a[42:], m.MarInterval)
	be.PutUint64(a[44:], m.PktsRcvd)
	be.PutUint64(a[52:], m.BytesRcvd)
	be.PutUint64(a[60:], m.Drift)
	be.PutUint32(a[68:], m.Records)
	be.PutUint32(a[72:], m.Flows)
	be.PutUint32(a[76:], m.Dropped)
	be.PutUint32(a[80:], m.Queue)
	be.PutUint32(a[84:], m.Output)
	be.PutUint32(a[88:], m.Clients)
	be.PutUint32(a[92:], m.Bufs)
	be.PutUint32(a[96:], m.BytesOut)
	be.PutUint16(a[100:], m.SUserLen)
	be.PutUint16(a[102:], m.DUserLen)
	copy(a[104:], m.ID[:])
	be.PutUint32(a[120:], uint32(m.RecordLen))
	return append(dst, a...)
}

// mgmtSrcID derives the monitor id a MAR announces. major is the stream's
// major version: 3.x keeps a 4-byte id in thisid (offset 120, a string one
// byte-reversed), 5.x puts it at offset 108 (falling back to 120 when 0).
func mgmtSrcID(m *flow.Mgmt, major int) (flow.SrcID, bool) {
	var s flow.SrcID
	switch m.Status & idisMask {
	case idisString:
		s.Type = flow.SrcIDString
	case idisInt:
		s.Type = flow.SrcIDInt
	case idisIPv6:
		s.Type = flow.SrcIDIPv6
	case idisIPv4:
		s.Type = flow.SrcIDIPv4
	case idisUUID:
		s.Type = flow.SrcIDUUID
	default:
		return s, false
	}
	id := m.ID
	switch {
	case s.Type == flow.SrcIDIPv6 || s.Type == flow.SrcIDUUID:
		s.ID = id
	case major < 5 || isZero(id[0:4]):
		copy(s.ID[:4], id[12:16])
		if s.Type == flow.SrcIDString && major < 5 {
			s.ID[0], s.ID[1], s.ID[2], s.ID[3] = s.ID[3], s.ID[2], s.ID[1], s.ID[0]
		}
	default:
		copy(s.ID[:4], id[0:4])
	}
	return s, true
}

func idisOf(t flow.SrcIDType) uint32 {
	switch t {
	case flow.SrcIDString:
		return idisString
	case flow.SrcIDInt:
		return idisInt
	case flow.SrcIDIPv6:
		return idisIPv6
	case flow.SrcIDIPv4:
		return idisIPv4
	case flow.SrcIDUUID:
		return idisUUID
	}
	return 0
}
