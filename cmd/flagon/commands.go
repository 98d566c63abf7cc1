package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/file"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/internal/jsondiff"
	"github.com/flagon/flagon/lint"
	"github.com/flagon/flagon/server"
)

// DefaultStore is where flagon keeps its flags when told nothing else: an
// embedded SQLite database in the working directory.
const DefaultStore = "sqlite://flagon.db"

// storeFlags are the flags that choose where definitions come from.
type storeFlags struct {
	store  string
	config string
	env    string
	fs     *flag.FlagSet
}

func (s *storeFlags) register(fs *flag.FlagSet, withConfig bool) {
	s.registerStore(fs)
	if withConfig {
		fs.StringVar(&s.config, "config", env("CONFIG", ""), envHelp("CONFIG", "read flags from this YAML/JSON file instead of the store"))
	}
	fs.StringVar(&s.env, "env", env("ENV", ""), envHelp("ENV", "the environment whose settings apply (development, staging, production, …)"))
}

// registerStore registers -store alone, for a command to which no one
// environment's settings apply.
func (s *storeFlags) registerStore(fs *flag.FlagSet) {
	s.fs = fs
	fs.StringVar(&s.store, "store", storeDefault(), "the store: sqlite://PATH or postgres://… (FLAGON_STORE, or FLAGON_STORE_FILE for a URL with a password)")
}

// storeDefault returns the store that FLAGON_STORE names, or the one in
// the file FLAGON_STORE_FILE names (a URL with a password is a secret),
// or DefaultStore. A file that cannot be read gives a store URL that
// OpenStore refuses, naming the file.
func storeDefault() string {
	if v, ok := os.LookupEnv("FLAGON_STORE"); ok {
		return v
	}
	if path := os.Getenv("FLAGON_STORE_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "unreadable://FLAGON_STORE_FILE " + path
		}
		return strings.TrimSpace(string(b))
	}
	return DefaultStore
}

// storeNamed reports whether the store was named, by -store or
// FLAGON_STORE, rather than left at DefaultStore.
func (s *storeFlags) storeNamed() bool {
	named := false
	s.fs.Visit(func(f *flag.Flag) { named = named || f.Name == "store" })
	_, inEnv := os.LookupEnv("FLAGON_STORE")
	return named || inEnv || os.Getenv("FLAGON_STORE_FILE") != ""
}

// open opens the store. A command that only reads opens it with
// mustExist, so that an SQLite file that does not exist is an error
// rather than a new, empty store.
func (s *storeFlags) open(ctx context.Context, mustExist bool) (server.Store, error) {
	if mustExist {
		if err := storeExists(s.store); err != nil {
			return nil, err
		}
	}
	return server.OpenStore(ctx, s.store)
}

// storeExists returns an error if rawURL names an SQLite file that does
// not exist. It says nothing of other stores: PostgreSQL, in-memory SQLite,
// or a URL server.OpenStore will reject anyway.
func storeExists(rawURL string) error {
	path, ok := sqliteFile(rawURL)
	if !ok {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no store at %s; run flagon serve or flagon import first", path)
	}
	return nil
}

// sqliteFile returns the file an SQLite store URL (sqlite://PATH, a bare
// path, or a file: URI) names, and false if the URL names no file on disk.
func sqliteFile(rawURL string) (string, bool) {
	p, ok := strings.CutPrefix(rawURL, "sqlite://")
	if !ok {
		if strings.Contains(rawURL, "://") {
			return "", false // postgres://, or a scheme OpenStore rejects
		}
		p = strings.TrimPrefix(rawURL, "sqlite:")
	}
	if strings.HasPrefix(p, "file:") {
		u, err := url.Parse(p)
		if err != nil || u.Query().Get("mode") == "memory" {
			return "", false
		}
		p = u.Opaque
		if p == "" {
			p = u.Path
		}
	} else {
		p, _, _ = strings.Cut(p, "?")
	}
	if p == "" || p == ":memory:" {
		return "", false
	}
	return p, true
}

