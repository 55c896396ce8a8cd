package testcluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DNSServer is a real dnsmasq answering for names the test sets.
type DNSServer struct {
	t    testing.TB
	Addr string // host:port to send queries to
	file string
	cmd  *exec.Cmd
}

// StartDNS starts dnsmasq on a free loopback port, serving only the given
// records (name -> addresses) and forwarding nothing. It is stopped when
// the test ends. Outside CI a missing dnsmasq skips the test; in CI it
// fails it.
func StartDNS(t testing.TB, records map[string][]string) *DNSServer {
	t.Helper()
	bin := RequireBinary(t, "dnsmasq")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &DNSServer{t: t, file: filepath.Join(dir, "hosts")}
	d.write(records)
	// Take a free port from the kernel, then hand it to dnsmasq; retry if
	// someone else grabs it in between.
	for attempt := 0; ; attempt++ {
		l, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.LocalAddr().(*net.UDPAddr).Port
		l.Close()
		d.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		d.cmd = exec.Command(bin, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
			"--bind-interfaces", "--listen-address=127.0.0.1", fmt.Sprintf("--port=%d", port),
			"--addn-hosts="+d.file, "--pid-file=", "--user=root", "--local-ttl=0", "--log-facility=-")
		d.cmd.Stdout, d.cmd.Stderr = nil, nil
		d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := d.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { d.cmd.Wait(); close(exited) }()
		ok := false
		for i := 0; i < 50 && !ok; i++ {
			select {
			case <-exited:
				i = 50
			case <-time.After(20 * time.Millisecond):
				c, err := net.Dial("tcp", d.Addr)
				if err == nil {
					c.Close()
					ok = true
				}
			}
		}
		if ok {
			t.Cleanup(func() { d.cmd.Process.Kill(); <-exited })
			return d
		}
		d.cmd.Process.Kill()
		<-exited
		if attempt == 3 {
			t.Fatalf("dnsmasq did not start on %s", d.Addr)
		}
	}
}

// Set replaces the records; dnsmasq rereads them on SIGHUP.
func (d *DNSServer) Set(records map[string][]string) {
	d.write(records)
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		d.t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
}

func (d *DNSServer) write(records map[string][]string) {
	var names []string
	for n := range records {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		for _, a := range records[n] {
			fmt.Fprintf(&b, "%s %s\n", a, n)
		}
	}
	if err := os.WriteFile(d.file, []byte(b.String()), 0o644); err != nil {
		d.t.Fatal(err)
	}
}
