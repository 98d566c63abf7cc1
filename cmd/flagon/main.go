// Command flagon is Flagon's one binary: the server, and the tools around
// it.
//
//	flagon serve            admin UI, REST API, OFREP, /healthz, /metrics and a demo
//	flagon relay            a read-only replica of a server: OFREP, /features.json and the snapshot, near the applications
//	flagon import FILE|-    load a YAML/JSON config file (- for standard input) into a store
//	flagon export           write a store's flags as a YAML config file
//	flagon eval FLAG k=v …  evaluate one flag for a context and explain the result
//	flagon lint [DIR …]     report flags used but undefined, unused, or expired
//	flagon requests         list, show, approve and reject change requests of protected environments
//	flagon migrate          apply the store's schema migrations
//	flagon version          print the version (also -version, --version)
//	flagon help [COMMAND]   print this list, or a command's flags (also -h, --help)
//
// Every setting is a command-line flag with a FLAGON_* environment variable
// as its default; run `flagon help <command>` for the list. Flags may come
// before or after a command's arguments. Commands that only read (eval,
// export, lint) refuse an SQLite store that does not exist rather than
// create an empty one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"serve", "run the Flagon server: admin UI, REST API, OFREP, health, metrics and a demo page", runServe},
	{"relay", "run a read-only replica that follows a Flagon server and serves OFREP and the snapshot near the applications", runRelay},
	{"import", "load a YAML or JSON config file (or - for standard input) into a store", func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return runImport(ctx, args, os.Stdin, stdout, stderr)
	}},
	{"export", "write a store's flags as a YAML config file", runExport},
	{"eval", "evaluate a flag for a context and explain the result", runEval},
	{"lint", "report flags used in code but not defined, defined but unused, or expired", runLint},
	{"keys", "list, rotate and retire the signing keys kept in the store", runKeys},
	{"users", "list, add, change the roles of and remove the people who sign in to the console", func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return runUsers(ctx, args, os.Stdin, stdout, stderr)
	}},
	{"requests", "list, show, approve and reject the change requests of protected environments", runRequests},
	{"migrate", "apply the store's schema migrations", runMigrate},
	{"version", "print the version", runVersion},
}

// errUsage marks an error in the command line: exit status 2.
var errUsage = errors.New("usage")

// errFindings marks a command that ran and found problems: exit status 1,
// with nothing more to print.
var errFindings = errors.New("findings")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit status: 0, 1 when
// the command failed or found problems, 2 for a bad command line. Help
// asked for goes to stdout; errors, and the usage shown with them, go to
// stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		switch len(rest) {
		case 0:
			usage(stdout)
			return 0
		case 1:
			c := lookup(rest[0])
			if c == nil {
				fmt.Fprintf(stderr, "flagon help: unknown command %q\n\n", rest[0])
				usage(stderr)
				return 2
			}
			c.run(ctx, []string{"-h"}, stdout, stdout)
			return 0
		}
		fmt.Fprintf(stderr, "flagon help: want at most one command, got %q\n\n", rest)
		usage(stderr)
		return 2
	case "-version", "--version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "flagon: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	if helpAsked(rest) {
		c.run(ctx, []string{"-h"}, stdout, stdout)
		return 0
	}
	err := c.run(ctx, rest, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errFindings):
		return 1
	}
	// The command's name prefixes the message once, even when the error
	// comes from the package of the same name ("lint: …").
	msg := strings.TrimPrefix(err.Error(), c.name+": ")
	if errors.Is(err, errUsage) {
		fmt.Fprintf(stderr, "flagon %s: %s\n\n", c.name, strings.TrimPrefix(msg, errUsage.Error()+": "))
		c.run(ctx, []string{"-h"}, stderr, stderr)
		return 2
	}
	fmt.Fprintf(stderr, "flagon %s: %s\n", c.name, msg)
	return 1
}

// lookup returns the command called name, or nil.
func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// helpAsked reports whether args ask for help (-h, -help, --help) before
// any "--".
func helpAsked(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--h", "--help":
			return true
		}
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Flagon: feature flags for Go web applications.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: flagon <command> [arguments and flags, in any order]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'flagon help <command>' for a command's flags; each defaults to a FLAGON_* environment variable.")
}

// flagSet returns a FlagSet for a command whose usage goes to stderr,
// which is stdout when help was asked for.
func flagSet(name, argsUsage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("flagon "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\nFlags (each defaults to the environment variable shown):\n", strings.TrimSpace("flagon "+name+" [flags] "+argsUsage))
		fs.PrintDefaults()
	}
	return fs
}

// env returns the environment variable FLAGON_<name>, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv("FLAGON_" + name); ok {
		return v
	}
	return def
}

// envHelp appends the environment variable to a flag's help text.
func envHelp(name, help string) string {
	return help + " (FLAGON_" + name + ")"
}

// parse parses args, flags and positional arguments in any order: a flag
// may follow the arguments (flagon eval FLAG key=a -env production), and
// everything after "--" is an argument. Afterwards fs.Args() holds the
// arguments in order. A bad command line is reported as errUsage, without
// the flag package printing anything; run prints the usage.
func parse(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				usage()
				return err
			}
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Parse once more so that fs.Args() returns every argument.
	return fs.Parse(append([]string{"--"}, positional...))
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("version", "", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "flagon", version())
	return nil
}

// version returns the module version and VCS revision the binary was built
// from, as far as the build recorded them.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var extra []string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if len(s.Value) > 12 {
				s.Value = s.Value[:12]
			}
			extra = append(extra, s.Value)
		case "vcs.modified":
			if s.Value == "true" {
				extra = append(extra, "modified")
			}
		}
	}
	sort.Strings(extra)
	out := v + " " + bi.GoVersion
	if len(extra) > 0 {
		out += " (" + strings.Join(extra, ", ") + ")"
	}
	return out
}
