package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor/capture"
)

var (
	fgOnce sync.Once
	fgPath string
	fgErr  error
)

// flowgateBin builds ./cmd/flowgate once (FLOWGATE_BIN names a prebuilt
// one).
func flowgateBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("FLOWGATE_BIN"); p != "" {
		return p
	}
	fgOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flowgate-daemon-test-")
		if err != nil {
			fgErr = err
			return
		}
		fgPath = filepath.Join(dir, "flowgate")
		gotool := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(gotool, "build", "-o", fgPath, "./cmd/flowgate")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			fgErr = fmt.Errorf("go build ./cmd/flowgate: %v\n%s", err, out)
		}
	})
	if fgErr != nil {
		t.Fatal(fgErr)
	}
	return fgPath
}

// pcap:FILE goes through the sensor as flowgate sensor -r FILE reads it:
// the records, written as Argus 5, are flowgate sensor -w's file byte for
// byte.
func TestPcapSourceMatchesSensor(t *testing.T) {
	for _, rel := range []string{"traffic/slips/test7-malicious.pcap", "traffic/gopacket/test_loopback.pcap"} {
		pcap := corpus(t, rel)
		out := filepath.Join(t.TempDir(), "sensor.argus")
		if b, err := exec.Command(flowgateBin(t), "sensor", "-r", pcap, "-w", out).CombinedOutput(); err != nil {
			t.Fatalf("flowgate sensor -r %s: %v\n%s", pcap, err, b)
		}
		want, _ := os.ReadFile(out)
		src := makeSource(t, "pcap:"+pcap)
		var em memEmitter
		if err := src.Run(context.Background(), &em); err != nil {
			t.Fatal(err)
		}
		recs := em.snapshot()
		if got := argusBytes(t, recs, 5); !bytes.Equal(got, want) {
			t.Errorf("%s: %d records, %d bytes; flowgate sensor wrote %d bytes", rel, len(recs), len(got), len(want))
		}
		if st := src.Stats(); st.Records != uint64(len(recs)) || flows(recs) == 0 {
			t.Errorf("%s: stats %+v, %d records", rel, st, len(recs))
		}
	}
}

// A capture cut short: the records of its good packets are kept (the
// sensor's, as flowgate sensor writes them before its error), the cut is
// counted with the file and its offset.
func TestPcapSourceTruncated(t *testing.T) {
	pcap := corpus(t, "traffic/slips/test8-malicious.pcap")
	data, _ := os.ReadFile(pcap)
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	os.WriteFile(cut, data[:len(data)-37], 0o644)
	out := filepath.Join(t.TempDir(), "sensor.argus")
	exec.Command(flowgateBin(t), "sensor", "-r", cut, "-w", out).Run() // exits 2 on the bad file
	want, _ := os.ReadFile(out)
	src := makeSource(t, cut) // detected as a capture
	var em memEmitter
	if err := src.Run(context.Background(), &em); err != nil {
		t.Fatal(err)
	}
	if got := argusBytes(t, em.snapshot(), 5); !bytes.Equal(got, want) {
		t.Errorf("%d bytes of records, flowgate sensor wrote %d", len(got), len(want))
	}
	st := src.Stats()
	if len(st.Lost) != 1 || st.Lost[0].Reason != ReasonMalformed || !strings.Contains(st.Lost[0].Detail, "cut.pcap") {
		t.Errorf("loss %+v, want the truncated capture", st.Lost)
	}
}

