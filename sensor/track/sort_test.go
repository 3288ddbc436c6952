package track

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortBySeq: sortBySeq orders words as slices.Sort does, for flows'
// words (unique seq per slab index, some due twice), small and large,
// seq ranges narrow and wide.
func TestSortBySeq(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tmp []uint64
	for _, n := range []int{0, 1, 255, 256, 1000, 100000} {
		for _, span := range []uint64{uint64(n) + 1, 1 << 20, 1 << 32} {
			v := make([]uint64, 0, n)
			seen := map[uint64]bool{}
			for len(v) < n {
				seq := r.Uint64N(span)
				if seen[seq] {
					continue
				}
				seen[seq] = true
				w := seq<<32 | uint64(r.Uint32())
				v = append(v, w)
				if r.IntN(10) == 0 && len(v) < n {
					v = append(v, w) // due twice
				}
			}
			want := slices.Clone(v)
			slices.Sort(want)
			sortBySeq(v, &tmp)
			if !slices.Equal(v, want) {
				t.Fatalf("n %d span %d: order differs", n, span)
			}
		}
	}
}

func BenchmarkSortBySeq(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]uint64, 100000)
	for i := range v {
		v[i] = uint64(i)<<32 | uint64(r.Uint32())
	}
	r.Shuffle(len(v), func(i, j int) { v[i], v[j] = v[j], v[i] })
	w := make([]uint64, len(v))
	var tmp []uint64
	b.Run("radix", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			copy(w, v)
			sortBySeq(w, &tmp)
		}
	})
	b.Run("slices", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			copy(w, v)
			slices.Sort(w)
		}
	})
}
