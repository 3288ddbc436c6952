package conformance

// Issue 7 point 6, the proof of `flowgate migrate` against the real tools:
//
//  1. An archive tree is built from Debian argus 3.0.8.2's own output: a
//     dozen corpus captures, one hourly file each over four days
//     (archive/YYYY/MM/DD/argus.YYYY.MM.DD.HH.00.00.out), plain, gzip and
//     bzip2, half of them with every optional metric (-m -A -J -R -Z -U 32);
//     one cut in the middle of a record, one gzip'd one cut in the middle of
//     its compressed stream, one not Argus (text under an hourly name), one
//     already 5.x (a corpus file written by argus 5.0.3).
//  2. `flowgate migrate` moves it to 5.x: each file's result, records,
//     MARs, first and last times (against Debian ra's output), compression
//     (the output's magic bytes) and modification time are checked;
//     `--verify DST SRC` passes, and fails naming each file whose bytes were
//     tampered with in a copy.
//  3. `--to 3` of the 5.x tree gives files Debian's ra 3.0.8.2 prints as it
//     prints the originals, line for line, for 88 fields.
//  4. `flowgate ra -M ra5` prints the 5.x files as it prints the originals,
//     for every field it has.
//  5. The corpus's richest 5.x files go through `--to 3` and back `--to 5`:
//     the losses are listed (manifest and summary), they are exactly the
//     values ra 5.0.3's goldens show that ra 3.0.8.2 has no column for, and
//     every other column comes back.

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dbzip2 "github.com/dsnet/compress/bzip2"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway/migrate"
)

// migrateCaptures are the corpus captures the archive is made of, one
// hourly file each, with the sensor options and the compression of the file.
// Small ones (most under 10 kB), chosen for variety: TCP with handshakes,
// UDP/DNS, ICMP and ICMPv6, IPv6, fragments, a port scan, real malware
// traffic. Two are cut short: the largest (755 flows) in the middle of a
// record (a sensor killed while writing), and a gzip'd one in the middle of
// its compressed stream (a compressor killed while writing).
var migrateCaptures = []struct {
	pcap string
	full bool   // every optional metric: -m -A -J -R -Z -U 32
	comp string // migrate.None, Gzip or Bzip2
	cut  string // "record": the Argus stream is cut; "gzip": the gzip stream is
}{
	{"slips/test7-malicious.pcap", true, migrate.None, "record"},
	{"tcpdump/dns_udp.pcap", false, migrate.Gzip, ""},
	{"zeek-traces/communityid/tcp.pcap", true, migrate.Bzip2, ""},
	{"zeek-traces/communityid/icmp.pcap", false, migrate.None, ""},
	{"zeek-traces/communityid/ipv6.pcap", true, migrate.Gzip, ""},
	{"tcpdump/dns_tcp.pcap", false, migrate.Bzip2, ""},
	{"slips/test12-icmp-portscan.pcap", true, migrate.Gzip, ""},
	{"zeek-docs/quickstart.pcap", false, migrate.None, ""},
	{"zeek-traces/http/get.pcap", true, migrate.Gzip, ""},
	{"zeek-traces/ipv4/fragmented-3.pcap", false, migrate.Bzip2, ""},
	{"slips/test8-malicious.pcap", true, migrate.Gzip, "gzip"},
	{"slips/malicious-ssh-bruteforce.pcap", false, migrate.Bzip2, ""},
}

// migrateV5 is the file of the tree that is already 5.x (written by argus
// 5.0.3), gzip'd: it must be copied as it is.
const migrateV5 = "argus/oracle/traffic_slips_test-cc-capture-2/v5.argus"

// migrateRoundTrip are the corpus 5.x files that go to 3.x and back: the
// ones with the most TCP MSS options (the 5.x values 3.x has no room for).
var migrateRoundTrip = []string{
	"traffic_slips_test7-malicious",
	"traffic_slips_malicious-ssh-bruteforce",
}

// archiveFile is one file of the tree built by the test.
type archiveFile struct {
	rel      string // path under the tree, slashes
	kind     string // "v3", "truncated", "v5" or "text"
	comp     string
	pcap     string
	stream   []byte // the uncompressed contents (cut for "truncated")
	records  int64  // whole records in stream, MARs included
	mars     int64
	cutAt    int // "truncated": the byte the file stops at
	mtime    time.Time
	full     bool
	raOutput []byte // Debian ra's output of the file in the tree (3.x files)
}

// migrateTool finds a real tool; missing, the test is skipped, except in
// CI (CI=true), where it must run.
func migrateTool(t *testing.T, name string) string {
	t.Helper()
	p := lookTool(name)
	if p == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed: CI=true and this test must run there (.ci/run installs argus-server and argus-client)", name)
		}
		t.Skipf("%s not installed (Debian argus-server/argus-client; .ci/run installs them)", name)
	}
	return p
}

