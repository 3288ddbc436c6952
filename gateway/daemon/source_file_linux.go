package daemon

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirWatcher tells a file source's directory loop which files appeared,
// complete: with inotify, the names of IN_CLOSE_WRITE and IN_MOVED_TO
// events, in the directory and every subdirectory (watched as they
// appear); without it (an inotify limit reached), by polling.
type dirWatcher struct {
	dir  string
	last map[string]polled // polling: the previous scan
	fd   int               // inotify descriptor; -1: polling
	buf  []byte
	dirs map[int32]string // watch descriptor: the directory, relative ("" the top)
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
	w.fd, w.buf, w.dirs = fd, make([]byte, 64<<10), map[int32]string{}
	if _, err := w.add(""); err != nil {
		unix.Close(fd)
		w.fd = -1
	}
	return w
}

// add watches the directory rel and, below it, every subdirectory; it
// returns the regular files found in the subdirectories it met (those of
// a directory that appeared were written before its watch existed).
func (w *dirWatcher) add(rel string) ([]string, error) {
	var found []string
	root := filepath.Join(w.dir, filepath.FromSlash(rel))
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil
		}
		r, _ := filepath.Rel(w.dir, p)
		r = filepath.ToSlash(r)
		if r == "." {
			r = ""
		}
		if p != root && skipName(e.Name()) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if e.IsDir() {
			wd, err := unix.InotifyAddWatch(w.fd, p, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_CREATE)
			if err != nil {
				if p == root {
					return err
				}
				return nil
			}
			w.dirs[int32(wd)] = r
			return nil
		}
		if e.Type().IsRegular() && rel != "" {
			found = append(found, r)
		}
		return nil
	})
	return found, err
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
				parent, known := w.dirs[ev.Wd]
				name := path.Join(parent, string(b))
				switch {
				case !known || len(b) == 0:
				case ev.Mask&unix.IN_ISDIR != 0:
					// A new subdirectory (made, or moved in): watch it,
					// and take what it already holds.
					if ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 && !skipName(string(b)) {
						found, _ := w.add(name)
						names = append(names, found...)
					}
				case ev.Mask&(unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO) != 0:
					names = append(names, name)
				}
			}
			if ev.Mask&unix.IN_IGNORED != 0 {
				delete(w.dirs, ev.Wd) // the directory went
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
