//go:build !linux

package gateway

import (
	"context"
	"net"
	"sync/atomic"
)

// udpWorker is one socket read a datagram at a time: SO_REUSEPORT,
// recvmmsg and the kernel drop counter are Linux-only, so elsewhere a
// listener has one socket.
type udpWorker struct {
	conn      *net.UDPConn
	granted   int
	buf       []byte
	bd        batchDecoder
	msgsRecv  atomic.Uint64
	truncated atomic.Uint64
}

const multiSocket = false

func newUDPWorker(addr string, _ bool, rcvbuf, _ int) (*udpWorker, error) {
	pc, err := (&net.ListenConfig{}).ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, err
	}
	c := pc.(*net.UDPConn)
	c.SetReadBuffer(rcvbuf)
	return &udpWorker{conn: c, buf: make([]byte, slotSize)}, nil
}

func (w *udpWorker) received() uint64    { return w.msgsRecv.Load() }
func (w *udpWorker) kernelDrops() uint64 { return 0 }

func (w *udpWorker) serve(stop *atomic.Bool, h Handler) error {
	for !stop.Load() {
		n, from, err := w.conn.ReadFromUDPAddrPort(w.buf)
		if err != nil {
			return err
		}
		w.msgsRecv.Add(1)
		w.bd.add(w.buf[:n], from)
		if err := w.bd.flush(h); err != nil {
			return err
		}
	}
	return nil
}
