// Command kfakeserver runs an in-memory Kafka broker (franz-go's kfake) on
// loopback for clients outside the test binary: Debian's kcat and
// github.com/segmentio/kafka-go in the interop tests. Topics are created on
// first use. It prints its address ("127.0.0.1:9092") on stdout once it
// accepts connections and runs until killed (SIGINT/SIGTERM close it).
//
//	go run ./conformance/tools/kfakeserver -port 9092 -partitions 4
//
// .ci/run starts it in the background and exports FLOWGATE_KAFKA.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9092, "TCP port on 127.0.0.1 (0: any free port)")
	parts := flag.Int("partitions", 4, "partitions of an auto-created topic")
	flag.Parse()

	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*parts),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakeserver:", err)
		os.Exit(1)
	}
	addr := c.ListenAddrs()[0]
	// The listener starts in a goroutine: print the address only once a
	// connection succeeds, so a script waiting for the line can go on.
	for i := 0; ; i++ {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if i == 50 {
			fmt.Fprintln(os.Stderr, "kfakeserver: not accepting on", addr, err)
			os.Exit(1)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Println(addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	c.Close()
}
