package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
)

// A secret is a setting that must not appear in /proc/PID/cmdline: it is
// read from FLAGON_NAME, or from the file FLAGON_NAME_FILE names (how
// Kubernetes and Docker hand out secrets). A command-line flag still
// works, with a warning.
type secret struct {
	flag  string // the flag's name, or "" for environment-only secrets
	name  string // FLAGON_ + name
	value string // from the flag, if given there
}

// registerSecret defines the flag for a secret; its value is read later
// by resolve.
func registerSecret(fs *flag.FlagSet, flagName, name, help string) *secret {
	s := &secret{flag: flagName, name: name}
	if flagName != "" {
		fs.StringVar(&s.value, flagName, "", help+" (FLAGON_"+name+" or FLAGON_"+name+"_FILE; not on the command line)")
	}
	return s
}

// resolve returns the secret: from the flag (warning on w), else the
// environment, else the file the _FILE variable names, with one trailing
// newline removed.
func (s *secret) resolve(fs *flag.FlagSet, w io.Writer) (string, error) {
	given := false
	if s.flag != "" {
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == s.flag })
	}
	if given {
		fmt.Fprintf(w, "flagon: warning: -%s puts a secret on the command line, where other local users can read it; use FLAGON_%s or FLAGON_%s_FILE\n", s.flag, s.name, s.name)
		return s.value, nil
	}
	if v, ok := os.LookupEnv("FLAGON_" + s.name); ok {
		return v, nil
	}
	if path := os.Getenv("FLAGON_" + s.name + "_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("FLAGON_%s_FILE: %w", s.name, err)
		}
		v := strings.TrimSuffix(string(b), "\n")
		return strings.TrimSuffix(v, "\r"), nil
	}
	return "", nil
}

// warnStorePassword warns when a store URL with a password was given as a
// flag.
func warnStorePassword(fs *flag.FlagSet, rawURL string, w io.Writer) {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "store" })
	if !given {
		return
	}
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			fmt.Fprintln(w, "flagon: warning: -store holds a password on the command line, where other local users can read it; use FLAGON_STORE or FLAGON_STORE_FILE")
		}
	}
}
