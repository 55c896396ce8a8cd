package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/galera-sentinel/galera-sentinel/internal/galeramember"
	"github.com/galera-sentinel/galera-sentinel/internal/replmember"
	"github.com/galera-sentinel/galera-sentinel/internal/sentinel"
)

// modeList are the database modes of serve and run, the default first. A
// mode is its package (a sentinel.Mode): adding one is a line here.
var modeList = []func() sentinel.Mode{
	galeramember.NewMode,
	replmember.NewMode,
}

// The names of the two modes, as the tests use them.
const (
	modeGalera      = galeramember.ModeName
	modeReplication = replmember.ModeName
)

// viewers are the modes with a cluster view for status (sentinel.Viewer).
func viewers() *modeSet {
	s := &modeSet{}
	for _, newMode := range modeList {
		if m, ok := newMode().(sentinel.Viewer); ok {
			s.modes = append(s.modes, m.(sentinel.Mode))
		}
	}
	return s
}

// modeSet are the modes of one serve or run configuration, their flags
// declared on its flag set.
type modeSet struct {
	run   bool
	modes []sentinel.Mode
	// owner is the mode that declared each mode flag.
	owner map[string]string
}

// declareModes declares --mode and every mode's own flags on fs.
func declareModes(fs *flag.FlagSet, run bool, mode *string) *modeSet {
	s := &modeSet{run: run, owner: map[string]string{}}
	var about []string
	for _, newMode := range modeList {
		m := newMode()
		s.modes = append(s.modes, m)
		info := m.Info()
		about = append(about, info.Name+": "+info.About)
		before := map[string]bool{}
		fs.VisitAll(func(f *flag.Flag) { before[f.Name] = true })
		m.Flags(fs, run)
		fs.VisitAll(func(f *flag.Flag) {
			if !before[f.Name] {
				s.owner[f.Name] = info.Name
			}
		})
	}
	fs.StringVar(mode, "mode", s.names()[0], strings.Join(about, "; "))
	return s
}

// defaultModes are the modes with their defaults, for a configuration
// built in code rather than by the flags.
func defaultModes(run bool) *modeSet {
	var mode string
	return declareModes(flag.NewFlagSet("", flag.ContinueOnError), run, &mode)
}

func (s *modeSet) names() []string {
	names := make([]string, len(s.modes))
	for i, m := range s.modes {
		names[i] = m.Info().Name
	}
	return names
}

// get is the mode named name, nil when there is none.
func (s *modeSet) get(name string) sentinel.Mode {
	for _, m := range s.modes {
		if m.Info().Name == name {
			return m
		}
	}
	return nil
}

// misused are the problems of the flags in explicit (see explicitFlags)
// that do nothing under mode, in the order of their names: another
// mode's flags, and common flags the mode ignores.
func (s *modeSet) misused(mode string, explicit map[string]string) []error {
	ignores := s.get(mode).Info().Ignores
	var errs []error
	for _, name := range sortedKeys(explicit) {
		var forModes []string
		if owner, ok := s.owner[name]; ok && owner != mode {
			forModes = []string{owner}
		} else if slices.Contains(ignores, name) {
			for _, m := range s.modes {
				if !slices.Contains(m.Info().Ignores, name) {
					forModes = append(forModes, m.Info().Name)
				}
			}
		}
		if forModes == nil {
			continue
		}
		errs = append(errs, fmt.Errorf("%s is for --mode=%s: under --mode=%s it would do nothing; remove it", spelled(name, explicit[name]), strings.Join(forModes, " and "), mode))
	}
	return errs
}
