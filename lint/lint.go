// Package lint finds the flags that Go code and templates refer to and
// compares them with the flags a configuration defines: flags used but not
// defined, defined but never used, and past their expiry date. `flagon
// lint` runs it in CI.
//
// It reads code as text and syntax, without type-checking, so it knows
// Flagon's call shapes: the typed handles (flagon.NewBool("key", …)), the
// getters (client.Bool(ctx, "key", …) and the package-level flagon.Bool),
// and the template functions ({{flag .Ctx "key"}}, {{variant .Ctx "key"}}).
// A key passed in a variable is not seen; prefer constants or handles.
//
// Tests are skipped unless asked for, since they make up flags of their
// own; FindConfigs and Nearest find the config file (flags.yaml) that
// governs each file, so a repository with several applications, each
// beside its own flags.yaml, is linted in one run.
package lint

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// A Ref is one place that names a flag.
type Ref struct {
	Key  string
	File string
	Line int
}

// String returns "file:line".
func (r Ref) String() string { return fmt.Sprintf("%s:%d", r.File, r.Line) }

// Kind classifies a finding.
type Kind string

// The kinds of finding.
const (
	Undefined Kind = "undefined" // used in code, not defined
	Unused    Kind = "unused"    // defined, never used in code
	Expired   Kind = "expired"   // past its expiry date
	// Removable: a Flagon server's usage counts say the flag is ready to
	// be removed (see CheckUsage).
	Removable Kind = "ready-to-remove"
)

// A Finding is one problem lint reports.
type Finding struct {
	Kind Kind
	Key  string
	Refs []Ref // where it is used, for undefined and expired flags
	Msg  string
	// Suggestion is, for an undefined flag, the defined key nearest to
	// Key, if one is near; Msg then ends with "did you mean …?".
	Suggestion string
}

// String returns the finding as lint prints it: where, what, and the kind.
func (f Finding) String() string {
	if len(f.Refs) > 0 {
		return fmt.Sprintf("%s: %s (%s)", f.Refs[0], f.Msg, f.Kind)
	}
	return fmt.Sprintf("%s (%s)", f.Msg, f.Kind)
}

// getterArg maps the names of calls that take a flag key to the position
// of the key among their arguments.
var getterArg = map[string]int{
	"NewBool": 0, "NewString": 0, "NewInt": 0, "NewFloat": 0,
	"Bool": 1, "String": 1, "Int": 1, "Float": 1, "Object": 1,
	"BoolDetail": 1, "StringDetail": 1, "IntDetail": 1, "FloatDetail": 1, "ObjectDetail": 1,
	"Evaluate": 1,
}

// templateRef matches {{flag X "key"}} and {{variant X "key"}}, alone or
// inside if, with, and pipelines.
var templateRef = regexp.MustCompile(`\b(?:flag|variant|flagValue)\s+(?:\.\w*|\$\w*)(?:\.\w+)*\s+"([^"\\]+)"`)

// templateExts are the files scanned as templates.
var templateExts = map[string]bool{".html": true, ".tmpl": true, ".gohtml": true, ".tpl": true}

// Options configures Scan. The zero value scans every Go file but the
// tests, and every template, under the directories given.
type Options struct {
	// Tests also scans _test.go files. They are skipped by default: tests
	// make up flags of their own, which no configuration defines.
	Tests bool
	// Exclude skips the files and directories (with all they hold) that
	// match any of these patterns, in path.Match syntax. A pattern with a
	// slash is matched against the slash-separated path relative to the
	// scanned directory ("examples/*", "internal/gen"); one without is
	// matched against the name of every file and directory at any depth
	// ("*_gen.go", "fixtures").
	Exclude []string
}

// ConfigNames are the names of the config files FindConfigs looks for.
var ConfigNames = []string{"flags.yaml", "flags.yml", "flags.json"}

