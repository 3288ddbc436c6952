// Command argustree writes an archive tree of Argus files for migrate's
// benchmark: -files files of -records records each, named as argus's
// hourly archives (YYYY/MM/DD/argus.YYYY.MM.DD.HH.00.00.out.gz), the
// records taken in turn from -in (a 3.x or 5.x file, e.g. Debian argus's
// output for a capture) and written in -version with -compress.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func main() {
	in := flag.String("in", "", "Argus `FILE` the records come from")
	out := flag.String("out", "", "tree `DIR`")
	files := flag.Int("files", 200, "files")
	records := flag.Int("records", 25000, "records a file (its MAR aside)")
	version := flag.Int("version", 3, "Argus major version written")
	comp := flag.String("compress", "gzip", "gzip, zstd or none")
	start := flag.String("start", "2026-01-01T00:00:00Z", "first file's hour")
	flag.Parse()
	if *in == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		log.Fatal(err)
	}
	// The source's flow records, detached.
	f, err := os.Open(*in)
	if err != nil {
		log.Fatal(err)
	}
	rd, err := argus.NewReader(f)
	if err != nil {
		log.Fatal(err)
	}
	var recs []flow.Record
	for len(recs) < *records*4 {
		var r flow.Record
		err := rd.Decode(&r)
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		if r.Type&0x80 != 0 {
			continue
		}
		r.Detach()
		recs = append(recs, r)
	}
	f.Close()
	if len(recs) == 0 {
		log.Fatal("no flow records in ", *in)
	}
	k := 0
	for i := 0; i < *files; i++ {
		t := t0.Add(time.Duration(i) * time.Hour)
		name := filepath.Join(*out, t.Format("2006/01/02"), t.Format("argus.2006.01.02.15.04.05.out"))
		switch *comp {
		case "gzip":
			name += ".gz"
		case "zstd":
			name += ".zst"
		}
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			log.Fatal(err)
		}
		of, err := os.Create(name)
		if err != nil {
			log.Fatal(err)
		}
		bw := bufio.NewWriterSize(of, 256<<10)
		var zw io.WriteCloser = nopCloser{bw}
		switch *comp {
		case "gzip":
			zw = gzip.NewWriter(bw)
		case "zstd":
			zw, _ = zstd.NewWriter(bw)
		}
		w, err := argus.NewWriter(zw, *version)
		if err != nil {
			log.Fatal(err)
		}
		for n := 0; n < *records; n++ {
			if err := w.Encode(&recs[k]); err != nil {
				log.Fatal(err)
			}
			k = (k + 1) % len(recs)
		}
		for _, c := range []func() error{w.Close, zw.Close, bw.Flush, of.Close} {
			if err := c(); err != nil {
				log.Fatal(err)
			}
		}
		if err := os.Chtimes(name, t.Add(time.Hour), t.Add(time.Hour)); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("%d files of %d records in %s\n", *files, *records, *out)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
