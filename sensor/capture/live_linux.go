//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	liveBlockSize  = 1 << 20 // ring block; a power-of-two number of pages
	liveFrameSize  = 1 << 11 // only a sanity figure for TPACKET_V3
	liveBlockTOV   = 10      // ms before the kernel hands over a partial block
	livePollSlice  = 100     // ms between checks for Close while waiting
	liveMaxSnapLen = 262144
	// sockaddr_ll follows the tpacket3 header, aligned to 16 bytes.
	sllOffset = (unix.SizeofTpacket3Hdr + 15) &^ 15
)

// OpenLive captures frames on the network interface iface with an AF_PACKET
// socket and a TPACKET_V3 memory-mapped ring (pure Go, no libpcap).
// Ethernet-like and loopback interfaces give LinkEthernet frames (VLAN
// tags the NIC stripped are put back), tun-like interfaces LinkRaw, others
// LinkSLL. As libpcap does on the loopback interface, frames the host sends
// on it are seen once, not twice. Timestamps are the kernel's reception
// times. ReadFrame waits for a frame; Close, from any goroutine, ends it.
func OpenLive(iface string, opts LiveOptions) (LiveSource, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	snap := opts.SnapLen
	if snap <= 0 || snap > liveMaxSnapLen {
		snap = liveMaxSnapLen
	}
	ringSize := opts.BufferSize
	if ringSize <= 0 {
		ringSize = 8 << 20
	}
	nblocks := max(2, (ringSize+liveBlockSize-1)/liveBlockSize)

	// Protocol 0: the socket receives nothing until bind, which comes once
	// the filter and the ring are in place.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("capture: AF_PACKET socket: %w", err)
	}
	s := &liveSource{fd: fd, snap: snap, timeout: opts.ReadTimeout, nblocks: nblocks}
	fail := func(what string, err error) (LiveSource, error) {
		s.release()
		return nil, fmt.Errorf("capture: %s on %s: %w", what, iface, err)
	}

	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return fail("interface name", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return fail("SIOCGIFHWADDR", err)
	}
	switch hatype := ifr.Uint16(); hatype {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK, unix.ARPHRD_IEEE802:
		s.linkType = LinkEthernet
		s.loopback = hatype == unix.ARPHRD_LOOPBACK
	case unix.ARPHRD_NONE, unix.ARPHRD_RAWIP:
		s.linkType = LinkRaw
	default:
		// Link-layer headers we do not decode: cooked capture.
		unix.Close(fd)
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return nil, fmt.Errorf("capture: AF_PACKET socket: %w", err)
		}
		s.fd = fd
		s.linkType = LinkSLL
		s.hatype = hatype
	}

	// The filter, its accepting returns capped at the snap length so that
	// the kernel cuts the frames; with no filter, "ret #snap".
	prog := make([]unix.SockFilter, 0, len(opts.Filter)+1)
	for _, in := range opts.Filter {
		k := in.K
		if in.Op == 0x06 && k > uint32(snap) { // BPF_RET|BPF_K
			k = uint32(snap)
		}
		prog = append(prog, unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: k})
	}
	if len(prog) == 0 {
		prog = append(prog, unix.SockFilter{Code: 0x06, K: uint32(snap)})
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if len(prog) > 0xffff {
		return fail("filter", fmt.Errorf("%d instructions", len(prog)))
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fail("SO_ATTACH_FILTER", err)
	}

	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fail("PACKET_VERSION", err)
	}
	req := unix.TpacketReq3{
		Block_size:     liveBlockSize,
		Block_nr:       uint32(nblocks),
		Frame_size:     liveFrameSize,
		Frame_nr:       uint32(nblocks * liveBlockSize / liveFrameSize),
		Retire_blk_tov: liveBlockTOV,
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail("PACKET_RX_RING", err)
	}
	s.ring, err = unix.Mmap(fd, 0, nblocks*liveBlockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_LOCKED)
	if err != nil {
		s.ring, err = unix.Mmap(fd, 0, nblocks*liveBlockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	}
	if err != nil {
		return fail("mmap", err)
	}

	sll := unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}
	if err := unix.Bind(fd, &sll); err != nil {
		return fail("bind", err)
	}
	if opts.Promisc {
		mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fail("promiscuous mode", err)
		}
	}
	s.pfd = []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLERR}}
	s.scratch = make([]byte, snap+16+4)
	return s, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