// definitions loads the definitions from the config file if one is named,
// else from the store, which must exist.
func (s *storeFlags) definitions(ctx context.Context) (flagon.Definitions, error) {
	if s.config != "" {
		return parseConfig(s.config)
	}
	st, err := s.open(ctx, true)
	if err != nil {
		return flagon.Definitions{}, err
	}
	defer st.Close()
	defs, _, err := st.Load(ctx)
	return defs, err
}

// parseConfig reads and parses a config file.
func parseConfig(path string) (flagon.Definitions, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return flagon.Definitions{}, err
	}
	return file.Parse(path, data)
}

// snapshot returns the snapshot an application would serve for the
// config file or the store, in s.env: for a file, what file.New serves,
// its revision a hash of the file; for a store, what a StoreSource serves,
// its revision the store's. An environment that no flag defines is
// allowed, and warned about on log. st, if not nil, is the open store.
func (s *storeFlags) snapshot(ctx context.Context, st flagon.Store, log *slog.Logger) (*flagon.Snapshot, error) {
	if s.config != "" {
		src, err := file.New(s.config, &file.Options{Environment: s.env, NoWatch: true, Logger: log})
		if err != nil {
			return nil, err
		}
		defer src.Close()
		return src.Snapshot(), nil
	}
	defs, rev, err := st.Load(ctx)
	if err != nil {
		return nil, err
	}
	if s.env != "" {
		warnEnvironment(log, server.Redact(s.store), s.env, defs)
	}
	return flagon.NewSnapshot(defs, flagon.SnapshotOptions{Environment: s.env, Revision: strconv.FormatInt(rev, 10)})
}

// warnEnvironment warns, as file.Source does for a file, when no flag in
// a store has settings for env.
func warnEnvironment(log *slog.Logger, store, env string, defs flagon.Definitions) {
	seen := map[string]bool{}
	for _, f := range defs.Flags {
		for e := range f.Environments {
			seen[e] = true
		}
	}
	if seen[env] {
		return
	}
	envs := make([]string, 0, len(seen))
	for e := range seen {
		envs = append(envs, e)
	}
	sort.Strings(envs)
	log.Warn("store: no flag in the store has settings for the environment; serving the flags' own settings",
		"store", store, "environment", env, "environments", strings.Join(envs, ","))
}

