package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor"
	"github.com/flowgate/flowgate/sensor/argusconf"
	"github.com/flowgate/flowgate/sensor/capture"
	"github.com/flowgate/flowgate/sensor/decode"
	"github.com/flowgate/flowgate/sensor/serve"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
)

func newSensorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "sensor [argus options]",
		Short: "Turn packets into Argus flow records, with argus's flags",
		Long: `flowgate sensor reads packets (pcap/pcapng files with -r, a live
interface with -i) and writes Argus flow records, as the argus daemon does,
with argus's flags: -r file... -i iface -N range -w file (- for stdout)
-3 -P port -S secs -M secs -m -A -J -R -Z -U bytes -e monitor-id
-F argus.conf -X [-] [filter expression]. No configuration file is read
unless -F names one. The filter (tcpdump syntax) needs tcpdump installed,
which compiles it.

flowgate's own options (long, so that no argus flag changes meaning):
  --shards n        flow tables, each on its own core: flows are spread over
                    them by address pair (default: 1 with -r, which runs
                    decode and tracking on one goroutine; GOMAXPROCS, the
                    cores Go may use, with -i)
  --max-memory size cap the flow tables' memory (e.g. 512M, 2G; each shard
                    gets its share): past it the flows nearest their idle
                    timeout end early, with their final records, and are
                    counted (MAR queue field, metrics)
  --metrics addr    serve Prometheus metrics on http://addr/metrics
                    (e.g. :9102): packets, bytes, undecoded packets per
                    reason, kernel and sensor drops, flows, records, forced
                    expiries, table memory

MARs: a status MAR every -M seconds (ARGUS_MAR_STATUS_INTERVAL, default 60)
of packet time; in its counters, dropped is the frames lost to capture (the
kernel's drops and the sensor's own when a live capture outruns it), queue
the flows expired early to stay under the memory cap, bufs the frames that
did not decode.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "-h" || a == "--help" {
					return cmd.Help()
				}
			}
			a, err := parseSensorArgs(args)
			if err != nil {
				return exitStatus{code: 2, err: err}
			}
			return runSensor(a, os.Stdin, os.Stdout, os.Stderr)
		},
	}
}

// sensorArgs is an argus command line.
type sensorArgs struct {
	conf   argusconf.Config
	files  []string
	iface  string
	rng    string
	write  string
	v3     bool
	port   int
	noConf bool
	// flowgate's own options
	shards  int    // --shards; 0: GOMAXPROCS
	metrics string // --metrics listen address
	maxMem  int64  // --max-memory bytes; 0: no cap
}

func parseSensorArgs(args []string) (*sensorArgs, error) {
	a := &sensorArgs{conf: argusconf.Default()}
	// -F files are applied first, then the other options override them,
	// as argus does.
	for i := 0; i < len(args); i++ {
		if args[i] == "-F" && i+1 < len(args) {
			if err := a.conf.ReadFile(args[i+1]); err != nil {
				return nil, err
			}
		}
	}
	const withArg = "rFiNwPSUeMBs"
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if strings.HasPrefix(arg, "--") {
			name, val, ok := strings.Cut(arg[2:], "=")
			if !ok {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("sensor: option --%s needs an argument", name)
				}
				i++
				val = args[i]
			}
			if err := a.longOption(name, val); err != nil {
				return nil, err
			}
			continue
		}
		if arg == "-" || arg[0] != '-' {
			// The rest is a packet filter (tcpdump syntax), as argus
			// takes it; a lone "-" may introduce it, as in ra.
			if arg == "-" {
				i++
			}
			a.conf.Filter = strings.Join(args[i:], " ")
			break
		}
		for k := 1; k < len(arg); k++ {
			c := arg[k]
			if !strings.ContainsRune(withArg, rune(c)) {
				if err := a.flag(c); err != nil {
					return nil, err
				}
				continue
			}
			var w string
			if k+1 < len(arg) {
				w = arg[k+1:]
			} else {
				i++
				if i >= len(args) {
					return nil, fmt.Errorf("sensor: option -%c needs an argument", c)
				}
				w = args[i]
			}
			if c == 'r' {
				a.files = append(a.files, w)
				for i+1 < len(args) && (args[i+1] == "-" && len(a.files) == 0 || !strings.HasPrefix(args[i+1], "-")) {
					i++
					a.files = append(a.files, args[i])
				}
			} else if err := a.option(c, w); err != nil {
				return nil, err
			}
			break
		}
	}
	if len(a.files) > 0 && a.iface != "" {
		return nil, errors.New("sensor: -r and -i exclude each other")
	}
	a.conf.Filter = strings.TrimSpace(a.conf.Filter)
	return a, nil
}

// Packet filters (argus's expression, ARGUS_FILTER) are tcpdump syntax,
// which only libpcap compiles: tcpdump does it for us, so that the binary
// needs no libpcap. Live, its program (tcpdump -ddd) runs in the kernel;
// on files, tcpdump filters the capture into the sensor through a pipe.

// compileFilter returns the classic BPF program of expr on iface.
func compileFilter(iface, expr string) ([]capture.BPFInstruction, error) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		return nil, fmt.Errorf("sensor: filter %q: compiling a packet filter needs tcpdump (apt-get install tcpdump)", expr)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(tcpdump, "-ddd", "-i", iface, expr)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("sensor: filter %q: %s", expr, strings.TrimSpace(stderr.String()))
	}
	return capture.ParseBPF(string(out))
}

// filteredFiles reads the capture files through `tcpdump -r file -w -
// expr`, one after the other, as one stream.
type filteredFiles struct {
	files  []string
	expr   string
	cur    *exec.Cmd
	out    io.ReadCloser
	stderr bytes.Buffer
}