func migrateCorpus(t *testing.T) string {
	t.Helper()
	root := os.Getenv("FLOWGATE_CORPUS")
	if root == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("FLOWGATE_CORPUS not set: CI=true and this test must run there")
		}
		t.Skip("FLOWGATE_CORPUS not set (CI sets it to ../shared/corpus)")
	}
	return root
}

// raMigrateFields are the ra 3.0.8.2 fields the downgraded copy must
// print as the original does: every field v3write_test.go compares, and
// the byte offset of each record (3.x → 5.x → 3.x gives each record its
// 3.x encoding back), and the source id.
var raMigrateFields = append(slices.Clone(v3Fields), "offset", "srcid")

func TestMigrateArchive(t *testing.T) {
	began := time.Now()
	corpus := migrateCorpus(t)
	argusBin := migrateTool(t, "argus")
	raBin := migrateTool(t, "ra")
	fg := flowgateBin(t)
	root := t.TempDir()
	src := filepath.Join(root, "src")
	files := buildArchive(t, argusBin, raBin, corpus, src)

	// 2. Migrate to 5.x (the default), two files at a time.
	dst5 := filepath.Join(root, "v5")
	stderr := runMigrate(t, fg, 0, "-j", "2", "--progress", "plain", src, dst5)
	m5 := readMigrateManifest(t, dst5)
	var nrec, nv3 int64
	t.Run("to5", func(t *testing.T) {
		want := map[string]int{}
		for _, f := range files {
			e, ok := m5[f.rel]
			if !ok {
				t.Errorf("%s: no manifest line", f.rel)
				continue
			}
			switch f.kind {
			case "v3", "truncated":
				nv3++
				nrec += e.Records
				res := migrate.Migrated
				if f.kind == "truncated" {
					res = migrate.Truncated
					t.Logf("%s: cut at byte %d of its %s file: %d records (%d MARs) before the cut: %s", f.rel, f.cutAt, f.comp, f.records, f.mars, e.Error)
				}
				want[res]++
				checkEntry(t, e, res, 3, 5, f)
				checkOutput(t, filepath.Join(dst5, filepath.FromSlash(f.rel)), f, 5, e)
			case "v5":
				want[migrate.Copied]++
				if e.Result != migrate.Copied || e.From != 5 || e.To != 5 {
					t.Errorf("%s (already 5.x): result %s %d→%d, want copied 5→5 (%s)", f.rel, e.Result, e.From, e.To, e.Error)
				}
				out := filepath.Join(dst5, filepath.FromSlash(f.rel))
				in, _ := os.ReadFile(filepath.Join(src, filepath.FromSlash(f.rel)))
				if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, in) {
					t.Errorf("%s: the copy differs from the input (err %v)", f.rel, err)
				}
				checkMTime(t, out, f.mtime)
			case "text":
				want[migrate.Skipped]++
				if e.Result != migrate.Skipped || e.Error == "" {
					t.Errorf("%s (text): result %s (%q), want skipped with a reason", f.rel, e.Result, e.Error)
				}
				if _, err := os.Stat(filepath.Join(dst5, filepath.FromSlash(f.rel))); err == nil {
					t.Errorf("%s (text): written to the 5.x tree", f.rel)
				}
			}
		}
		if len(m5) != len(files) {
			t.Errorf("manifest: %d lines, want one per input file (%d)", len(m5), len(files))
		}
		// The summary line counts what the manifest says.
		re := fmt.Sprintf(`migrate: %d files: %d migrated, %d truncated \(migrated up to the cut\), %d copied \(already [^)]*\), %d not Argus \(skipped\), 0 failed`,
			len(files), want[migrate.Migrated], want[migrate.Truncated], want[migrate.Copied], want[migrate.Skipped])
		if !regexp.MustCompile(re).Match(stderr) {
			t.Errorf("summary does not say %q:\n%s", re, stderr)
		}
		checkNoTemps(t, dst5)
		t.Logf("%d files: %d migrated, %d truncated, %d copied, %d skipped; %d records (MARs included) from the %d 3.x files",
			len(files), want[migrate.Migrated], want[migrate.Truncated], want[migrate.Copied], want[migrate.Skipped], nrec, nv3)
	})

	t.Run("verify", func(t *testing.T) {
		out, errb, err := runCmd(root, fg, "migrate", "--verify", dst5, src)
		if err != nil {
			t.Fatalf("migrate --verify of an intact tree: %v\n%s%s", err, out, errb)
		}
		// A copy of the tree with one byte changed in two outputs (a plain
		// one and a bzip2 one): --verify must fail and name both.
		bad := filepath.Join(root, "v5-tampered")
		copyTree(t, dst5, bad)
		var tampered []string
		done := map[string]bool{}
		for _, f := range files {
			if f.kind == "v3" && (f.comp == migrate.None || f.comp == migrate.Bzip2) && !done[f.comp] {
				done[f.comp] = true
				name := filepath.Join(bad, filepath.FromSlash(f.rel))
				b, err := os.ReadFile(name)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)/2] ^= 0x01
				if err := os.WriteFile(name, b, 0o644); err != nil {
					t.Fatal(err)
				}
				tampered = append(tampered, f.rel)
			}
		}
		_, errb, err = runCmd(root, fg, "migrate", "--verify", bad, src)
		if ee, ok := errorsAsExit(err); !ok || ee != 1 {
			t.Errorf("migrate --verify of a tampered tree: %v, want exit status 1\n%s", err, errb)
		}
		for _, rel := range tampered {
			if !bytes.Contains(errb, []byte("verify "+rel+":")) {
				t.Errorf("migrate --verify does not name the tampered %s:\n%s", rel, errb)
			}
		}
		if want := fmt.Sprintf(" %d failed", len(tampered)); !bytes.Contains(errb, []byte(want)) {
			t.Errorf("migrate --verify: want %q in its summary:\n%s", want, errb)
		}
	})

	// 3. The 5.x tree back to 3.x: Debian's ra reads it as it reads the
	// originals.
	dst3 := filepath.Join(root, "v3")
	runMigrate(t, fg, 0, "-q", "--to", "3", dst5, dst3)
	m3 := readMigrateManifest(t, dst3)
	t.Run("to3-debian-ra", func(t *testing.T) {
		var rows int
		for _, f := range files {
			if f.kind != "v3" && f.kind != "truncated" {
				continue
			}
			e, ok := m3[f.rel]
			if !ok {
				t.Errorf("%s: not in the --to 3 manifest", f.rel)
				continue
			}
			// The truncated input is whole in the 5.x tree: what it held
			// before the cut is migrated, and nothing is lost going back.
			checkEntry(t, e, migrate.Migrated, 5, 3, f)
			if len(e.Lost) != 0 {
				t.Errorf("%s: 3.x → 5.x → 3.x lost %v", f.rel, e.Lost)
			}
			name := filepath.Join(dst3, filepath.FromSlash(f.rel))
			checkOutput(t, name, f, 3, e)
			got := mustRun(t, root, raBin, raArgs(name, raMigrateFields)...)
			rows += compareRaRows(t, f.rel, f.raOutput, got)
		}
		// One line per file of the 5.x tree: the text file was not
		// written there, and the tree's own manifest (and lock) are no
		// inputs.
		if len(m3) != len(files)-1 {
			var names []string
			for k := range m3 {
				names = append(names, k)
			}
			sort.Strings(names)
			t.Errorf("--to 3 manifest: %d lines, want %d (the 5.x tree's files): %v", len(m3), len(files)-1, names)
		}
		// The file that was already 5.x goes down with its losses listed.
		for _, f := range files {
			if f.kind != "v5" {
				continue
			}
			e := m3[f.rel]
			if e.Result != migrate.Migrated || e.From != 5 || e.To != 3 || e.Compress != f.comp {
				t.Errorf("%s (5.x): --to 3 %s %d→%d %s (%s), want migrated 5→3 %s", f.rel, e.Result, e.From, e.To, e.Compress, e.Error, f.comp)
				continue
			}
			checkDowngrade(t, raBin, root, filepath.Join(dst3, filepath.FromSlash(f.rel)), e,
				filepath.Join(corpus, filepath.FromSlash(strings.TrimSuffix(migrateV5, ".argus"))), loadKnownDiffs(t, "migrate", "v3write"))
			t.Logf("%s (5.x, argus 5.0.3): %d records, --to 3 lost %v", f.rel, e.Records, e.Lost)
		}
		// argus 3.0.8.2 without -e writes a source id with no type (qual
		// 0), which ra prints as 0.0.0.0. 5.x needs a type there
		// (argus-format.md §9.3 step 3): it becomes IPv4 0.0.0.0, which
		// every ra prints as the original, so SrcId is compared too.
		t.Logf("Debian ra: %d rows × %d fields equal on the downgraded copies", rows, len(raMigrateFields))
	})

	// 4. flowgate ra -M ra5 prints the 5.x files as it prints the 3.x
	// originals, for every field it has but the byte offset.
	t.Run("flowgate-ra5", func(t *testing.T) {
		fields := migrateRa5Fields()
		rows := 0
		for _, f := range files {
			if f.kind != "v3" && f.kind != "truncated" {
				continue
			}
			want := flowgateRa5(t, fg, filepath.Join(src, filepath.FromSlash(f.rel)), fields, f.kind == "truncated")
			got := flowgateRa5(t, fg, filepath.Join(dst5, filepath.FromSlash(f.rel)), fields, false)
			rows += compareRaRows(t, f.rel, want, got)
		}
		t.Logf("flowgate ra -M ra5: %d rows × %d fields equal", rows, len(fields))
	})

	// 5. The corpus's 5.x files to 3.x and back.
	t.Run("corpus-v5-roundtrip", func(t *testing.T) {
		roundTripV5(t, corpus, root, fg, raBin)
	})
	t.Logf("TestMigrateArchive: %d 3.x files, %s", nv3, time.Since(began).Round(time.Millisecond))
}

