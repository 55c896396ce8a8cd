package mariadbd

import (
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

func TestArgv(t *testing.T) {
	c := Config{Command: []string{"/usr/sbin/mariadbd", "--defaults-file=/etc/g/my.cnf", "--user=mysql"}, DataDir: "/var/lib/mysql", PassDataDir: true}
	base := []string{"/usr/sbin/mariadbd", "--defaults-file=/etc/g/my.cnf", "--user=mysql", "--datadir=/var/lib/mysql"}
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"recover", c.RecoverArgs(), append(slices.Clone(base), "--wsrep-recover", "--disable-log-error", "--wsrep-cluster-address=gcomm://127.0.0.1:1")},
		{"join", c.ServeArgs(Start{ClusterAddress: "gcomm://a:4567,b:4567"}), append(slices.Clone(base), "--wsrep-cluster-address=gcomm://a:4567,b:4567")},
		{"bootstrap after a crash", c.ServeArgs(Start{ClusterAddress: "gcomm://a:4567", Position: "u:12", NewCluster: true}),
			append(slices.Clone(base), "--wsrep-cluster-address=gcomm://a:4567", "--wsrep-start-position=u:12", "--wsrep-new-cluster")},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, tc.got, tc.want)
		}
	}
	n := c
	n.NotifyCommand = NotifyCommand("/opt/my dir/galera-sentinel", "/run/g.sock")
	got := n.ServeArgs(Start{ClusterAddress: "gcomm://"})
	if want := `--wsrep-notify-cmd='/opt/my dir/galera-sentinel' notify --socket=/run/g.sock`; got[len(got)-1] != want {
		t.Errorf("notify: %q, want %q", got[len(got)-1], want)
	}
	if slices.ContainsFunc(c.ServeArgs(Start{}), func(a string) bool { return a == "--wsrep-new-cluster" }) {
		t.Error("a join bootstraps")
	}
	// mariadbd's own configuration is the truth: no --datadir the
	// operator did not choose, no cluster address over the configured one.
	own := Config{Command: []string{"/usr/sbin/mariadbd", "--defaults-file=/etc/g/my.cnf"}, DataDir: "/srv/db", ConfigNamesCluster: true}
	if got, want := own.ServeArgs(Start{ClusterAddress: "gcomm://a", NewCluster: true}), []string{"/usr/sbin/mariadbd", "--defaults-file=/etc/g/my.cnf", "--wsrep-new-cluster"}; !slices.Equal(got, want) {
		t.Errorf("configured cluster: %q, want %q", got, want)
	}
	if got, want := own.RecoverArgs(), []string{"/usr/sbin/mariadbd", "--defaults-file=/etc/g/my.cnf", "--wsrep-recover", "--disable-log-error"}; !slices.Equal(got, want) {
		t.Errorf("configured cluster, recover: %q, want %q", got, want)
	}
	// The caller's slice is never appended to.
	if len(c.Command) != 3 {
		t.Errorf("Command changed: %q", c.Command)
	}
}

func TestInitArgs(t *testing.T) {
	c := Config{Command: []string{"mariadbd", "--defaults-file=/etc/g/my.cnf"}, DataDir: "/d", OSUser: "mysql"}
	argv, env := c.InitArgs()
	want := []string{"mariadb-install-db", "--defaults-file=/etc/g/my.cnf", "--datadir=/d", "--auth-root-authentication-method=socket",
		"--skip-test-db", "--wsrep-on=OFF", "--auth-root-socket-user=mysql"}
	if !slices.Equal(argv, want) || env != nil {
		t.Errorf("default init: %q %q\nwant %q", argv, env, want)
	}
	c.OSUser = "root"
	if argv, _ := c.InitArgs(); slices.Contains(argv, "--auth-root-socket-user=root") {
		t.Errorf("root gets a second socket account: %q", argv)
	}
	c.Command = []string{"mariadbd", "--user=mysql", "--defaults-file=/late.cnf"}
	if argv, _ := c.InitArgs(); slices.Contains(argv, "--defaults-file=/late.cnf") {
		t.Errorf("a --defaults-file that is not first is passed on (mariadb-install-db requires it first): %q", argv)
	}
	c.InitCommand = "cp -a /tmpl/. $DATADIR"
	argv, env = c.InitArgs()
	if !slices.Equal(argv, []string{"/bin/sh", "-c", "cp -a /tmpl/. $DATADIR"}) || !slices.Equal(env, []string{"DATADIR=/d"}) {
		t.Errorf("init command: %q %q", argv, env)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/galera-sentinel": "/usr/bin/galera-sentinel",
		"/opt/a b":                 "'/opt/a b'",
		"it's":                     `'it'\''s'`,
		"":                         "''",
		"$(reboot)":                "'$(reboot)'",
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestPrepareDataDir: a data directory that does not exist is created for
// the user mariadbd drops to (mariadbd would abort rather than create it);
// one that exists is left as it is.
func TestPrepareDataDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the directory to mysql")
	}
	u, err := user.Lookup("mysql")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no mysql user (scripts/install-deps.sh)")
		}
		t.Skip("no mysql user")
	}
	dir := filepath.Join(t.TempDir(), "lib", "mysql")
	r := NewRunner(Config{DataDir: dir, RunAs: "mysql"}, nil, slog.New(slog.DiscardHandler), nil)
	if err := r.prepareDataDir(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != u.Uid || st.Mode().Perm() != 0o750 {
		t.Errorf("created %v owned by %d, want 0750 owned by mysql (%s)", st.Mode(), uid, u.Uid)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := r.prepareDataDir(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("an existing directory was changed: %v", st.Mode())
	}
}

func TestReachableAddress(t *testing.T) {
	local := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.244.0.7"), net.ParseIP("fe80::1")}
	pods := []string{"10.244.0.5", "10.244.0.6", "10.244.0.7"}
	for _, tc := range []struct {
		name, bind, node string
		peers            []string
		want             string
		warns            bool
	}{
		{"Debian's bind-address in a pod: its own pod IP", "127.0.0.1", "", pods, "10.244.0.7", true},
		{"wsrep_node_address set: left alone", "127.0.0.1", "10.244.0.7", pods, "", false},
		{"every address: nothing to do", "0.0.0.0", "", pods, "", false},
		{"no bind-address: nothing to do", "", "", pods, "", false},
		{"all members on this host", "127.0.0.1", "", []string{"127.0.0.1", "127.0.0.1"}, "", false},
		{"localhost and remote peers, own address not among them", "localhost", "", []string{"10.1.0.1", "10.1.0.2"}, "", true},
	} {
		got, why := ReachableAddress(tc.bind, tc.node, tc.peers, local)
		if got != tc.want || (why != "") != tc.warns {
			t.Errorf("%s: %q %q, want %q (warning %v)", tc.name, got, why, tc.want, tc.warns)
		}
	}
	c := Config{Command: []string{"mariadbd"}}
	if got := c.ServeArgs(Start{ClusterAddress: "gcomm://a", NodeAddress: "10.244.0.7"}); !slices.Contains(got, "--wsrep-node-address=10.244.0.7") {
		t.Errorf("node address not passed: %q", got)
	}
}
