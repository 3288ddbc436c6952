package zeek

import (
	"os"
	"strings"
	"testing"
)

// conn_state table of argus-clients.md §4.3 (raconvert's code), with the
// state ra prints for the bits.
var docConnStates = []struct{ state, bits, prints string }{
	{"S0", "SAW_SYN", "REQ"},
	{"S1", "SAW_SYN, SAW_SYN_SENT, CON_ESTABLISHED", "CON"},
	{"SF", "SAW_SYN, SAW_SYN_SENT, CON_ESTABLISHED, NORMAL_CLOSE", "CLO"},
	{"REJ", "SAW_SYN, RESET", "RST"},
	{"S2", "SAW_SYN", "REQ"},
	{"S3", "SAW_SYN", "REQ"},
	{"RSTO", "SAW_SYN, SAW_SYN_SENT, CON_ESTABLISHED, RESET", "RST"},
	{"RSTR", "SAW_SYN, CON_ESTABLISHED, RESET", "RST"},
	{"RSTOS0", "SAW_SYN, RESET", "RST"},
	{"RSTRH", "SAW_SYN_SENT, RESET", "RST"},
	{"SH", "SAW_SYN, FIN", "FIN"},
	{"SHR", "SAW_SYN_SENT, FIN", "FIN"},
	{"OTH", "CON_ESTABLISHED", "CON"},
}

var bitNames = map[string]uint32{
	"SAW_SYN": SawSyn, "SAW_SYN_SENT": SawSynSent, "CON_ESTABLISHED": Established,
	"NORMAL_CLOSE": NormalClose, "RESET": Reset, "FIN": Fin,
}

// raState is ra's TCP state precedence (argus-clients.md §1.5).
func raState(st uint32) string {
	switch {
	case st&Reset != 0:
		return "RST"
	case st&Fin != 0:
		return "FIN"
	case st&NormalClose != 0:
		return "CLO"
	case st&Established != 0:
		return "CON"
	case st&SawSynSent != 0:
		return "ACC"
	case st&SawSyn != 0:
		return "REQ"
	}
	return ""
}

func TestConnStateTable(t *testing.T) {
	rows := docConnStates
	// When the reference notes are at hand, read the table from them so
	// that the test follows the document, not a copy of it.
	if doc, err := os.ReadFile("/work/shared/docs/argus-clients.md"); err == nil {
		s := string(doc)
		i := strings.Index(s, "### 4.3")
		j := strings.Index(s, "### 4.4")
		if i < 0 || j < i {
			t.Fatal("argus-clients.md: no §4.3")
		}
		rows = nil
		for _, l := range strings.Split(s[i:j], "\n") {
			c := strings.Split(l, "|")
			if len(c) != 5 || strings.Contains(c[1], "conn_state") || strings.HasPrefix(strings.TrimSpace(c[1]), "---") {
				continue
			}
			prints := strings.Trim(strings.Fields(c[3])[0], "`")
			for _, st := range strings.Split(c[1], ",") {
				rows = append(rows, struct{ state, bits, prints string }{strings.TrimSpace(st), c[2], prints})
			}
		}
		if len(rows) != len(docConnStates) {
			t.Fatalf("argus-clients.md §4.3 has %d states, want %d", len(rows), len(docConnStates))
		}
	}
	for _, r := range rows {
		var want uint32
		for _, b := range strings.Split(r.bits, ",") {
			v, ok := bitNames[strings.TrimSpace(b)]
			if !ok {
				t.Fatalf("unknown bit %q", b)
			}
			want |= v
		}
		got, ok := ConnStateBits([]byte(r.state))
		if !ok || got != want {
			t.Errorf("%s: bits %#x, want %#x (%s)", r.state, got, want, r.bits)
		}
		if p := raState(got); p != r.prints {
			t.Errorf("%s: ra prints %s, doc says %s", r.state, p, r.prints)
		}
		// Back: the bits give a state with the same bits (S2/S3 and
		// RSTOS0 share bits with S0 and REJ).
		back, ok := ConnState(got)
		if b2, _ := ConnStateBits([]byte(back)); !ok || b2 != got {
			t.Errorf("%s: back to %s (%#x)", r.state, back, b2)
		}
	}
}

func TestHistoryFlags(t *testing.T) {
	// Verified with raconvert (argus-clients.md §4.4): ShADadFf gave src
	// flags FSA; S gave S.
	fl, _, _ := HistoryFlags([]byte("ShADadFf"))
	if fl[0] != flagFIN|flagSYN|flagACK {
		t.Errorf("ShADadFf src flags %#x, want FSA", fl[0])
	}
	if fl[1] != flagSYN|flagACK|flagFIN {
		t.Errorf("ShADadFf dst flags %#x, want SYN ACK FIN", fl[1])
	}
	if fl, _, _ := HistoryFlags([]byte("S")); fl[0] != flagSYN || fl[1] != 0 {
		t.Errorf("S: %v", fl)
	}
	_, st, side := HistoryFlags([]byte("TtWw"))
	if st != SrcRetrans|DstRetrans|SrcWinShut|DstWinShut || side[0] != SrcRetrans|SrcWinShut || side[1] != DstRetrans|DstWinShut {
		t.Errorf("TtWw: status %#x sides %#x", st, side)
	}
	if fl, st, _ := HistoryFlags([]byte("DdIiQqCc^Gg")); fl != [2]uint8{} || st != 0 {
		t.Errorf("ignored letters gave %v %#x", fl, st)
	}
	// And back: the flags of a normal connection give its letters (h
	// already says the responder acknowledged).
	fl, st, _ = HistoryFlags([]byte("ShADadFf"))
	if h := string(AppendHistory(nil, fl, st)); h != "ShAFf" {
		t.Errorf("AppendHistory = %q", h)
	}
}
