package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/ipfix"
	"github.com/flowgate/flowgate/codecs/netflow5"
	"github.com/flowgate/flowgate/codecs/netflow9"
	"github.com/flowgate/flowgate/codecs/ratext"
	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/mappings"
	"github.com/spf13/cobra"
)

func newConvertCmd() *cobra.Command {
	var src, dst string
	var o convertOpts
	cmd := &cobra.Command{
		Use:   "convert -r SRC -w DST",
		Short: "Convert flow records from one source to one sink",
		Long: `convert reads every record of SRC and writes it to DST.

Files are [format:]path; "-" is stdin or stdout. Formats: argus (Argus
5.x), argus3 (Argus 3.x), nf (a pcap/pcapng capture of NetFlow/IPFIX
export traffic, or raw messages of any version), nf5, nf9, ipfix (raw
export messages, concatenated), json (sink only: ra's -M json lines),
csv (a header line, then one record per line, in --dialect's columns:
argus, the default, ra's -c , -u labels; nfdump, nfdump -o csv's; ecs,
goflow2, ipfix),
zeek (a Zeek conn.log, TSV or JSON lines when read, TSV when written),
zeekjson (a conn.log written as JSON lines), pcap (source only: a packet
capture, pcap or pcapng, gzip or zstd too, read through the sensor as
"flowgate sensor -r FILE" reads it, with its argus defaults; --sensor
"ARGS" gives it argus options; an argus3 sink makes it write Argus 3
records, as with -3). A
source without a format is detected from its content; a sink without one
is written as argus (5.x).

Network endpoints are format+transport://[host]:port[?options]. As a
source they listen: nf+udp (v5, v9 and IPFIX told apart per datagram),
nf5+udp, nf9+udp, ipfix+udp, ipfix+tcp, ipfix+tls (?cert=&key=
[&clientca=]). As a sink they send: nf5+udp, nf9+udp, ipfix+udp,
ipfix+tcp. Listener options: workers=N (sockets, default the number of
CPUs), rcvbuf=SIZE (default 8M), batch=N, reuseport=0|1; TCP/TLS
listeners: sessions=N (at once, default 1024); sender options: mtu=BYTES,
rate=RECORDS_PER_SECOND, times=auto|ms|ns (IPFIX flow times; ms for
nfdump 1.7.1, which prints the finer NTP-format ones as 1970). See the
README for the exact syntax.

A listening source runs until SIGINT or SIGTERM, --duration or --count,
then flushes the sink. Decode errors are counted (--report lists them per
exporter and reason) and never stop it.

A value the target cannot hold (a 128-bit monitor id in Argus 3.x, an
IPv6 flow in NetFlow v5, say) is an error naming the record and the field,
unless --lossy is given: then it is dropped or converted (Argus), or the
record is skipped (NetFlow/IPFIX), and counted. Context Argus has no DSR
for (a NetFlow/IPFIX record's exporter, observation domain, sequence,
sampling rate, interfaces and next hops; the Community ID; a conn.log's
uid, service, history, conn_state and other columns, header and trailer;
other formats' elements with no canonical field, as fg.x words)
is carried in the record's label, after its own label, as fg.* and zeek.*
key=value words (ra -s +label prints them), and read back from there: a
conn.log converted to Argus and back is the same log. A label longer than
the DSR's 1016 bytes is an error (with --lossy: the words that do not fit
are left out and counted).

Written to a format that has a place for it (zeek, zeekjson: the
community_id column; json and csv --dialect ecs: network.community_id;
argus, argus3: the label, for records that do not come from Argus or a
capture), every flow record with an IP flow key gets its
Community ID (v1), unless --community-id=false; one read from the source
(a conn.log's community_id column, an Argus label) is kept as read. A
conn.log written with its own header has the column (after the conn
columns, as Zeek's community-id-logging script adds it); a zeek to zeek
rewrite keeps the source's columns. NetFlow/IPFIX, ra's JSON and the
other dialects have no field for it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if src == "" || dst == "" {
				return fmt.Errorf("convert: both -r and -w are required")
			}
			in, err := gateway.ParseEndpoint(src)
			if err != nil {
				return err
			}
			out, err := gateway.ParseEndpoint(dst)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.stdin, o.stdout, o.stderr = os.Stdin, os.Stdout, os.Stderr
			return runConvert(ctx, in, out, o)
		},
	}
	cmd.Flags().StringVarP(&src, "read", "r", "", "source `SRC`: [format:]path, \"-\" for stdin, or a listening URI such as nf+udp://:2055")
	cmd.Flags().StringVarP(&dst, "write", "w", "", "sink `DST`: [format:]path, \"-\" for stdout, json:-, or a URI such as ipfix+udp://127.0.0.1:4739")
	cmd.Flags().BoolVar(&o.report, "report", false, "print what was converted, what could not be represented and, for NetFlow/IPFIX sources, the decode counters")
	cmd.Flags().BoolVar(&o.lossy, "lossy", false, "drop or convert values the sink cannot hold, and count them, instead of failing")
	cmd.Flags().DurationVar(&o.duration, "duration", 0, "stop a listening source after this long")
	cmd.Flags().Int64Var(&o.count, "count", 0, "stop after this many records")
	cmd.Flags().StringVar(&o.templates, "templates", "", "NetFlow v9/IPFIX over UDP or from files: load templates, system init times and sampling rates from `FILE` at the start (if it exists) and save them there at the end, so a restarted collector decodes at once")
	cmd.Flags().StringVar(&o.dialect, "dialect", "", "JSON lines naming: ra (sinks: ra 5's -M json, the default), argus (ra's keys as valid JSON; the default for sources), ecs, goflow2, nfdump, ipfix; CSV columns: argus (ra -c , labels, the default), nfdump, ecs, goflow2, ipfix")
	cmd.Flags().StringVar(&o.readDialect, "read-dialect", "", "the source's JSON lines or CSV naming when it differs from the sink's --dialect (e.g. --read-dialect ecs --dialect nfdump)")
	cmd.Flags().StringVar(&o.mapping, "mapping", "", "a mapping `FILE` that overrides or extends the --dialect's built-in mapping (see `flowgate mapping`)")
	cmd.Flags().DurationVar(&o.codecs.TemplateTimeout, "template-timeout", 0, "NetFlow v9/IPFIX: forget a template not refreshed for this long (0: never; IPFIX withdrawals always apply)")
	cmd.Flags().Uint32Var(&o.codecs.SamplingRate, "sampling-rate", 0, "sampling rate of records whose exporter sends none (e.g. softflowd); with --force-sampling-rate, of every record")
	cmd.Flags().BoolVar(&o.codecs.ForceSampling, "force-sampling-rate", false, "use --sampling-rate for every record, whatever the exporter says")
	cmd.Flags().BoolVar(&o.communityID, "community-id", true, "give every flow record with an IP flow key its Community ID (v1), unless it has one from the source")
	cmd.Flags().Uint16Var(&o.communityIDSeed, "community-id-seed", 0, "Community ID seed `N` (0 to 65535; as Zeek's CommunityID::seed and tshark's communityid.seed)")
	addPcapFlags(cmd, &o.pcap)
	cmd.Flags().BoolVar(&o.codecs.Renormalise, "renormalize", false, "multiply packet and byte counts by each record's sampling rate (as pmacct's nfacctd_renormalize)")
	return cmd
}

// convertOpts are convert's flags and streams.
type convertOpts struct {
	lossy, report bool
	duration      time.Duration
	count         int64
	templates     string // --templates file
	dialect       string // --dialect (JSON lines, CSV)
	readDialect   string // --read-dialect: the source's, when not --dialect
	argusSink     bool   // the sink writes Argus (set by runConvert)
	mapping       string // --mapping file
	codecs        gateway.CodecConfig
	pcap          pcapOpts // pcap: sources (convert_pcap.go)
	// communityID: compute the Community ID of every record that has
	// none, with communityIDSeed.
	communityID     bool
	communityIDSeed uint16
	stdin           io.Reader
	stdout          io.Writer
	stderr          io.Writer

	// codecMapping: a --mapping of schema zeek, ipfix or netflow9, which
	// resolveMapping gave to those codecs (for --report's account).
	codecMapping *mappings.File
	// zeekMap: --mapping of schema zeek (resolveMapping).
	zeekMap *zeek.Mapping
}

// source is what convert reads: gateway's listeners and file sources, and
// the Argus reader below.
type source interface {
	Serve(ctx context.Context, h gateway.Handler) error
	Stats() gateway.Stats
}

// sink is what convert writes. Calls are serialised by convert.
type sink interface {
	write(recs []flow.Record) error
	flush() error
	close() error
	report(w io.Writer)
}

// convertStats is what --report prints of the argus paths.
type convertStats struct {
	read, written, mgmt int64
	lost                map[string]int64 // "field: reason" -> count
}

func runConvert(ctx context.Context, in, out gateway.Endpoint, o convertOpts) error {
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// An Argus source's rewrite check (each DSR re-encodes to its bytes,
	// else it is kept verbatim) serves only an Argus sink.
	o.argusSink = !out.IsNetwork() && (out.Format == gateway.FormatAuto || out.Format == gateway.FormatArgus || out.Format == gateway.FormatArgus3)
	if err := resolveMapping(&o, in, out); err != nil {
		return err
	}
	so := o // the source's options: its own dialect
	if o.readDialect != "" {
		if o.mapping != "" && o.readDialect != o.dialect && isTextTable(in.Format) && isTextTable(out.Format) {
			return fmt.Errorf("convert: --mapping with --read-dialect %s and --dialect %s: one file cannot override both; convert in two steps", o.readDialect, o.dialect)
		}
		so.dialect = o.readDialect
	}
	src, codecSet, err := openSource(in, so)
	if err != nil {
		return err
	}
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	if o.templates != "" {
		if codecSet == nil || in.Transport == gateway.TransportTCP || in.Transport == gateway.TransportTLS {
			return fmt.Errorf("convert: --templates is for NetFlow v9/IPFIX over UDP and from files (over TCP and TLS, templates belong to their session)")
		}
		if err := loadTemplates(codecSet, o.templates); err != nil {
			return err
		}
	}
	sk, err := openSink(ctx, out, in, o)
	if err != nil {
		return err
	}
	if zs, ok := src.(*zeekSource); ok {
		if zk, ok := sk.(*zeekSink); ok {
			zk.hdr = zs.rd.Header // zeek to zeek keeps the log's header
		}
		if as, ok := sk.(*argusSink); ok {
			as.zeek = &zeekCarry{hdr: zs.rd.Header} // and so does zeek to Argus (convert_zeek.go)
		}
	}
	sk = withFieldAccount(sk, out, o) // --report: per canonical field (report.go)

	var mu sync.Mutex
	var read int64
	var sinkErr error
	done := false
	// cidArena holds one batch's Community IDs; the sinks write (or copy)
	// a batch before the next one comes, so it is reused from batch to
	// batch.
	var cidArena []byte
	cid := o.communityID && (carriesCommunityID(out.Format) || isTextTable(out.Format) && o.dialect == "ecs" ||
		isArgusFormat(out.Format) && !argusNative(src))
	h := func(recs []flow.Record) error {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return nil
		}
		if o.count > 0 && read+int64(len(recs)) >= o.count {
			recs = recs[:o.count-read]
			done = true
			cancel()
		}
		read += int64(len(recs))
		if cid {
			cidArena = flow.SetCommunityIDs(recs, cidArena, o.communityIDSeed)
		}
		if err := sk.write(recs); err != nil {
			sinkErr = err
			return err
		}
		return nil
	}
	// A listener's records must not wait in a buffer for the next batch.
	stopFlush := make(chan struct{})
	var flushWG sync.WaitGroup
	if in.IsNetwork() {
		flushWG.Add(1)
		go func() {
			defer flushWG.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stopFlush:
					return
				case <-t.C:
					mu.Lock()
					if err := sk.flush(); err != nil && sinkErr == nil {
						sinkErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
	serr := src.Serve(ctx, h)
	close(stopFlush)
	flushWG.Wait()
	cerr := sk.close()
	if serr == nil && sinkErr != nil {
		serr = sinkErr
	}
	if serr != nil {
		if errors.Is(serr, context.Canceled) && done {
			serr = nil
		} else {
			return serr
		}
	}
	if cerr != nil {
		return cerr
	}
	if o.templates != "" {
		if err := saveTemplates(codecSet, o.templates); err != nil {
			return err
		}
	}
	if o.report {
		fmt.Fprintf(o.stderr, "convert %s -> %s\n", in, out)
		switch src := src.(type) {
		case *argusSource:
		case *pcapSource:
			src.report(o.stderr)
		case *csvSource:
			src.report(o.stderr)
		case *zeekSource:
			st := src.rd.Stats()
			form := "TSV"
			if src.rd.Format() == zeek.FormatJSON {
				form = "JSON lines"
			}
			fmt.Fprintf(o.stderr, "  records read      %d (Zeek conn.log, %s)\n", src.read, form)
			if st.Verbatim > 0 {
				fmt.Fprintf(o.stderr, "  kept as written   %d values (text the decoded value does not reproduce, e.g. masked times)\n", st.Verbatim)
			}
		default:
			printSourceReport(o.stderr, src.Stats(), codecSet)
		}
		sk.report(o.stderr)
	}
	return nil
}

// isTextTable reports whether f is named by a --dialect (JSON lines, CSV).
func isTextTable(f gateway.Format) bool { return f == gateway.FormatJSON || f == gateway.FormatCSV }

// carriesCommunityID reports whether a sink format has a place for the
// Community ID. The others would drop it, so it is not computed for them.
// Argus carries it in the label (codecs/argus label.go), but only records
// from another format get one there (argusNative): the ~45 label bytes it
// adds to each record would change an Argus file's records in an Argus to
// Argus conversion, and a capture's from what the sensor writes.
func carriesCommunityID(f gateway.Format) bool {
	return f == gateway.FormatZeek || f == gateway.FormatZeekJSON
}

// argusNative reports a source whose records are Argus's own: an Argus
// file, or a capture through the sensor (written as the sensor writes).
func argusNative(src source) bool {
	switch src.(type) {
	case *argusSource, *pcapSource:
		return true
	}
	return false
}

// isArgusFormat reports an Argus sink (an endpoint without a format is
// written as Argus 5).
func isArgusFormat(f gateway.Format) bool {
	return f == gateway.FormatArgus || f == gateway.FormatArgus3 || f == gateway.FormatAuto
}

// loadTemplates loads a --templates file, if it exists.
func loadTemplates(cs *gateway.CodecSet, name string) error {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := cs.LoadTemplates(f); err != nil {
		return fmt.Errorf("convert: --templates %s: %w", name, err)
	}
	return nil
}

// saveTemplates writes a --templates file through a temporary file and a
// rename, so that a crash never leaves half a file.
func saveTemplates(cs *gateway.CodecSet, name string) error {
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = cs.SaveTemplates(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("convert: --templates %s: %w", name, err)
	}
	return nil
}

// openSource opens in; for NetFlow/IPFIX sources it also returns the
// decoders' CodecSet, for the report.
func openSource(in gateway.Endpoint, o convertOpts) (source, *gateway.CodecSet, error) {
	if !in.IsNetwork() {
		switch {
		case in.Format.IsNetFlow():
			cs := gateway.NewCodecSetConfig(o.codecs)
			s, err := gateway.OpenFile(in.Path, in.Format, cs.New())
			return s, cs, err
		case in.Format == gateway.FormatAuto, in.Format == gateway.FormatArgus, in.Format == gateway.FormatArgus3:
			s, err := openArgusSource(in, o.stdin, o.argusSink)
			return s, nil, err
		case in.Format == gateway.FormatZeek, in.Format == gateway.FormatZeekJSON:
			s, err := openZeekSource(in, o.stdin, o.zeekMap)
			return s, nil, err
		case in.Format == gateway.FormatCSV:
			s, err := openCSVSource(in, o)
			return s, nil, err
		case in.Format == gateway.FormatJSON:
			s, err := openJSONLSource(in, o)
			return s, nil, err
		case in.Format == gateway.FormatPcap:
			s, err := openPcapSource(in, o)
			return s, nil, err
		}
		return nil, nil, fmt.Errorf("convert: cannot read format %q", in.Format)
	}
	cs := gateway.NewCodecSetConfig(o.codecs)
	newDec := func() gateway.Decoders { return cs.New().Only(in.Format) }
	switch in.Transport {
	case gateway.TransportUDP:
		l, err := gateway.ListenUDP(in.Addr, in.Opts, newDec)
		if err != nil {
			return nil, nil, err
		}
		if asked, got := l.Granted(); got < asked {
			fmt.Fprintf(o.stderr, "flowgate convert: %s: receive buffer %d bytes of %d asked (raise net.core.rmem_max, or run with CAP_NET_ADMIN)\n", in, got, asked)
		}
		return l, cs, nil
	case gateway.TransportTCP, gateway.TransportTLS:
		if in.Transport == gateway.TransportTLS && in.Opts.Cert == "" {
			return nil, nil, fmt.Errorf("convert: %s: a TLS listener needs ?cert=FILE&key=FILE", in)
		}
		l, err := gateway.ListenTCP(in.Addr, in.Opts, cs.New)
		if err != nil {
			return nil, nil, err
		}
		l.SessionEnd = cs.Release
		return l, cs, nil
	}
	return nil, nil, fmt.Errorf("convert: cannot listen on %s", in)
}

// streamSource hands a stream decoder's records over in batches; each
// record's bytes are copied into an arena reused from batch to batch (the
// decoder's buffer moves on). The Argus, Zeek and JSON-lines sources are
// one each.
type streamSource struct {
	f     *os.File // the file read, if not stdin
	dec   codecs.Decoder
	read  int64
	recs  []flow.Record
	arena []byte
	// onErr, if set, sees every decode error but io.EOF and returns nil
	// to keep the record (decoded in part), errSkipRecord to drop it and
	// go on, or the error that stops the source.
	onErr func(error) error
}

// errSkipRecord is what a streamSource's onErr returns for a record it
// drops (and has counted).
var errSkipRecord = errors.New("record skipped")

// open opens in's file (or takes stdin) for a decoder made by the caller.
func (s *streamSource) open(in gateway.Endpoint, stdin io.Reader) (io.Reader, error) {
	s.recs = make([]flow.Record, 256)
	if in.IsStdio() {
		return stdin, nil
	}
	f, err := os.Open(in.Path)
	if err != nil {
		return nil, err
	}
	s.f = f
	return f, nil
}

func (s *streamSource) Serve(ctx context.Context, h gateway.Handler) error {
	for ctx.Err() == nil {
		n := 0
		s.arena = s.arena[:0]
		var err error
		for n < len(s.recs) {
			if err = s.dec.Decode(&s.recs[n]); err != nil && err != io.EOF && s.onErr != nil {
				if err = s.onErr(err); err == errSkipRecord {
					continue
				}
			}
			if err != nil {
				break
			}
			s.arena = s.recs[n].DetachInto(s.arena)
			s.read++
			n++
		}
		if n > 0 {
			if herr := h(s.recs[:n]); herr != nil {
				return herr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
	}
	return nil
}

func (s *streamSource) Stats() gateway.Stats { return gateway.Stats{Records: uint64(s.read)} }

func (s *streamSource) Close() error {
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}

// argusSource reads an Argus file or stdin.
type argusSource struct{ streamSource }

func openArgusSource(in gateway.Endpoint, stdin io.Reader, argusSink bool) (*argusSource, error) {
	s := &argusSource{}
	r, err := s.open(in, stdin)
	if err != nil {
		return nil, err
	}
	opts := []argus.Option{argus.WithFileName(in.Path)}
	if !argusSink {
		opts = append(opts, argus.WithoutRewriteCheck())
	}
	rd, err := argus.NewReader(r, opts...)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("convert: %s: %w", in, err)
	}
	if in.Format == gateway.FormatArgus3 && rd.Version() != 3 || in.Format == gateway.FormatArgus && rd.Version() != 5 {
		s.Close()
		return nil, fmt.Errorf("convert: %s: stream is Argus %d.x, not %s", in, rd.Version(), in.Format)
	}
	s.dec = rd
	return s, nil
}

// finishOutput ends a file sink after its encoder's close (err): it
// flushes bw and closes f (nil for stdout); the first error wins.
func finishOutput(err error, bw *bufio.Writer, f *os.File) error {
	if bw != nil {
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// openOutput opens a file sink's file (or stdout).
func openOutput(out gateway.Endpoint, stdout io.Writer) (io.Writer, *os.File, error) {
	if out.IsStdio() {
		return stdout, nil, nil
	}
	f, err := os.Create(out.Path)
	if err != nil {
		return nil, nil, err
	}
	return f, f, nil
}

func openSink(ctx context.Context, out gateway.Endpoint, in gateway.Endpoint, o convertOpts) (sink, error) {
	if !out.IsNetwork() {
		switch out.Format {
		case gateway.FormatAuto, gateway.FormatArgus, gateway.FormatArgus3:
			return openArgusSink(out, in, o)
		case gateway.FormatZeek, gateway.FormatZeekJSON:
			return openZeekSink(out, o.stdout, o.communityID, o.zeekMap)
		case gateway.FormatCSV:
			return openCSVSink(out, o)
		case gateway.FormatJSON:
			if o.dialect != "" && o.dialect != dialectRa {
				return openJSONLSink(out, o)
			}
			if o.mapping != "" {
				return nil, fmt.Errorf("convert: --mapping needs a --dialect other than ra")
			}
			w, f, err := openOutput(out, o.stdout)
			if err != nil {
				return nil, err
			}
			bw := bufio.NewWriterSize(w, 256<<10)
			p, err := ratext.NewPrinter(bw, ratext.Options{JSON: true, Precision: 6})
			if err != nil {
				return nil, err
			}
			return &jsonSink{p: p, bw: bw, f: f}, nil
		case gateway.FormatNF5, gateway.FormatNF9, gateway.FormatIPFIX:
			tally := &encTally{}
			enc, err := newPacketEncoder(out, o.lossy, &o.codecs, tally)
			if err != nil {
				return nil, err
			}
			w, f, err := openOutput(out, o.stdout)
			if err != nil {
				return nil, err
			}
			bw := bufio.NewWriterSize(w, 256<<10)
			opts := out.Opts
			opts.Strict = !o.lossy
			s := gateway.NewStreamSender(bw, opts, enc)
			return &packetSink{out: out, send: s.Send, stats: s.Stats, tally: tally, closer: func() error {
				return finishOutput(nil, bw, f)
			}}, nil
		}
		return nil, fmt.Errorf("convert: cannot write format %q (argus, argus3, json, nf5, nf9, ipfix)", out.Format)
	}
	opts := out.Opts
	opts.Strict = !o.lossy
	switch {
	case out.Transport == gateway.TransportUDP && out.Format != gateway.FormatNF:
		tally := &encTally{}
		enc, err := newPacketEncoder(out, o.lossy, &o.codecs, tally)
		if err != nil {
			return nil, err
		}
		s, err := gateway.DialUDP(out.Addr, opts, enc)
		if err != nil {
			return nil, err
		}
		return &packetSink{out: out, send: s.Send, stats: s.Stats, tally: tally, closer: s.Close}, nil
	case out.Scheme == "ipfix+tcp":
		if _, err := newPacketEncoder(out, o.lossy, &o.codecs, nil); err != nil {
			return nil, err
		}
		tally := &encTally{}
		s, err := gateway.DialTCP(ctx, out.Addr, opts, func() gateway.PacketEncoder {
			enc, _ := newPacketEncoder(out, o.lossy, &o.codecs, tally)
			return enc
		})
		if err != nil {
			return nil, err
		}
		return &packetSink{out: out, send: s.Send, stats: s.Stats, tally: tally, closer: s.Close}, nil
	case out.Format == gateway.FormatNF:
		return nil, fmt.Errorf("convert: %s: a sink needs its version: nf5+udp, nf9+udp or ipfix+udp", out)
	}
	return nil, fmt.Errorf("convert: %s cannot be a sink (nf5+udp, nf9+udp, ipfix+udp, ipfix+tcp)", out)
}

// newPacketEncoder makes the encoder of a NetFlow/IPFIX sink. IPFIX
// templates are re-sent on the encoder's period over UDP and sent once per
// session on a stream (TCP: each new session gets a new encoder).
func newPacketEncoder(out gateway.Endpoint, lossy bool, cc *gateway.CodecConfig, tally *encTally) (gateway.PacketEncoder, error) {
	enc, err := newPacketEncoder1(out, lossy, cc)
	if err == nil && tally != nil {
		tally.mu.Lock()
		tally.encs = append(tally.encs, enc)
		tally.mu.Unlock()
	}
	return enc, err
}

// encTally keeps a sink's encoders (one per TCP session) for the report of
// the values the format could not hold as they were.
type encTally struct {
	mu   sync.Mutex
	encs []gateway.PacketEncoder
}

// report prints the encoders' declared lossy rules that applied: times
// cut to the millisecond, values left out (lossy Extra elements, reverse
// attributes of a flow without reverse counts).
func (t *encTally) report(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var subMs, dropped uint64
	for _, e := range t.encs {
		switch e := e.(type) {
		case *netflow5.Encoder:
			subMs += e.Stats().SubMs
		case *netflow9.Encoder:
			st := e.Stats()
			subMs, dropped = subMs+st.SubMs, dropped+st.Dropped
		case *ipfix.Encoder:
			st := e.Stats()
			subMs, dropped = subMs+st.SubMs, dropped+st.Dropped
		}
	}
	if subMs > 0 {
		fmt.Fprintf(w, "  times cut to ms   %d records (a finer part the format or times=ms does not hold)\n", subMs)
	}
	if dropped > 0 {
		fmt.Fprintf(w, "  values left out   %d (elements the format cannot carry, reverse attributes of one-way flows)\n", dropped)
	}
}

func newPacketEncoder1(out gateway.Endpoint, lossy bool, cc *gateway.CodecConfig) (gateway.PacketEncoder, error) {
	switch out.Format {
	case gateway.FormatNF5:
		return netflow5.NewEncoder(nil, time.Now), nil
	case gateway.FormatNF9:
		var opts []netflow9.EncoderOption
		if out.Opts.MTU > 0 {
			opts = append(opts, netflow9.WithMTU(out.Opts.MTU))
		}
		if out.Transport != gateway.TransportUDP {
			opts = append(opts, netflow9.WithTemplateRefresh(0, 0))
		}
		if lossy {
			opts = append(opts, netflow9.WithLossyEncode())
		}
		if cc.NetFlow9Mapping != nil {
			opts = append(opts, netflow9.WithEncoderMapping(cc.NetFlow9Mapping))
		}
		return netflow9.NewEncoder(nil, opts...), nil
	case gateway.FormatIPFIX:
		var opts []ipfix.EncoderOption
		if out.Opts.MTU > 0 {
			opts = append(opts, ipfix.WithMTU(out.Opts.MTU))
		}
		if out.Transport != gateway.TransportUDP {
			opts = append(opts, ipfix.WithTemplateRefresh(0, 0))
		}
		if lossy {
			opts = append(opts, ipfix.WithLossyEncode())
		}
		switch out.Opts.Times {
		case "ms":
			opts = append(opts, ipfix.WithMilliseconds())
		case "ns":
			opts = append(opts, ipfix.WithNanoseconds())
		}
		if cc.IPFIXMapping != nil {
			opts = append(opts, ipfix.WithEncoderMapping(cc.IPFIXMapping))
		}
		return ipfix.NewEncoder(nil, opts...), nil
	}
	return nil, fmt.Errorf("convert: %s: no encoder for %s", out, out.Format)
}

// argusSink writes Argus 3.x or 5.x.
type argusSink struct {
	in, out gateway.Endpoint
	version int
	wr      *argus.Writer
	bw      *bufio.Writer
	f       *os.File
	st      convertStats
	// ctxCarried counts the NetFlow/IPFIX context Argus has no DSR for,
	// which the writer carries in the label (codecs/argus label.go).
	ctxCarried [len(netflowContext)]int64 // per netflowContext entry
	// zeek: a conn.log source's header and trailer (convert_zeek.go).
	zeek *zeekCarry
}

// netflowContext is the NetFlow/IPFIX context an Argus record has no DSR
// for (it goes in the label).
var netflowContext = [...]struct {
	g    flow.Group
	name string
}{
	{flow.HasExporter, "exporter, observation domain, export sequence"},
	{flow.HasSampling, "sampling rate"},
	{flow.HasIfaces, "input/output interface"},
	{flow.HasNextHop, "next hop"},
}

func openArgusSink(out, in gateway.Endpoint, o convertOpts) (*argusSink, error) {
	version := 5
	if out.Format == gateway.FormatArgus3 {
		version = 3
	}
	w, f, err := openOutput(out, o.stdout)
	if err != nil {
		return nil, err
	}
	s := &argusSink{in: in, out: out, version: version, f: f, st: convertStats{lost: map[string]int64{}}}
	s.bw = bufio.NewWriterSize(w, 256<<10)
	var opts []argus.Option
	if o.lossy {
		opts = append(opts, argus.WithLossy(func(field, reason string) {
			s.st.lost[field+": "+reason]++
		}))
	}
	if s.wr, err = argus.NewWriter(s.bw, version, opts...); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *argusSink) write(recs []flow.Record) error {
	if s.zeek != nil {
		return s.zeek.write(recs, s.encode)
	}
	for i := range recs {
		if err := s.encode(&recs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *argusSink) encode(r *flow.Record) error {
	s.st.read++
	if r.Type == flow.TypeMgmt {
		s.st.mgmt++
	}
	for k, c := range netflowContext {
		if r.Has&c.g != 0 {
			s.ctxCarried[k]++
		}
	}
	if err := s.wr.Encode(r); err != nil {
		var nr *codecs.NotRepresentableError
		if errors.As(err, &nr) {
			return fmt.Errorf("convert: record %d of %s: %w (use --lossy to drop and count such values)", s.st.read, s.in, err)
		}
		return fmt.Errorf("convert: record %d of %s: %w", s.st.read, s.in, err)
	}
	s.st.written++
	return nil
}

func (s *argusSink) flush() error {
	if err := s.wr.Flush(); err != nil {
		return err
	}
	return s.bw.Flush()
}

func (s *argusSink) close() error {
	if s.zeek != nil {
		if err := s.zeek.finish(s.encode); err != nil {
			return err
		}
	}
	return finishOutput(s.wr.Close(), s.bw, s.f)
}

func (s *argusSink) report(w io.Writer) {
	st := &s.st
	fmt.Fprintf(w, "  sink              Argus %d.x\n", s.version)
	fmt.Fprintf(w, "  records read      %d (%d management)\n", st.read, st.mgmt)
	fmt.Fprintf(w, "  records written   %d\n", st.written)
	if s.ctxCarried != [len(netflowContext)]int64{} {
		fmt.Fprintf(w, "  NetFlow/IPFIX context Argus has no DSR for (carried in the label, per record):\n")
		for k, c := range netflowContext {
			if n := s.ctxCarried[k]; n > 0 {
				fmt.Fprintf(w, "    %8d  %s\n", n, c.name)
			}
		}
	}
	if len(st.lost) == 0 {
		fmt.Fprintf(w, "  not representable none: every value was preserved\n")
		return
	}
	keys := make([]string, 0, len(st.lost))
	for k := range st.lost {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "  not representable (dropped or converted, per value):\n")
	for _, k := range keys {
		fmt.Fprintf(w, "    %8d  %s\n", st.lost[k], k)
	}
}

// jsonSink prints ra 5's -M json lines with ra's default fields.
type jsonSink struct {
	p       *ratext.Printer
	bw      *bufio.Writer
	f       *os.File
	written int64
}

func (s *jsonSink) write(recs []flow.Record) error {
	for i := range recs {
		if recs[i].Type == flow.TypeMgmt {
			continue // ra prints management records only with -M man
		}
		if err := s.p.Print(&recs[i]); err != nil {
			return err
		}
		s.written++
	}
	return nil
}

func (s *jsonSink) flush() error {
	if err := s.p.Flush(); err != nil {
		return err
	}
	return s.bw.Flush()
}

func (s *jsonSink) close() error { return finishOutput(s.flush(), nil, s.f) }

func (s *jsonSink) report(w io.Writer) {
	fmt.Fprintf(w, "  records printed   %d (JSON)\n", s.written)
}

// packetSink sends NetFlow/IPFIX messages. Small batches (a listener's
// few datagrams) are gathered, so that messages go out full; flush sends
// what is gathered.
type packetSink struct {
	out    gateway.Endpoint
	send   func([]flow.Record) error
	stats  func() gateway.SendStats
	closer func() error
	buf    []flow.Record
	arena  []byte
	tally  *encTally
}

// packetBatch is how many records a packet sink gathers before sending.
const packetBatch = 1024

func (s *packetSink) write(recs []flow.Record) error {
	if len(recs) >= packetBatch && len(s.buf) == 0 {
		return s.sendErr(recs)
	}
	for i := range recs {
		s.buf = append(s.buf, recs[i])
		s.arena = s.buf[len(s.buf)-1].DetachInto(s.arena)
		if len(s.buf) >= packetBatch {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *packetSink) sendErr(recs []flow.Record) error {
	err := s.send(recs)
	var nr *codecs.NotRepresentableError
	if errors.As(err, &nr) {
		return fmt.Errorf("convert: %s: %w (use --lossy to skip and count such records)", s.out, err)
	}
	return err
}

func (s *packetSink) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	err := s.sendErr(s.buf)
	for i := range s.buf {
		s.buf[i].Extra = nil // do not keep the last batch's elements alive
	}
	s.buf, s.arena = s.buf[:0], s.arena[:0]
	return err
}

func (s *packetSink) close() error {
	err := s.flush()
	if cerr := s.closer(); err == nil {
		err = cerr
	}
	return err
}

func (s *packetSink) report(w io.Writer) {
	st := s.stats()
	fmt.Fprintf(w, "  sink              %s\n", s.out)
	fmt.Fprintf(w, "  records sent      %d in %d messages (%d bytes)\n", st.Records, st.Messages, st.Bytes)
	if st.Mgmt > 0 {
		fmt.Fprintf(w, "  management        %d Argus MARs not sent (NetFlow/IPFIX has no form for them)\n", st.Mgmt)
	}
	if s.tally != nil {
		s.tally.report(w)
	}
	if st.NotRepresentable > 0 {
		fmt.Fprintf(w, "  not representable %d records skipped:\n", st.NotRepresentable)
		printCounts(w, st.Skipped)
	}
	if st.WriteErrors > 0 {
		fmt.Fprintf(w, "  refused           %d datagrams (no collector? last: %v)\n", st.WriteErrors, st.LastErr)
	}
	if st.Reconnects > 0 {
		fmt.Fprintf(w, "  reconnects        %d (%d messages resent; last error: %v)\n", st.Reconnects, st.Resent, st.LastErr)
	}
}

func printCounts(w io.Writer, m map[string]uint64) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "    %8d  %s\n", m[k], k)
	}
}

// printSourceReport prints a NetFlow/IPFIX source's counters and its
// decoders'.
func printSourceReport(w io.Writer, st gateway.Stats, cs *gateway.CodecSet) {
	fmt.Fprintf(w, "  messages          %d (v5 %d, v9 %d, IPFIX %d), %d bytes\n", st.Messages, st.V5, st.V9, st.IPFIX, st.Bytes)
	fmt.Fprintf(w, "  records decoded   %d\n", st.Records)
	if st.FirstTS != 0 {
		fmt.Fprintf(w, "  captured          %s .. %s\n", time.Unix(0, st.FirstTS).UTC().Format(time.RFC3339Nano), time.Unix(0, st.LastTS).UTC().Format(time.RFC3339Nano))
	}
	if st.Sockets > 0 {
		fmt.Fprintf(w, "  sockets           %d, receive buffer %d bytes each (%d asked), kernel drops %d\n", st.Sockets, st.RcvBuf, st.RcvBufAsked, st.KernelDrops)
	}
	if st.Sessions > 0 || st.SessionsRefused > 0 {
		fmt.Fprintf(w, "  sessions          %d (%d refused: too many at once)\n", st.Sessions, st.SessionsRefused)
	}
	if len(st.Skipped) > 0 {
		fmt.Fprintf(w, "  frames skipped (not export messages):\n")
		printCounts(w, st.Skipped)
	}
	if cs != nil {
		c := cs.Stats()
		fmt.Fprintf(w, "  templates         v9 %d (+%d options), IPFIX %d (+%d options); changed %d, expired %d, withdrawn %d\n",
			c.V9.Templates, c.V9.OptionsTemplates, c.IP.Templates, c.IP.OptionsTemplates,
			c.V9.TemplatesChanged+c.IP.TemplatesChanged, c.V9.TemplatesExpired+c.IP.TemplatesExpired, c.V9.TemplatesWithdrawn+c.IP.TemplatesWithdrawn)
		sets, dec, exp := c.V9.PendingSets+c.IP.PendingSets, c.V9.PendingDecoded+c.IP.PendingDecoded, c.V9.PendingExpired+c.IP.PendingExpired
		var held uint64
		if sets > dec+exp {
			held = sets - dec - exp
		}
		fmt.Fprintf(w, "  template misses   %d data sets before their template: %d decoded when it came (%d records), %d expired undecoded, %d still held at the end (no template came), %d dropped (buffer full)\n",
			sets, dec, c.V9.PendingRecords+c.IP.PendingRecords, exp, held, c.V9.PendingDropped+c.IP.PendingDropped)
		fmt.Fprintf(w, "  sequence loss     v5 %d flows, v9 %d packets, IPFIX %d records; quirks (resets, reordering) v5 %d, v9 %d, IPFIX %d\n",
			c.V5.Lost, c.V9.SeqLost, c.IP.SeqLost, c.V5.SeqQuirks, c.V9.SeqQuirks, c.IP.SeqQuirks)
	}
	if len(st.ErrorRows) == 0 {
		fmt.Fprintf(w, "  decode errors     none\n")
		return
	}
	fmt.Fprintf(w, "  decode errors     %d messages, by exporter and reason:\n", st.Errors)
	for _, r := range st.ErrorRows {
		e := r.Exporter.String()
		if !r.Exporter.IsValid() {
			e = "(file)"
		}
		fmt.Fprintf(w, "    %8d  %-28s %s\n", r.N, e, r.Reason)
	}
	for i, err := range st.Samples {
		if i == 3 {
			break
		}
		fmt.Fprintf(w, "    e.g. %s\n", strings.TrimSpace(err.Error()))
	}
}
