package gateway_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
)

func ExampleParseEndpoint() {
	for _, s := range []string{"argus3:archive/old.argus.gz", "new.argus", "-", "nf:export.pcap"} {
		e, err := gateway.ParseEndpoint(s)
		fmt.Printf("%q %q %v %v\n", e.Format, e.Path, e.IsStdio(), err)
	}
	e, err := gateway.ParseEndpoint("nf+udp://[::]:2055?workers=2&rcvbuf=16M")
	fmt.Println(e.Format, e.Transport, e.Addr, e.Opts.Workers, e.Opts.RcvBuf, err)
	// Output:
	// "argus3" "archive/old.argus.gz" false <nil>
	// "" "new.argus" false <nil>
	// "" "-" true <nil>
	// "nf" "export.pcap" false <nil>
	// nf udp [::]:2055 2 16777216 <nil>
}

// ExampleListenUDP receives one NetFlow v5 datagram (Cisco's layout: a
// 24-byte header and one 48-byte record) on loopback.
func ExampleListenUDP() {
	cs := gateway.NewCodecSet()
	l, err := gateway.ListenUDP("127.0.0.1:0", gateway.Options{Workers: 1}, cs.New)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 1)
	go l.Serve(ctx, func(recs []flow.Record) error {
		for _, r := range recs { // r aliases the datagram: use it here
			got <- fmt.Sprintf("%s:%d -> %s:%d proto %d, %d packets, %d bytes",
				r.Key.Src, r.Key.SrcPort, r.Key.Dst, r.Key.DstPort, r.Key.Proto, r.Pkts[0], r.Bytes[0])
		}
		return nil
	})
	v5 := make([]byte, 24+48)
	binary.BigEndian.PutUint16(v5[0:], 5)          // version
	binary.BigEndian.PutUint16(v5[2:], 1)          // count
	binary.BigEndian.PutUint32(v5[4:], 60000)      // sysUptime, ms
	binary.BigEndian.PutUint32(v5[8:], 1700000000) // unix_secs
	rec := v5[24:]
	copy(rec[0:], []byte{192, 0, 2, 1})         // srcaddr
	copy(rec[4:], []byte{198, 51, 100, 7})      // dstaddr
	binary.BigEndian.PutUint32(rec[16:], 3)     // dPkts
	binary.BigEndian.PutUint32(rec[20:], 180)   // dOctets
	binary.BigEndian.PutUint32(rec[24:], 59000) // First
	binary.BigEndian.PutUint32(rec[28:], 59500) // Last
	binary.BigEndian.PutUint16(rec[32:], 40000) // srcport
	binary.BigEndian.PutUint16(rec[34:], 53)    // dstport
	rec[38] = 17                                // prot
	c, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Write(v5)
	select {
	case s := <-got:
		fmt.Println(s)
	case <-time.After(5 * time.Second):
		fmt.Println("nothing received")
	}
	// Output:
	// 192.0.2.1:40000 -> 198.51.100.7:53 proto 17, 3 packets, 180 bytes
}
