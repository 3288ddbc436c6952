package sensor

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor/capture"
	"github.com/flowgate/flowgate/sensor/decode"
	"github.com/flowgate/flowgate/sensor/track"
)

// shardFields is what the 1-shard and N-shard outputs are compared on:
// every field ra 3.0.8.2 prints for a sensor record, but seq (each shard
// numbers its own flows) and the MARs.
var shardFields = strings.Fields(`
	stime ltime dur flgs proto saddr sport dir daddr dport
	pkts spkts dpkts bytes sbytes dbytes appbytes sappbytes dappbytes
	state cause srcid trans
	sttl dttl stos dtos sdsb ddsb sipid dipid
	smac dmac svlan dvlan svid dvid smpls dmpls senc denc
	swin dwin stcpb dtcpb tcprtt synack ackdat tcpopt
	spktsz smaxsz sminsz dpktsz dmaxsz dminsz
	sintpkt dintpkt sjit djit sintpktact dintpktact sintpktidl dintpktidl
	icmpid loss sloss dloss retrans sretrans dretrans suser duser
`)

// runFile runs the sensor over a capture (read in batches, as flowgate
// sensor reads) and writes an Argus 3 file.
func runFile(t *testing.T, pcap, out string, opt Options) {
	t.Helper()
	src, err := capture.OpenFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	werr := writeArgus3(t, out, opt, func(s *Sensor) {
		b := capture.Batch(src)
		fs := make([]capture.Frame, 200)
		for {
			n, err := b.ReadFrames(fs)
			if err != nil {
				if err != io.EOF {
					t.Logf("%s: %v", pcap, err)
				}
				return
			}
			s.Frames(fs[:n])
		}
	})
	if werr != nil {
		t.Fatalf("writing %s: %v", out, werr)
	}
}

// raSorted prints a file's flow records with Debian's ra, sorted.
func raSorted(t *testing.T, file string) []string { return raLines(t, file, shardFields) }

// compareShards runs the sensor with 1 shard and with n shards and checks
// that ra prints the same records.
func compareShards(t *testing.T, pcap string, opt Options, n int) int {
	t.Helper()
	dir := t.TempDir()
	one, many := filepath.Join(dir, "1.argus"), filepath.Join(dir, "n.argus")
	opt.Argus3 = true
	opt.Shards = 1
	runFile(t, pcap, one, opt)
	opt.Shards = n
	runFile(t, pcap, many, opt)
	a, b := raSorted(t, one), raSorted(t, many)
	if len(a) != len(b) {
		t.Errorf("%s: %d records with 1 shard, %d with %d", pcap, len(a), len(b), n)
	}
	diffs := 0
	for i := 0; i < min(len(a), len(b)) && diffs < 5; i++ {
		if a[i] != b[i] {
			t.Errorf("%s: record %d differs:\n1 shard:  %s\n%d shards: %s", pcap, i, a[i], n, b[i])
			diffs++
		}
	}
	return len(a)
}

func needRA(t *testing.T) {
	if _, err := exec.LookPath("ra"); err != nil {
		t.Skip("Debian's ra (argus-client) is not installed")
	}
}

// TestShardsSameRecordsCorpus: every corpus capture gives the same set of
// records (as Debian's ra prints them) with 1, 2 and 3 shards, default
// options and every optional metric.
func TestShardsSameRecordsCorpus(t *testing.T) {
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	needRA(t)
	var files []string
	filepath.WalkDir(filepath.Join(c, "traffic"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng") || strings.HasSuffix(p, ".cap")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 50 {
		t.Fatalf("%d captures under %s/traffic", len(files), c)
	}
	all := Options{Track: track.Options{MAC: true, AppBytes: true, Jitter: true, Response: true, PktSize: true, UserData: 16}}
	recs := 0
	for _, f := range files {
		recs += compareShards(t, f, Options{}, 2)
		recs += compareShards(t, f, all, 3)
	}
	t.Logf("%d captures, %d records", len(files), recs)
}

// genPcap makes a capture with conformance/tools/genpcap.
func genPcap(t *testing.T, n int) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not in PATH (genpcap)")
	}
	out := filepath.Join(t.TempDir(), "gen.pcap")
	cmd := exec.Command(goBin, "run", "../conformance/tools/genpcap", "-n", strconv.Itoa(n), "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("genpcap: %v\n%s", err, b)
	}
	return out
}

