package file

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/flagon/flagon"
	"go.yaml.in/yaml/v3"
)

// parseWith parses data whole (parts 0) or in up to parts pieces, and
// says whether it was split.
func parseWith(data []byte, parts int) (defs flagon.Definitions, err error, split bool) {
	p := newParser("f.yaml", data)
	var root *yaml.Node
	var pieces []piece
	if parts > 0 {
		root, pieces = decodeChunked("f.yaml", data, parts)
	}
	if root == nil {
		if root = p.decode(data); root == nil {
			return defs, p.err(), false
		}
	} else {
		split = true
	}
	defs = p.parseRoot(root, pieces)
	if len(p.errs) > 0 {
		return flagon.Definitions{}, p.err(), split
	}
	if err := defs.Validate(); err != nil {
		return flagon.Definitions{}, p.locate(err), split
	}
	return defs, nil, split
}

// padded returns a file of n one-line flags with middle in between the
// first and second halves.
func padded(n int, middle string) []byte {
	var b strings.Builder
	b.WriteString("# padding\nflags:\n")
	for i := range n / 2 {
		fmt.Fprintf(&b, "  pad-%05d: true\n", i)
	}
	b.WriteString(middle)
	for i := n / 2; i < n; i++ {
		fmt.Fprintf(&b, "  pad-%05d: false\n", i)
	}
	return []byte(b.String())
}

func TestChunkedEqualsWhole(t *testing.T) {
	data := genFile(3000)
	whole, err, _ := parseWith(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, parts := range []int{2, 3, 4} {
		got, err, split := parseWith(data, parts)
		if err != nil {
			t.Fatal(err)
		}
		if !split {
			t.Fatalf("%d parts: the file was not split", parts)
		}
		if !reflect.DeepEqual(got, whole) {
			t.Errorf("%d parts: the pieces read differently from the whole:\n%s", parts, diff(got, whole))
		}
	}
}

func TestChunkedFallsBack(t *testing.T) {
	// Lines that look like flags at the split point but sit inside a
	// quoted scalar or a flow mapping that spans them.
	var fakes strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&fakes, "  fake-%05d: x,\n", i)
	}
	tests := []struct {
		name        string
		middle      string
		first, last string // before and after the padding
		check       func(defs flagon.Definitions) bool
	}{
		{
			name:   "double-quoted",
			middle: "  quoted:\n    description: \"start\n" + fakes.String() + "    end\"\n",
			check: func(d flagon.Definitions) bool {
				f, _ := d.Flag("quoted")
				return strings.HasPrefix(f.Description, "start fake-00000: x,") && !has(d, "fake-00001")
			},
		},
		{
			name:   "single-quoted",
			middle: "  quoted:\n    description: 'start\n" + fakes.String() + "    end'\n",
			check: func(d flagon.Definitions) bool {
				f, _ := d.Flag("quoted")
				return strings.HasSuffix(f.Description, "x, end") && !has(d, "fake-00001")
			},
		},
		{
			name:   "flow mapping",
			middle: "  flow: {type: object, variants: {v: {a: 1,\n" + fakes.String() + "  z: 2}}}\n",
			check: func(d flagon.Definitions) bool {
				f, _ := d.Flag("flow")
				v, _ := f.Variants[0].Value.(map[string]any)
				return v["fake-00001"] == "x" && !has(d, "fake-00001")
			},
		},
		{
			name:  "alias to an anchor in another piece",
			first: "  anchored: &a {description: shared}\n",
			last:  "  aliased: *a\n",
			check: func(d flagon.Definitions) bool {
				f, _ := d.Flag("aliased")
				return f.Description == "shared"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := padded(20000, tt.middle)
			data = append([]byte(strings.Replace(string(data), "flags:\n", "flags:\n"+tt.first, 1)), tt.last...)
			if root, _ := decodeChunked("f.yaml", data, 2); root != nil {
				t.Error("decodeChunked split a file it should have parsed whole")
			}
			defs, err := Parse("f.yaml", data)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(defs) {
				t.Error("the file was read wrongly")
			}
		})
	}
}

func TestChunkedErrors(t *testing.T) {
	tests := []struct {
		name string
		tail string // appended to a padded file of 20,000 flags
		msg  string
	}{
		{"duplicate across pieces", "  pad-00003: true\n", `duplicate key "pad-00003" (first at line 6)`},
		{"syntax error late", "  bad: [1, 2\n  more: true\n", "did not find expected"},
		{"unknown field late", "  late:\n    ownr: x\n", `did you mean "owner"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := append(padded(20000, ""), tt.tail...)
			line := strings.Count(string(data), "\n") - strings.Count(tt.tail, "\n") + 1
			_, wholeErr, _ := parseWith(data, 0)
			_, err := Parse("f.yaml", data)
			if err == nil || wholeErr == nil {
				t.Fatalf("no error: %v, %v", err, wholeErr)
			}
			if err.Error() != wholeErr.Error() {
				t.Errorf("Parse error %q differs from the whole parse's %q", err, wholeErr)
			}
			fe := firstError(t, err)
			if fe.Line < line || !strings.Contains(fe.Msg, tt.msg) {
				t.Errorf("error %v, want one at line %d or after containing %q", err, line, tt.msg)
			}
		})
	}
}

func TestChunkedCRLF(t *testing.T) {
	data := []byte(strings.ReplaceAll(string(genFile(3000)), "\n", "\r\n"))
	whole, err, _ := parseWith(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err, _ := parseWith(data, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, whole) {
		t.Errorf("CRLF file read differently in pieces:\n%s", diff(got, whole))
	}
}

func has(d flagon.Definitions, key string) bool {
	_, ok := d.Flag(key)
	return ok
}