// buildArchive writes the tree under dir and returns its files, the
// 3.x ones with Debian ra's output of them.
func buildArchive(t *testing.T, argusBin, raBin, corpus, dir string) []*archiveFile {
	t.Helper()
	base := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	hourly := func(i int, ext string) (string, time.Time) {
		h := base.Add(time.Duration(i) * 7 * time.Hour)
		rel := fmt.Sprintf("archive/%s/argus.%s.00.00.out%s", h.Format("2006/01/02"), h.Format("2006.01.02.15"), ext)
		// The file was closed at the end of its hour; a fraction of a
		// second checks that the nanoseconds are kept too.
		return rel, h.Add(time.Hour + 123456789)
	}
	var files []*archiveFile
	for i, c := range migrateCaptures {
		pcap := filepath.Join(corpus, "traffic", filepath.FromSlash(c.pcap))
		if _, err := os.Stat(pcap); err != nil {
			t.Fatalf("corpus capture missing: %v", err)
		}
		var extra []string
		if c.full {
			extra = []string{"-m", "-A", "-J", "-R", "-Z", "-U", "32"}
		}
		stream, err := os.ReadFile(argusSensor(t, argusBin, pcap, extra...))
		if err != nil {
			t.Fatal(err)
		}
		f := &archiveFile{kind: "v3", comp: c.comp, pcap: c.pcap, full: c.full}
		f.rel, f.mtime = hourly(i, exts(c.comp))
		offs, _ := frameRecords(t, c.pcap, stream, false)
		data := compressBytes(t, c.comp, stream)
		switch c.cut {
		case "record":
			// Cut in the middle of the middle record.
			k := len(offs) / 2
			size := int(binary.BigEndian.Uint16(stream[offs[k]+2:])) * 4
			f.kind, f.cutAt = "truncated", offs[k]+size/2
			stream, offs = stream[:f.cutAt], offs[:k]
			data = compressBytes(t, c.comp, stream)
		case "gzip":
			// Cut in the middle of the compressed stream: what it holds
			// is what the standard library's gzip reader gets out of it
			// before the end, up to its last whole record (Debian ra's
			// count of it is checked below).
			f.kind, f.cutAt = "truncated", len(data)/2
			data = data[:f.cutAt]
			z, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			stream, err = io.ReadAll(z)
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("%s: cut gzip stream reads to %v, want an unexpected EOF", c.pcap, err)
			}
			offs, _ = frameRecords(t, c.pcap, stream, true)
		}
		f.stream, f.records = stream, int64(len(offs))
		for _, o := range offs {
			if stream[o]&0x80 != 0 {
				f.mars++
			}
		}
		writeArchiveFile(t, dir, f, data)
		files = append(files, f)
	}
	// Already 5.x: a file argus 5.0.3 wrote, gzip'd.
	v5, err := os.ReadFile(filepath.Join(corpus, filepath.FromSlash(migrateV5)))
	if err != nil {
		t.Fatalf("corpus 5.x file: %v", err)
	}
	f := &archiveFile{kind: "v5", comp: migrate.Gzip, stream: v5}
	f.rel, f.mtime = hourly(len(files), ".gz")
	writeArchiveFile(t, dir, f, compressBytes(t, migrate.Gzip, v5))
	files = append(files, f)
	// Not Argus: a text file under an hourly name.
	f = &archiveFile{kind: "text", comp: migrate.None, stream: []byte("argus was down for maintenance this hour; no flows were recorded.\n")}
	f.rel, f.mtime = hourly(len(files), "")
	writeArchiveFile(t, dir, f, f.stream)
	files = append(files, f)

	for _, f := range files {
		if f.kind != "v3" && f.kind != "truncated" {
			continue
		}
		// ra 3.0.8.2 reads .gz and .bz2 files itself; on the cut file it
		// prints the records before the cut and exits 0.
		name := filepath.Join(dir, filepath.FromSlash(f.rel))
		f.raOutput = mustRun(t, dir, raBin, raArgs(name, raMigrateFields)...)
		if f.kind == "truncated" {
			flows := f.records - f.mars
			if got := int64(len(parseRaCSV(f.raOutput).rows)); got != flows {
				t.Fatalf("%s: Debian ra prints %d records of the cut file, want the %d flows before the cut", f.rel, got, flows)
			}
		}
	}
	return files
}

