// Package demo runs `galera-sentinel demo`: a local 3-node cluster on
// loopback addresses, each member under `galera-sentinel run`, with HAProxy
// in front, shown until it is interrupted; then it stops every process it
// started and removes what it made.
//
// It is for trying the product out. It must not touch anything outside its
// own temporary directory and loopback addresses, and it must not be used
// by the tests as a harness (internal/testcluster is that).
package demo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/clusterview"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// The demo's fixed addresses: three members on their own loopback
// addresses (Linux routes all of 127.0.0.0/8 to lo), HAProxy on
// 127.0.0.1.
const (
	demoNet       = "127.0.10."
	demoMembers   = 3
	ReadersAddr   = "127.0.0.1:13306"
	WriterAddr    = "127.0.0.1:13307"
	demoStatsAddr = "127.0.0.1:18404"
	User          = "demo"
	Password      = "demo"
)

// demoPorts are the ports every member uses on its own address.
var demoPorts = []int{3306, 4567, 4568, 4444, 9200, 9201}

// providerPaths are where distributions put the Galera 4 provider.
var providerPaths = []string{
	"/usr/lib/galera/libgalera_smm.so", "/usr/lib/galera4/libgalera_smm.so",
	"/usr/lib64/galera-4/libgalera_smm.so", "/usr/lib/libgalera_smm.so",
}

type demo struct {
	dir      string
	exe      string
	provider string
	mariadbd string
	haproxy  string
	uid, gid int
	out      io.Writer
	tty      bool

	members []*demoMember
	hap     *exec.Cmd
	hapDone chan struct{}
}

type demoMember struct {
	name, host, dir string
	cmd             *exec.Cmd
	done            chan struct{}
	err             error
}

func (m *demoMember) sentinel() string { return m.host + ":9200" }

// Config is the demo's settings.
type Config struct {
	// Workdir is where the demo's temporary directory is made.
	Workdir string
	// Out receives the cluster view; TTY redraws it in place.
	Out io.Writer
	TTY bool
	// Errout receives problems with the clean-up.
	Errout io.Writer
}

// Run starts a local 3-node cluster under `run`, with HAProxy in front,
// shows the cluster until ctx ends, then stops every process it started
// and removes its directory.
func Run(ctx context.Context, cfg Config) error {
	d := &demo{out: cfg.Out, tty: cfg.TTY}
	if err := d.check(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(cfg.Workdir, "galera-sentinel-demo-")
	if err != nil {
		return err
	}
	d.dir = dir
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(cfg.Errout, "demo: remove %s: %v\n", dir, err)
			return
		}
		fmt.Fprintf(cfg.Out, "galera-sentinel demo: stopped; removed %s\n", dir)
	}()
	defer d.stop()
	if err := d.start(); err != nil {
		return err
	}
	return d.show(ctx)
}

// check finds everything the demo needs and reports all that is missing
// at once.
func (d *demo) check() error {
	var missing []string
	if os.Geteuid() != 0 {
		return errors.New("the demo needs root: it runs mariadbd as the mysql user (sudo make demo)")
	}
	var err error
	if d.exe, err = os.Executable(); err != nil {
		return err
	}
	need := func(name, pkg string) string {
		p := lookSbin(name)
		if p == "" {
			missing = append(missing, name+" ("+pkg+")")
		}
		return p
	}
	d.mariadbd = need("mariadbd", "mariadb-server")
	need("mariadb-install-db", "mariadb-server")
	for _, p := range providerPaths {
		if _, err := os.Stat(p); err == nil {
			d.provider = p
			break
		}
	}
	if d.provider == "" {
		missing = append(missing, "the Galera provider libgalera_smm.so (galera-4)")
	}
	d.haproxy = need("haproxy", "haproxy")
	need("rsync", "rsync, for state transfers")
	u, err := user.Lookup("mysql")
	if err != nil {
		missing = append(missing, "the mysql user (mariadb-server)")
	} else {
		d.uid, _ = strconv.Atoi(u.Uid)
		d.gid, _ = strconv.Atoi(u.Gid)
	}
	if len(missing) > 0 {
		return fmt.Errorf("the demo needs: %s (install them with: make deps)", strings.Join(missing, ", "))
	}
	var busy []string
	addrs := []string{ReadersAddr, WriterAddr, demoStatsAddr}
	for i := 1; i <= demoMembers; i++ {
		for _, p := range demoPorts {
			addrs = append(addrs, fmt.Sprintf("%s%d:%d", demoNet, i, p))
		}
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			busy = append(busy, a)
			continue
		}
		ln.Close()
	}
	if len(busy) > 0 {
		return fmt.Errorf("addresses in use: %s (is another demo, or a MariaDB listening on all addresses, running?)", strings.Join(busy, ", "))
	}
	return nil
}

