package track

import (
	"runtime"
	"unsafe"
)

// offHeap holds the table's large, pointer-free arrays (entry chunks and
// index slots) outside the Go heap where the system allows (mem_linux.go):
// the GC neither scans them nor counts them in its heap goal (which lets
// the heap grow to twice what it holds), and they sit in 2 MiB-aligned
// regions the kernel may back with huge pages, which saves TLB misses on
// the table's random accesses. Elsewhere they are ordinary Go slices.
type offHeap struct {
	regions []mapping // chunks are carved from these, kept until the Tracker goes
	carved  int64     // bytes of chunks carved
	maps    []mapping // mappings of their own (index slots)
}

// mapping is memory from mapMem: b in use, m to unmap.
type mapping struct{ b, m []byte }

// regionSize is about the size of the regions chunks are carved from.
const regionSize = 4 << 20

// chunk returns n zeroed words that stay until the Tracker is collected,
// carved from the unused end *cur of a region of same-sized chunks (so
// that no region ends in a piece too small to use).
func (o *offHeap) chunk(cur *[]byte, n int) []uint64 {
	nb := n * 8
	if len(*cur) < nb {
		b, m := mapMem(nb * max(1, regionSize/nb))
		if b == nil {
			return make([]uint64, n)
		}
		o.regions = append(o.regions, mapping{b, m})
		*cur = b
	}
	w := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(*cur))), n)
	*cur = (*cur)[nb:]
	o.carved += int64(nb)
	return w
}

// mapWords returns n zeroed words in a mapping of their own, which
// unmapWords gives back.
func (o *offHeap) mapWords(n int) []uint64 {
	b, m := mapMem(n * 8)
	if b == nil {
		return make([]uint64, n)
	}
	o.maps = append(o.maps, mapping{b, m})
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// unmapWords gives back words from mapWords (Go slices are left to the GC).
func (o *offHeap) unmapWords(w []uint64) {
	for i, r := range o.maps {
		if unsafe.Pointer(unsafe.SliceData(r.b)) == unsafe.Pointer(unsafe.SliceData(w)) {
			unmapMem(r.m)
			o.maps = append(o.maps[:i], o.maps[i+1:]...)
			return
		}
	}
}

// free gives back every mapping.
func (o *offHeap) free() {
	for _, r := range o.regions {
		unmapMem(r.m)
	}
	for _, r := range o.maps {
		unmapMem(r.m)
	}
	o.regions, o.maps, o.carved = nil, nil, 0
}

// inUse returns the mapped bytes handed out (what the Go heap does not count).
func (o *offHeap) inUse() int64 {
	n := o.carved
	for _, r := range o.maps {
		n += int64(len(r.b))
	}
	return n
}

// freeWhenUnreachable unmaps o's memory once t is collected (t holds the
// only pointers into it).
func freeWhenUnreachable(t *Tracker, o *offHeap) {
	runtime.AddCleanup(t, func(o *offHeap) { o.free() }, o)
}

func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
