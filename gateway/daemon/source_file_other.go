//go:build !linux

package daemon

import (
	"context"
	"os"
)

// dirWatcher polls the directory (inotify is Linux's).
type dirWatcher struct {
	dir  string
	last map[string]polled
}

func newDirWatcher(dir string) *dirWatcher { return &dirWatcher{dir: dir} }

// wait sleeps a polling interval; nil names: the caller scans.
func (w *dirWatcher) wait(ctx context.Context) ([]string, error) {
	return nil, sleepCtx(ctx, pollEvery)
}

func (w *dirWatcher) close() {}

// newPollingWatcher is a watcher that polls (tests).
func newPollingWatcher(dir string) *dirWatcher { return newDirWatcher(dir) }

// setNoInotify: there is no inotify to turn off.
func setNoInotify(bool) bool { return false }

// fileID: no device and inode here; a follower's state then never names
// the file, and a restart reads the log from its start.
func fileID(os.FileInfo) (dev, ino uint64) { return 0, 0 }
