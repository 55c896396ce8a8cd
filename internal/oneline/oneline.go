// Package oneline flattens messages to one line of single-spaced words,
// for reasons, log values and HTTP answers that must stay on one line
// (a server's error may carry newlines and runs of spaces).
//
// It is pure: no I/O, and it must not change the words themselves (no
// truncation, no rewording), since people and tests read them.
package oneline

import "strings"

// Error is err's message on one line; "no error" for nil.
func Error(err error) string {
	if err == nil {
		return "no error"
	}
	return String(err.Error())
}

// String is s on one line of single-spaced words.
func String(s string) string { return strings.Join(strings.Fields(s), " ") }
