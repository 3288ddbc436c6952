package zeek

import "github.com/flowgate/flowgate/flow"

// Argus TCP status bits (argus_def.h).
const (
	SawSyn      = 0x00000001
	SawSynSent  = 0x00000002
	Established = 0x00000004
	Fin         = 0x00000008
	NormalClose = 0x00000020
	SrcRetrans  = 0x00000100
	DstRetrans  = 0x00000200
	SrcWinShut  = 0x00000400
	DstWinShut  = 0x00000800
	Reset       = 0x00003000 // ARGUS_SRC_RESET | ARGUS_DST_RESET
)

// TCP flag bits.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagACK = 0x10
)

// connStates is raconvert's conn_state table (argus-clients.md §4.3).
var connStates = [...]struct {
	name string
	bits uint32
}{
	{"S0", SawSyn},
	{"S1", SawSyn | SawSynSent | Established},
	{"SF", SawSyn | SawSynSent | Established | NormalClose},
	{"REJ", SawSyn | Reset},
	{"S2", SawSyn},
	{"S3", SawSyn},
	{"RSTO", SawSyn | SawSynSent | Established | Reset},
	{"RSTR", SawSyn | Established | Reset},
	{"RSTOS0", SawSyn | Reset},
	{"RSTRH", SawSynSent | Reset},
	{"SH", SawSyn | Fin},
	{"SHR", SawSynSent | Fin},
	{"OTH", Established},
}

// ConnStateBits returns the Argus TCP status bits raconvert gives a Zeek
// conn_state, and false for a name not in its table.
func ConnStateBits(state []byte) (uint32, bool) {
	for i := range connStates {
		if connStates[i].name == string(state) {
			return connStates[i].bits, true
		}
	}
	return 0, false
}

// ConnState returns the Zeek conn_state for Argus status bits: the first
// entry of the table whose bits are exactly st (S0 before S2/S3, REJ
// before RSTOS0: the states the table maps together come back as the
// first), else the closest by the Argus state precedence. ok is false
// when st has no TCP state at all.
func ConnState(st uint32) (string, bool) {
	for i := range connStates {
		if connStates[i].bits == st {
			return connStates[i].name, true
		}
	}
	switch {
	case st&Reset != 0:
		if st&Established != 0 {
			return "RSTO", true
		}
		return "REJ", true
	case st&NormalClose != 0:
		return "SF", true
	case st&Fin != 0:
		if st&SawSyn != 0 {
			return "SH", true
		}
		return "SHR", true
	case st&Established != 0:
		if st&SawSyn != 0 {
			return "S1", true
		}
		return "OTH", true
	case st&SawSyn != 0:
		return "S0", true
	}
	return "", false
}

// Argus per-side reset bits (ARGUS_SRC_RESET, ARGUS_DST_RESET).
const (
	srcReset = 0x1000
	dstReset = 0x2000
)

// ConnStateFlags is ConnState for a record whose per-direction TCP flags
// are known (flags[0] the source's, as a sensor reports them): status
// bits that are one of the table's rows give its state; otherwise the
// state is Zeek's, by its definitions (base/protocols/conn/main.zeek):
// an established connection (SYN-ACK seen) with FINs is SF when both
// sides sent one, S2 when only the originator did, S3 when only the
// responder did; SH (SHR) is a FIN after a SYN (SYN-ACK) with no answer.
// A reset after the handshake is RSTR when the responder sent it, RSTO
// when the originator did; RSTRH is the responder's reset when the
// originator's SYN was not seen.
func ConnStateFlags(st uint32, flags [2]uint8) (string, bool) {
	for i := range connStates {
		if connStates[i].bits == st {
			return connStates[i].name, true
		}
	}
	// Established: the handshake's answer seen, and the responder sent
	// packets (flags); a responder that sent nothing is Zeek's inactive
	// one, whose originator's FIN is SH.
	est := st&(SawSynSent|Established) != 0 && flags[1] != 0
	if flags == [2]uint8{} || !est {
		return ConnState(st)
	}
	if st&Reset != 0 {
		dst := st&dstReset != 0 || flags[1]&flagRST != 0
		switch {
		case dst && st&SawSyn == 0:
			return "RSTRH", true
		case dst:
			return "RSTR", true
		}
		return "RSTO", true
	}
	if st&(Fin|NormalClose) == 0 {
		return ConnState(st)
	}
	switch sf, df := flags[0]&flagFIN != 0, flags[1]&flagFIN != 0; {
	case sf && df:
		return "SF", true
	case sf:
		return "S2", true
	case df:
		return "S3", true
	}
	return ConnState(st)
}

