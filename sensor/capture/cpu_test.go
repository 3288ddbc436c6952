package capture

import (
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestReadFileCPU reads every frame of the capture named by
// FLOWGATE_READ_FILE (e.g. .bench/gen-1000000.pcap) through ReadFrame, then
// through ReadFrames, and logs the user and system CPU time each pass took:
//
//	FLOWGATE_READ_FILE=$PWD/.bench/gen-1000000.pcap go test -run ReadFileCPU -v ./sensor/capture
//
// It is a measuring aid, skipped without the variable. Each pass reads the
// first 64 bytes of every frame, where a decoder finds the headers, so that
// the memory traffic a decoder causes is counted.
func TestReadFileCPU(t *testing.T) {
	name := os.Getenv("FLOWGATE_READ_FILE")
	if name == "" {
		t.Skip("FLOWGATE_READ_FILE is not set")
	}
	// Warm the page cache: we measure the reading, not the disk.
	if b, err := os.ReadFile(name); err != nil {
		t.Fatal(err)
	} else if len(b) == 0 {
		t.Fatal("empty file")
	}
	for _, pass := range []struct {
		name  string
		batch int // 0: ReadFrame
	}{{"ReadFrame", 0}, {"ReadFrames", 256}, {"ReadFrame", 0}, {"ReadFrames", 256}} {
		src, err := OpenFile(name)
		if err != nil {
			t.Fatal(err)
		}
		u0, s0 := cpuTimes(t)
		w0 := time.Now()
		var frames, sum int
		if pass.batch == 0 {
			var f Frame
			for {
				err := src.ReadFrame(&f)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				frames++
				sum += headers(f.Data)
			}
		} else {
			b := Batch(src)
			fs := make([]Frame, pass.batch)
			for {
				n, err := b.ReadFrames(fs)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				frames += n
				for i := range fs[:n] {
					sum += headers(fs[i].Data)
				}
			}
		}
		src.Close()
		wall := time.Since(w0)
		u1, s1 := cpuTimes(t)
		user, sys := u1-u0, s1-s0
		t.Logf("%-10s %T: %d frames (sum %d): user %v sys %v wall %v; %.1f ns CPU per frame",
			pass.name, src, frames, sum, user.Round(time.Millisecond), sys.Round(time.Millisecond),
			wall.Round(time.Millisecond), float64(user+sys)/float64(max(frames, 1)))
	}
}

// headers reads the bytes where a decoder finds the headers.
func headers(d []byte) int {
	if len(d) == 0 {
		return 0
	}
	return int(d[0]) + int(d[min(len(d)-1, 63)])
}

func cpuTimes(t *testing.T) (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