// loopTraffic sends n UDP datagrams of size bytes to a local echo that
// answers every other one, and a TCP connection that sends tcpBytes and
// reads them back. It returns the two flows' client ports. The client is
// 127.0.0.1 and the server 127.0.0.2: with one address at both ends,
// flowgate's tracker keeps each direction a flow of its own (see mapICMP
// in sensor/track), where Debian argus 3 merges them.
func loopTraffic(t testing.TB, n, size, tcpBytes int) (udpPort, tcpPort int) {
	t.Helper()
	srv, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	buf := make([]byte, 2048)
	for i := 0; i < n; i++ {
		cli.Write(bytes.Repeat([]byte{'u'}, size))
		srv.SetReadDeadline(time.Now().Add(time.Second))
		m, from, err := srv.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			srv.WriteTo(buf[:m], from)
			cli.SetReadDeadline(time.Now().Add(time.Second))
			cli.Read(buf)
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	c, err := d.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write(bytes.Repeat([]byte{'t'}, tcpBytes))
	io.ReadFull(c, make([]byte, tcpBytes))
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
	c.Close()
	return cli.LocalAddr().(*net.UDPAddr).Port, c.LocalAddr().(*net.TCPAddr).Port
}

// flowTotals sums the packets and bytes of the records of the flow from
// client port port, per direction.
func flowTotals(recs []flow.Record, proto uint8, port int) (pkts, byts [2]uint64) {
	for i := range recs {
		r := &recs[i]
		if r.Type == flow.TypeMgmt || r.Key.Proto != proto || int(r.Key.SrcPort) != port {
			continue
		}
		for d := 0; d < 2; d++ {
			pkts[d] += r.Pkts[d]
			byts[d] += r.Bytes[d]
		}
	}
	return
}

// The sensor source on the loopback interface: traffic the test makes
// comes out as the flows flowgate sensor -i lo and Debian argus -i lo
// record for it, captured at the same time.
func TestSensorLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("captures for seconds")
	}
	src, err := newSensorSource(sourceOf(t, "sensor:lo"), Env{})
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("capture not permitted (needs CAP_NET_RAW): %v", err)
		}
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	fgOut, argusOut := filepath.Join(dir, "fg.argus"), filepath.Join(dir, "argus.out")
	fg := exec.Command(flowgateBin(t), "sensor", "-i", "lo", "-w", fgOut)
	if err := fg.Start(); err != nil {
		t.Fatal(err)
	}
	var deb *exec.Cmd
	if p, err := exec.LookPath("argus"); err == nil {
		deb = exec.Command(p, "-X", "-i", "lo", "-w", argusOut)
		if err := deb.Start(); err != nil {
			deb = nil
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var em memEmitter
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, &em) }()
	time.Sleep(1500 * time.Millisecond) // the three captures are up
	udpPort, tcpPort := loopTraffic(t, 20, 200, 5000)
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %v to stop", d)
	}
	fg.Process.Signal(syscall.SIGTERM)
	fg.Wait()
	ours := em.snapshot()
	theirs := readArgusFile(t, fgOut)
	for _, l := range src.Stats().Lost {
		if l.Reason == ReasonQueueFull {
			// The loopback carries other tests' traffic too: with frames
			// dropped, the captures cannot be compared.
			t.Skipf("capture dropped frames (a busy loopback): %+v", l)
		}
	}

	p, b := flowTotals(ours, 17, udpPort)
	// 20 datagrams out, 10 back, each 200 bytes + UDP 8 + IPv4 20 +
	// Ethernet 14 (the loopback's frames).
	if p != [2]uint64{20, 10} || b != [2]uint64{20 * 242, 10 * 242} {
		t.Errorf("udp flow: packets %v bytes %v, want [20 10] [4840 2420]", p, b)
	}
	fp, fb := flowTotals(theirs, 17, udpPort)
	if p != fp || b != fb {
		t.Errorf("udp flow: ours %v %v, flowgate sensor's %v %v", p, b, fp, fb)
	}
	tp, tb := flowTotals(ours, 6, tcpPort)
	ftp, ftb := flowTotals(theirs, 6, tcpPort)
	if tp != ftp || tb != ftb || tp[0] < 3 {
		t.Errorf("tcp flow: ours %v %v, flowgate sensor's %v %v", tp, tb, ftp, ftb)
	}
	if deb != nil {
		deb.Process.Signal(syscall.SIGINT)
		deb.Wait()
		// ra prints the flows of the client ports: spkts dpkts sbytes dbytes.
		out, err := exec.Command("ra", "-n", "-r", argusOut, "-s", "proto", "sport", "spkts", "dpkts", "sbytes", "dbytes", "-c", ",").Output()
		if err != nil {
			t.Logf("ra -r argus.out: %v (argus comparison skipped)", err)
			return
		}
		sum := map[string][4]uint64{}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Split(line, ",")
			if len(f) != 6 {
				continue
			}
			k := f[0] + "/" + f[1]
			v := sum[k]
			for i := range 4 {
				n, _ := strconv.ParseUint(f[2+i], 10, 64)
				v[i] += n
			}
			sum[k] = v
		}
		if got := sum["udp/"+strconv.Itoa(udpPort)]; got != [4]uint64{p[0], p[1], b[0], b[1]} {
			t.Errorf("udp flow: Debian argus %v, ours %v %v", got, p, b)
		}
		if got := sum["tcp/"+strconv.Itoa(tcpPort)]; got != [4]uint64{tp[0], tp[1], tb[0], tb[1]} {
			t.Errorf("tcp flow: Debian argus %v, ours %v %v", got, tp, tb)
		}
	}
	st := src.Stats()
	if st.Records != uint64(len(ours)) {
		t.Errorf("stats: %d records, %d emitted", st.Records, len(ours))
	}
	if cs := src.(*sensorSource).Collectors(); len(cs) != 1 {
		t.Errorf("%d collectors", len(cs))
	}
}

// The sensor's records go into batches with no allocation once the
// batch's storage has grown: each record's bytes and Extra are copied
// into arenas reused from batch to batch.
func TestSensorBatchAllocs(t *testing.T) {
	var b sensorBatch
	var em nopEmitter
	b.start(context.Background(), &em)
	r := flow.Record{Type: flow.TypeFlow, Label: []byte("label=1"), Zeek: flow.Zeek{UID: []byte("Cabc")}}
	r.Extra = []flow.Field{{ID: 1, Value: []byte("x")}}
	for range 2 * sensorBatchLen {
		b.add(&r)
	}
	a := testing.AllocsPerRun(10, func() {
		for range sensorBatchLen {
			b.add(&r)
		}
	})
	if a != 0 {
		t.Errorf("%.1f allocs per batch of %d records", a, sensorBatchLen)
	}
	// The batch's records do not alias the sensor's (reused) record.
	b.recs = b.recs[:0]
	b.add(&r)
	r.Label[0], r.Extra[0].Value[0] = 'X', 'Y'
	if got := b.recs[0]; string(got.Label) != "label=1" || string(got.Extra[0].Value) != "x" {
		t.Errorf("the batch aliases the sensor's record: %q %q", got.Label, got.Extra[0].Value)
	}
	r.Extra[0].ID = 7
	if b.recs[0].Extra[0].ID != 1 {
		t.Error("the batch shares the sensor's Extra")
	}
}

