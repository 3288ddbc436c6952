package gateway

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// TestUDPSender: records go out as datagrams filled by the encoder, a
// record the format cannot hold is skipped and counted, and nothing is
// lost or reordered on loopback.
func TestUDPSender(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := DialUDP(pc.LocalAddr().String(), Options{}, &fakeEncoder{per: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := fakeRecords(0, 95)
	recs[42].Bytes[0] = 999
	if err := s.Send(recs); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Records != 94 || st.NotRepresentable != 1 || st.Skipped["sbytes: 999"] != 1 || st.Messages != 11 {
		t.Fatalf("stats %+v", st)
	}
	var got []uint64
	buf := make([]byte, 65536)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < int(st.Messages); i++ {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		tmpl, nums := fakeMessage(t, buf[:n])
		if tmpl != (i == 0) {
			t.Errorf("datagram %d: template marker %v", i, tmpl)
		}
		got = append(got, nums...)
	}
	for i, j := 0, 0; i < 95; i++ {
		if i == 42 {
			continue
		}
		if got[j] != uint64(i) {
			t.Fatalf("record %d: got %d", i, got[j])
		}
		j++
	}
}

// TestUDPSenderNoCollector: with nobody listening, refused datagrams are
// counted, not fatal.
func TestUDPSenderNoCollector(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	s, err := DialUDP(addr, Options{}, &fakeEncoder{per: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 5; i++ {
		if err := s.Send(fakeRecords(i, 1)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		time.Sleep(2 * time.Millisecond) // let the ICMP error come back
	}
	if st := s.Stats(); st.WriteErrors == 0 || st.Messages != 5 {
		t.Errorf("stats %+v: want refused writes counted", st)
	}
}

// TestUDPSenderRate: rate= paces the records.
func TestUDPSenderRate(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := DialUDP(pc.LocalAddr().String(), Options{Rate: 2000}, &fakeEncoder{per: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	s.Send(fakeRecords(0, 200)) // 200 records at 2000/s: 0.1 s
	if d := time.Since(start); d < 90*time.Millisecond || d > 2*time.Second {
		t.Errorf("200 records at 2000/s took %v", d)
	}
}

// readFakeStream reads fakeEncoder messages from a TCP stream until EOF.
func readFakeStream(t testing.TB, c net.Conn) (tmpls []bool, nums []uint64) {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[2:]))
		msg := make([]byte, n)
		copy(msg, hdr[:])
		if _, err := io.ReadFull(c, msg[4:]); err != nil {
			t.Errorf("stream cut inside a message: %v", err)
			return
		}
		tmpl, ns := fakeMessage(t, msg)
		tmpls = append(tmpls, tmpl)
		nums = append(nums, ns...)
	}
}

// TestTCPSenderReconnect: when the collector drops the session, the
// sender opens a new one, whose first message carries the templates again,
// and resends the batch.
func TestTCPSenderReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type session struct {
		tmpls []bool
		nums  []uint64
	}
	sessions := make(chan session, 4)
	go func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if i == 0 {
				// The first session reads one batch and then goes away.
				c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				tm, ns := readFakeStream(t, c)
				c.Close()
				sessions <- session{tm, ns}
				continue
			}
			go func() {
				tm, ns := readFakeStream(t, c)
				sessions <- session{tm, ns}
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := DialTCP(ctx, ln.Addr().String(), Options{}, func() PacketEncoder { return &fakeEncoder{per: 4} })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(fakeRecords(0, 10)); err != nil {
		t.Fatal(err)
	}
	first := <-sessions
	if len(first.nums) != 10 || !first.tmpls[0] {
		t.Fatalf("first session: %+v", first)
	}
	// Writes to the closed session fail once the peer's reset arrives;
	// keep sending until the sender has moved to a new session.
	for i := 0; s.Stats().Reconnects == 0 && i < 100; i++ {
		if err := s.Send(fakeRecords(100+i, 1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Close()
	second := <-sessions
	st := s.Stats()
	if st.Reconnects != 1 || len(second.tmpls) == 0 || !second.tmpls[0] {
		t.Fatalf("stats %+v, second session %+v: want one reconnection starting with templates", st, second)
	}
	t.Logf("stats %+v; second session got %v", st, second.nums)
}

// TestTCPSenderGivesUp: with the collector gone for good, Send returns
// once the context is done.
func TestTCPSenderGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s, err := DialTCP(ctx, ln.Addr().String(), Options{}, func() PacketEncoder { return &fakeEncoder{per: 4} })
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ln.Accept()
	c.Close()
	ln.Close()
	var serr error
	for i := 0; i < 1000 && serr == nil; i++ {
		serr = s.Send(fakeRecords(i, 1))
		time.Sleep(time.Millisecond)
	}
	if serr == nil || ctx.Err() == nil {
		t.Fatalf("Send = %v after the collector went away", serr)
	}
}