func exts(comp string) string {
	switch comp {
	case migrate.Gzip:
		return ".gz"
	case migrate.Bzip2:
		return ".bz2"
	}
	return ""
}

// frameRecords returns the offsets of the whole records of an Argus
// stream (by their length words; a zero length is a padding word), and
// whether it ends inside a record, which only a cut stream may.
func frameRecords(t *testing.T, name string, b []byte, cut bool) (offs []int, partial bool) {
	t.Helper()
	for off := 0; off < len(b); {
		n := 0
		if off+4 <= len(b) {
			n = int(binary.BigEndian.Uint16(b[off+2:])) * 4
			if n == 0 {
				off += 4
				continue
			}
		}
		if n == 0 || off+n > len(b) {
			if !cut {
				t.Fatalf("%s: argus output ends inside a record at %d", name, off)
			}
			return offs, true
		}
		offs = append(offs, off)
		off += n
	}
	return offs, false
}

func compressBytes(t *testing.T, comp string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch comp {
	case migrate.None:
		return b
	case migrate.Gzip:
		w = gzip.NewWriter(&buf)
	case migrate.Bzip2:
		w, err = dbzip2.NewWriter(&buf, &dbzip2.WriterConfig{Level: dbzip2.BestCompression})
	default:
		t.Fatalf("compression %q", comp)
	}
	if err == nil {
		_, err = w.Write(b)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeArchiveFile(t *testing.T, dir string, f *archiveFile, b []byte) {
	t.Helper()
	name := filepath.Join(dir, filepath.FromSlash(f.rel))
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(name, f.mtime, f.mtime); err != nil {
		t.Fatal(err)
	}
}

// runMigrate runs flowgate migrate and returns its standard error; it
// fails the test unless the exit status is want.
func runMigrate(t *testing.T, fg string, want int, args ...string) []byte {
	t.Helper()
	out, errb, err := runCmd(filepath.Dir(fg), fg, append([]string{"migrate"}, args...)...)
	if code, _ := errorsAsExit(err); code != want {
		t.Fatalf("flowgate migrate %s: exit %d, want %d (%v)\n%s%s", strings.Join(args, " "), code, want, err, out, errb)
	}
	return errb
}

// errorsAsExit returns the exit status in err (0 for nil).
func errorsAsExit(err error) (int, bool) {
	if err == nil {
		return 0, true
	}
	for e := err; e != nil; {
		if ee, ok := e.(*exec.ExitError); ok {
			return ee.ExitCode(), true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	return -1, false
}

func readMigrateManifest(t *testing.T, dst string) map[string]migrate.Entry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dst, migrate.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]migrate.Entry{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e migrate.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v: %s", migrate.ManifestName, err, sc.Bytes())
		}
		if _, dup := out[e.Path]; dup {
			t.Errorf("%s: two lines for %s", migrate.ManifestName, e.Path)
		}
		out[e.Path] = e
	}
	return out
}

// checkEntry checks a manifest line of a converted file: its result, its
// versions, its records and MARs (as framed in the input the test wrote,
// up to the cut), and its first and last times against what Debian's ra
// prints of the original.
func checkEntry(t *testing.T, e migrate.Entry, result string, from, to int, f *archiveFile) {
	t.Helper()
	if e.Result != result || e.From != from || e.To != to {
		t.Errorf("%s: %s %d→%d (%s), want %s %d→%d", f.rel, e.Result, e.From, e.To, e.Error, result, from, to)
		return
	}
	if (result == migrate.Truncated) != (e.Error != "") {
		t.Errorf("%s: result %s with error %q", f.rel, e.Result, e.Error)
	}
	if e.Out != f.rel || e.Compress != f.comp {
		t.Errorf("%s: output %s compressed %s, want the same name and %s", f.rel, e.Out, e.Compress, f.comp)
	}
	if e.Records != f.records || e.MARs != f.mars {
		t.Errorf("%s: %d records (%d MARs), want the input's %d (%d MARs)", f.rel, e.Records, e.MARs, f.records, f.mars)
	}
	if !e.MTime.Equal(f.mtime) {
		t.Errorf("%s: manifest mtime %v, want %v", f.rel, e.MTime, f.mtime)
	}
	first, last := raTimeRange(t, f.raOutput)
	if e.First == nil || e.Last == nil || e.First.UnixMicro() != first || e.Last.UnixMicro() != last {
		t.Errorf("%s: first/last %v/%v, want Debian ra's %d/%d µs", f.rel, e.First, e.Last, first, last)
	}
}

// raTimeRange is the earliest StartTime and latest LastTime (µs) of ra -u
// output.
func raTimeRange(t *testing.T, out []byte) (first, last int64) {
	t.Helper()
	tab := parseRaCSV(out)
	si, li := slices.Index(tab.header, "StartTime"), slices.Index(tab.header, "LastTime")
	if si < 0 || li < 0 {
		t.Fatalf("ra output without StartTime/LastTime: %v", tab.header)
	}
	for _, r := range tab.rows {
		s, l := raMicros(t, r[si]), raMicros(t, r[li])
		if s != 0 && (first == 0 || s < first) {
			first = s
		}
		last = max(last, l)
	}
	return first, last
}

func raMicros(t *testing.T, v string) int64 {
	t.Helper()
	sec, frac, _ := strings.Cut(v, ".")
	frac = (frac + "000000")[:6]
	s, err1 := strconv.ParseInt(sec, 10, 64)
	u, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("ra time %q", v)
	}
	return s*1e6 + u
}