// TestShardsSameRecordsGenerated: a generated capture (TCP with
// handshakes, DNS, ICMP, IPv6, 10 s of traffic with status records and
// idle expiry) gives the same records with 1 and 2 shards.
func TestShardsSameRecordsGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	needRA(t)
	pcap := genPcap(t, 200000)
	if n := compareShards(t, pcap, Options{}, 2); n < 10000 {
		t.Errorf("%d records", n)
	}
	compareShards(t, pcap, Options{Track: track.Options{MAC: true, AppBytes: true, Jitter: true, Response: true, PktSize: true}}, 2)
}

// TestRawShard: on every corpus capture and a generated one, a frame
// rawShard places (plain TCP/UDP over IP, the shards skip the others'
// frames undecoded) decodes to a packet of that shard (track.Shard) that
// quotes no flow, with and without tunnel decoding.
func TestRawShard(t *testing.T) {
	var files []string
	if c := os.Getenv("FLOWGATE_CORPUS"); c != "" {
		filepath.WalkDir(filepath.Join(c, "traffic"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng") || strings.HasSuffix(p, ".cap")) {
				files = append(files, p)
			}
			return nil
		})
	}
	if !testing.Short() {
		files = append(files, genPcap(t, 20000))
	}
	if len(files) == 0 {
		t.Skip("no captures (FLOWGATE_CORPUS not set, -short)")
	}
	placed, other := 0, 0
	for _, name := range files {
		src, err := capture.OpenFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var f capture.Frame
		var p decode.Packet
		for src.ReadFrame(&f) == nil {
			for _, noTun := range []bool{false, true} {
				dec := decode.Decoder{NoTunnels: noTun}
				for n := 2; n <= 3; n++ {
					k := rawShard(&f, n)
					if k < 0 {
						other++
						continue
					}
					placed++
					if dec.Decode(&f, &p) != nil {
						continue
					}
					if s := track.Shard(&p, n); s != k || track.QuotesFlow(&p) {
						t.Fatalf("%s: frame at %d: rawShard %d of %d, track.Shard %d (quotes a flow: %v)", name, f.TS, k, n, s, track.QuotesFlow(&p))
					}
				}
			}
		}
		src.Close()
	}
	if placed == 0 || other == 0 {
		t.Errorf("placed %d frames, left %d to the decoder", placed, other)
	}
	t.Logf("%d captures: placed %d frames, left %d to the decoder", len(files), placed, other)
}

// TestShardSymmetric: both directions of a flow, and an ICMP error's
// quote, hash to the shard of the flow.
func TestShardSymmetric(t *testing.T) {
	var dec decode.Decoder
	buf := make([]byte, 256)
	for n := 2; n <= 8; n++ {
		counts := make([]int, n)
		for i := 0; i < 2000; i++ {
			var p, q decode.Packet
			f := capture.Frame{LinkType: capture.LinkEthernet, Data: synthFrame(buf, i, true, 1)}
			if err := dec.Decode(&f, &p); err != nil {
				t.Fatal(err)
			}
			f.Data = synthFrame(buf, i, false, 1)
			if err := dec.Decode(&f, &q); err != nil {
				t.Fatal(err)
			}
			a, b := track.Shard(&p, n), track.Shard(&q, n)
			if a != b || a < 0 || a >= n {
				t.Fatalf("flow %d, %d shards: %d one way, %d the other", i, n, a, b)
			}
			// An ICMP error quoting p maps to p's shard.
			e := p
			e.Proto, e.HasQuote, e.QSrc, e.QDst = 1, true, q.Src, q.Dst
			if track.QuoteShard(&e, n) != a {
				t.Fatalf("flow %d, %d shards: quote on shard %d, flow on %d", i, n, track.QuoteShard(&e, n), a)
			}
			counts[a]++
		}
		for k, c := range counts {
			if c < 2000/n/2 {
				t.Errorf("%d shards: shard %d has %d of 2000 flows", n, k, c)
			}
		}
	}
}

