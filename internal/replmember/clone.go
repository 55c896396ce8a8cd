package replmember

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

// Paths of the peer endpoints this package serves.
const (
	// StatePath is the member's document (Doc), open and read-only.
	StatePath = "/api/v1/replication/member"
	// BackupPath streams a backup of this member's server (mbstream),
	// behind the token.
	BackupPath = "/api/v1/replication/backup"
)

// statusTrailer carries the backup's outcome after the stream: "ok", or
// why it failed. A stream without it was broken off.
const statusTrailer = "X-Backup-Status"

// BackupConfig is how backups are made and received.
type BackupConfig struct {
	// Backup, Mbstream: the programs (default mariadb-backup, mbstream).
	Backup, Mbstream string
	// Defaults are mariadbd's leading option-file arguments
	// (--defaults-file=...), passed to mariadb-backup first.
	Defaults []string
	// Socket is the local server's unix socket, for mariadb-backup.
	Socket string
	// RunAs is the operating-system user mariadbd runs as: the backup
	// tools run as that user (when the sentinel is root) and connect as
	// that account over the socket (unix_socket authentication), and the
	// restored files are its. Empty: the sentinel's own user.
	RunAs string
	// Timeout bounds one backup or clone as a whole (default 1 hour).
	Timeout time.Duration
	// Token guards our backup endpoint; the peer client presents its
	// own tokens to the others'.
	Token string
	// Tokens, when set, replaces Token: ours takes any of them.
	Tokens *httpserver.Tokens
}

// tokens is the set that guards the endpoint and is presented to peers.
func (b BackupConfig) tokens() *httpserver.Tokens {
	if b.Tokens != nil {
		return b.Tokens
	}
	return httpserver.StaticTokens(b.Token)
}

func (b BackupConfig) withDefaults() BackupConfig {
	if b.Backup == "" {
		b.Backup = "mariadb-backup"
	}
	if b.Mbstream == "" {
		b.Mbstream = "mbstream"
	}
	if b.Timeout <= 0 {
		b.Timeout = time.Hour
	}
	return b
}

// Doc is what a member publishes to its peers (GET StatePath).
type Doc struct {
	Name string `json:"name"`
	// Addr is this member's MariaDB address as peers connect to it.
	Addr  string `json:"addr"`
	Phase string `json:"phase"`
	// Empty: the data directory was empty at the start and has not been
	// initialised or cloned yet.
	Empty bool `json:"empty"`
	// Action is the last decision's action by its stable name, Class
	// the rule that made it (member.Class); Decision is that decision as
	// people read it.
	Action   member.Action `json:"action,omitempty"`
	Class    member.Class  `json:"decision_class,omitempty"`
	Decision string        `json:"decision,omitempty"`
	// Sample is the poller's last fresh sample; null when there is none.
	Sample *replica.SampleDoc `json:"sample"`
}

// State is this member's document.
func (m *Member) State() Doc {
	m.mu.Lock()
	d := Doc{Name: m.cfg.NodeName, Addr: m.cfg.Advertise, Phase: m.phase, Empty: m.empty, Action: m.decision.Action, Class: m.decision.Class}
	if m.decision.Action != "" {
		d.Decision = m.decision.String()
	}
	m.mu.Unlock()
	if s := m.poller.Snapshot(); s != nil && s.Last != nil && time.Since(s.LastAt) <= m.cfg.MaxStaleness {
		doc := s.Last.Doc()
		d.Sample = &doc
	}
	return d
}

// Routes are the member's peer endpoints: its document (open) and the
// backup stream (behind the token).
func (m *Member) Routes(log *slog.Logger) httpserver.RoutesFunc {
	return func(mux *http.ServeMux) {
		mux.HandleFunc("GET "+StatePath, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			writeJSON(w, m.State())
		})
		mux.Handle("GET "+BackupPath, httpserver.RequireTokens(m.cfg.Backup.tokens(), log)(http.HandlerFunc(m.serveBackup)))
	}
}

