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
package lint

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
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
)

// A Finding is one problem lint reports.
type Finding struct {
	Kind Kind
	Key  string
	Refs []Ref // where it is used, for undefined and expired flags
	Msg  string
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

// Scan walks dirs and returns every flag reference found in Go files and
// templates, skipping vendor, testdata and hidden directories.
func Scan(dirs ...string) ([]Ref, error) {
	var refs []Ref
	fset := token.NewFileSet()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				if path != dir && (name == "vendor" || name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			switch ext := filepath.Ext(name); {
			case ext == ".go":
				rs, err := scanGo(fset, path)
				if err != nil {
					return err
				}
				refs = append(refs, rs...)
			case templateExts[ext]:
				rs, err := scanTemplate(path)
				if err != nil {
					return err
				}
				refs = append(refs, rs...)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("lint: %w", err)
		}
	}
	return refs, nil
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
			out = append(out, Finding{Kind: Undefined, Key: key, Refs: rs, Msg: fmt.Sprintf("flag %q is used but not defined", key)})
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
	order := map[Kind]int{Undefined: 0, Expired: 1, Unused: 2}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return order[out[i].Kind] < order[out[j].Kind]
		}
		return out[i].Key < out[j].Key
	})
	return out
}
