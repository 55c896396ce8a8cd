package initdb

import "strings"

// Statement is one SQL statement and what it does, for logs and errors
// (the SQL may hold a password and is never shown).
type Statement struct {
	What, SQL string
}

// Statements is the SQL that creates the accounts, in the image's order
// (its docker_setup_db): the session's own settings, root's passwords,
// the database, the user and its grant. They run in one session.
func Statements(a Accounts) []Statement {
	s := []Statement{
		// Accounts are not replicated by binlog: the members get them by
		// state transfer, and a replica of this cluster has its own.
		{"session: no binlog", "SET @@SESSION.SQL_LOG_BIN=0"},
		// The quoting below escapes with backslashes.
		{"session: backslash escapes", "SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '')"},
		// As the image: no root account by address or host name.
		{"drop root@127.0.0.1, root@::1", "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1'"},
		{"drop root@<hostname>", `EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS \'root\'@', QUOTE(@@hostname))`},
	}
	if a.RootPassword != "" {
		pw := quote(a.RootPassword)
		// root@localhost keeps its unix_socket login (the sentinel and
		// the OS root user of the container use it) and gets the password.
		s = append(s,
			Statement{"create root@localhost", "CREATE USER IF NOT EXISTS 'root'@'localhost' IDENTIFIED VIA unix_socket"},
			Statement{"root@localhost: unix_socket or the password", "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD(" + pw + ")"},
			Statement{"grant root@localhost", "GRANT ALL ON *.* TO 'root'@'localhost' WITH GRANT OPTION"},
			Statement{"grant root@localhost proxy", "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION"},
		)
		if a.RootHost != "localhost" {
			acct := "'root'@" + quote(a.RootHost)
			s = append(s,
				Statement{"create root@" + a.RootHost, "CREATE USER " + acct + " IDENTIFIED BY " + pw},
				Statement{"grant root@" + a.RootHost, "GRANT ALL ON *.* TO " + acct + " WITH GRANT OPTION"},
				Statement{"grant root@" + a.RootHost + " proxy", "GRANT PROXY ON ''@'%' TO " + acct + " WITH GRANT OPTION"},
			)
		}
	}
	if a.Database != "" {
		s = append(s, Statement{"create database " + a.Database, "CREATE DATABASE IF NOT EXISTS " + quoteIdent(a.Database)})
	}
	if a.User != "" {
		acct := quote(a.User) + "@'%'"
		s = append(s, Statement{"create user " + a.User + "@'%'", "CREATE USER " + acct + " IDENTIFIED BY " + quote(a.Password)})
		if a.Database != "" {
			// A grant's database name is a pattern: _ and % taken as they are.
			s = append(s, Statement{"grant " + a.User + " all on " + a.Database, "GRANT ALL ON " + quoteIdent(likeEscape(a.Database)) + ".* TO " + acct})
		}
	}
	return s
}

// quote is s as a string literal, with backslash escapes (the session has
// NO_BACKSLASH_ESCAPES cleared). Byte by byte: any byte string is safe.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// quoteIdent is s as a quoted identifier.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// likeEscape makes the wildcards of a grant's database pattern literal.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `_`, `\_`, `%`, `\%`).Replace(s)
}
