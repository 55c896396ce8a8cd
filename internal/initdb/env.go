// Package initdb applies what the official mariadb Docker image applies to
// a new data directory: the accounts its environment variables ask for
// (MARIADB_ROOT_PASSWORD, MARIADB_DATABASE, MARIADB_USER, ...) and the
// scripts of /docker-entrypoint-initdb.d, against a temporary server that
// package mariadbd starts with wsrep off on the member that bootstraps a
// new cluster. The other members receive the result by state transfer.
//
// Reading the variables and building the SQL are pure functions of their
// input (unit-tested); Apply is the I/O. It must not start or stop the
// server itself, and never puts a password in an argv or a log record.
package initdb

import (
	"errors"
	"fmt"
	"strings"
)

// Accounts is what the variables ask for.
type Accounts struct {
	// RootPassword, when set, becomes root@localhost's password (its
	// unix_socket login stays) and RootHost's.
	RootPassword string
	// RootHost is the host of the remote root account (MARIADB_ROOT_HOST,
	// default '%'); "localhost" creates none.
	RootHost string
	// Database is created (MARIADB_DATABASE).
	Database string
	// User@'%' is created with Password, and given ALL on Database.
	User, Password string
}

// Empty reports whether nothing is asked for.
func (a Accounts) Empty() bool {
	return a.RootPassword == "" && a.Database == "" && a.User == ""
}

// secrets are the values no log record or error may show.
func (a Accounts) secrets() []string {
	var s []string
	for _, v := range []string{a.RootPassword, a.Password} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

// LookupEnv is os.LookupEnv.
type LookupEnv func(string) (string, bool)

// ReadFile is os.ReadFile.
type ReadFile func(string) ([]byte, error)

// FromEnv reads the variables as the official image does: each X may be
// given as MARIADB_X or MYSQL_X (MARIADB_X wins), and either of those as
// X_FILE, the path of a file holding the value (its trailing newlines
// dropped, as the shell's $(<file) does); X and X_FILE both set is an
// error. An empty value is the same as none. A user without a password,
// a password without a user and MARIADB_USER=root are errors.
func FromEnv(getenv LookupEnv, read ReadFile) (Accounts, error) {
	var errs []error
	get := func(x string) string {
		v, err := aliased(getenv, read, x)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	a := Accounts{
		RootPassword: get("ROOT_PASSWORD"),
		RootHost:     get("ROOT_HOST"),
		Database:     get("DATABASE"),
		User:         get("USER"),
		Password:     get("PASSWORD"),
	}
	if a.RootHost == "" {
		a.RootHost = "%"
	}
	switch {
	case a.User == "root":
		errs = append(errs, errors.New("MARIADB_USER=root: MARIADB_USER and MARIADB_PASSWORD are for a regular user; the root account's password is MARIADB_ROOT_PASSWORD"))
	case a.User != "" && a.Password == "":
		errs = append(errs, fmt.Errorf("MARIADB_USER=%s is set without MARIADB_PASSWORD (or MARIADB_PASSWORD_FILE): a user without a password is refused", a.User))
	case a.User == "" && a.Password != "":
		errs = append(errs, errors.New("MARIADB_PASSWORD is set without MARIADB_USER: whose password is it?"))
	}
	if err := errors.Join(errs...); err != nil {
		return Accounts{}, err
	}
	return a, nil
}

// aliased is MARIADB_x, or else MYSQL_x, each possibly from a file.
func aliased(getenv LookupEnv, read ReadFile, x string) (string, error) {
	v, err := fileEnv(getenv, read, "MARIADB_"+x)
	if err != nil || v != "" {
		return v, err
	}
	return fileEnv(getenv, read, "MYSQL_"+x)
}

// fileEnv is the image's file_env: name, or the content of the file
// name_FILE names; both set is an error.
func fileEnv(getenv LookupEnv, read ReadFile, name string) (string, error) {
	v, _ := getenv(name)
	f, _ := getenv(name + "_FILE")
	switch {
	case v != "" && f != "":
		return "", fmt.Errorf("both %s and %s_FILE are set (but are exclusive)", name, name)
	case f != "":
		b, err := read(f)
		if err != nil {
			// The path is not a secret; the error of os.ReadFile names
			// only it.
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		return strings.TrimRight(string(b), "\n"), nil
	}
	return v, nil
}
