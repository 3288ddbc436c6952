//go:build unix

package migrate

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lock takes an exclusive flock on the open manifest: two runs into one
// DST would redo each other's files and interleave manifest lines. The
// kernel drops it when the process dies (kill -9 leaves no stale lock).
func lock(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s", ErrBusy, f.Name())
		}
		return fmt.Errorf("migrate: lock %s: %w", f.Name(), err)
	}
	return nil
}