// lookSbin finds a program in PATH, or in /usr/sbin where Debian puts
// daemons (not in every user's PATH); "" when it is in neither.
func lookSbin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join("/usr/sbin", name)
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p
	}
	return ""
}

func (d *demo) chown(paths ...string) error {
	for _, p := range paths {
		if err := os.Chown(p, d.uid, d.gid); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) start() error {
	if err := os.Chmod(d.dir, 0o755); err != nil {
		return err
	}
	// The members run as mysql: every directory above ours must let
	// others through, and the binary they run must be theirs to execute
	// (a copy in our directory, wherever this one was built).
	for p := filepath.Dir(d.dir); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("the mysql user cannot reach %s: %s is not searchable by others (chmod o+x, or choose another --workdir)", d.dir, p)
		}
		if p == "/" || p == "." {
			break
		}
	}
	exe := filepath.Join(d.dir, "galera-sentinel")
	if err := copyFile(d.exe, exe, 0o755); err != nil {
		return fmt.Errorf("copy the binary for the members: %w", err)
	}
	d.exe = exe
	token := make([]byte, 24)
	_, _ = rand.Read(token)
	tokenFile := filepath.Join(d.dir, "token")
	if err := os.WriteFile(tokenFile, []byte(hex.EncodeToString(token)+"\n"), 0o600); err != nil {
		return err
	}
	if err := d.chown(tokenFile); err != nil {
		return err
	}
	var peers []string
	for i := 1; i <= demoMembers; i++ {
		m := &demoMember{name: fmt.Sprintf("node%d", i), host: fmt.Sprintf("%s%d", demoNet, i)}
		m.dir = filepath.Join(d.dir, m.name)
		d.members = append(d.members, m)
		peers = append(peers, m.sentinel())
	}
	for _, m := range d.members {
		if err := os.MkdirAll(filepath.Join(m.dir, "data"), 0o750); err != nil {
			return err
		}
		if err := d.chown(m.dir, filepath.Join(m.dir, "data")); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(m.dir, "my.cnf"), []byte(d.config(m)), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.out, "galera-sentinel demo: starting 3 members in %s\n", d.dir)
	for _, m := range d.members {
		args := []string{"run",
			"--node-name=" + m.name, "--datadir=" + filepath.Join(m.dir, "data"),
			"--expected-size=" + strconv.Itoa(demoMembers), "--peers=" + strings.Join(peers, ","),
			"--listen=" + m.sentinel(), "--agent-check-listen=" + m.host + ":9201",
			"--notify-socket=" + filepath.Join(m.dir, "notify.sock"), "--token-file=" + tokenFile,
			"--mysql-addr=" + filepath.Join(m.dir, "mysqld.sock"), "--mysql-user=mysql",
			"--drain-delay=2s", "--drain-timeout=10s", "--shutdown-timeout=2m", "--log-format=json",
			"--", d.mariadbd, "--defaults-file=" + filepath.Join(m.dir, "my.cnf"),
		}
		log, err := os.Create(filepath.Join(m.dir, "sentinel.log"))
		if err != nil {
			return err
		}
		cmd := exec.Command(d.exe, args...)
		cmd.Dir = m.dir
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(d.uid), Gid: uint32(d.gid)},
			// Its own process group: Ctrl-C reaches the demo only, which
			// stops the members in order. If the demo is killed, the
			// sentinel is too, and it stops mariadbd.
			Setpgid:   true,
			Pdeathsig: syscall.SIGTERM,
		}
		err = cmd.Start()
		log.Close()
		if err != nil {
			return fmt.Errorf("start %s: %w", m.name, err)
		}
		m.cmd, m.done = cmd, make(chan struct{})
		go func() { m.err = cmd.Wait(); close(m.done) }()
	}
	return d.startHAProxy()
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// config is a member's my.cnf: small buffers, its own loopback address.
func (d *demo) config(m *demoMember) string {
	return fmt.Sprintf(`# galera-sentinel demo: %[1]s
[mysqld]
socket=%[2]s/mysqld.sock
pid-file=%[2]s/mysqld.pid
log-error=%[2]s/error.log
bind-address=%[3]s
port=3306
skip-name-resolve
performance_schema=OFF
innodb_buffer_pool_size=32M
innodb_log_file_size=16M
max_connections=100
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=%[4]s
wsrep_cluster_name=galera-sentinel-demo
wsrep_node_name=%[1]s
wsrep_node_address=%[3]s:4567
wsrep_sst_method=rsync
wsrep_sst_receive_address=%[3]s:4444
wsrep_provider_options="gmcast.listen_addr=tcp://%[3]s:4567;ist.recv_addr=%[3]s:4568;gcache.size=32M"
`, m.name, m.dir, m.host, d.provider)
}

