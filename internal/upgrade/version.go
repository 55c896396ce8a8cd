// Package upgrade is what run mode knows about MariaDB versions: which
// version a binary is, which version last wrote a data directory, whether
// two versions may be members of one Galera cluster during a rolling
// upgrade, and how to bring a data directory's system tables to the
// running version (mariadb-upgrade) once the member runs.
//
// MariaDB's rules, which this package encodes (MariaDB's "Upgrading
// Galera Cluster" pages, and what users of other operators ran into):
//   - a rolling upgrade is supported only between adjacent major releases
//     of the long-term series (10.6 → 10.11 → 11.4 → 11.8), short-term
//     releases between two of them included; a jump over a long-term
//     series needs every member stopped, the most advanced started first
//     on the new version, the others joining it;
//   - mariadb-upgrade must run on every member, without writing to the
//     binary log, because Galera does not replicate what it changes;
//   - a downgrade below the version that last wrote the data is not
//     supported.
//
// It must not decide when a member starts or joins (galera.Decide does,
// with these rules as one input), nor hold the readiness itself.
package upgrade

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a MariaDB server version: 10.11.19 is Major 10, Minor 11,
// Patch 19. The zero Version is unknown.
type Version struct {
	Major, Minor, Patch int
}

// ErrNoVersion: the text holds no MariaDB version.
var ErrNoVersion = errors.New("no MariaDB version")

// Parse reads a version from what the server and its tools print:
// "10.11.19-MariaDB-0+deb12u1" (@@version, mysql_upgrade_info), "MariaDB
// 10.11.19" (the redo log's creator), "mariadbd  Ver 11.8.9-MariaDB-1 for
// debian-linux-gnu" (mariadbd --version). It takes the first
// "X.Y.Z" that follows the start, a space or "Ver ".
func Parse(s string) (Version, error) {
	for _, f := range strings.Fields(s) {
		if v, ok := parseTriple(f); ok {
			return v, nil
		}
	}
	return Version{}, fmt.Errorf("%w in %q", ErrNoVersion, clip(s))
}

func parseTriple(f string) (Version, bool) {
	if i := strings.IndexAny(f, "-+~"); i >= 0 {
		f = f[:i]
	}
	parts := strings.Split(f, ".")
	if len(parts) != 3 {
		return Version{}, false
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 4 {
			return Version{}, false
		}
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return Version{}, false
		}
		n[i] = x
	}
	// MariaDB's versions are 5.x, 10.x and up; a major of 0 is not one
	// (an IP-like "0.0.1" somewhere in a banner).
	if n[0] < 5 {
		return Version{}, false
	}
	return Version{n[0], n[1], n[2]}, true
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// IsZero reports whether v is unknown.
func (v Version) IsZero() bool { return v == Version{} }

func (v Version) String() string {
	if v.IsZero() {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Series is the major release, "10.11".
func (v Version) Series() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Compare orders versions: -1, 0 or +1.
func (v Version) Compare(o Version) int {
	for _, d := range [3]int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	return 0
}

// SameSeries reports whether v and o are one major release.
func (v Version) SameSeries(o Version) bool { return v.Major == o.Major && v.Minor == o.Minor }

func (v Version) seriesBelow(o Version) bool {
	return v.Major < o.Major || (v.Major == o.Major && v.Minor < o.Minor)
}

// longTerm are MariaDB's long-term series, in order. A rolling upgrade
// may not pass over one of them.
var longTerm = []Version{{10, 3, 0}, {10, 4, 0}, {10, 5, 0}, {10, 6, 0}, {10, 11, 0}, {11, 4, 0}, {11, 8, 0}}

// Between are the long-term series strictly between a's and b's, in
// order (none when they are one series or adjacent).
func Between(a, b Version) []string {
	if b.seriesBelow(a) {
		a, b = b, a
	}
	var out []string
	for _, l := range longTerm {
		if a.seriesBelow(l) && l.seriesBelow(b) {
			out = append(out, l.Series())
		}
	}
	return out
}

// Mixable reports whether members running a and b may be in one cluster
// while a rolling upgrade (or a rollback of one) goes on: the same
// series, or series with no long-term series between them. An unknown
// version (a sentinel of an earlier release, a binary that did not say)
// is not held against anyone. why says what is wrong otherwise.
func Mixable(a, b Version) (ok bool, why string) {
	if a.IsZero() || b.IsZero() || a.SameSeries(b) {
		return true, ""
	}
	between := Between(a, b)
	if len(between) == 0 {
		return true, ""
	}
	lo, hi := a, b
	if hi.seriesBelow(lo) {
		lo, hi = hi, lo
	}
	return false, fmt.Sprintf("MariaDB %s and %s may not run in one cluster: a rolling upgrade is supported only between adjacent major versions, and %s lies between (%s)",
		lo, hi, strings.Join(between, " and "), path(lo, hi))
}

// path is the chain of series a rolling upgrade from lo to hi would take.
func path(lo, hi Version) string {
	steps := []string{lo.Series()}
	steps = append(steps, Between(lo, hi)...)
	return strings.Join(append(steps, hi.Series()), " → ")
}

// Change is how a binary's version relates to the version that last
// wrote a data directory.
type Change int

const (
	// Unchanged: the same version, or nothing known of one of them.
	Unchanged Change = iota
	// Minor: a newer release of the same series.
	Minor
	// Major: a newer series.
	Major
	// Downgrade: an older version than the data's.
	Downgrade
)

func (c Change) String() string {
	switch c {
	case Minor:
		return "minor upgrade"
	case Major:
		return "major upgrade"
	case Downgrade:
		return "downgrade"
	}
	return "unchanged"
}

// From says how binary relates to data, the version that last wrote the
// data directory.
func From(data, binary Version) Change {
	switch {
	case data.IsZero() || binary.IsZero():
		return Unchanged
	case binary.Compare(data) < 0:
		return Downgrade
	case binary.SameSeries(data) && binary.Patch > data.Patch:
		return Minor
	case data.seriesBelow(binary):
		return Major
	}
	return Unchanged
}