// serveBackup streams `mariadb-backup --backup --stream=mbstream` of the
// local server, one at a time, bounded by BackupConfig.Timeout and by the
// caller staying connected. The outcome follows the stream in a trailer.
func (m *Member) serveBackup(w http.ResponseWriter, r *http.Request) {
	b := m.cfg.Backup.withDefaults()
	m.mu.Lock()
	running := m.running != nil && m.phase == PhaseRunning
	m.mu.Unlock()
	if !running {
		http.Error(w, "this member's server is not running", http.StatusServiceUnavailable)
		return
	}
	if !m.backupMu.TryLock() {
		http.Error(w, "a backup is already being taken from this member; try again later", http.StatusConflict)
		return
	}
	defer m.backupMu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), b.Timeout)
	defer cancel()

	tmp, err := os.MkdirTemp("", "galera-sentinel-backup-")
	if err != nil {
		http.Error(w, "backup: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer os.RemoveAll(tmp)
	cred, account, err := runAs(b.RunAs)
	if err == nil && cred != nil {
		err = os.Chown(tmp, int(cred.Uid), int(cred.Gid))
	}
	if err != nil {
		http.Error(w, "backup: "+err.Error(), http.StatusInternalServerError)
		return
	}
	args := append(append([]string{}, b.Defaults...), "--backup", "--stream=mbstream", "--target-dir="+tmp,
		"--datadir="+m.cfg.DataDir, "--user="+account)
	if b.Socket != "" {
		args = append(args, "--socket="+b.Socket)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		http.Error(w, "backup: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer pr.Close()
	stderr := &tailBuffer{max: 8 << 10}
	errR, errW, err := os.Pipe()
	if err != nil {
		pw.Close()
		http.Error(w, "backup: "+err.Error(), http.StatusInternalServerError)
		return
	}
	cmd := exec.Command(b.Backup, args...)
	cmd.Stdout, cmd.Stderr = pw, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	m.log.Info("backup requested: streaming mariadb-backup", "remote", r.RemoteAddr, "args", cmd.Args)
	proc, err := m.reaper.Start("mariadb-backup", cmd)
	pw.Close()
	errW.Close()
	if err != nil {
		errR.Close()
		http.Error(w, "backup: "+err.Error(), http.StatusInternalServerError)
		return
	}
	var copied sync.WaitGroup
	copied.Add(1)
	go func() { defer copied.Done(); _, _ = io.Copy(stderr, errR); errR.Close() }()
	go func() {
		select {
		case <-ctx.Done():
			_ = proc.Signal(syscall.SIGKILL)
		case <-proc.Done():
		}
	}()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Trailer", statusTrailer)
	w.WriteHeader(http.StatusOK)
	n, copyErr := io.Copy(w, pr)
	if copyErr != nil {
		_ = proc.Signal(syscall.SIGKILL)
	}
	<-proc.Done()
	copied.Wait()
	status := "ok"
	switch {
	case copyErr != nil:
		status = "failed: sending: " + copyErr.Error()
	case proc.ExitCode() != 0:
		status = fmt.Sprintf("failed: mariadb-backup %s: %s", proc.Describe(), lastLine(stderr.String()))
	}
	w.Header().Set(statusTrailer, status)
	if status == "ok" {
		m.log.Info("backup sent", "bytes", n)
	} else {
		m.log.Error("backup failed", "status", status, "bytes", n, "stderr", stderr.String())
	}
}

// clone fills the empty data directory from a backup streamed by the
// sentinel at from, prepares it, gives it to mariadbd's user and returns
// the GTID position the backup ends at (gtid_slave_pos to replicate
// from).
func (m *Member) clone(ctx context.Context, from string) (pos string, err error) {
	b := m.cfg.Backup.withDefaults()
	m.set(PhaseCloning, member.Decision{})
	m.poller.SetHold("cloning the primary " + from)
	begin := time.Now()
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	if err := os.MkdirAll(m.cfg.DataDir, 0o750); err != nil {
		return "", err
	}
	// The peer client presents each token in turn: during a rotation
	// the primary may hold another. mariadb-backup may take a while
	// before the first bytes, hence the long wait for the headers.
	resp, err := m.peers.Stream(ctx, from, BackupPath, 2*time.Minute)
	if err != nil {
		return "", fmt.Errorf("backup request: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("backup request: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	// mbstream reads the stream from a pipe the body is copied into.
	pr, pw, err := os.Pipe()
	if err != nil {
		return "", err
	}
	out := &tailBuffer{max: 8 << 10}
	outR, outW, err := os.Pipe()
	if err != nil {
		pr.Close()
		pw.Close()
		return "", err
	}
	cmd := exec.Command(b.Mbstream, "-x", "-C", m.cfg.DataDir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, outW, outW
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	proc, err := m.reaper.Start("mbstream", cmd)
	pr.Close()
	outW.Close()
	if err != nil {
		pw.Close()
		outR.Close()
		return "", err
	}
	go func() { _, _ = io.Copy(out, outR); outR.Close() }()
	n, copyErr := io.Copy(pw, resp.Body)
	pw.Close()
	if copyErr != nil {
		_ = proc.Signal(syscall.SIGKILL)
	}
	if err := proc.Wait(ctx); err != nil {
		_ = proc.Signal(syscall.SIGKILL)
		<-proc.Done()
		return "", err
	}
	if copyErr != nil {
		return "", fmt.Errorf("receiving the backup after %d bytes: %w", n, copyErr)
	}
	if st := resp.Trailer.Get(statusTrailer); st != "ok" {
		if st == "" {
			st = "the stream ended without the sender's status (broken off)"
		}
		return "", fmt.Errorf("the backup from %s: %s", from, st)
	}
	if proc.ExitCode() != 0 {
		return "", fmt.Errorf("mbstream %s: %s", proc.Describe(), lastLine(out.String()))
	}
	m.log.Info("backup received", "from", from, "bytes", n, "took", time.Since(begin).Round(time.Millisecond))

	m.poller.SetHold("preparing the clone of " + from)
	prep := &tailBuffer{max: 8 << 10}
	if err := m.runTool(ctx, "mariadb-backup --prepare", prep, b.Backup, "--prepare", "--target-dir="+m.cfg.DataDir); err != nil {
		return "", fmt.Errorf("%w: %s", err, lastLine(prep.String()))
	}
	pos, err = backupGTID(m.cfg.DataDir)
	if err != nil {
		return "", err
	}
	if b.RunAs != "" && os.Geteuid() == 0 {
		if err := chownTree(m.cfg.DataDir, b.RunAs); err != nil {
			return "", err
		}
	}
	m.log.Info("clone prepared", "from", from, "gtid", pos, "took", time.Since(begin).Round(time.Millisecond))
	return pos, nil
}

// runTool runs a program to its end, its output kept in out.
func (m *Member) runTool(ctx context.Context, name string, out *tailBuffer, argv ...string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	proc, err := m.reaper.Start(name, cmd)
	w.Close()
	if err != nil {
		r.Close()
		return err
	}
	done := make(chan struct{})
	go func() { defer close(done); _, _ = io.Copy(out, r); r.Close() }()
	if err := proc.Wait(ctx); err != nil {
		_ = proc.Signal(syscall.SIGKILL)
		<-proc.Done()
		<-done
		return err
	}
	<-done
	if proc.ExitCode() != 0 {
		return fmt.Errorf("%s: %s", name, proc.Describe())
	}
	return nil
}

// The files in which mariadb-backup records the binary log position of
// the backup: "file<TAB>offset<TAB>gtid-list" (the GTID list third).
var binlogInfoFiles = []string{"mariadb_backup_binlog_info", "xtrabackup_binlog_info"}

// backupGTID reads the GTID position a prepared backup ends at; empty
// when the primary had written no GTID yet.
func backupGTID(dir string) (string, error) {
	for _, name := range binlogInfoFiles {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		return ParseBinlogInfo(string(b))
	}
	return "", fmt.Errorf("the backup has no %s: was the primary's binary log on?", binlogInfoFiles[0])
}

// ParseBinlogInfo reads mariadb_backup_binlog_info: a file name, an
// offset, and (with GTIDs) the GTID position, separated by tabs.
func ParseBinlogInfo(s string) (string, error) {
	f := strings.Split(strings.TrimSpace(s), "\t")
	if len(f) < 2 {
		return "", fmt.Errorf("binlog info %q: want file, offset and GTID position", strings.TrimSpace(s))
	}
	if len(f) < 3 {
		return "", nil
	}
	pos := strings.TrimSpace(f[2])
	if _, err := replica.ParseGTIDList(pos); err != nil {
		return "", fmt.Errorf("binlog info: %w", err)
	}
	return pos, nil
}

// runAs is the credential to run a backup tool with, and the account it
// connects as over the socket.
func runAs(name string) (*syscall.Credential, string, error) {
	self, err := user.Current()
	if err != nil {
		return nil, "", err
	}
	if name == "" || name == self.Username || os.Geteuid() != 0 {
		return nil, self.Username, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, "", err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, name, nil
}

// chownTree gives every file under dir to the user name.
func chownTree(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func splitHostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("port %q", p)
	}
	return h, n, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(append(b, '\n'))
}
