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
	var x, y flow.Record
	bare(&x, a)
	bare(&y, b)
	xb := unsafe.Slice((*byte)(unsafe.Pointer(&x)), unsafe.Sizeof(x))
	yb := unsafe.Slice((*byte)(unsafe.Pointer(&y)), unsafe.Sizeof(y))
	return bytes.Equal(xb, yb)
}

// bare copies r into dst without its slices and encoding details.
func bare(dst, r *flow.Record) {
	*dst = *r
	dst.Label, dst.SrcUser.Data, dst.DstUser.Data = nil, nil, nil
	dst.Encaps.Buf[0], dst.Encaps.Buf[1], dst.CommunityID = nil, nil, nil
	dst.Zeek.UID, dst.Zeek.Service, dst.Zeek.History, dst.Zeek.State = nil, nil, nil, nil
	dst.Extra = nil
	dst.Argus = flow.ArgusLayout{}
	dst.Mgmt.Cookie, dst.Mgmt.Major, dst.Mgmt.ID = 0, 0, [16]byte{}
	if dst.SrcID.Type == flow.SrcIDNone && dst.Has&flow.HasSrcID != 0 {
		dst.SrcID.Type = flow.SrcIDInt
	}
}
