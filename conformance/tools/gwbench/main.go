// Command gwbench drives and measures `flowgate gateway` from outside, for
// issue 6's speed figures (scripts/bench-gateway.sh runs it):
//
//	gwbench send    NetFlow v9/IPFIX datagrams to a UDP listener, paced
//	gwbench count   records in a Kafka topic or a file: lost, duplicated, latency
//	gwbench fill    pre-fill a Kafka topic (argus5 or JSON records)
//	gwbench metrics scrape a gateway's /metrics (and wait for its sinks)
//	gwbench topic   create topics
//
// Every record the tool sends or produces is numbered: record i starts at
// Base + i ms (its other values are those of the input file's flows, taken
// in turn), so a counter can tell each record from the others whatever the
// format, and count the missing and the duplicated ones. With send -live
// a record's last time is when its datagram was encoded and sent (ns), so
// count -lat measures end-to-end latency without a side table.
//
// Each command prints one JSON object on stdout (its figures), and its own
// CPU time, so that a script can put every process's share side by side.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmds := map[string]func([]string) error{
		"send":    cmdSend,
		"count":   cmdCount,
		"fill":    cmdFill,
		"metrics": cmdMetrics,
		"topic":   cmdTopic,
	}
	f, ok := cmds[os.Args[1]]
	if !ok {
		usage()
	}
	if err := f(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "gwbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gwbench send|count|fill|metrics|topic [flags] (-h for each)")
	os.Exit(2)
}

// cpuSeconds is this process's user and system CPU time so far.
func cpuSeconds() (user, sys float64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime), tv(ru.Stime)
}

// report prints v as one JSON line on stdout, with the process's CPU.
func report(v map[string]any) {
	u, s := cpuSeconds()
	v["cpu_user_s"], v["cpu_sys_s"] = round3(u), round3(s)
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

func since(t time.Time) float64 { return round3(time.Since(t).Seconds()) }
