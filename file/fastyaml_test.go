package file

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// sameTree returns where the trees a and b differ, or "" if they are the
// same in every field.
func sameTree(a, b *yaml.Node, at string) string {
	if a == nil || b == nil {
		if a != b {
			return at + ": one node is nil"
		}
		return ""
	}
	// Comments are left out: fastDecode skips them, and this package
	// never reads them.
	fa := fmt.Sprintf("%v %v %q %q %q %d:%d %v", a.Kind, a.Style, a.Tag, a.Value, a.Anchor, a.Line, a.Column, a.Alias != nil)
	fb := fmt.Sprintf("%v %v %q %q %q %d:%d %v", b.Kind, b.Style, b.Tag, b.Value, b.Anchor, b.Line, b.Column, b.Alias != nil)
	if fa != fb {
		return fmt.Sprintf("%s: fast %s, yaml %s", at, fa, fb)
	}
	if len(a.Content) != len(b.Content) {
		return fmt.Sprintf("%s: fast has %d children, yaml %d", at, len(a.Content), len(b.Content))
	}
	for i := range a.Content {
		if d := sameTree(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", at, i)); d != "" {
			return d
		}
	}
	return ""
}

// checkFast checks that what fastDecode reads, the YAML package reads
// into the same tree. It reports whether fastDecode read data.
func checkFast(t *testing.T, data []byte) bool {
	t.Helper()
	doc, ok := fastDecode(data)
	if !ok {
		return false
	}
	var want yaml.Node
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatalf("fastDecode read %q, which the YAML package rejects: %v", data, err)
	}
	if d := sameTree(doc, &want, ""); d != "" {
		t.Fatalf("fastDecode(%q) differs from the YAML package at %s", data, d)
	}
	return true
}

var fastCases = []struct {
	in   string
	fast bool // whether fastDecode reads it
}{
	{"a: b\n", true},
	{"a: b", true},
	{"a: b   \n\n\n", true},
	{"a:\n  b: c\n  d: [x, y , z]\n", true},
	{"a:\n  - x\n  - y: 1\n    z: {p: q, r: [1, 2.5, true, null, ~, 2027-01-01]}\n  -   \"q r\"\n", true},
	{"a:\n    -  b: c\n       d: e\n    - f\n", true},
	{"a: {b: {c: [[], {}, [x]]}}\nb: -5\nc: -x\nd: x:y\ne: http://h/p?q=1\nf: a, b [c] {d}\n", true},
	{"true: 1\nnull: 2\n3: 4\n0x10: 6\nyes: 7\n", true},
	{"a: \"\"\nb: ''\n", false},
	{"a: b\n  c\n", false},
	{"a: b\n\n  c\n", false},
	{"a:\n- b\n", false},
	{"a:\nb: c\n", false},
	{"a: b # c\n", true},
	{"# c\na: b\n", true},
	{"a:\n  # about b\n  b: c   # why\n\n# the end\n", true},
	{"a: [x, y] # list\nb: \"q\" # quoted\n", true},
	{"a: b#c\n", false},
	{"a: \"b\"# c\n", false},
	{"a: # c\n  b: d\n", false},
	{"a: b # café\n", false},
	{"a: &x b\nc: *x\n", false},
	{"a: !!str b\n", false},
	{"a: |\n  b\n", false},
	{"a: [b,\n  c]\n", false},
	{"a: [b, c,]\n", false},
	{"a: b: c\n", false},
	{"a: b:\n", false},
	{"a: \"b\\nc\"\n", false},
	{"a:\tb\n", false},
	{"a: b\r\n", false},
	{"---\na: b\n", false},
	{"a: b\n---\nc: d\n", false},
	{"a: b\n...\n", false},
	{"<<: {a: b}\n", false},
	{"a: {<<: {a: b}}\n", false},
	{"a: café\n", false},
	{"- a\n", false},
	{"a\n", false},
	{"", false},
	{"a: [b: c]\n", false},
	{"a: {b}\n", false},
	{"a: {b: }\n", false},
	{"a: ? b\n", false},
	{"a: - b\n", false},
	{"a:\n  - - b\n", false},
	{"a: [b\n", false},
	{"a: \"b\n", false},
	{"a: {b: c}}\n", false},
	{"a: b\n c: d\n", false},
	{"a:\n    b: c\n  d: e\n", false},
}

func TestFastDecode(t *testing.T) {
	for _, c := range fastCases {
		if got := checkFast(t, []byte(c.in)); got != c.fast {
			t.Errorf("fastDecode(%q) read it: %v, want %v", c.in, got, c.fast)
		}
	}
}

func TestFastDecodeFiles(t *testing.T) {
	if !checkFast(t, genFile(2000)) {
		t.Error("fastDecode does not read the generated file")
	}
	for _, name := range []string{"testdata/complete.yaml", "testdata/complete.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checkFast(t, data)
		// Without its comments, more of the file is in fastDecode's part.
		var lines []string
		for l := range strings.Lines(string(data)) {
			if !strings.HasPrefix(strings.TrimSpace(l), "#") {
				lines = append(lines, l)
			}
		}
		checkFast(t, []byte(strings.Join(lines, "")))
	}
}

// FuzzFastDecode checks that fastDecode builds the tree the YAML package
// builds, whenever it reads the input.
func FuzzFastDecode(f *testing.F) {
	for _, c := range fastCases {
		f.Add([]byte(c.in))
	}
	f.Add(genFile(20))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFast(t, data)
	})
}

func TestPlainTag(t *testing.T) {
	words := []string{"", "~", "<<", "<", "y", "yes", "Yes", "no", "on", "off", "Off", "n", "N", "t", "f", "o",
		"true", "True", "TRUE", "tRue", "truex", "false", "False", "FALSE", "null", "Null", "NULL", "nil",
		".nan", ".NaN", ".inf", "+.inf", "-.Inf", ".5", "1", "-1", "+1", "0x1f", "0o17", "017", "0b101", "1_000",
		"1e3", "1.5", "2027-01-01", "2027-01-01T10:00:00Z", "1.2.3", "abc", "Abc", "_x", "/p", "$v", "(a)", "=x", "é"}
	for c := 0; c < 128; c++ {
		words = append(words, string(rune(c)), string(rune(c))+"x", string(rune(c))+"1")
	}
	for _, w := range words {
		n := &yaml.Node{Kind: yaml.ScalarNode, Value: w}
		if got, want := plainTag(n), n.ShortTag(); got != want {
			t.Errorf("plainTag(%q) = %s, want %s", w, got, want)
		}
	}
}