// warnings returns a logger that writes warnings and errors to w, as
// slog text without the time: what the command line shows of a
// package's logging.
func warnings(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// stdinName is what import calls standard input in its messages.
const stdinName = "<stdin>"

func runImport(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flagSet("import", "FILE (- for standard input)", stderr)
	var sf storeFlags
	sf.register(fs, false)
	actor := fs.String("actor", env("ACTOR", "cli"), envHelp("ACTOR", "who the audit log records"))
	reason := fs.String("reason", "", "why, for the audit log")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one file to import, or - for standard input", errUsage)
	}
	name := fs.Arg(0)
	var data []byte
	var err error
	if name == "-" {
		name = stdinName
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return err
	}
	defs, err := file.Parse(name, data)
	if err != nil {
		return err
	}
	st, err := sf.open(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := server.Import(ctx, st, defs, flagon.Change{Actor: *actor, Reason: *reason, Environment: sf.env})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d audiences and %d flags from %s (%d changed)\n", len(defs.Audiences), len(defs.Flags), name, n)
	return nil
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("export", "", stderr)
	var sf storeFlags
	sf.register(fs, false)
	out := fs.String("o", "", "write to this file instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	defs, err := sf.definitions(ctx)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := file.Encode(&buf, defs); err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644)
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("migrate", "", stderr)
	var sf storeFlags
	sf.register(fs, false)
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := server.OpenStore(ctx, sf.store)
	if err != nil {
		return err
	}
	defer st.Close()
	rev, err := st.Revision(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: schema up to date, revision %d\n", server.Redact(sf.store), rev)
	return nil
}

// listFlag is a flag of comma-separated values that may also be given
// more than once.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func runLint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("lint", "[DIR …]", stderr)
	var sf storeFlags
	sf.register(fs, true)
	tests := fs.Bool("tests", false, "also scan _test.go files")
	var exclude listFlag
	fs.Var(&exclude, "exclude", "skip files and directories matching these comma-separated patterns: one with a slash is matched against the path relative to DIR (examples/*), one without against names at any depth (*_gen.go)")
	date := fs.String("date", "", "judge expiry as of this date, YYYY-MM-DD, instead of today")
	serverURL := fs.String("server", "", "also ask this Flagon server which flags its usage counts say are ready to remove (token from FLAGON_API_TOKEN or FLAGON_API_TOKEN_FILE)")
	usageDays := fs.Int("usage-days", 14, "with -server: flags not evaluated, or serving one variant to all traffic, for this many days are ready to remove")
	failRemovable := fs.Bool("fail-removable", false, "with -server: exit 1 when a flag is ready to remove (by default they are reported and pass)")
	apiToken := registerSecret(fs, "", "API_TOKEN", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	now := time.Now()
	if *date != "" {
		d, err := time.Parse(time.DateOnly, *date)
		if err != nil {
			return fmt.Errorf("%w: -date: want YYYY-MM-DD, got %q", errUsage, *date)
		}
		now = d
	}
	dirs := fs.Args()
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	opts := &lint.Options{Tests: *tests, Exclude: exclude}
	refs, err := lint.Scan(opts, dirs...)
	if err != nil {
		return err
	}
	groups, unchecked, err := lintGroups(ctx, &sf, opts, dirs, refs)
	if err != nil {
		return err
	}
	var nfindings, nflags int
	var from []string
	if *serverURL != "" {
		tok, err := apiToken.resolve(fs, stderr)
		if err != nil {
			return err
		}
		candidates, err := fetchRemovable(ctx, *serverURL, tok, *usageDays)
		if err != nil {
			return err
		}
		from = append(from, "usage at "+*serverURL)
		for _, f := range lint.CheckUsage(candidates, refs) {
			fmt.Fprintln(stdout, f)
			if *failRemovable {
				nfindings++
			}
		}
	}
	for _, g := range groups {
		nflags += len(g.defs.Flags)
		from = append(from, g.name)
		for _, f := range lint.Check(g.defs, g.refs, now) {
			if g.partial && len(f.Refs) == 0 {
				continue
			}
			nfindings++
			if len(f.Refs) == 0 && g.file {
				fmt.Fprintf(stdout, "%s: %s\n", g.name, f)
			} else {
				fmt.Fprintln(stdout, f)
			}
		}
	}
	summary := plural(len(refs), "reference") + ", " + plural(nflags, "flag")
	if len(from) > 0 {
		summary += " from " + strings.Join(from, ", ")
	}
	if len(unchecked) > 0 {
		summary += fmt.Sprintf("; %s not checked, as no config file or store defines their flags (first: %s, flag %q)", plural(len(unchecked), "reference"), unchecked[0], unchecked[0].Key)
	}
	if nfindings > 0 {
		fmt.Fprintf(stderr, "flagon lint: %s in %s\n", plural(nfindings, "finding"), summary)
		return errFindings
	}
	fmt.Fprintf(stderr, "flagon lint: %s; no findings\n", summary)
	return nil
}

// fetchRemovable asks a Flagon server which flags are ready to remove.
func fetchRemovable(ctx context.Context, base, token string, days int) ([]flagon.RemovalCandidate, error) {
	if days < 1 || days > 365 {
		return nil, fmt.Errorf("%w: -usage-days: want 1 to 365, got %d", errUsage, days)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: -server: want an http:// or https:// URL, got %q", errUsage, base)
	}
	u = u.JoinPath("/api/v1/usage/removable")
	u.RawQuery = url.Values{"days": {strconv.Itoa(days)}}.Encode()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("usage from %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("usage from %s: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized && token == "" {
			hint = " (set FLAGON_API_TOKEN or FLAGON_API_TOKEN_FILE)"
		}
		return nil, fmt.Errorf("usage from %s: %s: %s%s", base, resp.Status, strings.TrimSpace(string(body)), hint)
	}
	var out []flagon.RemovalCandidate
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("usage from %s: %w", base, err)
	}
	return out, nil
}

// plural returns n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// A lintGroup is a set of definitions and the references checked against
// them.
type lintGroup struct {
	name string // the config file or the store
	file bool   // name is a config file
	// partial is set for a config file above the directories scanned
	// (lint.Config.Above): only findings in the code read count.
	partial bool
	defs    flagon.Definitions
	refs    []lint.Ref
}

// lintGroups decides which definitions each reference is checked against.
// A config file named by -config, or a store named by -store, governs
// every reference. Otherwise each file is governed by the nearest config
// file (lint.ConfigNames) in its directory or above, and files with none
// by the store at DefaultStore if there is one. If there is none, the
// references no config file governs are returned as unchecked, unless no
// config file was found at all, which is an error.
func lintGroups(ctx context.Context, sf *storeFlags, opts *lint.Options, dirs []string, refs []lint.Ref) (groups []lintGroup, unchecked []lint.Ref, err error) {
	switch {
	case sf.config != "":
		defs, err := parseConfig(sf.config)
		return []lintGroup{{name: sf.config, file: true, defs: defs, refs: refs}}, nil, err
	case sf.storeNamed():
		defs, err := sf.definitions(ctx)
		return []lintGroup{{name: server.Redact(sf.store), defs: defs, refs: refs}}, nil, err
	}
	configs, err := lint.FindConfigs(opts, dirs...)
	if err != nil {
		return nil, nil, err
	}
	byConfig := make([][]lint.Ref, len(configs))
	var orphans []lint.Ref
	for _, r := range refs {
		if i := lint.Nearest(configs, r.File); i >= 0 {
			byConfig[i] = append(byConfig[i], r)
		} else {
			orphans = append(orphans, r)
		}
	}
	for i, c := range configs {
		if c.Above && len(byConfig[i]) == 0 {
			continue // a file above the scan that governs none of it
		}
		defs, err := parseConfig(c.Path)
		if err != nil {
			return nil, nil, err
		}
		groups = append(groups, lintGroup{name: c.Path, file: true, partial: c.Above, defs: defs, refs: byConfig[i]})
	}
	if len(orphans) > 0 || len(configs) == 0 {
		if err := storeExists(sf.store); err != nil {
			switch {
			case len(orphans) == 0:
				// Nothing to check, and nothing to check it against.
			case len(configs) == 0:
				r := orphans[0]
				return nil, nil, fmt.Errorf("%s: flag %q: no %s in this directory or above it, and %v; name the definitions with -config or -store",
					r, r.Key, strings.Join(lint.ConfigNames, " or "), err)
			default:
				// Some parts of the tree have config files and others
				// none: the others are reported as not checked.
				unchecked = orphans
			}
			orphans = nil
		} else {
			defs, err := sf.definitions(ctx)
			if err != nil {
				return nil, nil, err
			}
			groups = append(groups, lintGroup{name: server.Redact(sf.store), defs: defs, refs: orphans})
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].name < groups[j].name })
	return groups, unchecked, nil
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("eval", "FLAG [key=VALUE] [attr=VALUE …]", stderr)
	var sf storeFlags
	sf.register(fs, true)
	user := fs.String("user", "", "also apply this user's stored overrides")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return fmt.Errorf("%w: name the flag to evaluate", errUsage)
	}
	key := fs.Arg(0)
	ec, err := parseContext(fs.Args()[1:])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var st server.Store
	if sf.config == "" || *user != "" {
		if st, err = sf.open(ctx, true); err != nil {
			return err
		}
		defer st.Close()
	}
	snap, err := sf.snapshot(ctx, st, warnings(stderr))
	if err != nil {
		return err
	}
	var layers []flagon.OverrideLayer
	if *user != "" {
		m, err := st.UserOverrides(ctx, *user)
		if err != nil {
			return err
		}
		layers = append(layers, flagon.OverrideLayer{Name: flagonhttp.SourceUser, Overrides: m})
	}
	x := snap.Explain(key, ec, layers...)
	explain(stdout, snap, x, ec)
	if x.Result.ErrorCode == flagon.ErrorFlagNotFound {
		return fmt.Errorf("flag %w: %q", flagon.ErrNotFound, key)
	}
	return nil
}

