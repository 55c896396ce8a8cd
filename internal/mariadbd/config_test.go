package mariadbd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mariadbdPath is Debian's server binary; these tests ask the real one.
const mariadbdPath = "/usr/sbin/mariadbd"

func needMariadbd(t *testing.T) {
	t.Helper()
	for _, p := range []string{mariadbdPath, "my_print_defaults"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (scripts/install-deps.sh)", p)
			}
			t.Skipf("%s is missing (scripts/install-deps.sh)", p)
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReadEffective: what mariadbd would use, from files and command line,
// as mariadbd resolves it.
func TestReadEffective(t *testing.T) {
	needMariadbd(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "my.cnf"), `[client-server]
socket=`+dir+`/client-server.sock
[mysqld]
datadir=`+dir+`/data/
user=mysql
port=13307
bind-address=127.0.0.1
wsrep_on=ON
wsrep_provider=/usr/lib/galera/libgalera_smm.so
wsrep_sst_method=rsync
!includedir `+dir+`/conf.d
[mysqld.node2]
datadir=`+dir+`/node2
port=13308
`)
	write(t, filepath.Join(dir, "conf.d", "galera.cnf"), `[galera]
wsrep_cluster_address="gcomm://10.0.0.1,10.0.0.2"
wsrep_provider_options="gcache.size=64M; pc.recovery=TRUE"
wsrep-node-address=10.0.0.1
`)
	def := "--defaults-file=" + filepath.Join(dir, "my.cnf")
	for _, tc := range []struct {
		name string
		args []string
		want Effective
	}{
		{"files only", []string{def}, Effective{DataDir: dir + "/data", Socket: dir + "/client-server.sock", Port: 13307, BindAddress: "127.0.0.1",
			User: "mysql", WsrepOn: true, ClusterAddress: "gcomm://10.0.0.1,10.0.0.2", NodeAddress: "10.0.0.1", SSTMethod: "rsync",
			Provider: "/usr/lib/galera/libgalera_smm.so", ProviderOptions: "gcache.size=64M; pc.recovery=TRUE"}},
		{"the command line wins", []string{def, "--datadir=/cmdline", "--port=3399", "--user=other", "--wsrep_cluster_address=gcomm://"},
			Effective{DataDir: "/cmdline", Socket: dir + "/client-server.sock", Port: 3399, BindAddress: "127.0.0.1", User: "other", WsrepOn: true,
				ClusterAddress: "gcomm://", NodeAddress: "10.0.0.1", SSTMethod: "rsync", Provider: "/usr/lib/galera/libgalera_smm.so", ProviderOptions: "gcache.size=64M; pc.recovery=TRUE"}},
		{"a group suffix", []string{def, "--defaults-group-suffix=.node2"}, Effective{DataDir: dir + "/node2", Socket: dir + "/client-server.sock", Port: 13308,
			BindAddress: "127.0.0.1", User: "mysql", WsrepOn: true, ClusterAddress: "gcomm://10.0.0.1,10.0.0.2", NodeAddress: "10.0.0.1",
			SSTMethod: "rsync", Provider: "/usr/lib/galera/libgalera_smm.so", ProviderOptions: "gcache.size=64M; pc.recovery=TRUE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadEffective(context.Background(), append([]string{mariadbdPath}, tc.args...))
			if err != nil {
				t.Fatal(err)
			}
			// Derived values are mariadbd's; only check what the test set.
			got.NodeIncomingAddress, got.SSTReceiveAddress, got.LogError = "", "", ""
			if !got.DataDirSet {
				t.Error("DataDirSet is false with a datadir in the file")
			}
			got.DataDirSet = false
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}

	// No option file at all: the compiled-in defaults.
	e, err := ReadEffective(context.Background(), []string{mariadbdPath, "--no-defaults"})
	if err != nil {
		t.Fatal(err)
	}
	if e.DataDir != "/var/lib/mysql" || e.DataDirSet || e.Port != 3306 || e.HasClusterAddress() || e.User != "" {
		t.Errorf("compiled defaults: %+v", e)
	}

	// A broken configuration is mariadbd's own error, and names the
	// problem; a secret in the file is never repeated.
	write(t, filepath.Join(dir, "bad.cnf"), "[mysqld]\npassword=hunter2-secret\nthis is not an option\n")
	_, err = ReadEffective(context.Background(), []string{mariadbdPath, "--defaults-file=" + filepath.Join(dir, "bad.cnf")})
	if err == nil || !strings.Contains(err.Error(), "unknown option") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("broken file: %v", err)
	}
	_, err = ReadEffective(context.Background(), []string{mariadbdPath, "--defaults-file=" + filepath.Join(dir, "missing.cnf")})
	if err == nil || !strings.Contains(err.Error(), "missing.cnf") {
		t.Errorf("missing file: %v", err)
	}
}

func TestSplitDefaultsAndLastOption(t *testing.T) {
	d, r := SplitDefaults([]string{"--defaults-file=/a", "--defaults-group-suffix=.x", "--user=mysql", "--defaults-extra-file=/late"})
	if !slices.Equal(d, []string{"--defaults-file=/a", "--defaults-group-suffix=.x"}) || !slices.Equal(r, []string{"--user=mysql", "--defaults-extra-file=/late"}) {
		t.Errorf("split %q %q", d, r)
	}
	if d, _ := SplitDefaults([]string{"--no-defaults"}); len(d) != 1 {
		t.Errorf("--no-defaults not a defaults option")
	}
	args := []string{"--user=a", "--loose-user=b", "--datadir=/x", "--wsrep_on=ON", "junk", "--user"}
	if got := LastOption(args, "user"); got != "b" {
		t.Errorf("LastOption user = %q", got)
	}
	if got := LastOption(args, "wsrep-on"); got != "ON" {
		t.Errorf("LastOption wsrep-on = %q", got)
	}
	for addr, has := range map[string]bool{"": false, "gcomm://": false, "gcomm:// ": false, "gcomm://a,b": true} {
		if (Effective{ClusterAddress: addr}).HasClusterAddress() != has {
			t.Errorf("HasClusterAddress(%q) != %v", addr, has)
		}
	}
}

func TestParseHelpVariables(t *testing.T) {
	out := []byte("mariadbd  Ver 10.11\n  --datadir=name  Path\n\nVariables (--variable-name=value)\n" +
		"and boolean options {FALSE|TRUE}  Value (after reading options)\n" +
		"--------------------------------- ----------------------------------------\n" +
		"bind-address                      (No default value)\n" +
		"datadir                           /var/lib/mysql/\n" +
		"wsrep-provider-options            a=1; b=2\n" +
		"\nTo see what values a running MariaDB server is using, type\n")
	v, err := ParseHelpVariables(out)
	if err != nil {
		t.Fatal(err)
	}
	if v["bind-address"] != "" || v["datadir"] != "/var/lib/mysql/" || v["wsrep-provider-options"] != "a=1; b=2" || len(v) != 3 {
		t.Errorf("variables %q", v)
	}
	for _, bad := range []string{"", "no table here\n", "-------- --------\nport 3306\n"} {
		if _, err := ParseHelpVariables([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestResolveDataDir(t *testing.T) {
	set := Effective{DataDir: "/srv/db", DataDirSet: true}
	compiled := Effective{DataDir: "/var/lib/mysql"}
	for _, tc := range []struct {
		e    Effective
		flag string
		dir  string
		pass bool
		err  string
	}{
		{set, "", "/srv/db", false, ""},
		{set, "/srv/db/", "/srv/db", false, ""},
		{set, "/var/lib/mysql", "", false, "--datadir=/var/lib/mysql, but mariadbd's configuration says datadir=/srv/db"},
		{compiled, "", "/var/lib/mysql", false, ""},
		{compiled, "/data/mysql", "/data/mysql", true, ""},
	} {
		dir, pass, err := tc.e.ResolveDataDir(tc.flag)
		if dir != tc.dir || pass != tc.pass || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%+v with --datadir=%q: %q %v %v", tc.e, tc.flag, dir, pass, err)
		}
	}
}