func (d *demo) startHAProxy() error {
	var servers strings.Builder
	for _, m := range d.members {
		fmt.Fprintf(&servers, "    server %s %s:3306 check\n", m.name, m.host)
	}
	cfg := fmt.Sprintf(`# galera-sentinel demo; see deploy/haproxy/haproxy.cfg for a production example
global
    stats socket %[1]s/haproxy.sock mode 600 level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout check 1s
    retries 3
    option redispatch

# Every ready member, least connections first.
listen readers
    bind %[2]s
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2 port 9200 agent-check agent-port 9201 agent-inter 1s
%[4]s
# The one writer: the member whose /writerz answers 200 (404: stands by,
# its open transactions finish; see deploy/haproxy/haproxy.cfg).
listen writer
    bind %[3]s
    balance first
    option httpchk GET /writerz
    http-check disable-on-404
    http-check expect status 200
    default-server inter 1s fall 2 rise 2 port 9200 on-marked-down shutdown-sessions
%[4]s
listen stats
    mode http
    bind %[5]s
    stats enable
    stats uri /
    stats refresh 2s
`, d.dir, ReadersAddr, WriterAddr, servers.String(), demoStatsAddr)
	path := filepath.Join(d.dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(d.dir, "haproxy.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	d.hap = exec.Command(d.haproxy, "-db", "-f", path)
	d.hap.Stdout, d.hap.Stderr = log, log
	d.hap.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := d.hap.Start(); err != nil {
		return fmt.Errorf("start haproxy: %w", err)
	}
	d.hapDone = make(chan struct{})
	go func() { d.hap.Wait(); close(d.hapDone) }()
	return nil
}

// show draws the cluster every second until ctx ends. On a terminal the
// table is redrawn in place; otherwise it is printed when it changes.
func (d *demo) show(ctx context.Context) error {
	c := peer.NewClient("", nil, time.Second)
	defer c.Close()
	addrs := make([]string, len(d.members))
	for i, m := range d.members {
		addrs[i] = m.sentinel()
	}
	userMade := false
	var last string
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		views := clusterview.Fetch(ctx, c, addrs)
		hap := d.haproxyStatus()
		ready := 0
		for _, v := range views {
			if v.Status != nil && v.Status.Ready.OK {
				ready++
			}
		}
		if ready == demoMembers && !userMade {
			if err := d.createUser(ctx); err != nil {
				fmt.Fprintf(d.out, "demo: creating the demo user failed, will retry: %v\n", err)
			} else {
				userMade = true
			}
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "cluster: %d of %d members ready\n\n", ready, demoMembers)
		clusterview.Render(&b, views, "HAPROXY (readers/writer)", func(v clusterview.Member) string {
			for _, m := range d.members {
				if m.sentinel() == v.Addr {
					return hap["readers/"+m.name] + "/" + hap["writer/"+m.name]
				}
			}
			return "-"
		})
		for _, m := range d.members {
			select {
			case <-m.done:
				fmt.Fprintf(&b, "\n%s: its sentinel exited (%v); see %s/sentinel.log\n", m.name, m.err, m.dir)
			default:
			}
		}
		// The way in is printed once HAProxy routes to every ready member
		// and to the writer: it marks a member UP two checks after its
		// /readyz says 200 (rise 2), so "ready" comes first.
		routable := userMade && d.routes(hap, ready)
		if userMade && !routable {
			fmt.Fprintf(&b, "\nwaiting for HAProxy to mark the ready members UP (two checks of /readyz and /writerz, a second apart)\n")
		}
		if routable {
			fmt.Fprintf(&b, "\nconnect (any ready member): mariadb -h 127.0.0.1 -P 13306 -u %s -p%s %s\n", User, Password, User)
			fmt.Fprintf(&b, "connect (the one writer):   mariadb -h 127.0.0.1 -P 13307 -u %s -p%s %s\n", User, Password, User)
			fmt.Fprintf(&b, "HAProxy stats:              http://%s/\n", demoStatsAddr)
			fmt.Fprintf(&b, "the cluster as the sentinels see it: %s status --peers=%s\n", d.exe, strings.Join(addrs, ","))
		} else {
			fmt.Fprintf(&b, "\nthe sentinels are bootstrapping the cluster (logs: %s/node*/sentinel.log)\n", d.dir)
		}
		fmt.Fprintf(&b, "Ctrl-C stops every node cleanly and removes %s\n", d.dir)
		if text := b.String(); d.tty {
			fmt.Fprint(d.out, "\033[H\033[2J"+text)
		} else if text != last {
			fmt.Fprint(d.out, "\n"+text)
			last = text
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.hapDone:
			return fmt.Errorf("haproxy exited; see %s/haproxy.log", d.dir)
		case <-tick.C:
		}
	}
}

// createUser makes the demo's client account, through node1's socket as
// root (unix_socket authentication: the demo runs as root).
func (d *demo) createUser(ctx context.Context) error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", filepath.Join(d.members[0].dir, "mysqld.sock")
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 2*time.Second, 10*time.Second, 10*time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS " + User,
		fmt.Sprintf("CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s'", User, Password),
		fmt.Sprintf("GRANT ALL ON %s.* TO '%s'@'%%'", User, User),
	} {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := db.ExecContext(qctx, q)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// routes reports whether HAProxy has every ready member UP in the
// readers listener and one UP as the writer.
func (d *demo) routes(hap map[string]string, ready int) bool {
	readers, writers := 0, 0
	for _, m := range d.members {
		if strings.HasPrefix(hap["readers/"+m.name], "UP") {
			readers++
		}
		if strings.HasPrefix(hap["writer/"+m.name], "UP") {
			writers++
		}
	}
	return ready > 0 && readers >= ready && writers >= 1
}

// haproxyStatus reads "show stat" from HAProxy's admin socket:
// "proxy/server" -> status.
func (d *demo) haproxyStatus() map[string]string {
	res := map[string]string{}
	c, err := net.DialTimeout("unix", filepath.Join(d.dir, "haproxy.sock"), time.Second)
	if err != nil {
		return res
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return res
	}
	r := csv.NewReader(bufio.NewReader(io.LimitReader(c, 1<<20)))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return res
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimPrefix(name, "# ")] = i
	}
	px, sv, st := col["pxname"], col["svname"], col["status"]
	for _, row := range rows[1:] {
		if len(row) > st && len(row) > sv && len(row) > px {
			res[row[px]+"/"+row[sv]] = row[st]
		}
	}
	return res
}

// stop drains and stops every member (in parallel: each sentinel drains,
// waits for its clients and shuts mariadbd down cleanly), then HAProxy.
// A sentinel that has not exited after its shutdown timeout is killed
// with its process group.
func (d *demo) stop() {
	if len(d.members) > 0 {
		fmt.Fprintln(d.out, "\ngalera-sentinel demo: stopping every member (drain, then a clean mariadbd shutdown)...")
	}
	var wg sync.WaitGroup
	for _, m := range d.members {
		if m.cmd == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = m.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-m.done:
			case <-time.After(3 * time.Minute):
				_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
				<-m.done
			}
			fmt.Fprintf(d.out, "  %s stopped\n", m.name)
		}()
	}
	wg.Wait()
	if d.hap != nil {
		_ = d.hap.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.hapDone:
		case <-time.After(10 * time.Second):
			_ = d.hap.Process.Kill()
			<-d.hapDone
		}
	}
}