// parseContext reads key=value pairs into an EvalContext: "key" is the
// targeting key, and values that read as booleans or numbers become those.
func parseContext(args []string) (flagon.EvalContext, error) {
	ec := flagon.EvalContext{Attrs: map[string]any{}}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return ec, fmt.Errorf("context argument %q: want name=value", a)
		}
		if k == flagon.KeyAttribute || k == "targetingKey" {
			ec.Key = v
			continue
		}
		ec.Attrs[k] = flagon.ParseScalar(v)
	}
	return ec, nil
}

// explain prints an explanation: value, variant, the layer that decided,
// the rule, the reason, the evaluator's steps, and the context it was
// evaluated for.
func explain(w io.Writer, snap *flagon.Snapshot, x flagon.Explanation, ec flagon.EvalContext) {
	r := x.Result
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "flag\t%s\n", r.Key)
	if r.ErrorCode == flagon.ErrorFlagNotFound {
		fmt.Fprintf(tw, "error\t%s: no such flag in revision %s\n", r.ErrorCode, snap.Revision())
		return
	}
	fmt.Fprintf(tw, "value\t%s\n", jsondiff.Compact(r.Value))
	fmt.Fprintf(tw, "variant\t%s\n", r.Variant)
	fmt.Fprintf(tw, "reason\t%s\n", r.Reason)
	fmt.Fprintf(tw, "layer\t%s\n", layer(r))
	if r.Rule > 0 {
		f, _ := snap.Flag(r.Key)
		desc := ""
		if r.Rule <= len(f.Rules) {
			desc = describeRule(f.Rules[r.Rule-1])
		}
		fmt.Fprintf(tw, "rule\t%d %s\n", r.Rule, desc)
	}
	if r.ErrorCode != "" {
		fmt.Fprintf(tw, "error\t%s\n", r.ErrorCode)
	}
	steps := x.Steps()
	for _, st := range steps[:len(steps)-1] { // the last is the result, above
		fmt.Fprintf(tw, "step\t%s\n", st)
	}
	fmt.Fprintf(tw, "revision\t%s\n", r.Revision)
	if env := snap.Environment(); env != "" {
		fmt.Fprintf(tw, "environment\t%s\n", env)
	}
	keys := make([]string, 0, len(ec.Attrs))
	for k := range ec.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ctx := []string{"key=" + ec.Key}
	for _, k := range keys {
		ctx = append(ctx, fmt.Sprintf("%s=%v", k, ec.Attrs[k]))
	}
	fmt.Fprintf(tw, "context\t%s\n", strings.Join(ctx, " "))
}

// layer names the part of evaluation that decided a result.
func layer(r flagon.Result) string {
	switch r.Reason {
	case flagon.ReasonOverride:
		return "override (" + r.OverrideSource + ")"
	case flagon.ReasonDisabled:
		return "kill switch"
	case flagon.ReasonTargetingMatch:
		return "rule"
	case flagon.ReasonSplit:
		if r.Rule > 0 {
			return "rule, percentage split"
		}
		return "fallthrough, percentage split"
	case flagon.ReasonStatic:
		return "flag default (no rules)"
	case flagon.ReasonDefault:
		return "fallthrough (no rule matched)"
	}
	return "error"
}

func describeRule(r flagon.Rule) string {
	var parts []string
	if r.ID != "" {
		parts = append(parts, "("+r.ID+")")
	}
	for _, a := range r.Audiences {
		parts = append(parts, "audience "+a)
	}
	for _, c := range r.Clauses {
		parts = append(parts, c.String())
	}
	return strings.Join(parts, " and ")
}