// checkOutput checks an output file: compression by its magic bytes, the
// Argus version of its stream (the MAR's header byte), its sha256 against
// the manifest, and its modification time.
func checkOutput(t *testing.T, name string, f *archiveFile, version int, e migrate.Entry) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Errorf("%s: %v", f.rel, err)
		return
	}
	if got := magic(b); got != f.comp {
		t.Errorf("%s: output compressed %s (magic % x), want %s as the input", f.rel, got, b[:min(4, len(b))], f.comp)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != e.OutSHA256 || int64(len(b)) != e.OutSize {
		t.Errorf("%s: output sha256/size differ from the manifest's", f.rel)
	}
	raw, err := decompressBytes(f.comp, b)
	if err != nil {
		t.Errorf("%s: %v", f.rel, err)
	} else if len(raw) < 1 || raw[0] != 0x80|byte(version) {
		t.Errorf("%s: stream starts with % x, want a %d.x MAR (0x%02x)", f.rel, raw[:min(4, len(raw))], version, 0x80|version)
	}
	checkMTime(t, name, f.mtime)
}

func checkMTime(t *testing.T, name string, want time.Time) {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Error(err)
		return
	}
	if !fi.ModTime().Equal(want) {
		t.Errorf("%s: modified %v, want the input's %v", name, fi.ModTime().UTC(), want)
	}
}

