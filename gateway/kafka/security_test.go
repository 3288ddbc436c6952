package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowgate/flowgate/flow"
)

func ping(t *testing.T, addrs []string, sec Security) error {
	t.Helper()
	opts, err := sec.Opts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(addrs...))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

// TestSASL: kfake checks PLAIN and SCRAM-SHA-256/512 credentials (its own
// SCRAM server side, RFC 5802); a wrong password is refused; records go
// through an authenticated producer and consumer.
func TestSASL(t *testing.T) {
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "alice", "plain-secret"),
		kfake.Superuser("SCRAM-SHA-256", "bob", "scram256-secret"),
		kfake.Superuser("SCRAM-SHA-512", "carol", "scram512-secret"),
		kfake.SeedTopics(1, "sasl"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	addrs := cl.ListenAddrs()
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("scram512-secret\n"), 0o600) // a line break, as editors leave
	for _, tc := range []struct {
		name string
		sec  Security
	}{
		{"plain", Security{SASL: SASLPlain, User: "alice", Password: "plain-secret"}},
		{"scram-sha-256", Security{SASL: SASLScramSHA256, User: "bob", Password: "scram256-secret"}},
		{"scram-sha-512", Security{SASL: SASLScramSHA512, User: "carol", PasswordFile: pwFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := ping(t, addrs, tc.sec); err != nil {
				t.Fatalf("good credentials: %v", err)
			}
			bad := tc.sec
			bad.Password, bad.PasswordFile = "wrong", ""
			if err := ping(t, addrs, bad); err == nil {
				t.Fatal("a wrong password was accepted")
			}
			if err := ping(t, addrs, Security{}); err == nil {
				t.Fatal("no SASL was accepted")
			}
		})
	}
	// Records through SCRAM-SHA-512 both ways.
	sec := Security{SASL: SASLScramSHA512, User: "carol", PasswordFile: pwFile}
	c := loadCorpus(t, 100)
	p, err := NewProducer(ProducerConfig{Brokers: addrs, Topic: "sasl", Format: FormatArgus5, Security: sec})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Produce(ctx, c.recs); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil || p.Stats().Produced != 100 {
		t.Fatalf("close %v, stats %+v", err, p.Stats())
	}
	cons, err := NewConsumer(ConsumerConfig{Brokers: addrs, Topic: "sasl", Group: "sasl", Security: sec})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got := 0
	cons.Run(rctx, func(_ context.Context, recs []flow.Record) error {
		if got += len(recs); got >= 100 {
			cancel()
		}
		return nil
	})
	if got != 100 {
		t.Fatalf("consumed %d of 100", got)
	}
}

// selfSigned writes a CA-less self-signed certificate for 127.0.0.1 and
// returns the server config and the PEM file.
func selfSigned(t *testing.T) (*tls.Config, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, ca
}

// TestTLS: the broker's certificate is checked against ca= (and refused
// without it: not in the system roots); a plaintext client does not get
// through.
func TestTLS(t *testing.T) {
	srv, ca := selfSigned(t)
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(srv), kfake.SeedTopics(1, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	addrs := cl.ListenAddrs()
	if err := ping(t, addrs, Security{TLS: true, CAFile: ca}); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	if err := ping(t, addrs, Security{TLS: true}); err == nil {
		t.Fatal("an unknown certificate authority was accepted")
	}
	if err := ping(t, addrs, Security{}); err == nil {
		t.Fatal("plaintext got through a TLS listener")
	}
	if err := ping(t, addrs, Security{TLS: true, InsecureSkipVerify: true}); err != nil {
		t.Fatalf("insecure: %v", err)
	}
	// Option errors.
	for _, sec := range []Security{
		{CAFile: ca},
		{TLS: true, CertFile: ca},
		{TLS: true, CAFile: filepath.Join(t.TempDir(), "none")},
		{User: "u"},
		{SASL: "gssapi", User: "u"},
		{SASL: SASLPlain},
	} {
		if _, err := sec.Opts(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", sec, err)
		}
	}
}

// TestStopWhileFailing: a consumer stopped while its handler fails
// commits nothing of the batch; the next member gets all of it.
func TestStopWhileFailing(t *testing.T) {
	const n = 300
	c := loadCorpus(t, n)
	produce(t, ProducerConfig{Topic: "stop", Format: FormatArgus5}, c.recs)
	cons, err := NewConsumer(ConsumerConfig{Brokers: brokers, Topic: "stop", Group: "stop"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = cons.Run(ctx, func(context.Context, []flow.Record) error {
		cancel() // stop while the sink is failing
		return errors.New("sink down")
	})
	cons.Close()
	if err != nil || cons.Stats().Commits != 0 || cons.Stats().Records != 0 {
		t.Fatalf("run: %v, stats %+v; want nil, no commit", err, cons.Stats())
	}
	got := 0
	cs, err := consume(t, "stop", "stop", n, func(_ context.Context, recs []flow.Record) error {
		got += len(recs)
		return nil
	})
	if err != nil || got != n {
		t.Fatalf("next member: %d records, stats %+v, err %v; want %d", got, cs, err, n)
	}
}
