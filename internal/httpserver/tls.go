package httpserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ServerTLS returns the listener's TLS configuration. The key pair is read
// now (so a bad file fails at start) and again whenever the certificate
// file changes, so a rotated certificate (cert-manager, a renewed Secret)
// is picked up without a restart.
func ServerTLS(certFile, keyFile string) (*tls.Config, error) {
	r := &reloader{cert: certFile, key: keyFile}
	if _, err := r.load(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return r.get()
		},
	}, nil
}

// ClientTLS returns the configuration for calls to peers: their
// certificates must chain to the CA in caFile and, when serverName is set
// (--tls-server-name), name it: peers found by DNS are called by IP
// address, so one certificate for the whole cluster names a host (e.g.
// galera-peers.<namespace>.svc) instead of every address. Without it a
// certificate must name the address (host or IP) the peer is called at.
func ClientTLS(caFile, serverName string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it", caFile)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: serverName}, nil
}

// TLSHint adds what to do to a TLS verification error of a call to a
// peer: a certificate that does not name the address called, with no
// --tls-server-name, is the usual mistake when peers come from DNS.
func TLSHint(err error, conf *tls.Config) error {
	var host x509.HostnameError
	if err == nil || conf == nil || !errors.As(err, &host) {
		return err
	}
	if conf.ServerName == "" {
		return fmt.Errorf("%w (peers are called at their addresses: set --tls-server-name, or GALERA_SENTINEL_TLS_SERVER_NAME, to a DNS name in their certificate)", err)
	}
	return fmt.Errorf("%w (--tls-server-name=%s must be a DNS name in the peers' certificate)", err, conf.ServerName)
}

type reloader struct {
	cert, key string
	mu        sync.Mutex
	current   *tls.Certificate
	mtime     time.Time
}

func (r *reloader) load() (*tls.Certificate, error) {
	st, err := os.Stat(r.cert)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	c, err := tls.LoadX509KeyPair(r.cert, r.key)
	if err != nil {
		return nil, fmt.Errorf("TLS key pair %s, %s: %w", r.cert, r.key, err)
	}
	r.mu.Lock()
	r.current, r.mtime = &c, st.ModTime()
	r.mu.Unlock()
	return &c, nil
}

func (r *reloader) get() (*tls.Certificate, error) {
	r.mu.Lock()
	cur, mt := r.current, r.mtime
	r.mu.Unlock()
	if st, err := os.Stat(r.cert); err == nil && !st.ModTime().Equal(mt) {
		if c, err := r.load(); err == nil {
			return c, nil
		}
		// A half-written pair: keep serving the last good one.
	}
	if cur == nil {
		return nil, errors.New("no TLS certificate")
	}
	return cur, nil
}