func (f *filteredFiles) Read(p []byte) (int, error) {
	for {
		if f.cur == nil {
			if len(f.files) == 0 {
				return 0, io.EOF
			}
			tcpdump, err := exec.LookPath("tcpdump")
			if err != nil {
				return 0, fmt.Errorf("sensor: filter %q: filtering capture files needs tcpdump (apt-get install tcpdump)", f.expr)
			}
			f.stderr.Reset()
			f.cur = exec.Command(tcpdump, "-r", f.files[0], "-w", "-", f.expr)
			f.cur.Stderr = &f.stderr
			if f.out, err = f.cur.StdoutPipe(); err != nil {
				return 0, err
			}
			if err := f.cur.Start(); err != nil {
				return 0, err
			}
		}
		n, err := f.out.Read(p)
		if err == io.EOF {
			if werr := f.cur.Wait(); werr != nil {
				return n, fmt.Errorf("sensor: tcpdump -r %s %q: %s", f.files[0], f.expr, strings.TrimSpace(f.stderr.String()))
			}
			f.cur, f.files = nil, f.files[1:]
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (f *filteredFiles) Close() error {
	if f.cur != nil {
		f.cur.Process.Kill()
		f.cur.Wait()
		f.cur = nil
	}
	return nil
}

// longOption sets one of flowgate's own options (argus has none of them).
func (a *sensorArgs) longOption(name, val string) error {
	switch name {
	case "shards":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n > 256 {
			return fmt.Errorf("sensor: --shards %q: want a number from 1 to 256", val)
		}
		a.shards = n
	case "metrics":
		if _, _, err := net.SplitHostPort(val); err != nil {
			return fmt.Errorf("sensor: --metrics %q: want host:port or :port: %w", val, err)
		}
		a.metrics = val
	case "max-memory":
		n, err := parseSize(val)
		if err != nil {
			return fmt.Errorf("sensor: --max-memory %q: %w", val, err)
		}
		a.maxMem = n
	default:
		return fmt.Errorf("sensor: unknown option --%s", name)
	}
	return nil
}

// errSize: a size is bytes, or a number with a K, M, G or T suffix
// (powers of 1024), optionally followed by B or iB.
var errSize = errors.New("want bytes, or a number with K, M, G or T (1024-based)")

// parseSize reads a size such as 512M, 2G, 64KiB or 1048576.
func parseSize(s string) (int64, error) {
	u := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I")
	mul := int64(1)
	if u != "" {
		switch u[len(u)-1] {
		case 'K':
			mul = 1 << 10
		case 'M':
			mul = 1 << 20
		case 'G':
			mul = 1 << 30
		case 'T':
			mul = 1 << 40
		}
		if mul > 1 {
			u = u[:len(u)-1]
		}
	}
	n, err := strconv.ParseInt(u, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mul {
		return 0, errSize
	}
	return n * mul, nil
}

func (a *sensorArgs) flag(c byte) error {
	switch c {
	case '3':
		a.v3 = true
	case 'm':
		a.conf.MAC = true
	case 'A':
		a.conf.AppBytes = true
	case 'J':
		a.conf.Jitter = true
	case 'R':
		a.conf.ResponseTime = true
	case 'Z':
		a.conf.PacketSize = true
	case 'X':
		a.noConf = true
	case 'p':
		a.conf.Promiscuous = false
	default:
		return fmt.Errorf("sensor: unknown option -%c", c)
	}
	return nil
}

func (a *sensorArgs) option(c byte, w string) error {
	num := func() (int, error) {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("sensor: -%c %q: want a number", c, w)
		}
		return n, nil
	}
	switch c {
	case 'F':
		// applied before the other options
	case 'i':
		a.iface = w
	case 'N':
		a.rng = w
	case 'w':
		a.write = w
	case 'P':
		n, err := num()
		if err != nil {
			return err
		}
		a.port = n
	case 'S':
		f, err := strconv.ParseFloat(w, 64)
		if err != nil || f <= 0 {
			return fmt.Errorf("sensor: -S %q: want seconds", w)
		}
		a.conf.FlowStatus = time.Duration(f * float64(time.Second))
	case 'M':
		f, err := strconv.ParseFloat(w, 64)
		if err != nil || f <= 0 {
			return fmt.Errorf("sensor: -M %q: want seconds", w)
		}
		a.conf.MarStatus = time.Duration(f * float64(time.Second))
	case 'U':
		n, err := num()
		if err != nil {
			return err
		}
		a.conf.CaptureDataLen = n
	case 'e':
		a.conf.MonitorID = w
	case 'B':
		a.conf.BindIP = strings.Split(w, ",")
	default:
		return fmt.Errorf("sensor: option -%c is not supported by flowgate sensor", c)
	}
	return nil
}

// parseMonitorID parses argus's -e value: [type:/]id[/inf] with type int,
// str, ipv4, ipv6 or uuid; without a type, the value's form decides
// (number, IPv4, IPv6, UUID, "quoted" 4-character string).
func parseMonitorID(s string) (flow.SrcID, error) {
	var id flow.SrcID
	typ := ""
	if i := strings.Index(s, ":/"); i > 0 {
		typ, s = s[:i], s[i+2:]
	}
	if i := strings.LastIndexByte(s, '/'); i > 0 && !strings.Contains(s[i:], ":") {
		inf := s[i+1:]
		if inf == "" || len(inf) > 4 {
			return id, fmt.Errorf("sensor: -e %q: the interface name has 1 to 4 characters", s)
		}
		copy(id.Inf[:], inf)
		id.HasInf = true
		s = s[:i]
	}
	bad := fmt.Errorf("sensor: -e %q: want a number, an IPv4 or IPv6 address, a UUID or a \"quoted\" string", s)
	uuid := func(u string) bool {
		u = strings.TrimPrefix(u, "uuid://")
		b, err := hex.DecodeString(strings.ReplaceAll(u, "-", ""))
		if err != nil || len(b) != 16 {
			return false
		}
		id.Type = flow.SrcIDUUID
		copy(id.ID[:], b)
		return true
	}
	switch {
	case typ == "str" || len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		s = strings.Trim(s, `"`)
		if s == "" || len(s) > 4 {
			return id, fmt.Errorf("sensor: -e %q: a string id has 1 to 4 characters", s)
		}
		id.Type = flow.SrcIDString
		copy(id.ID[:], s)
	case typ == "uuid":
		if !uuid(s) {
			return id, bad
		}
	default:
		if n, err := strconv.ParseUint(s, 10, 32); err == nil && (typ == "" || typ == "int") {
			id.Type = flow.SrcIDInt
			id.ID[0], id.ID[1], id.ID[2], id.ID[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
			return id, nil
		}
		if ip, err := netip.ParseAddr(s); err == nil && typ != "int" {
			if ip.Is4() {
				id.Type = flow.SrcIDIPv4
				b := ip.As4()
				copy(id.ID[:], b[:])
			} else {
				id.Type = flow.SrcIDIPv6
				b := ip.As16()
				copy(id.ID[:], b[:])
			}
			return id, nil
		}
		if !uuid(s) {
			return id, bad
		}
	}
	return id, nil
}

func runSensor(a *sensorArgs, stdin io.Reader, stdout, stderr io.Writer) error {
	c := a.conf
	opt := sensor.ConfOptions(c)
	opt.Argus3 = a.v3 // Argus 3 keeps µs; the v5 writer keeps ns.
	if c.MonitorID != "" {
		id, err := parseMonitorID(c.MonitorID)
		if err != nil {
			return exitStatus{code: 2, err: err}
		}
		opt.Track.MonitorID, opt.Track.HasID = id, true
	}

	// Sinks: the -w file and the -P server.
	var sinks []func(*flow.Record) error
	version := 5
	if a.v3 {
		version = 3
	}
	var bw *bufio.Writer
	var wr *argus.Writer
	if a.write != "" {
		var w io.Writer = stdout
		if a.write != "-" {
			f, err := os.Create(a.write) // argus appends; we replace
			if err != nil {
				return exitStatus{code: 2, err: err}
			}
			defer f.Close()
			w = f
		}
		bw = bufio.NewWriterSize(w, 256<<10)
		var err error
		if wr, err = argus.NewWriter(bw, version); err != nil {
			return exitStatus{code: 2, err: err}
		}
		sinks = append(sinks, wr.Encode)
	}
	var srv *serve.Server
	if a.port > 0 {
		srv = serve.New(serve.Options{Version: version})
		host := "0.0.0.0"
		if len(c.BindIP) > 0 {
			host = c.BindIP[0]
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(a.port)))
		if err != nil {
			return exitStatus{code: 2, err: err}
		}
		go srv.Serve(ln)
		sinks = append(sinks, func(r *flow.Record) error { srv.Publish(r); return nil })
	}
	if len(sinks) == 0 {
		return exitStatus{code: 2, err: errors.New("sensor: no output: give -w file (or -w -) or -P port")}
	}
	var emitErr errOnce
	shards := a.shards
	if shards == 0 {
		// Reading files, one goroutine reads and decodes for every shard:
		// a second table buys about 17% of wall time for 30% more CPU
		// (gen-5000000: 2.2 vs 2.65 s wall, 3.3 vs 2.5 CPU-s), so files
		// get one table unless asked. A live link must keep up: all cores.
		shards = 1
		if a.iface != "" {
			shards = sensor.DefaultShards()
		}
	}
	opt.Shards = shards
	opt.Track.MaxMemory = a.maxMem // shared out over the shards

	src, kstats, err := openPackets(a, stdin)
	if err != nil {
		return exitStatus{code: 2, err: err}
	}
	defer src.Close()
	opt.Live = a.iface != ""
	opt.KernelStats = kstats
	// With several shards emit runs on the shards' goroutines, one at a time.
	s := sensor.New(opt, func(r *flow.Record) {
		for _, sink := range sinks {
			if err := sink(r); err != nil {
				emitErr.set(err)
			}
		}
	})
	if a.metrics != "" {
		_, stopMetrics, err := serveMetrics(a.metrics, s, stderr)
		if err != nil {
			s.Close()
			return exitStatus{code: 2, err: err}
		}
		defer stopMetrics()
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)

	bsrc := capture.Batch(src)
	frames := make([]capture.Frame, readBatch)
	var readErr, lastErr error
loop:
	for emitErr.get() == nil {
		select {
		case <-stop:
			break loop
		default:
		}
		n, err := bsrc.ReadFrames(frames)
		switch {
		case err == nil:
			lastErr = nil
			s.Frames(frames[:n])
		case errors.Is(err, capture.ErrTimeout):
			s.Tick(time.Now().UnixNano()) // idle link: flows still time out
		case err == io.EOF:
			break loop
		case lastErr != nil:
			break loop // the error is sticky: nothing more to read
		default:
			// A bad file: report it; OpenFiles goes on with the next one.
			fmt.Fprintln(stderr, "flowgate sensor:", err)
			readErr, lastErr = err, err
		}
	}
	s.Close()
	if wr != nil {
		if err := wr.Close(); err != nil {
			emitErr.set(err)
		}
		if err := bw.Flush(); err != nil {
			emitErr.set(err)
		}
	}
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(ctx)
		cancel()
	}
	cn := s.Counters()
	var bad uint64
	for _, n := range cn.Bad {
		bad += n
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "flowgate sensor: %d of %d packets not decoded (%v)\n", bad, cn.Packets, badReasons(cn))
	}
	if st := s.Stats(); st.KernelDrops+st.OurDrops > 0 {
		fmt.Fprintf(stderr, "flowgate sensor: %d frames dropped by the kernel, %d by the sensor (shards busy)\n", st.KernelDrops, st.OurDrops)
	}
	if err := emitErr.get(); err != nil {
		return exitStatus{code: 2, err: err}
	}
	if readErr != nil {
		return exitStatus{code: 2}
	}
	return nil
}

// badReasons lists the non-zero per-reason counts of undecoded packets.
func badReasons(c sensor.Counters) string {
	var parts []string
	for r, n := range c.Bad {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", decode.Reason(r), n))
		}
	}
	return strings.Join(parts, ", ")
}

