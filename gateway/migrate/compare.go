package migrate

import (
	"bytes"
	"slices"
	"unsafe"

	"github.com/flowgate/flowgate/flow"
)

// sameValues reports whether a and b hold the same values, the encoding
// details aside: the Argus layout (version, DSR order, residue, padding),
// the MAR's cookie, major version and id placement, and a source id
// whose type the version decides (codecs/argus §9.3 step 3).
//
// The byte slices are compared one by one; the rest of the record is
// compared as memory, range by range around them and the encoding
// details (cmpRanges): records come zeroed from Reset, so their padding
// is zero, and a field added to flow.Record is compared without a change
// here (a slice one would differ by its pointer: a false failure, never a
// false pass).
func sameValues(a, b *flow.Record) bool {
	if !bytes.Equal(a.Label, b.Label) || !bytes.Equal(a.SrcUser.Data, b.SrcUser.Data) ||
		!bytes.Equal(a.DstUser.Data, b.DstUser.Data) || !bytes.Equal(a.Encaps.Buf[0], b.Encaps.Buf[0]) ||
		!bytes.Equal(a.Encaps.Buf[1], b.Encaps.Buf[1]) || !bytes.Equal(a.CommunityID, b.CommunityID) ||
		!bytes.Equal(a.Zeek.UID, b.Zeek.UID) || !bytes.Equal(a.Zeek.Service, b.Zeek.Service) ||
		!bytes.Equal(a.Zeek.History, b.Zeek.History) || !bytes.Equal(a.Zeek.State, b.Zeek.State) ||
		len(a.Extra) != len(b.Extra) || srcIDType(a) != srcIDType(b) {
		return false
	}
	for i := range a.Extra {
		x, y := &a.Extra[i], &b.Extra[i]
		if x.Source != y.Source || x.Enterprise != y.Enterprise || x.ID != y.ID || x.Offset != y.Offset || !bytes.Equal(x.Value, y.Value) {
			return false
		}
	}
	ab := unsafe.Slice((*byte)(unsafe.Pointer(a)), unsafe.Sizeof(*a))
	bb := unsafe.Slice((*byte)(unsafe.Pointer(b)), unsafe.Sizeof(*b))
	for _, s := range cmpRanges {
		if !bytes.Equal(ab[s.off:s.end], bb[s.off:s.end]) {
			return false
		}
	}
	return true
}

// srcIDType is r's source id type, an untyped (3.x) one as 5.x writes it:
// IPv4, as ra prints it (codecs/argus convHdr).
func srcIDType(r *flow.Record) flow.SrcIDType {
	if r.SrcID.Type == flow.SrcIDNone && r.Has&flow.HasSrcID != 0 {
		return flow.SrcIDIPv4
	}
	return r.SrcID.Type
}

// span is a byte range of flow.Record.
type span struct{ off, end uintptr }

// cmpRanges are the byte ranges of flow.Record that sameValues compares
// as memory: all of it but the slices (compared by content) and the
// encoding details.
var cmpRanges = func() []span {
	var r flow.Record
	at := func(p unsafe.Pointer, size uintptr) span {
		off := uintptr(p) - uintptr(unsafe.Pointer(&r))
		return span{off, off + size}
	}
	const sl = unsafe.Sizeof([]byte(nil))
	skip := []span{
		at(unsafe.Pointer(&r.Label), sl), at(unsafe.Pointer(&r.SrcUser.Data), sl), at(unsafe.Pointer(&r.DstUser.Data), sl),
		at(unsafe.Pointer(&r.Encaps.Buf[0]), sl), at(unsafe.Pointer(&r.Encaps.Buf[1]), sl), at(unsafe.Pointer(&r.CommunityID), sl),
		at(unsafe.Pointer(&r.Zeek.UID), sl), at(unsafe.Pointer(&r.Zeek.Service), sl), at(unsafe.Pointer(&r.Zeek.History), sl),
		at(unsafe.Pointer(&r.Zeek.State), sl), at(unsafe.Pointer(&r.Extra), unsafe.Sizeof(r.Extra)),
		at(unsafe.Pointer(&r.Argus), unsafe.Sizeof(r.Argus)),
		at(unsafe.Pointer(&r.Mgmt.Cookie), unsafe.Sizeof(r.Mgmt.Cookie)), at(unsafe.Pointer(&r.Mgmt.Major), unsafe.Sizeof(r.Mgmt.Major)),
		at(unsafe.Pointer(&r.Mgmt.ID), unsafe.Sizeof(r.Mgmt.ID)), at(unsafe.Pointer(&r.SrcID.Type), unsafe.Sizeof(r.SrcID.Type)),
	}
	slices.SortFunc(skip, func(x, y span) int { return int(x.off) - int(y.off) })
	var keep []span
	var off uintptr
	for _, s := range skip {
		if s.off > off {
			keep = append(keep, span{off, s.off})
		}
		off = max(off, s.end)
	}
	if size := unsafe.Sizeof(r); size > off {
		keep = append(keep, span{off, size})
	}
	return keep
}()