// HistoryFlags scans a Zeek history string as raconvert does (§4.4):
// upper case is the originator (src), lower case the responder (dst).
// It returns the TCP flags per direction and the status bits the letters
// give (retransmission T/t, window shut W/w). Gap (G/g), data (D/d) and
// the other letters carry no flags.
func HistoryFlags(h []byte) (flags [2]uint8, status uint32, side [2]uint32) {
	for _, c := range h {
		d := flow.Src
		if c >= 'a' && c <= 'z' {
			d = flow.Dst
			c -= 'a' - 'A'
		}
		switch c {
		case 'S':
			flags[d] |= flagSYN
		case 'H':
			flags[d] |= flagSYN | flagACK
		case 'A':
			flags[d] |= flagACK
		case 'F':
			flags[d] |= flagFIN
		case 'R':
			flags[d] |= flagRST
		case 'T':
			status |= SrcRetrans << d
			side[d] |= SrcRetrans << d
		case 'W':
			status |= SrcWinShut << d
			side[d] |= SrcWinShut << d
		}
	}
	return
}

// tcpFromZeek fills rec.TCP from conn_state and history (TCP flows only).
func tcpFromZeek(rec *flow.Record, state, hist []byte) {
	st, ok := ConnStateBits(state)
	fl, hs, side := HistoryFlags(hist)
	if !ok && hist == nil {
		return
	}
	rec.TCP.Object = flow.TCPStatus
	rec.TCP.Status = st | hs
	rec.TCP.Side[0].Flags = fl[0]
	rec.TCP.Side[1].Flags = fl[1]
	rec.TCP.Side[0].Status = side[0]
	rec.TCP.Side[1].Status = side[1]
	rec.Has |= flow.HasTCP
}

// AppendHistory appends a history made from per-direction TCP flags and
// status for a record that did not come from Zeek: the letters in Zeek's
// order of a normal connection (S, H, A, F, R; originator upper case).
// It cannot restore order or repeats; a Zeek record keeps its own.
func AppendHistory(b []byte, flags [2]uint8, status uint32) []byte {
	s, d := flags[0], flags[1]
	if s&flagSYN != 0 {
		if s&flagACK != 0 && d&flagSYN == 0 {
			b = append(b, 'H')
		} else {
			b = append(b, 'S')
		}
	}
	if d&flagSYN != 0 {
		if d&flagACK != 0 {
			b = append(b, 'h')
		} else {
			b = append(b, 's')
		}
	}
	if s&flagACK != 0 {
		b = append(b, 'A')
	}
	if d&flagACK != 0 && d&flagSYN == 0 {
		b = append(b, 'a')
	}
	if status&SrcRetrans != 0 {
		b = append(b, 'T')
	}
	if status&DstRetrans != 0 {
		b = append(b, 't')
	}
	if status&SrcWinShut != 0 {
		b = append(b, 'W')
	}
	if status&DstWinShut != 0 {
		b = append(b, 'w')
	}
	if s&flagFIN != 0 {
		b = append(b, 'F')
	}
	if d&flagFIN != 0 {
		b = append(b, 'f')
	}
	if s&flagRST != 0 {
		b = append(b, 'R')
	}
	if d&flagRST != 0 {
		b = append(b, 'r')
	}
	return b
}
