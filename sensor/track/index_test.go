package track

import (
	"math/rand/v2"
	"testing"
)

// TestIndex checks the open-addressing index against a map under random
// inserts and deletes (backward-shift deletion, growth).
func TestIndex(t *testing.T) {
	tr := New(Options{}, nil)
	want := map[fkey]uint32{}
	r := rand.New(rand.NewPCG(1, 2))
	var live []fkey
	next := uint32(0)
	for step := range 200000 {
		if len(live) > 0 && r.IntN(3) == 0 {
			i := r.IntN(len(live))
			k := live[i]
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
			tr.del(&k, want[k])
			delete(want, k)
		} else {
			var k fkey
			k.a[0], k.pa, k.x = byte(r.IntN(4)), uint16(r.IntN(50)), uint32(step)
			next = tr.ents.alloc(false)
			tr.ents.at(next).key = k
			next++
			tr.put(&k, next)
			want[k] = next
			live = append(live, k)
		}
		if step%997 == 0 {
			for k, v := range want {
				if got := tr.get(&k); got != v {
					t.Fatalf("step %d: get = %d, want %d", step, got, v)
				}
			}
			var k fkey
			k.x = 1 << 31
			if tr.get(&k) != 0 {
				t.Fatal("absent key found")
			}
		}
	}
	if tr.idx.n != len(want) {
		t.Fatalf("n = %d, want %d", tr.idx.n, len(want))
	}
}
