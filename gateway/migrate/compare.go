package migrate

import (
	"bytes"
	"unsafe"

	"github.com/flowgate/flowgate/flow"
)

// sameValues reports whether a and b hold the same values, the encoding
// details aside: the Argus layout (version, DSR order, residue, padding),
// the MAR's cookie, major version and id placement, and a source id
// whose type the version decides (codecs/argus §9.3 step 3).
//
// The byte slices are compared one by one; the rest of the record, with
// them cleared, is compared as memory: records come zeroed from Reset, so
// their padding is zero, and a field added to flow.Record is compared
// without a change here (a slice one would differ by its pointer: a false
// failure, never a false pass).
func sameValues(a, b *flow.Record) bool {
	if !bytes.Equal(a.Label, b.Label) || !bytes.Equal(a.SrcUser.Data, b.SrcUser.Data) ||
		!bytes.Equal(a.DstUser.Data, b.DstUser.Data) || !bytes.Equal(a.Encaps.Buf[0], b.Encaps.Buf[0]) ||
		!bytes.Equal(a.Encaps.Buf[1], b.Encaps.Buf[1]) || !bytes.Equal(a.CommunityID, b.CommunityID) ||
		!bytes.Equal(a.Zeek.UID, b.Zeek.UID) || !bytes.Equal(a.Zeek.Service, b.Zeek.Service) ||
		!bytes.Equal(a.Zeek.History, b.Zeek.History) || !bytes.Equal(a.Zeek.State, b.Zeek.State) ||
		len(a.Extra) != len(b.Extra) {
		return false
	}
	for i := range a.Extra {
		x, y := &a.Extra[i], &b.Extra[i]
		if x.Source != y.Source || x.Enterprise != y.Enterprise || x.ID != y.ID || x.Offset != y.Offset || !bytes.Equal(x.Value, y.Value) {
			return false
		}
	}
	// Both records are cleared of what was compared above and of the
	// encoding details, compared as memory, and restored: no 2 KB copies.
	sa, sb := strip(a), strip(b)
	ab := unsafe.Slice((*byte)(unsafe.Pointer(a)), unsafe.Sizeof(*a))
	bb := unsafe.Slice((*byte)(unsafe.Pointer(b)), unsafe.Sizeof(*b))
	same := bytes.Equal(ab, bb)
	sa.restore(a)
	sb.restore(b)
	return same
}

// stripped is what strip took out of a record.
type stripped struct {
	label, suser, duser, enc0, enc1, cid, uid, svc, hist, state []byte
	extra                                                       []flow.Field
	argus                                                       flow.ArgusLayout
	cookie                                                      uint32
	major                                                       uint8
	id                                                          [16]byte
	srcIDType                                                   flow.SrcIDType
}

// strip clears r's slices and encoding details (the layout, the MAR's
// cookie, major version and id placement), and types a source id the
// version left untyped, returning what it changed.
func strip(r *flow.Record) stripped {
	s := stripped{r.Label, r.SrcUser.Data, r.DstUser.Data, r.Encaps.Buf[0], r.Encaps.Buf[1], r.CommunityID,
		r.Zeek.UID, r.Zeek.Service, r.Zeek.History, r.Zeek.State, r.Extra, r.Argus, r.Mgmt.Cookie, r.Mgmt.Major, r.Mgmt.ID, r.SrcID.Type}
	r.Label, r.SrcUser.Data, r.DstUser.Data = nil, nil, nil
	r.Encaps.Buf[0], r.Encaps.Buf[1], r.CommunityID = nil, nil, nil
	r.Zeek.UID, r.Zeek.Service, r.Zeek.History, r.Zeek.State = nil, nil, nil, nil
	r.Extra = nil
	r.Argus = flow.ArgusLayout{}
	r.Mgmt.Cookie, r.Mgmt.Major, r.Mgmt.ID = 0, 0, [16]byte{}
	if r.SrcID.Type == flow.SrcIDNone && r.Has&flow.HasSrcID != 0 {
		r.SrcID.Type = flow.SrcIDInt
	}
	return s
}

func (s *stripped) restore(r *flow.Record) {
	r.Label, r.SrcUser.Data, r.DstUser.Data = s.label, s.suser, s.duser
	r.Encaps.Buf[0], r.Encaps.Buf[1], r.CommunityID = s.enc0, s.enc1, s.cid
	r.Zeek.UID, r.Zeek.Service, r.Zeek.History, r.Zeek.State = s.uid, s.svc, s.hist, s.state
	r.Extra, r.Argus = s.extra, s.argus
	r.Mgmt.Cookie, r.Mgmt.Major, r.Mgmt.ID = s.cookie, s.major, s.id
	r.SrcID.Type = s.srcIDType
}