type liveSource struct {
	mu       sync.Mutex // held by ReadFrame; Close waits for it
	closed   atomic.Bool
	fd       int
	linkType uint16
	hatype   uint16
	loopback bool
	snap     int
	timeout  time.Duration
	ring     []byte
	nblocks  int
	pfd      []unix.PollFd
	scratch  []byte // ReadFrame's frames rebuilt with a VLAN tag or a cooked header
	arena    []byte // the same for ReadFrames, a batch's worth

	block   int    // current block
	held    bool   // the current block is ours (TP_STATUS_USER)
	left    uint32 // packets left in it
	next    int    // offset in the ring of the next packet header
	spent   int    // spent blocks before block, kept for a batch's frames
	keep    bool   // frames of the batch being read alias the held blocks
	recv    uint64 // accumulated kernel counters (they reset on read)
	drops   uint64
	statsMu sync.Mutex
}

func (s *liveSource) blockStatus(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&s.ring[i*liveBlockSize+8])) // tpacket_block_desc.hdr.block_status
}

func (s *liveSource) ReadFrame(f *Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handBack()
	var deadline time.Time
	for {
		if err := s.ready(true, &deadline); err != nil {
			return err
		}
		if _, ok := s.packet(f, s.scratch[:0]); ok {
			return nil
		}
	}
}

// ReadFrames waits for a frame as ReadFrame does, then takes every frame
// the kernel has handed over, up to len(fs), without waiting more. The
// frames alias the ring: the blocks they are in go back to the kernel at
// the next call, so a batch holds at most all the ring but one block.
// Frames rebuilt with a VLAN tag or a cooked header are kept in an arena
// reused from batch to batch.
func (s *liveSource) ReadFrames(fs []Frame) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handBack()
	defer func() { s.keep = false }()
	if s.arena == nil {
		s.arena = make([]byte, 0, max(256<<10, s.snap+20))
	}
	arena := s.arena[:0]
	var deadline time.Time
	n := 0
	for n < len(fs) {
		if err := s.ready(n == 0, &deadline); err != nil {
			if n > 0 {
				break // errNotReady, errClosed (the next call says so)
			}
			return 0, err
		}
		if s.rebuilds(s.next) && cap(arena)-len(arena) < s.snap+20 {
			break // (n > 0: the arena is empty when the batch starts)
		}
		var ok bool
		if arena, ok = s.packet(&fs[n], arena); ok {
			n++
			s.keep = true
		}
	}
	return n, nil
}

// errNotReady: no frame is ready and the batch has some already.
var errNotReady = errors.New("capture: no frame ready")

// handBack returns to the kernel the blocks spent by the last batch.
func (s *liveSource) handBack() {
	for ; s.spent > 0; s.spent-- {
		i := (s.block - s.spent + s.nblocks) % s.nblocks
		atomic.StoreUint32(s.blockStatus(i), 0) // TP_STATUS_KERNEL
	}
}

// ready makes s.next a packet of a held block, waiting for the kernel if
// wait (up to the read timeout, counted from *deadline, set on the first
// wait), else returning errNotReady.
func (s *liveSource) ready(wait bool, deadline *time.Time) error {
	for {
		if s.closed.Load() {
			return errClosed
		}
		if s.held {
			if s.left > 0 {
				return nil
			}
			// Spent: hand the block back, or, if frames of this batch
			// are in it, at the next call.
			if s.keep {
				s.spent++
			} else {
				atomic.StoreUint32(s.blockStatus(s.block), 0) // TP_STATUS_KERNEL
			}
			s.held = false
			s.block = (s.block + 1) % s.nblocks
		}
		if s.spent >= s.nblocks {
			return errNotReady // the batch holds the whole ring
		}
		st := atomic.LoadUint32(s.blockStatus(s.block))
		if st&unix.TP_STATUS_USER == 0 {
			if !wait {
				return errNotReady
			}
			ms := livePollSlice
			if s.timeout > 0 {
				if deadline.IsZero() {
					*deadline = time.Now().Add(s.timeout)
				}
				d := time.Until(*deadline)
				if d <= 0 {
					return ErrTimeout
				}
				ms = min(ms, int(d/time.Millisecond)+1)
			}
			s.pfd[0].Revents = 0
			if _, err := unix.Poll(s.pfd, ms); err != nil && err != unix.EINTR {
				return fmt.Errorf("capture: poll: %w", err)
			}
			continue
		}
		base := s.block * liveBlockSize
		hdr := s.ring[base+8:]
		s.held = true
		s.left = binary.NativeEndian.Uint32(hdr[4:])
		s.next = base + int(binary.NativeEndian.Uint32(hdr[8:]))
	}
}

