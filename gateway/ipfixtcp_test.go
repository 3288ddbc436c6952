package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
)

// serveTCP runs l until cond holds or the time is up.
func serveTCP(t testing.TB, l *TCPListener, h Handler, send func(), cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, h) }()
	send()
	for deadline := time.Now().Add(5 * time.Second); !cond() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// writeChunks writes b in pieces of odd sizes, so messages straddle reads.
func writeChunks(t testing.TB, c net.Conn, b []byte) {
	for i, n := 0, 1; i < len(b); n = n*7%1500 + 1 {
		if i+n > len(b) {
			n = len(b) - i
		}
		if _, err := c.Write(b[i : i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
	}
}

// TestTCPSessions: two sessions send the corpus's IPFIX messages, cut in
// odd pieces; every message arrives whole and once, with the session's
// address as exporter, and each session has decoders of its own (its own
// template scope).
func TestTCPSessions(t *testing.T) {
	msgs := corpusIPFIX(t)
	l, err := ListenTCP("127.0.0.1:0", Options{}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var stream []byte
	for _, m := range msgs {
		stream = append(stream, m...)
	}
	var c collector
	var want []flow.Record
	fake := newFakeDecoders()
	serveTCP(t, l, c.handle, func() {
		for s := 0; s < 2; s++ {
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			from := conn.LocalAddr().(*net.TCPAddr).AddrPort()
			for _, m := range msgs {
				want, _ = fake.Decode(m, from, want)
			}
			writeChunks(t, conn, stream)
		}
	}, func() bool { return l.Stats().Messages == uint64(2*len(msgs)) })
	st := l.Stats()
	if st.Sessions != 2 || st.Errors != 0 || st.IPFIX != st.Messages {
		t.Errorf("sessions %d errors %d (%v) ipfix %d of %d", st.Sessions, st.Errors, st.Samples, st.IPFIX, st.Messages)
	}
	got, exp := fakeKeys(c.recs), fakeKeys(want)
	if len(got) != len(exp) {
		t.Fatalf("%d records, want %d", len(got), len(exp))
	}
	for i := range got {
		if got[i] != exp[i] {
			t.Fatalf("record %d: %+v, want %+v", i, got[i], exp[i])
		}
	}
	decoderOf := map[netip.AddrPort]uint32{}
	for _, r := range c.recs {
		if id, ok := decoderOf[r.Exporter]; ok && id != r.ExportSeq {
			t.Fatalf("session %s used two decoder sets", r.Exporter)
		}
		decoderOf[r.Exporter] = r.ExportSeq
	}
	ids := map[uint32]bool{}
	for _, id := range decoderOf {
		ids[id] = true
	}
	if len(decoderOf) != 2 || len(ids) != 2 {
		t.Errorf("sessions %v: want 2 sessions with a decoder set each", decoderOf)
	}
}

// TestTCPFraming: a session that is not an IPFIX stream is counted and
// closed; one cut inside a message is counted as truncated; a message that
// fails to decode is counted and the session goes on.
func TestTCPFraming(t *testing.T) {
	l, err := ListenTCP("127.0.0.1:0", Options{}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	good := []byte{0, 10, 0, 16, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0}
	bad := []byte{0, 10, 0, 16, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0}
	var c collector
	var addrs []netip.AddrPort
	serveTCP(t, l, c.handle, func() {
		for _, stream := range [][]byte{
			append(append(append([]byte{}, good...), 0, 9, 0, 20), good...), // v9 header: framing lost
			append(append([]byte{}, good...), good[:10]...),                 // ends inside a message
			append(append(append([]byte{}, bad...), good...), 0, 10, 0, 3),  // decode error; length 3
		} {
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			addrs = append(addrs, conn.LocalAddr().(*net.TCPAddr).AddrPort())
			conn.Write(stream)
			conn.Close()
		}
	}, func() bool { return l.Stats().Errors == 4 })
	st := l.Stats()
	if st.Records != 3 || st.Errors != 4 {
		t.Fatalf("records %d errors %d (%v)", st.Records, st.Errors, st.Samples)
	}
	want := map[ErrorKey]uint64{
		{addrs[0], "other: not an IPFIX message stream"}: 1, {addrs[1], "truncated"}: 1,
		{addrs[2], "corrupt"}: 1, {addrs[2], "other: not an IPFIX message stream"}: 1,
	}
	for _, r := range st.ErrorRows {
		if want[r.ErrorKey] != r.N {
			t.Errorf("row %v = %d, want %d (all: %v)", r.ErrorKey, r.N, want[r.ErrorKey], st.ErrorRows)
		}
	}
}

// TestTLSSession: IPFIX over TLS with a certificate made here, and a
// client certificate required.
func TestTLSSession(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir, "server")
	ccert, ckey := writeSelfSigned(t, dir, "client")
	l, err := ListenTCP("127.0.0.1:0", Options{Cert: cert, Key: key, ClientCA: ccert}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pool := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pemBytes)
	kp, err := tls.LoadX509KeyPair(ccert, ckey)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte{0, 10, 0, 20, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9}
	var c collector
	var rejected error
	serveTCP(t, l, c.handle, func() {
		conn, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{kp}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write(msg)
		conn.Write(msg)
		// Without a client certificate the handshake fails.
		anon, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err == nil {
			_, rejected = anon.Read(make([]byte, 1))
			anon.Close()
		} else {
			rejected = err
		}
	}, func() bool { return c.len() == 2 })
	if c.len() != 2 || c.recs[0].Bytes[0] != 20 || c.recs[0].Pkts[0] != fnv64(msg) {
		t.Fatalf("records %+v", c.recs)
	}
	if rejected == nil {
		t.Error("a client without a certificate was accepted")
	}
}

// writeSelfSigned writes a self-signed ECDSA certificate for localhost and
// 127.0.0.1 and its key, returning their paths.
func writeSelfSigned(t testing.TB, dir, name string) (certFile, keyFile string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// TestTCPSessionLimit: sessions past sessions= are closed and counted;
// the first keeps working.
func TestTCPSessionLimit(t *testing.T) {
	l, err := ListenTCP("127.0.0.1:0", Options{Sessions: 1}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	msg := []byte{0, 10, 0, 16, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0}
	var c collector
	serveTCP(t, l, c.handle, func() {
		first, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		first.Write(msg)
		for deadline := time.Now().Add(5 * time.Second); c.len() == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		second, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer second.Close()
		second.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := second.Read(make([]byte, 1)); err == nil {
			t.Error("the second session was not closed")
		}
		first.Write(msg)
	}, func() bool { return c.len() == 2 })
	if st := l.Stats(); c.len() != 2 || st.Sessions != 1 || st.SessionsRefused != 1 {
		t.Errorf("records %d, sessions %d, refused %d", c.len(), st.Sessions, st.SessionsRefused)
	}
}
