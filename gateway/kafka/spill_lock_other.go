//go:build !unix

package kafka

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockSpill creates dir/LOCK without locking it: no flock here, so two
// producers on one spill are not detected (see doc.go).
func lockSpill(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("kafka: spill: %w", err)
	}
	return f, nil
}
