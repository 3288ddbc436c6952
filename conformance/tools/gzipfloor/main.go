// Command gzipfloor measures the floor under migrate's speed: the gzip
// work of a migration alone, with no Argus work. For each gzip'd input
// under -in and its migrated output under -out (same relative path), it
// inflates the input, deflates the output's stream at -level, and
// inflates that again (migrate's read-back), on -j goroutines, and
// prints the wall and CPU time.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
)

func main() {
	in := flag.String("in", "", "tree of gzip'd inputs")
	out := flag.String("out", "", "the same tree migrated")
	level := flag.Int("level", gzip.DefaultCompression, "deflate level of the output (migrate's default: gzip.DefaultCompression)")
	jobs := flag.Int("j", runtime.NumCPU(), "files at once")
	flag.Parse()
	var ins, raws [][]byte
	err := filepath.WalkDir(*in, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(p, ".gz") {
			return err
		}
		rel, _ := filepath.Rel(*in, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		o, err := os.ReadFile(filepath.Join(*out, rel))
		if err != nil {
			return err
		}
		z, err := gzip.NewReader(bytes.NewReader(o))
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		raw, err := io.ReadAll(z)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		ins, raws = append(ins, b), append(raws, raw)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var size int64
	for range *jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, *level)
			for i := range work {
				z, err := gzip.NewReader(bytes.NewReader(ins[i]))
				if err == nil {
					_, err = io.Copy(io.Discard, z)
				}
				buf.Reset()
				zw.Reset(&buf)
				zw.Write(raws[i])
				zw.Close()
				z2, err2 := gzip.NewReader(bytes.NewReader(buf.Bytes()))
				if err2 == nil {
					_, err2 = io.Copy(io.Discard, z2)
				}
				if err != nil || err2 != nil {
					log.Fatal(err, err2)
				}
				mu.Lock()
				size += int64(buf.Len())
				mu.Unlock()
			}
		}()
	}
	for i := range ins {
		work <- i
	}
	close(work)
	wg.Wait()
	wall := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
	fmt.Printf("gzip work alone (level %d, -j %d): %d files, %.2f s wall, %.2f s cpu, output %d MB\n",
		*level, *jobs, len(ins), wall.Seconds(), cpu.Seconds(), size>>20)
}