// Scan walks dirs and returns every flag reference found in Go files and
// templates, in walk order. It always skips vendor, testdata, node_modules
// and hidden directories, and skips what opts says; nil opts means the
// zero Options.
func Scan(opts *Options, dirs ...string) ([]Ref, error) {
	var refs []Ref
	fset := token.NewFileSet()
	err := walk(opts, dirs, func(path string) error {
		var rs []Ref
		var err error
		switch ext := filepath.Ext(path); {
		case ext == ".go":
			rs, err = scanGo(fset, path)
		case templateExts[ext]:
			rs, err = scanTemplate(path)
		}
		refs = append(refs, rs...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return refs, nil
}

// A Config is a config file that FindConfigs found.
type Config struct {
	Path string
	// Above is set for a file found above the directories scanned rather
	// than in them. Only part of the code it governs was scanned then, so
	// its flags may well be used where the scan did not look.
	Above bool
}

// FindConfigs returns the config files (ConfigNames) that govern dirs:
// those in dirs and below, skipping what Scan skips, and for each dir the
// nearest one above it, looked for up to the directory that holds go.mod
// or .git. Each file is returned once, its path cleaned.
func FindConfigs(opts *Options, dirs ...string) ([]Config, error) {
	var out []Config
	seen := map[string]bool{}
	err := walk(opts, dirs, func(path string) error {
		if slices.Contains(ConfigNames, filepath.Base(path)) && !seen[path] {
			seen[path] = true
			out = append(out, Config{Path: path})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, dir := range dirs {
		if c := configAbove(dir); c != "" && !seen[c] {
			seen[c] = true
			out = append(out, Config{Path: c, Above: true})
		}
	}
	return out, nil
}

// configAbove returns the config file in dir's nearest parent that has
// one, stopping at the root of the module or repository; "" if none.
func configAbove(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for d := abs; ; {
		if d != abs {
			if c := configIn(d); c != "" {
				rel, err := filepath.Rel(abs, c)
				if err != nil {
					return c
				}
				return filepath.Join(dir, rel) // cleaned
			}
		}
		if isFile(filepath.Join(d, "go.mod")) || exists(filepath.Join(d, ".git")) {
			return ""
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// configIn returns the first of ConfigNames present in dir, or "".
func configIn(dir string) string {
	for _, n := range ConfigNames {
		if p := filepath.Join(dir, n); isFile(p) {
			return p
		}
	}
	return ""
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Nearest returns the index in configs of the one in file's directory or
// its nearest parent directory; -1 if none is. Paths compare as absolute
// paths.
func Nearest(configs []Config, file string) int {
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return -1
	}
	best, bestLen := -1, -1
	for i, c := range configs {
		cdir, err := filepath.Abs(filepath.Dir(c.Path))
		if err != nil {
			continue
		}
		if (dir == cdir || strings.HasPrefix(dir, cdir+string(filepath.Separator)) || cdir == string(filepath.Separator)) && len(cdir) > bestLen {
			best, bestLen = i, len(cdir)
		}
	}
	return best
}

// walk calls fn with every regular file under dirs that opts does not
// exclude, skipping the directories Scan always skips.
func walk(opts *Options, dirs []string, fn func(path string) error) error {
	if opts == nil {
		opts = &Options{}
	}
	for _, p := range opts.Exclude {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("lint: exclude pattern %q: %w", p, err)
		}
	}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == dir {
				if d.IsDir() {
					return nil
				}
				return fn(p) // a file named on the command line is scanned whatever its name
			}
			name := d.Name()
			if d.IsDir() {
				if name == "vendor" || name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") || excluded(opts.Exclude, dir, p) {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || (!opts.Tests && strings.HasSuffix(name, "_test.go")) || excluded(opts.Exclude, dir, p) {
				return nil
			}
			return fn(p)
		})
		if err != nil {
			return fmt.Errorf("lint: %w", err)
		}
	}
	return nil
}

// excluded reports whether p, found under root, matches one of patterns.
func excluded(patterns []string, root, p string) bool {
	if len(patterns) == 0 {
		return false
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		rel = p
	}
	rel = filepath.ToSlash(rel)
	name := path.Base(rel)
	for _, pat := range patterns {
		target := name
		if strings.Contains(pat, "/") {
			target = rel
		}
		if ok, _ := path.Match(strings.TrimSuffix(pat, "/"), target); ok {
			return true
		}
	}
	return false
}

func scanGo(fset *token.FileSet, path string) ([]Ref, error) {
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var refs []Ref
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		var name string
		switch fn := call.Fun.(type) {
		case *ast.SelectorExpr:
			name = fn.Sel.Name
		case *ast.Ident:
			name = fn.Name
		default:
			return true
		}
		i, ok := getterArg[name]
		if !ok || len(call.Args) <= i {
			return true
		}
		lit, ok := call.Args[i].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		if i == 1 {
			// Getters take a context first: skip calls whose first
			// argument is itself a literal (strconv-like functions).
			if _, isLit := call.Args[0].(*ast.BasicLit); isLit {
				return true
			}
		}
		key, err := strconv.Unquote(lit.Value)
		if err != nil || !flagon.ValidKey(key) {
			return true
		}
		refs = append(refs, Ref{Key: key, File: path, Line: fset.Position(lit.Pos()).Line})
		return true
	})
	return refs, nil
}

func scanTemplate(path string) ([]Ref, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var refs []Ref
	for _, m := range templateRef.FindAllSubmatchIndex(data, -1) {
		key := string(data[m[2]:m[3]])
		if !flagon.ValidKey(key) {
			continue
		}
		line := 1 + strings.Count(string(data[:m[2]]), "\n")
		refs = append(refs, Ref{Key: key, File: path, Line: line})
	}
	return refs, nil
}

// Check compares refs with the definitions and returns the findings,
// sorted by kind and key. Now decides expiry.
func Check(defs flagon.Definitions, refs []Ref, now time.Time) []Finding {
	byKey := map[string][]Ref{}
	for _, r := range refs {
		byKey[r.Key] = append(byKey[r.Key], r)
	}
	defined := map[string]flagon.Flag{}
	for _, f := range defs.Flags {
		defined[f.Key] = f
	}
	var out []Finding
	for key, rs := range byKey {
		if _, ok := defined[key]; !ok {
			f := Finding{Kind: Undefined, Key: key, Refs: rs, Msg: fmt.Sprintf("flag %q is used but not defined", key)}
			if s := suggest(key, defs.Flags); s != "" {
				f.Suggestion = s
				f.Msg += fmt.Sprintf("; did you mean %q?", s)
			}
			out = append(out, f)
		}
	}
	for key, f := range defined {
		if _, ok := byKey[key]; !ok {
			out = append(out, Finding{Kind: Unused, Key: key, Msg: fmt.Sprintf("flag %q is defined but never used", key)})
		}
		if f.Expired(now) {
			msg := fmt.Sprintf("flag %q expired on %s", key, f.Expires.Format(time.DateOnly))
			if f.Owner != "" {
				msg += "; owner " + f.Owner
			}
			out = append(out, Finding{Kind: Expired, Key: key, Refs: byKey[key], Msg: msg + ": remove it from code and config"})
		}
	}
	order := map[Kind]int{Undefined: 0, Expired: 1, Unused: 2, Removable: 3}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return order[out[i].Kind] < order[out[j].Kind]
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// suggest returns the key of flags nearest to key by edit distance, if
// one is near enough to be a likely typo: within a quarter of key's length
// (at least one edit, fewer than key has letters), or, failing that, one
// that begins or ends with key. Ties go to the key first in sort order.
func suggest(key string, flags []flagon.Flag) string {
	limit := min(max(1, len(key)/4), len(key)-1)
	best, bestD := "", limit+1
	for _, f := range flags {
		if d := editDistance(key, f.Key); d < bestD || (d == bestD && best != "" && f.Key < best) {
			best, bestD = f.Key, d
		}
	}
	if best != "" || len(key) < 3 {
		return best
	}
	for _, f := range flags {
		if strings.HasPrefix(f.Key, key) || strings.HasSuffix(f.Key, key) {
			if best == "" || f.Key < best {
				best = f.Key
			}
		}
	}
	return best
}

// editDistance returns the Levenshtein distance between a and b, or a
// large number for keys too long to be worth comparing.
func editDistance(a, b string) int {
	if len(a) > 128 || len(b) > 128 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// CheckUsage turns the removal candidates a Flagon server reports (GET
// /api/v1/usage/removable, from flagon.ReadyToRemove) into findings,
// each with the places the code still uses the flag. Expiry alone is left
// to Check, which reads it from the definitions.
func CheckUsage(candidates []flagon.RemovalCandidate, refs []Ref) []Finding {
	byKey := map[string][]Ref{}
	for _, r := range refs {
		byKey[r.Key] = append(byKey[r.Key], r)
	}
	var out []Finding
	for _, c := range candidates {
		if !slices.ContainsFunc(c.Reasons, func(r flagon.RemovalReason) bool { return r != flagon.RemovalExpired }) {
			continue
		}
		msg := fmt.Sprintf("flag %q looks ready to remove: %s", c.Flag, c.Detail)
		out = append(out, Finding{Kind: Removable, Key: c.Flag, Refs: byKey[c.Flag], Msg: msg})
	}
	return out
}