// `sensor` with no interface captures on the first one up that is not
// loopback, as argus does.
func TestSensorDefaultInterface(t *testing.T) {
	name, err := defaultInterface()
	if errors.Is(err, ErrNoInterface) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil || ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 {
		t.Errorf("default interface %q: %+v %v", name, ifc, err)
	}
	src, err := newSensorSource(sourceOf(t, "sensor"), Env{})
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("capture not permitted: %v", err)
		}
		t.Fatal(err)
	}
	defer src.Close()
	if l := src.(Listener).Listening(); len(l) != 1 || !strings.HasSuffix(l[0], " "+name) {
		t.Errorf("listening %v, want on %s", l, name)
	}
}

// fakeLive replays a capture's frames as a live source, then fails with
// fail (nil: times out) once they run out.
type fakeLive struct {
	frames     []capture.Frame
	fail       error
	recv, drop uint64
	closed     bool
}

func (f *fakeLive) ReadFrame(fr *capture.Frame) error {
	var one [1]capture.Frame
	if _, err := f.ReadFrames(one[:]); err != nil {
		return err
	}
	*fr = one[0]
	return nil
}

func (f *fakeLive) ReadFrames(fs []capture.Frame) (int, error) {
	if len(f.frames) == 0 {
		if f.fail != nil {
			return 0, f.fail
		}
		time.Sleep(10 * time.Millisecond)
		return 0, capture.ErrTimeout
	}
	n := copy(fs, f.frames)
	f.frames = f.frames[n:]
	return n, nil
}

func (f *fakeLive) Stats() (uint64, uint64) { return f.recv, f.drop }
func (f *fakeLive) Close() error            { f.closed = true; return nil }

// A capture that fails (the interface went down) is opened again: the
// source is not ready meanwhile, the flows go on, the kernel's counters
// of the captures add up.
func TestSensorReopen(t *testing.T) {
	pcap := corpus(t, "traffic/slips/test8-malicious.pcap")
	var whole memEmitter
	if err := makeSource(t, "pcap:"+pcap).Run(context.Background(), &whole); err != nil {
		t.Fatal(err)
	}
	wantPkts := uint64(0)
	for _, r := range whole.snapshot() {
		if r.Type != flow.TypeMgmt {
			wantPkts += r.Pkts[0] + r.Pkts[1]
		}
	}
	src, err := capture.OpenFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	var frames []capture.Frame
	for {
		var f capture.Frame
		if err := src.ReadFrame(&f); err != nil {
			break
		}
		f.Data = bytes.Clone(f.Data)
		frames = append(frames, f)
	}
	src.Close()
	half := len(frames) / 2
	first := &fakeLive{frames: frames[:half], fail: syscall.ENETDOWN, recv: 10, drop: 1}
	second := &fakeLive{frames: frames[half:], recv: 5, drop: 2}
	var opens atomic.Int32
	open := func() (capture.LiveSource, error) {
		switch opens.Add(1) {
		case 1:
			return first, nil
		case 2:
			return nil, syscall.ENODEV // not back yet
		}
		return second, nil
	}
	defer func(d time.Duration) { sensorRetry = d }(sensorRetry)
	sensorRetry = 50 * time.Millisecond
	s, err := newSensorOn("sensor:fake0", "fake0", open)
	if err != nil {
		t.Fatal(err)
	}
	var em memEmitter
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, &em) }()
	waitFor(t, "the failure", 5*time.Second, func() bool { return s.Ready() != nil })
	if err := s.Ready(); !errors.Is(err, syscall.ENETDOWN) && !errors.Is(err, syscall.ENODEV) {
		t.Errorf("Ready: %v", err)
	}
	waitFor(t, "the capture back", 5*time.Second, func() bool { return opens.Load() >= 3 && s.Ready() == nil })
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !first.closed || !second.closed {
		t.Error("a capture left open")
	}
	got := uint64(0)
	for _, r := range em.snapshot() {
		if r.Type != flow.TypeMgmt {
			got += r.Pkts[0] + r.Pkts[1]
		}
	}
	if got != wantPkts {
		t.Errorf("%d packets in the flows, the capture read whole has %d", got, wantPkts)
	}
	st := s.s.Stats()
	if st.KernelReceived != 15 || st.KernelDrops != 3 {
		t.Errorf("kernel counters %d %d, want 15 3", st.KernelReceived, st.KernelDrops)
	}
	var qf uint64
	for _, l := range s.Stats().Lost {
		if l.Reason == ReasonQueueFull {
			qf += l.N
		}
	}
	if qf != 3 {
		t.Errorf("queue_full %d, want the kernel's 3 drops", qf)
	}
}