// magic names a file's compression from its first bytes.
func magic(b []byte) string {
	switch {
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		return migrate.Gzip
	case len(b) >= 3 && string(b[:3]) == "BZh":
		return migrate.Bzip2
	case len(b) >= 6 && string(b[:6]) == "\xfd7zXZ\x00":
		return migrate.XZ
	case len(b) >= 4 && string(b[:4]) == "\x28\xb5\x2f\xfd":
		return migrate.Zstd
	}
	return migrate.None
}

// decompressBytes uses the standard library's readers, not the ones
// migrate uses.
func decompressBytes(comp string, b []byte) ([]byte, error) {
	switch comp {
	case migrate.Gzip:
		z, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(z)
	case migrate.Bzip2:
		return io.ReadAll(bzip2.NewReader(bytes.NewReader(b)))
	}
	return b, nil
}

func checkNoTemps(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".migrate-tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		q := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(q, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(q, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// compareRaRows compares two ra outputs value for value, and returns the
// rows compared.
func compareRaRows(t *testing.T, name string, want, got []byte) (rows int) {
	t.Helper()
	w, g := parseRaCSV(want), parseRaCSV(got)
	if !slices.Equal(w.header, g.header) {
		t.Errorf("%s: header differs:\n  want %s\n  got  %s", name, strings.Join(w.header, ","), strings.Join(g.header, ","))
		return 0
	}
	if len(w.rows) != len(g.rows) {
		t.Errorf("%s: %d rows, want %d", name, len(g.rows), len(w.rows))
	}
	bad := map[string]int{}
	var first []string
	for r := range min(len(w.rows), len(g.rows)) {
		wr, gr := w.rows[r], g.rows[r]
		if len(wr) != len(gr) {
			t.Errorf("%s row %d: %d columns, want %d", name, r+1, len(gr), len(wr))
			continue
		}
		for c := range wr {
			switch {
			case wr[c] == gr[c]:
			default:
				if bad[w.header[c]] == 0 {
					first = append(first, fmt.Sprintf("%s row %d: want %q, got %q", w.header[c], r+1, wr[c], gr[c]))
				}
				bad[w.header[c]]++
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: columns differ %v; first differences:\n  %s", name, bad, strings.Join(first, "\n  "))
	}
	return min(len(w.rows), len(g.rows))
}

// migrateRa5Fields is every field flowgate ra prints (ra 5's table), but
// the byte offset of a record, which the encoding changes.
func migrateRa5Fields() []string {
	var out []string
	for _, f := range flow.Fields {
		if f.RaPrinter && f.Ra != "" && f.Ra != "offset" {
			out = append(out, f.Ra)
		}
	}
	return out
}

// flowgateRa5 prints a file with flowgate ra -M ra5. A file cut short
// prints its records before the cut and exits 2 (corrupt input).
func flowgateRa5(t *testing.T, fg, name string, fields []string, cut bool) []byte {
	t.Helper()
	args := append([]string{"ra", "-M", "ra5", "-n", "-u", "-c", ",", "-r", name, "-s"}, fields...)
	out, errb, err := runCmd(filepath.Dir(name), fg, args...)
	if code, _ := errorsAsExit(err); err != nil && !(cut && code == 2) {
		t.Fatalf("flowgate ra %s: %v\n%s", name, err, errb)
	}
	return out
}

// roundTripV5 sends the corpus's 5.x files with the richest DSRs through
// --to 3 and back --to 5. What they lose is the TCP MSS of each side
// (smss, dmss): argus 5's TCP network DSR carries a maxseg word per side,
// 3.x's has none (argus-format.md §9.4, "TCP maxseg dropped"); ra 5.0.3's
// goldens show it for 377 and 5 records of test7-malicious and 67 and 67
// of malicious-ssh-bruteforce. Everything else comes back.
func roundTripV5(t *testing.T, corpus, root, fg, raBin string) {
	oracle := filepath.Join(corpus, "argus", "oracle")
	in := filepath.Join(root, "rt5")
	type rtFile struct{ dir, rel string }
	var rts []rtFile
	for i, dir := range migrateRoundTrip {
		b, err := os.ReadFile(filepath.Join(oracle, dir, "v5full.argus"))
		if err != nil {
			t.Fatalf("corpus: %v", err)
		}
		comp := []string{migrate.None, migrate.Gzip}[i%2]
		rel := fmt.Sprintf("archive/2018/03/09/argus.2018.03.09.%02d.00.00.out%s", 20+i, exts(comp))
		f := &archiveFile{rel: rel, mtime: time.Date(2018, 3, 9, 21+i, 0, 0, 0, time.UTC)}
		writeArchiveFile(t, in, f, compressBytes(t, comp, b))
		rts = append(rts, rtFile{dir, rel})
	}
	down, up := filepath.Join(root, "rt3"), filepath.Join(root, "rt55")
	stderr := runMigrate(t, fg, 0, "--progress", "plain", "--to", "3", in, down)
	runMigrate(t, fg, 0, "-q", down, up)
	mDown, mUp := readMigrateManifest(t, down), readMigrateManifest(t, up)
	known := loadKnownDiffs(t, "migrate", "v3write")
	total := map[string]int64{}
	for _, r := range rts {
		ed, eu := mDown[r.rel], mUp[r.rel]
		if ed.Result != migrate.Migrated || ed.From != 5 || ed.To != 3 || eu.Result != migrate.Migrated || eu.From != 3 || eu.To != 5 {
			t.Errorf("%s: --to 3 %s %d→%d (%s), back %s %d→%d (%s): want migrated both ways", r.dir, ed.Result, ed.From, ed.To, ed.Error, eu.Result, eu.From, eu.To, eu.Error)
			continue
		}
		if !checkDowngrade(t, raBin, root, filepath.Join(down, filepath.FromSlash(r.rel)), ed, filepath.Join(oracle, r.dir, "v5full"), known) {
			continue
		}
		for f, n := range ed.Lost {
			total[f] += n
		}
		// Back to 5.x: every column comes back but the lost ones, which
		// differ in as many records as were counted.
		fields := migrateRa5Fields()
		orig := flowgateRa5(t, fg, filepath.Join(in, filepath.FromSlash(r.rel)), fields, false)
		back := flowgateRa5(t, fg, filepath.Join(up, filepath.FromSlash(r.rel)), fields, false)
		diff := columnDiffs(t, r.dir, orig, back)
		wantDiff := map[string]int64{}
		for f, n := range ed.Lost {
			def, _ := flow.FieldByRaName(f)
			wantDiff[def.RaLabel] = n
		}
		if fmt.Sprint(diff) != fmt.Sprint(wantDiff) {
			t.Errorf("%s: after --to 3 and back, flowgate ra -M ra5 differs in %v (rows per column); want only the lost values %v", r.dir, diff, wantDiff)
		}
		t.Logf("%s: %d records; --to 3 lost %v (ra 5.0.3 shows them, ra 3.0.8.2 has no column); %d other fields equal after the round trip",
			r.dir, ed.Records, ed.Lost, len(fields)-len(wantDiff))
	}
	// The summary lists the losses in total.
	for f, n := range total {
		if !bytes.Contains(stderr, []byte(fmt.Sprintf("%s %d", f, n))) {
			t.Errorf("--to 3 summary does not list %s %d:\n%s", f, n, stderr)
		}
	}
}

// checkDowngrade checks a 5.x corpus file's --to 3 copy (name) and its
// manifest line against ra 5.0.3's goldens of the original (golden: the
// path without .ra5.json/.ra5.csv). The losses must be listed, each a
// field ra 3.0.8.2 has no column for, lost in exactly the records where
// ra 5.0.3 shows a value for it; and Debian ra must print every other
// field of the copy as ra 5.0.3 printed the original (the differences
// known-differences.tsv lists for v3write are printer differences between
// the two ra). It reports whether there were losses to check.
func checkDowngrade(t *testing.T, raBin, dir, name string, e migrate.Entry, golden string, known []*knownDiff) bool {
	t.Helper()
	scope := filepath.Base(filepath.Dir(golden)) + "/" + filepath.Base(golden)
	if len(e.Lost) == 0 {
		t.Errorf("%s: --to 3 lists no loss; its TCP MSS options cannot be carried", scope)
		return false
	}
	g := readGoldenJSON(t, golden+".ra5.json")
	var lost []string
	for f, n := range e.Lost {
		lost = append(lost, f)
		if def, ok := flow.FieldByRaName(f); !ok || def.Ra3 {
			t.Errorf("%s: lost %q: not a 5.x-only ra field", scope, f)
		}
		if want := g.nonZero[f]; n != want {
			t.Errorf("%s: lost %s in %d records; ra 5.0.3 shows a value in %d", scope, f, n, want)
		}
	}
	sort.Strings(lost)
	// ra 3.0.8.2 has no column for them: asked for, it prints none.
	hdr := parseRaCSV(mustRun(t, dir, raBin, raArgs(name, append([]string{"stime"}, lost...))...)).header
	if !slices.Equal(hdr, []string{"StartTime"}) {
		t.Errorf("%s: ra 3.0.8.2 prints columns %v for stime %v: a lost field it can show", scope, hdr, lost)
	}
	got := mustRun(t, dir, raBin, raArgs(name, v3Fields)...)
	labels := parseRaCSV(got).header
	want, err := os.ReadFile(golden + ".ra5.csv")
	if err != nil {
		t.Fatal(err)
	}
	checkRaCSV(t, []scopeRef{{"migrate", scope}, {"v3write", scope}},
		selectColumns(t, want, labels), selectColumns(t, got, labels), known, compareOpts{maskMgmt: true})
	return true
}

// goldenJSON counts, per key, the records of an ra -M json golden whose
// value is neither 0 nor empty.
type goldenJSON struct{ nonZero map[string]int64 }

func readGoldenJSON(t *testing.T, name string) goldenJSON {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	g := goldenJSON{nonZero: map[string]int64{}}
	// ra 5.0.3 prints hex fields unquoted (invalid JSON): pick "key":value
	// pairs of the keys that matter by a pattern instead of decoding.
	re := regexp.MustCompile(`"([a-z]+)":("[^"]*"|[^,}]*)`)
	for _, line := range bytes.Split(b, []byte("\n")) {
		for _, m := range re.FindAllSubmatch(line, -1) {
			v := strings.Trim(string(m[2]), `" `)
			if v == "" {
				continue
			}
			if x, err := strconv.ParseFloat(v, 64); err == nil && x == 0 {
				continue
			}
			g.nonZero[string(m[1])]++
		}
	}
	return g
}

// columnDiffs counts, per column, the rows where two ra outputs differ.
func columnDiffs(t *testing.T, name string, a, b []byte) map[string]int64 {
	t.Helper()
	x, y := parseRaCSV(a), parseRaCSV(b)
	if !slices.Equal(x.header, y.header) || len(x.rows) != len(y.rows) {
		t.Fatalf("%s: outputs of different shape: %d×%d vs %d×%d", name, len(x.rows), len(x.header), len(y.rows), len(y.header))
	}
	out := map[string]int64{}
	for r := range x.rows {
		if len(x.rows[r]) != len(y.rows[r]) {
			t.Fatalf("%s row %d: %d columns vs %d", name, r+1, len(x.rows[r]), len(y.rows[r]))
		}
		for c := range x.rows[r] {
			if x.rows[r][c] != y.rows[r][c] {
				out[x.header[c]]++
			}
		}
	}
	return out
}
