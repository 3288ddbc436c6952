package kafka

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanisms.
const (
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

// Security is how a client reaches the brokers: TLS and SASL. The zero
// value is plaintext without authentication.
type Security struct {
	TLS      bool
	CAFile   string // PEM; "" = the system's roots
	CertFile string // client certificate (PEM), with KeyFile
	KeyFile  string
	// InsecureSkipVerify accepts any broker certificate: for tests only.
	InsecureSkipVerify bool

	SASL     string // "", SASLPlain, SASLScramSHA256, SASLScramSHA512
	User     string
	Password string
	// PasswordFile is read at connect (its last line break trimmed); it
	// keeps the secret out of the config file. It wins over Password.
	PasswordFile string
}

// Opts returns the kgo options of s.
func (s Security) Opts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if s.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.InsecureSkipVerify}
		if s.CAFile != "" {
			pem, err := os.ReadFile(s.CAFile)
			if err != nil {
				return nil, fmt.Errorf("%w: ca: %v", ErrConfig, err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: ca %s: no PEM certificate in it", ErrConfig, s.CAFile)
			}
		}
		if (s.CertFile == "") != (s.KeyFile == "") {
			return nil, fmt.Errorf("%w: a client certificate needs both cert and key", ErrConfig)
		}
		if s.CertFile != "" {
			c, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("%w: client certificate: %v", ErrConfig, err)
			}
			tc.Certificates = []tls.Certificate{c}
		}
		// kgo sets ServerName to each broker's host.
		opts = append(opts, kgo.DialTLSConfig(tc))
	} else if s.CAFile != "" || s.CertFile != "" || s.KeyFile != "" || s.InsecureSkipVerify {
		return nil, fmt.Errorf("%w: ca, cert and key need tls", ErrConfig)
	}
	if s.SASL == "" {
		if s.User != "" || s.Password != "" || s.PasswordFile != "" {
			return nil, fmt.Errorf("%w: user and password need sasl", ErrConfig)
		}
		return opts, nil
	}
	pass := s.Password
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("%w: password_file: %v", ErrConfig, err)
		}
		pass = string(bytes.TrimRight(b, "\r\n"))
	}
	if s.User == "" {
		return nil, fmt.Errorf("%w: sasl needs a user", ErrConfig)
	}
	var m sasl.Mechanism
	switch strings.ToLower(s.SASL) {
	case SASLPlain:
		m = plain.Auth{User: s.User, Pass: pass}.AsMechanism()
	case SASLScramSHA256:
		m = scram.Auth{User: s.User, Pass: pass}.AsSha256Mechanism()
	case SASLScramSHA512:
		m = scram.Auth{User: s.User, Pass: pass}.AsSha512Mechanism()
	default:
		return nil, fmt.Errorf("%w: sasl %q (plain, scram-sha-256, scram-sha-512)", ErrConfig, s.SASL)
	}
	return append(opts, kgo.SASL(m)), nil
}
