//go:build unix

package kafka

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockSpill takes an exclusive flock on dir/LOCK: two producers on one
// spill would drain each other's records into their own topics. The
// kernel drops the lock when the process dies, so a crash leaves no stale
// lock behind.
func lockSpill(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("kafka: spill: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: spill %s is in use by another producer", ErrConfig, dir)
		}
		return nil, fmt.Errorf("kafka: spill lock %s: %w", dir, err)
	}
	return f, nil
}
