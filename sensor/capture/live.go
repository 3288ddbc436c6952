package capture

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LiveOptions configure OpenLive.
type LiveOptions struct {
	// Promisc puts the interface in promiscuous mode for as long as the
	// source is open.
	Promisc bool
	// SnapLen caps the bytes kept per frame (0: 262144). The kernel cuts
	// the frames, through the filter's return value, as libpcap does.
	SnapLen int
	// Filter is a classic BPF program run by the kernel on each frame,
	// given as instructions: we do not compile tcpdump syntax. Get one
	// with `tcpdump -ddd -i IFACE 'expression'` and ParseBPF, or build it
	// with golang.org/x/net/bpf (Assemble, then convert each RawInstruction
	// field by field: the layouts are the same). Empty: every frame.
	Filter []BPFInstruction
	// BufferSize is the kernel ring size in bytes (0: 8 MiB).
	BufferSize int
	// ReadTimeout, when positive, makes ReadFrame return ErrTimeout after
	// that long without a frame, so a caller can run its timers on an idle
	// link. Zero: ReadFrame waits for a frame or Close.
	ReadTimeout time.Duration
}

// BPFInstruction is one classic BPF instruction, as struct sock_filter
// (and golang.org/x/net/bpf.RawInstruction).
type BPFInstruction struct {
	Op uint16
	Jt uint8
	Jf uint8
	K  uint32
}

// ErrTimeout is returned by a live source's ReadFrame when
// LiveOptions.ReadTimeout passes without a frame. It is not sticky.
var ErrTimeout = errors.New("capture: read timeout")

// LiveSource is a live capture, read frame by frame or in batches. Stats
// reports the kernel's counters.
type LiveSource interface {
	BatchSource
	// Stats returns the frames the kernel received for this socket
	// (dropped ones included, as libpcap's ps_recv) and those it dropped
	// because the ring was full, since the source was opened. It may be
	// called from any goroutine, also while a read waits, and after Close
	// (the last counters). On the loopback interface the kernel counts
	// both copies of a frame the host sends, as libpcap does; ReadFrame
	// returns one.
	Stats() (received, dropped uint64)
}

// ParseBPF reads a program in the format `tcpdump -ddd` prints: the number
// of instructions, then one "code jt jf k" line (decimal) per instruction.
// Commas may separate the numbers, as in /proc and iptables notation.
func ParseBPF(s string) ([]BPFInstruction, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(fields) == 0 {
		return nil, errors.New("capture: empty BPF program")
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n <= 0 || n > 4096 {
		return nil, fmt.Errorf("capture: BPF program: bad instruction count %q", fields[0])
	}
	if len(fields) != 1+4*n {
		return nil, fmt.Errorf("capture: BPF program: %d instructions announced, %d numbers follow (want %d)", n, len(fields)-1, 4*n)
	}
	prog := make([]BPFInstruction, n)
	for i := range prog {
		var v [4]uint64
		for j := range v {
			x, err := strconv.ParseUint(fields[1+4*i+j], 0, 32)
			if err != nil || (j == 0 && x > 0xffff) || ((j == 1 || j == 2) && x > 0xff) {
				return nil, fmt.Errorf("capture: BPF program: instruction %d: bad number %q", i, fields[1+4*i+j])
			}
			v[j] = x
		}
		prog[i] = BPFInstruction{uint16(v[0]), uint8(v[1]), uint8(v[2]), uint32(v[3])}
	}
	return prog, nil
}
