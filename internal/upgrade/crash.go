package upgrade

import (
	"fmt"
	"strings"
)

// crashMarker is what InnoDB prints, and then refuses to start, when its
// redo log is of an older format and was not left by a clean shutdown:
// "InnoDB: Upgrade after a crash is not supported. The redo log was
// created with MariaDB 10.6.17." (10.8 and later read older logs only
// when they are clean), or "... This redo log was created before MariaDB
// 10.2.2." from older servers.
const crashMarker = "Upgrade after a crash is not supported"

// CrashedOlder recognises, in what mariadbd printed (its log, or
// --wsrep-recover's output), InnoDB refusing a data directory that an
// older version left by a crash, a kill or a power cut: the new version
// cannot recover it, whatever the sentinel decides, and starting it again
// changes nothing. It returns what a person must do, naming the version
// that wrote the log when InnoDB says it; ok is false when the text has
// no such refusal.
func CrashedOlder(text string, binary Version) (advice string, ok bool) {
	var line string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, crashMarker) {
			line = l
			break
		}
	}
	if line == "" {
		return "", false
	}
	older := "the version that wrote it"
	rest := line[strings.Index(line, crashMarker)+len(crashMarker):]
	if i := strings.Index(rest, "created with "); i >= 0 {
		if v, err := Parse(strings.TrimRight(rest[i+len("created with "):], ". ")); err == nil {
			older = "MariaDB " + v.String()
		}
	} else if strings.Contains(rest, "created before MariaDB 10.2.2") {
		older = "the MariaDB older than 10.2.2 that wrote it"
	}
	this := "this version"
	if !binary.IsZero() {
		this = "MariaDB " + binary.String()
	}
	return fmt.Sprintf("InnoDB refuses this data directory (%q): it was left by a crash or a kill of %s, and %s cannot recover a redo log of that format; "+
		"start %s on it once (the previous image or package) and stop it cleanly, then %s; "+
		"or, when the other members hold the data, empty it so that this member joins by a state transfer",
		said(line[strings.Index(line, crashMarker):]), older, this, older, this), true
}

// said is InnoDB's sentence as quoted, its end trimmed and bounded.
func said(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}
