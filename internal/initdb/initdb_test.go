package initdb

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func env(m map[string]string) LookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func files(m map[string]string) ReadFile {
	return func(p string) ([]byte, error) {
		if v, ok := m[p]; ok {
			return []byte(v), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
}

func TestFromEnv(t *testing.T) {
	secrets := files(map[string]string{"/run/root": "s3cret\n\n", "/run/pw": "apppw\n", "/run/user": "app"})
	for _, tc := range []struct {
		name string
		env  map[string]string
		want Accounts
		err  string
	}{
		{name: "nothing: socket-only root", env: nil, want: Accounts{RootHost: "%"}},
		{name: "plain", env: map[string]string{"MARIADB_ROOT_PASSWORD": "r", "MARIADB_DATABASE": "d", "MARIADB_USER": "u", "MARIADB_PASSWORD": "p"},
			want: Accounts{RootPassword: "r", RootHost: "%", Database: "d", User: "u", Password: "p"}},
		{name: "_FILE, trailing newlines dropped", env: map[string]string{"MARIADB_ROOT_PASSWORD_FILE": "/run/root", "MARIADB_USER_FILE": "/run/user", "MARIADB_PASSWORD_FILE": "/run/pw"},
			want: Accounts{RootPassword: "s3cret", RootHost: "%", User: "app", Password: "apppw"}},
		{name: "MYSQL_ aliases", env: map[string]string{"MYSQL_ROOT_PASSWORD": "r", "MYSQL_DATABASE": "d", "MYSQL_USER": "u", "MYSQL_PASSWORD_FILE": "/run/pw", "MYSQL_ROOT_HOST": "10.%"},
			want: Accounts{RootPassword: "r", RootHost: "10.%", Database: "d", User: "u", Password: "apppw"}},
		{name: "MARIADB_ wins over MYSQL_", env: map[string]string{"MYSQL_ROOT_PASSWORD": "old", "MARIADB_ROOT_PASSWORD": "new"},
			want: Accounts{RootPassword: "new", RootHost: "%"}},
		{name: "root host localhost", env: map[string]string{"MARIADB_ROOT_PASSWORD": "r", "MARIADB_ROOT_HOST": "localhost"},
			want: Accounts{RootPassword: "r", RootHost: "localhost"}},
		{name: "empty values are none", env: map[string]string{"MARIADB_ROOT_PASSWORD": "", "MARIADB_USER": ""}, want: Accounts{RootHost: "%"}},
		{name: "both set", env: map[string]string{"MARIADB_ROOT_PASSWORD": "r", "MARIADB_ROOT_PASSWORD_FILE": "/run/root"},
			err: "both MARIADB_ROOT_PASSWORD and MARIADB_ROOT_PASSWORD_FILE are set"},
		{name: "both set, MYSQL_", env: map[string]string{"MYSQL_PASSWORD": "p", "MYSQL_PASSWORD_FILE": "/run/pw", "MARIADB_USER": "u"},
			err: "both MYSQL_PASSWORD and MYSQL_PASSWORD_FILE are set"},
		{name: "missing file", env: map[string]string{"MARIADB_ROOT_PASSWORD_FILE": "/run/none"}, err: "MARIADB_ROOT_PASSWORD_FILE: open /run/none"},
		{name: "user without password", env: map[string]string{"MARIADB_USER": "u"}, err: "MARIADB_USER=u is set without MARIADB_PASSWORD"},
		{name: "password without user", env: map[string]string{"MARIADB_PASSWORD": "p"}, err: "MARIADB_PASSWORD is set without MARIADB_USER"},
		{name: "user root", env: map[string]string{"MARIADB_USER": "root", "MARIADB_PASSWORD": "p"}, err: "MARIADB_USER=root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromEnv(env(tc.env), secrets)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				for _, v := range tc.env {
					if v != "" && !strings.HasPrefix(v, "/run/") && strings.Contains(err.Error(), "="+v) && v != "u" && v != "root" {
						t.Errorf("the error shows a value: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStatements(t *testing.T) {
	sql := func(a Accounts) string {
		var b []string
		for _, s := range Statements(a) {
			b = append(b, s.SQL)
			if strings.Contains(s.What, a.RootPassword) && a.RootPassword != "" || strings.Contains(s.What, a.Password) && a.Password != "" {
				t.Errorf("the description %q shows a password", s.What)
			}
		}
		return strings.Join(b, ";\n")
	}
	none := sql(Accounts{RootHost: "%"})
	if strings.Contains(none, "CREATE USER") || strings.Contains(none, "ALTER USER") {
		t.Errorf("no variables, yet accounts are made:\n%s", none)
	}
	all := sql(Accounts{RootPassword: `a'b\c`, RootHost: "%", Database: "my_db`x", User: "o'k", Password: "p\x00w\n"})
	for _, want := range []string{
		`ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('a\'b\\c')`,
		`CREATE USER 'root'@'%' IDENTIFIED BY 'a\'b\\c'`,
		"GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION",
		"CREATE DATABASE IF NOT EXISTS `my_db``x`",
		`CREATE USER 'o\'k'@'%' IDENTIFIED BY 'p\0w\n'`,
		"GRANT ALL ON `my\\_db``x`.* TO 'o\\'k'@'%'",
		"SET @@SESSION.SQL_LOG_BIN=0",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %s in:\n%s", want, all)
		}
	}
	local := sql(Accounts{RootPassword: "rootpw42", RootHost: "localhost"})
	if strings.Contains(local, "CREATE USER 'root'@'localhost' IDENTIFIED BY") || strings.Count(local, "CREATE USER") != 1 {
		t.Errorf("MARIADB_ROOT_HOST=localhost made a second root:\n%s", local)
	}
	if u := sql(Accounts{RootHost: "%", User: "u", Password: "userpw42"}); strings.Contains(u, "GRANT ALL ON `") {
		t.Errorf("a grant without a database:\n%s", u)
	}
}

func TestList(t *testing.T) {
	if s, ign, err := List(filepath.Join(t.TempDir(), "none")); err != nil || s != nil || ign != nil {
		t.Fatalf("missing dir: %v %v %v", s, ign, err)
	}
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"b.sql": 0o644, "a.sh": 0o755, "c.sql.gz": 0o644, "d.sql.xz": 0o644, "e.sql.zst": 0o644, "f.sh": 0o644, "g.txt": 0o644, ".hidden.sql": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	// A ConfigMap volume: ..data holds the files, the names are links.
	if err := os.Mkdir(filepath.Join(dir, "..data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "..data", "h.sql"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/h.sql", filepath.Join(dir, "h.sql")); err != nil {
		t.Fatal(err)
	}
	s, ign, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range s {
		got = append(got, filepath.Base(x.Path))
	}
	if want := []string{"a.sh", "b.sql", "c.sql.gz", "d.sql.xz", "e.sql.zst", "f.sh", "h.sql"}; !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if !s[0].Executable || s[5].Executable || s[2].Decompress[0] != "gzip" || s[4].Decompress[0] != "zstd" || s[1].Decompress != nil {
		t.Errorf("kinds: %+v", s)
	}
	if !reflect.DeepEqual(ign, []string{"g.txt"}) {
		t.Errorf("ignored %v", ign)
	}
}

func TestRedact(t *testing.T) {
	err := errors.New("Error 1064: near 'IDENTIFIED BY 's3cret''")
	if got := redact(err.Error(), []string{"s3cret"}); strings.Contains(got, "s3cret") {
		t.Error(got)
	}
}
