package migrate

import (
	"bufio"
	"compress/bzip2"
	"fmt"
	"io"
	"strings"

	dbzip2 "github.com/dsnet/compress/bzip2"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression names, as --compress takes them and the manifest writes
// them.
const (
	None  = "none"
	Gzip  = "gzip"
	Bzip2 = "bzip2"
	XZ    = "xz"
	Zstd  = "zstd"
)

// exts are the file name suffixes of each compression.
var exts = map[string]string{Gzip: ".gz", Bzip2: ".bz2", XZ: ".xz", Zstd: ".zst", None: ""}

// ValidCompress reports whether name is a --compress value ("" keeps each
// file's own).
func ValidCompress(name string) bool {
	_, ok := exts[name]
	return ok || name == ""
}

// sniff names the compression of the stream br starts with.
func sniff(br *bufio.Reader) string {
	m, _ := br.Peek(6)
	switch {
	case len(m) >= 2 && m[0] == 0x1F && m[1] == 0x8B:
		return Gzip
	case len(m) >= 3 && string(m[:3]) == "BZh":
		return Bzip2
	case len(m) >= 6 && string(m[:6]) == "\xFD7zXZ\x00":
		return XZ
	case len(m) >= 4 && string(m[:4]) == "\x28\xB5\x2F\xFD":
		return Zstd
	}
	return None
}

// decompress returns the decompressed stream of br, compressed as c.
func decompress(br *bufio.Reader, c string) (io.Reader, func(), error) {
	switch c {
	case Gzip:
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return z, func() { z.Close() }, nil
	case Bzip2:
		return bzip2.NewReader(br), func() {}, nil
	case XZ:
		z, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return z, func() {}, nil
	case Zstd:
		z, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		return z, z.Close, nil
	}
	return br, func() {}, nil
}

// MaxLevel is the highest --level: 1 is the fastest, 9 the smallest, as
// gzip, bzip2 and xz take it (-1 … -9).
const MaxLevel = 9

// xzDict are the dictionary sizes of xz's presets -1 … -9.
var xzDict = [MaxLevel + 1]int{1: 1 << 20, 2: 2 << 20, 3: 4 << 20, 4: 4 << 20, 5: 8 << 20, 6: 8 << 20, 7: 16 << 20, 8: 32 << 20, 9: 64 << 20}

// compressor writes w compressed as c, at level (1 … MaxLevel; 0 is the
// compressor's default). The header carries no name or time, so that the
// same records give the same bytes (a rerun after a crash writes the file
// it would have written).
func compressor(w io.Writer, c string, level int) (io.WriteCloser, error) {
	if level < 0 || level > MaxLevel {
		return nil, fmt.Errorf("migrate: level %d: want 1 to %d", level, MaxLevel)
	}
	switch c {
	case Gzip:
		if level == 0 {
			level = gzip.DefaultCompression
		}
		return gzip.NewWriterLevel(w, level)
	case Bzip2:
		if level == 0 {
			level = dbzip2.DefaultCompression
		}
		return dbzip2.NewWriter(w, &dbzip2.WriterConfig{Level: level})
	case XZ:
		if level == 0 {
			return xz.NewWriter(w)
		}
		return xz.WriterConfig{DictCap: xzDict[level]}.NewWriter(w)
	case Zstd:
		opts := []zstd.EOption{zstd.WithEncoderConcurrency(1)}
		if level != 0 {
			// zstd's own levels 1 … 9 (its 4 speeds: 1–2, 3–5, 6–9).
			opts = append(opts, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)))
		}
		return zstd.NewWriter(w, opts...)
	case None:
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("migrate: compression %q", c)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// rename gives the output name of an input named name, compressed as from,
// when written compressed as to: the suffix of from is replaced by that
// of to (a name without from's suffix keeps its name and gains to's).
func rename(name, from, to string) string {
	if from == to {
		return name
	}
	if e := exts[from]; e != "" && strings.HasSuffix(name, e) {
		name = strings.TrimSuffix(name, e)
	}
	return name + exts[to]
}