// TestShardedNoAlloc: with several shards, a batch costs no allocation
// once the buffers have grown (decode, dispatch, track, record copies).
func TestShardedNoAlloc(t *testing.T) {
	s := New(Options{Shards: 2}, func(*flow.Record) {})
	const nflows = 64
	fs := make([]capture.Frame, 2*nflows)
	for i := range fs {
		fs[i] = capture.Frame{LinkType: capture.LinkEthernet, Data: synthFrame(make([]byte, 256), i/2, i%2 == 0, uint32(i)*100), Len: 154}
	}
	ts := int64(1700000000e9)
	batch := func() {
		for i := range fs {
			ts += 1e6 // 1 ms: status records every 5 s of it
			fs[i].TS = ts
		}
		s.Frames(fs)
	}
	for range 100 {
		batch()
	}
	n := testing.AllocsPerRun(200, batch)
	s.Close()
	if n != 0 {
		t.Errorf("%v allocations per batch of %d frames", n, len(fs))
	}
	if st := s.Stats(); st.Packets != 301*uint64(len(fs)) || st.Records == 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestOneShardBatchNoAlloc: Frames with one shard allocates nothing.
func TestOneShardBatchNoAlloc(t *testing.T) {
	s := New(Options{}, func(*flow.Record) {})
	fs := make([]capture.Frame, 128)
	for i := range fs {
		fs[i] = capture.Frame{LinkType: capture.LinkEthernet, Data: synthFrame(make([]byte, 256), i/2, i%2 == 0, uint32(i)*100), Len: 154}
	}
	ts := int64(1700000000e9)
	batch := func() {
		for i := range fs {
			ts += 1e6
			fs[i].TS = ts
		}
		s.Frames(fs)
	}
	for range 100 {
		batch()
	}
	if n := testing.AllocsPerRun(200, batch); n != 0 {
		t.Errorf("%v allocations per batch of %d frames", n, len(fs))
	}
	s.Close()
}

// TestShardSeqUnique: with several shards every flow still has its own
// sequence number, and a flow's records share it.
func TestShardSeqUnique(t *testing.T) {
	seqOf := map[uint32]string{}
	s := New(Options{Shards: 3}, func(r *flow.Record) {
		if r.Type != flow.TypeFlow {
			return
		}
		k := r.Key.Src.String() + ">" + r.Key.Dst.String() + " " + strconv.Itoa(int(r.Key.SrcPort))
		if old, ok := seqOf[r.Seq]; ok && old != k {
			t.Errorf("seq %d: %s and %s", r.Seq, old, k)
		}
		seqOf[r.Seq] = k
	})
	buf := make([]byte, 256)
	ts := int64(1700000000e9)
	for i := range 3000 {
		ts += 1e7
		f := capture.Frame{TS: ts, LinkType: capture.LinkEthernet, Data: synthFrame(buf, i%500, i%3 != 0, uint32(i)), Len: 154}
		s.Frame(&f)
	}
	s.Close()
	if len(seqOf) != 500 {
		t.Errorf("%d sequence numbers for 500 flows", len(seqOf))
	}
}

// TestStatusMARs: a status MAR every MarInterval of packet time, with the
// counters' change since the previous MAR, as Debian's argus 3.0.8.2
// writes them (`argus -M 1` on gen-1000000.pcap: status MARs of 492361
// and 507639 packets, then a STOP MAR of 0, summing to the 1 M packets
// read), and START/STATUS/STOP times chained (each MAR's start is the
// previous one's now).
func TestStatusMARs(t *testing.T) {
	for _, shards := range []int{1, 2} {
		var mars []flow.Mgmt
		var causes []flow.Cause
		var flows uint32
		s := New(Options{MarInterval: 1, Shards: shards}, func(r *flow.Record) {
			if r.Type == flow.TypeMgmt {
				mars = append(mars, r.Mgmt)
				causes = append(causes, r.Cause)
				return
			}
			flows++
		})
		buf := make([]byte, 256)
		t0 := int64(1700000000e9)
		const n = 3500
		fs := make([]capture.Frame, 0, 50)
		for i := range n {
			f := capture.Frame{TS: t0 + int64(i)*1e6, LinkType: capture.LinkEthernet, Data: append([]byte(nil), synthFrame(buf, i%40, i%2 == 0, uint32(i))...), Len: 154}
			if i == 1700 {
				f.Data = f.Data[:20] // truncated: not decoded
			}
			fs = append(fs, f)
			if len(fs) == cap(fs) {
				s.Frames(fs)
				fs = fs[:0]
			}
		}
		s.Close()
		want := []flow.Cause{flow.CauseStart, flow.CauseStatus, flow.CauseStatus, flow.CauseStatus, flow.CauseStop}
		if !slices.Equal(causes, want) {
			t.Fatalf("%d shards: MAR causes %v, want %v", shards, causes, want)
		}
		var pkts, recs, bad uint64
		for i, m := range mars {
			pkts += m.PktsRcvd
			recs += uint64(m.Records)
			bad += uint64(m.Bufs)
			if i > 0 && m.StartTime != mars[i-1].Now {
				t.Errorf("%d shards: MAR %d starts at %d, the previous one's now is %d", shards, i, m.StartTime, mars[i-1].Now)
			}
			if m.MarInterval != 1 || m.Dropped != 0 || m.Queue != 0 {
				t.Errorf("%d shards: MAR %d: %+v", shards, i, m)
			}
		}
		for k := 1; k <= 3; k++ {
			// With one shard the MAR goes out before the frame that is
			// due; with several, after that frame's batch.
			if now := mars[k].Now; now < t0+int64(k)*1e9 || now > t0+int64(k)*1e9+50e6 {
				t.Errorf("%d shards: status MAR %d at %d s after the first frame", shards, k, now-t0)
			}
		}
		if pkts != n || recs != uint64(flows) || bad != 1 {
			t.Errorf("%d shards: MARs count %d packets (want %d), %d records (want %d), %d undecoded (want 1)", shards, pkts, n, recs, flows, bad)
		}
	}
}

// TestForcedInMARs: flows the memory cap ends early are counted in the
// MARs' queue field and in Stats, summed over the shards.
func TestForcedInMARs(t *testing.T) {
	for _, shards := range []int{1, 2} {
		var queue uint64
		var recs int
		s := New(Options{Shards: shards, Track: track.Options{MaxMemory: 2 << 20}}, func(r *flow.Record) {
			if r.Type == flow.TypeMgmt {
				queue += uint64(r.Mgmt.Queue)
				return
			}
			recs++
		})
		buf := make([]byte, 256)
		ts := int64(1700000000e9)
		const nflows = 30000
		for i := range nflows {
			ts += 1e5
			f := capture.Frame{TS: ts, LinkType: capture.LinkEthernet, Data: synthFrame(buf, i, true, 1), Len: 154}
			s.Frame(&f)
		}
		mid := s.Stats()
		s.Close()
		st := s.Stats()
		if st.Forced == 0 || st.Forced != queue || mid.MemBytes > 2<<20 {
			t.Errorf("%d shards: forced %d, MARs' queue %d, memory %d", shards, st.Forced, queue, mid.MemBytes)
		}
		if recs != nflows || st.Records != nflows || st.Created != nflows {
			t.Errorf("%d shards: %d records (Stats %d, created %d) for %d flows", shards, recs, st.Records, st.Created, nflows)
		}
	}
}

// TestLiveDropsCounted: a live sensor whose output is stuck drops whole
// batches instead of waiting, and counts them (Stats, MAR dropped).
func TestLiveDropsCounted(t *testing.T) {
	release := make(chan struct{})
	var dropped uint64
	s := New(Options{Shards: 2, Live: true}, func(r *flow.Record) {
		if r.Type == flow.TypeMgmt {
			dropped += uint64(r.Mgmt.Dropped)
			return
		}
		<-release // the output is stuck until released

	})
	ts := int64(1700000000e9)
	const nb, bl = 300, 64
	fs := make([]capture.Frame, bl)
	for b := range nb {
		ts += 100e9 // every flow of the previous batch idles out
		for i := range fs {
			fs[i] = capture.Frame{TS: ts, LinkType: capture.LinkEthernet, Data: synthFrame(make([]byte, 256), (b*bl+i)%60000, true, 1), Len: 154}
		}
		s.Frames(fs)
	}
	c := s.Counters()
	close(release)
	s.Close()
	st := s.Stats()
	if c.OurDrops == 0 || c.OurDrops%bl != 0 || c.Packets+c.OurDrops != nb*bl || st.OurDrops != c.OurDrops || dropped != c.OurDrops {
		t.Errorf("dropped %d (MARs %d, Stats %d), processed %d of %d frames", c.OurDrops, dropped, st.OurDrops, c.Packets, nb*bl)
	}
}

// BenchmarkSensorShards: 4096 concurrent TCP flows, both directions, in
// batches of 256 frames, with 1 and 2 shards.
func BenchmarkSensorShards(b *testing.B) {
	const nflows = 4096
	frames := make([][]byte, 2*nflows)
	for i := range frames {
		frames[i] = synthFrame(make([]byte, 256), i/2, i%2 == 0, uint32(i)*100)
	}
	for _, shards := range []int{1, 2} {
		b.Run(strconv.Itoa(shards), func(b *testing.B) {
			s := New(Options{Shards: shards}, func(*flow.Record) {})
			fs := make([]capture.Frame, batchLen)
			ts := int64(1700000000e9)
			k := 0
			b.ReportAllocs()
			b.SetBytes(154 * batchLen)
			for b.Loop() {
				for i := range fs {
					ts += 1000
					fs[i] = capture.Frame{TS: ts, LinkType: capture.LinkEthernet, Data: frames[k%len(frames)], Len: 154}
					k++
				}
				s.Frames(fs)
			}
			s.Close()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(k), "ns/frame")
		})
	}
}
