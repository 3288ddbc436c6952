//go:build linux

package capture

import (
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps a regular, non-empty file read-only for sequential reading,
// or returns nil (a pipe, a device, an empty file, mmap failing) and the
// caller reads it through a buffer.
func mapFile(f *os.File) []byte {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() <= 0 || fi.Size() > math.MaxInt {
		return nil
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	// Aggressive read-ahead; pages behind are freed by release.
	unix.Madvise(m, unix.MADV_SEQUENTIAL)
	return m
}

func unmap(m []byte) { unix.Munmap(m) }

var pageMask = os.Getpagesize() - 1

// release hands the pages of m[from:to] back to the kernel (they stay in
// the page cache; only our resident set shrinks) and returns the new
// released boundary. from is page-aligned; to is rounded down.
func release(m []byte, from, to int) int {
	to &^= pageMask
	if to <= from {
		return from
	}
	unix.Madvise(m[from:to], unix.MADV_DONTNEED)
	return to
}

// populate maps the pages of m[from:to] in our page tables (from is
// page-aligned) and returns the new populated boundary. Kernels before 5.14
// lack MADV_POPULATE_READ: the pages then fault in as they are read.
func populate(m []byte, from, to int) int {
	if to < len(m) {
		to &^= pageMask
	}
	if to <= from {
		return from
	}
	if unix.Madvise(m[from:to], unix.MADV_POPULATE_READ) != nil {
		return len(m) // not again
	}
	return to
}
