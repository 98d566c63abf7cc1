package lint_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/flagon/flagon/file"
	"github.com/flagon/flagon/lint"
)

// Example lints a small repository the way `flagon lint` does: each file
// is checked against the config file nearest above it, and tests are
// skipped.
func Example() {
	root, _ := os.MkdirTemp("", "lint-example")
	defer os.RemoveAll(root)
	files := map[string]string{
		"shop/flags.yaml":   "flags:\n  new-home-page: false\n",
		"shop/home.go":      "package shop\n\nvar home = flagon.NewBool(\"new-home-pgae\", false, \"\")\n",
		"shop/home_test.go": "package shop\n\nvar made = flagon.NewBool(\"made-up-in-a-test\", false, \"\")\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}

	refs, _ := lint.Scan(nil, root)
	configs, _ := lint.FindConfigs(nil, root)
	for i, c := range configs {
		data, _ := os.ReadFile(c.Path)
		defs, _ := file.Parse(c.Path, data)
		var governed []lint.Ref
		for _, r := range refs {
			if lint.Nearest(configs, r.File) == i {
				r.File, _ = filepath.Rel(root, r.File)
				governed = append(governed, r)
			}
		}
		for _, f := range lint.Check(defs, governed, time.Now()) {
			fmt.Println(f)
		}
	}
	// Output:
	// shop/home.go:3: flag "new-home-pgae" is used but not defined; did you mean "new-home-page"? (undefined)
	// flag "new-home-page" is defined but never used (unused)
}
