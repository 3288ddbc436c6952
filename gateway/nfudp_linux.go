package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// multiSocket: SO_REUSEPORT spreads datagrams over several sockets.
const multiSocket = true

// oobSize holds one SO_RXQ_OVFL control message (a uint32 drop counter).
var oobSize = unix.CmsgSpace(4)

// udpWorker is one socket and its receive loop. Everything the loop
// touches is allocated here, once.
type udpWorker struct {
	conn    *net.UDPConn
	rc      syscall.RawConn
	granted int
	inode   uint64

	bufs  []byte // len(msgs) slots of slotSize
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for IPv4 senders too
	oob   []byte

	// recvmmsg results, set by readFn (a method value bound once, so the
	// RawConn.Read callback does not allocate a closure per call).
	readFn func(fd uintptr) bool
	n      int
	errno  syscall.Errno

	bd        batchDecoder
	msgsRecv  atomic.Uint64 // datagrams, this socket (stats only)
	drops     atomic.Uint64 // latest SO_RXQ_OVFL value
	truncated atomic.Uint64
}

func (w *udpWorker) received() uint64 { return w.msgsRecv.Load() }

func newUDPWorker(addr string, reuse bool, rcvbuf, batch int) (*udpWorker, error) {
	w := &udpWorker{}
	var serr error
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		err := c.Control(func(fd uintptr) {
			s := int(fd)
			if reuse {
				if serr = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); serr != nil {
					return
				}
			}
			// SO_RCVBUFFORCE passes net.core.rmem_max when we may
			// (CAP_NET_ADMIN); otherwise SO_RCVBUF, capped by it.
			if unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
				unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
			}
			// Each datagram then says how many the socket dropped so far.
			unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
			if v, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil {
				w.granted = v / 2 // Linux doubles the value for its bookkeeping
			}
			var st unix.Stat_t
			if unix.Fstat(s, &st) == nil {
				w.inode = st.Ino
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, err
	}
	w.conn = pc.(*net.UDPConn)
	if w.rc, err = w.conn.SyscallConn(); err != nil {
		w.conn.Close()
		return nil, err
	}
	w.bufs = make([]byte, batch*slotSize)
	w.msgs = make([]unix.Mmsghdr, batch)
	w.iovs = make([]unix.Iovec, batch)
	w.names = make([]unix.RawSockaddrInet6, batch)
	w.oob = make([]byte, batch*oobSize)
	for i := range w.msgs {
		w.iovs[i].Base = &w.bufs[i*slotSize]
		w.iovs[i].SetLen(slotSize)
		h := &w.msgs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&w.names[i]))
		h.Iov = &w.iovs[i]
		h.Iovlen = 1
		h.Control = &w.oob[i*oobSize]
	}
	w.readFn = w.recvmmsg
	return w, nil
}

// recvmmsg is the RawConn.Read callback: false asks the poller to wait.
func (w *udpWorker) recvmmsg(fd uintptr) bool {
	for i := range w.msgs {
		h := &w.msgs[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(oobSize)
		h.Flags = 0
	}
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&w.msgs[0])), uintptr(len(w.msgs)), unix.MSG_DONTWAIT, 0, 0)
	for e == unix.EINTR {
		// Retry now: waiting for the (edge-triggered) poller could miss
		// datagrams already queued.
		r, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&w.msgs[0])), uintptr(len(w.msgs)), unix.MSG_DONTWAIT, 0, 0)
	}
	if e == unix.EAGAIN {
		return false
	}
	w.n, w.errno = int(r), e
	return true
}

// serve is the receive loop.
func (w *udpWorker) serve(stop *atomic.Bool, h Handler) error {
	for !stop.Load() {
		if err := w.rc.Read(w.readFn); err != nil {
			return err
		}
		if w.errno != 0 {
			return os.NewSyscallError("recvmmsg", w.errno)
		}
		n := w.n
		var drops uint32
		for i := 0; i < n; i++ {
			m := &w.msgs[i]
			from := sockaddrPort(&w.names[i])
			if m.Hdr.Controllen > 0 {
				if d := rxqOvfl(w.oob[i*oobSize : i*oobSize+int(m.Hdr.Controllen)]); d > drops {
					drops = d
				}
			}
			if m.Hdr.Flags&unix.MSG_TRUNC != 0 {
				// Cannot happen with 64 KiB slots; counted if it does.
				w.truncated.Add(1)
				w.bd.msgs++
				w.bd.c.countError(from, errTruncatedDatagram)
				continue
			}
			w.bd.add(w.bufs[i*slotSize:i*slotSize+int(m.Len)], from)
			if w.bd.full() {
				// The datagrams stay put until the next recvmmsg.
				if err := w.bd.flush(h); err != nil {
					return err
				}
			}
		}
		if drops > 0 {
			w.drops.Store(uint64(drops))
		}
		w.msgsRecv.Add(uint64(n))
		if err := w.bd.flush(h); err != nil {
			return err
		}
	}
	return nil
}

// sockaddrPort reads a sender's address without allocating; IPv4 senders
// on a dual-stack socket come as v4-mapped IPv6 and are unmapped.
func sockaddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	b := (*[unix.SizeofSockaddrInet6]byte)(unsafe.Pointer(sa))
	port := binary.BigEndian.Uint16(b[2:4])
	switch sa.Family {
	case unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

// rxqOvfl reads the SO_RXQ_OVFL counter from a control buffer, 0 if none.
func rxqOvfl(b []byte) uint32 {
	for len(b) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(b) {
			return 0
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && l >= unix.CmsgLen(4) {
			return *(*uint32)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
		}
		sp := unix.CmsgSpace(l - unix.CmsgLen(0))
		if sp > len(b) {
			return 0
		}
		b = b[sp:]
	}
	return 0
}

// kernelDrops is the larger of the last SO_RXQ_OVFL value and the socket's
// drops column in /proc/net/udp{,6} (which also counts drops after the
// last datagram received).
func (w *udpWorker) kernelDrops() uint64 {
	d := w.drops.Load()
	if p, ok := procUDPDrops(w.inode); ok && p > d {
		d = p
	}
	return d
}

// procUDPDrops finds the socket with inode ino in /proc/net/udp or udp6 and
// returns its drops column (the last one).
func procUDPDrops(ino uint64) (uint64, bool) {
	if ino == 0 {
		return 0, false
	}
	want := []byte(strconv.FormatUint(ino, 10))
	for _, name := range []string{"/proc/net/udp6", "/proc/net/udp"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := bytes.Fields(sc.Bytes())
			// sl local rem st tx:rx tr:when retr uid timeout inode ref ptr drops
			if len(fs) >= 13 && bytes.Equal(fs[9], want) {
				f.Close()
				d, err := strconv.ParseUint(string(fs[len(fs)-1]), 10, 64)
				return d, err == nil
			}
		}
		f.Close()
	}
	return 0, false
}
