package track

import "syscall"

const hugePage = 2 << 20

// mapMem returns n bytes of zeroed anonymous memory, and the mapping to
// give back to unmapMem (nil, nil if the system refuses). When n is at
// least a huge page, the memory is 2 MiB-aligned (a huge page more is
// mapped; the ends are never touched) and marked for huge pages.
func mapMem(n int) (b, m []byte) {
	extra := 0
	if n >= hugePage {
		extra = hugePage
	}
	m, err := syscall.Mmap(-1, 0, n+extra, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, nil
	}
	if extra == 0 {
		return m, m
	}
	off := 0
	if r := addrOf(m) % hugePage; r != 0 {
		off = int(hugePage - r)
	}
	b = m[off : off+n : off+n]
	syscall.Madvise(b, 14) // MADV_HUGEPAGE: advice, errors do not matter
	return b, m
}

func unmapMem(m []byte) { syscall.Munmap(m) }
