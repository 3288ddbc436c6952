package track

import (
	"math/bits"
	"unsafe"
)

// index maps flow keys to slab indexes: open addressing with linear
// probing and backward-shift deletion. A slot is 8 bytes, the upper
// 32 bits of the key's hash (whose low bits are also the home position,
// so that deletion and growth never read the entries) over the slab
// index + 1 (0: empty); the keys live in the entries. It holds no
// pointers, so the GC does not scan it.
type index struct {
	slots []uint64
	mask  uint64
	n     int
	seed  [7]uint64 // per table, so that keys cannot be chosen to collide
}

// setSeed derives the hash's secret words from s.
func (x *index) setSeed(s uint64) {
	for i := range x.seed {
		s += 0x9E3779B97F4A7C15 // splitmix64
		z := (s ^ s>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		x.seed[i] = z ^ z>>31
	}
}

// keyHash hashes the six words of k: three independent 64x64->128
// multiplies of secret-keyed word pairs (wyhash's mum), folded by a
// fourth, so that the multiplies overlap instead of forming a chain.
func (x *index) keyHash(k *fkey) uint64 {
	w, s := (*[6]uint64)(unsafe.Pointer(k)), &x.seed
	a := mum(w[0]^s[0], w[1]^s[1])
	b := mum(w[2]^s[2], w[3]^s[3])
	c := mum(w[4]^s[4], w[5]^s[5])
	return mum(a^b^s[6], c^s[6])
}

// mum multiplies a and b to 128 bits and folds the halves.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func keyEq(a, b *fkey) bool {
	x, y := (*[6]uint64)(unsafe.Pointer(a)), (*[6]uint64)(unsafe.Pointer(b))
	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4] && x[5] == y[5]
}

func (x *index) init(n int) {
	c := 1 << bits.Len(uint(max(n, 8)*4/3))
	x.slots = make([]uint64, c)
	x.mask = uint64(c - 1)
	x.n = 0
}

// get returns the slab index + 1 of k, 0 if absent.
func (t *Tracker) get(k *fkey) uint32 { return t.getH(k, t.idx.keyHash(k)) }

// getH is get with k's hash h.
func (t *Tracker) getH(k *fkey, h uint64) uint32 {
	x := &t.idx
	tag := h >> 32
	for i := tag & x.mask; ; i = (i + 1) & x.mask {
		s := x.slots[i]
		if s == 0 {
			return 0
		}
		if s>>32 == tag {
			j := uint32(s) - 1
			if keyEq(&t.ents.at(j).key, k) {
				return uint32(s)
			}
		}
	}
}

// put adds k -> v (slab index + 1); k is not in the index.
func (t *Tracker) put(k *fkey, v uint32) { t.putH(t.idx.keyHash(k), v) }

// putH is put with k's hash h.
func (t *Tracker) putH(h uint64, v uint32) {
	x := &t.idx
	if (x.n+1)*4 > len(x.slots)*3 {
		t.grow()
	}
	x.insert(h>>32<<32 | uint64(v))
	x.n++
}

// insert adds slot s (tag << 32 | value).
func (x *index) insert(s uint64) {
	i := s >> 32 & x.mask
	for x.slots[i] != 0 {
		i = (i + 1) & x.mask
	}
	x.slots[i] = s
}

func (t *Tracker) grow() {
	x := &t.idx
	old := x.slots
	x.slots = t.mem.mapWords(2 * len(old))
	x.mask = uint64(len(x.slots) - 1)
	for _, s := range old {
		if s != 0 {
			x.insert(s)
		}
	}
	t.mem.unmapWords(old)
}

// del removes k, which maps to v.
func (t *Tracker) del(k *fkey, v uint32) { t.delH(t.idx.keyHash(k), v) }

// delH is del with k's hash h.
func (t *Tracker) delH(h uint64, v uint32) {
	x := &t.idx
	i := h >> 32 & x.mask
	for uint32(x.slots[i]) != v {
		if x.slots[i] == 0 {
			return
		}
		i = (i + 1) & x.mask
	}
	// Backward shift: move later members of the probe run into the hole.
	for j := (i + 1) & x.mask; ; j = (j + 1) & x.mask {
		s := x.slots[j]
		if s == 0 {
			break
		}
		home := s >> 32 & x.mask
		// s may fill the hole at i unless its home lies cyclically in (i, j].
		if (j-home)&x.mask >= (j-i)&x.mask {
			x.slots[i] = s
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
}

var _ [1]struct{} = [unsafe.Sizeof(fkey{}) / 48]struct{}{} // fkey is 6 words