// rebuilds says whether the packet at off is rebuilt out of the ring (a
// cooked header, a VLAN tag put back).
func (s *liveSource) rebuilds(off int) bool {
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&s.ring[off]))
	return s.linkType == LinkSLL || h.Status&unix.TP_STATUS_VLAN_VALID != 0 && s.linkType == LinkEthernet
}

// packet consumes the packet at s.next, filling f unless it is the outgoing
// copy of a loopback frame (ok false). A rebuilt frame is appended to
// scratch, returned grown; others alias the ring.
func (s *liveSource) packet(f *Frame, scratch []byte) (_ []byte, ok bool) {
	off := s.next
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&s.ring[off]))
	s.left--
	s.next = off + int(h.Next_offset)
	pkttype := s.ring[off+sllOffset+10] // sockaddr_ll.sll_pkttype
	if s.loopback && pkttype == unix.PACKET_OUTGOING {
		return scratch, false // seen again as incoming
	}
	data := s.ring[off+int(h.Mac) : off+int(h.Mac)+int(h.Snaplen)]
	f.Len = int(h.Len)
	switch {
	case s.linkType == LinkSLL:
		start := len(scratch)
		scratch = s.cooked(off, scratch, data)
		data = scratch[start:]
		f.Len += 16
	case h.Status&unix.TP_STATUS_VLAN_VALID != 0 && s.linkType == LinkEthernet && len(data) >= 12:
		tpid := uint16(unix.ETH_P_8021Q)
		if h.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			tpid = h.Hv1.Vlan_tpid
		}
		start := len(scratch)
		scratch = append(scratch, data[:12]...)
		scratch = binary.BigEndian.AppendUint16(scratch, tpid)
		scratch = binary.BigEndian.AppendUint16(scratch, uint16(h.Hv1.Vlan_tci))
		scratch = append(scratch, data[12:]...)
		data = scratch[start:]
		f.Len += 4
	}
	if len(data) > s.snap {
		data = data[:s.snap]
	}
	f.TS = int64(h.Sec)*1e9 + int64(h.Nsec)
	f.Data = data[:len(data):len(data)]
	f.LinkType = s.linkType
	f.IfIndex = 0
	return scratch, true
}

// cooked appends to b a Linux cooked (SLL) header, from the packet's
// sockaddr_ll, and the data.
func (s *liveSource) cooked(off int, b, data []byte) []byte {
	sll := s.ring[off+sllOffset:]
	b = binary.BigEndian.AppendUint16(b, uint16(sll[10]))                     // packet type
	b = binary.BigEndian.AppendUint16(b, binary.NativeEndian.Uint16(sll[8:])) // ARPHRD
	halen := min(int(sll[11]), 8)
	b = binary.BigEndian.AppendUint16(b, uint16(halen))
	var addr [8]byte
	copy(addr[:], sll[12:12+halen])
	b = append(b, addr[:]...)
	b = append(b, sll[2], sll[3]) // protocol, network order
	return append(b, data...)
}

// Stats returns the kernel's counters since the source was opened.
func (s *liveSource) Stats() (received, dropped uint64) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.fd >= 0 {
		if st, err := unix.GetsockoptTpacketStatsV3(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			// Packets counts the dropped frames too; both reset on read.
			s.recv += uint64(st.Packets)
			s.drops += uint64(st.Drops)
		}
	}
	return s.recv, s.drops
}

func (s *liveSource) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.mu.Lock() // a ReadFrame in poll returns within livePollSlice
	defer s.mu.Unlock()
	s.Stats() // keep the last counters
	return s.release()
}

func (s *liveSource) release() error {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.ring != nil {
		unix.Munmap(s.ring)
		s.ring = nil
	}
	if s.fd >= 0 {
		err := unix.Close(s.fd)
		s.fd = -1
		return err
	}
	return nil
}