// readBatch is how many frames the sensor reads at a time.
const readBatch = 256

// errOnce keeps the first error of the sinks (set from the shards'
// goroutines, read by the reading loop).
type errOnce struct {
	mu  sync.Mutex
	err error
}

func (e *errOnce) set(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

func (e *errOnce) get() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// openPackets opens the packet source; kstats is the kernel's counters of
// a live capture (nil for files).
func openPackets(a *sensorArgs, stdin io.Reader) (src capture.Source, kstats func() (uint64, uint64), err error) {
	switch {
	case a.iface != "":
		opt := capture.LiveOptions{Promisc: a.conf.Promiscuous, ReadTimeout: time.Second}
		if a.conf.Filter != "" {
			if opt.Filter, err = compileFilter(a.iface, a.conf.Filter); err != nil {
				return nil, nil, err
			}
		}
		var live capture.LiveSource
		live, err = capture.OpenLive(a.iface, opt)
		if err == nil {
			src, kstats = live, live.Stats
		}
	case len(a.files) == 1 && a.files[0] == "-" && a.conf.Filter != "":
		return nil, nil, fmt.Errorf("sensor: filter %q: filter stdin before the sensor (tcpdump -r - -w - 'expression')", a.conf.Filter)
	case len(a.files) == 1 && a.files[0] == "-":
		src, err = capture.NewReader(stdin, "-")
	case len(a.files) > 0 && a.conf.Filter != "":
		ff := &filteredFiles{files: a.files, expr: a.conf.Filter}
		// Fail early on a bad expression rather than after the first file.
		if _, err := compileFilter("lo", a.conf.Filter); err != nil && !strings.Contains(err.Error(), "permission") {
			return nil, nil, err
		}
		src, err = capture.NewReader(ff, strings.Join(a.files, ","))
		if err == nil {
			src = closeBoth{src, ff}
		}
	case len(a.files) > 0:
		src, err = capture.OpenFiles(a.files)
	default:
		return nil, nil, errors.New("sensor: give -r file... or -i interface")
	}
	if err != nil {
		return nil, nil, err
	}
	if a.rng != "" {
		r, err := capture.ParseRange(a.rng)
		if err != nil {
			src.Close()
			return nil, nil, err
		}
		src = capture.WithRange(src, r)
	}
	return src, kstats, nil
}

// serveMetrics serves the sensor's Prometheus metrics on addr until the
// returned function is called; bound is the address it listens on.
func serveMetrics(addr string, s *sensor.Sensor, stderr io.Writer) (bound string, stop func(), err error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(s.Collector()); err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("sensor: --metrics: %w", err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(stderr, "flowgate sensor: metrics:", err)
		}
	}()
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		hs.Shutdown(ctx)
		cancel()
	}, nil
}

// closeBoth closes a capture source and the stream under it.
type closeBoth struct {
	capture.Source
	under io.Closer
}

func (c closeBoth) Close() error {
	err := c.Source.Close()
	c.under.Close()
	return err
}
