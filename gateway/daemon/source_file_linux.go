package daemon

import (
	"bytes"
	"context"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirWatcher tells a file source's directory loop which files appeared,
// complete: with inotify, the names of IN_CLOSE_WRITE and IN_MOVED_TO
// events; without it (an inotify limit reached), by polling.
type dirWatcher struct {
	dir  string
	last map[string]polled // polling: the previous scan
	fd   int               // inotify descriptor; -1: polling
	buf  []byte
}

// noInotify makes watchers poll (tests of the fallback).
var noInotify bool

func newDirWatcher(dir string) *dirWatcher {
	w := &dirWatcher{dir: dir, fd: -1}
	if noInotify {
		return w
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return w
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return w
	}
	w.fd, w.buf = fd, make([]byte, 64<<10)
	return w
}

// waitStep bounds a wait, so that ctx is looked at promptly.
const waitStep = 200 * time.Millisecond

// wait returns the names of files that appeared complete, or nil when the
// caller should scan the directory (polling, or the event queue
// overflowed). It returns ctx's error once ctx is done.
func (w *dirWatcher) wait(ctx context.Context) ([]string, error) {
	if w.fd < 0 {
		return nil, sleepCtx(ctx, pollEvery)
	}
	pfd := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := unix.Poll(pfd, int(waitStep/time.Millisecond))
		if err == unix.EINTR || err == nil && n == 0 {
			continue
		}
		if err != nil {
			return nil, err
		}
		m, err := unix.Read(w.fd, w.buf)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		var names []string
		overflow := false
		for off := 0; off+unix.SizeofInotifyEvent <= m; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&w.buf[off]))
			nameLen := int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				overflow = true
			}
			if nameLen > 0 && off+unix.SizeofInotifyEvent+nameLen <= m {
				b := w.buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+nameLen]
				if i := bytes.IndexByte(b, 0); i >= 0 {
					b = b[:i]
				}
				if ev.Mask&unix.IN_ISDIR == 0 && len(b) > 0 {
					names = append(names, string(b))
				}
			}
			off += unix.SizeofInotifyEvent + nameLen
		}
		if overflow {
			return nil, nil
		}
		if len(names) > 0 {
			return names, nil
		}
	}
}

func (w *dirWatcher) close() {
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}

// newPollingWatcher is a watcher that polls (tests).
func newPollingWatcher(dir string) *dirWatcher { return &dirWatcher{dir: dir, fd: -1} }

// setNoInotify sets noInotify (tests); it reports whether inotify exists.
func setNoInotify(v bool) bool { noInotify = v; return true }

// fileID is a file's device and inode: the file a follower's state names.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}
