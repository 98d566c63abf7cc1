package file

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// genFile returns a config file of n flags shaped like a real one: every
// flag has a description and an owner, most are bool switches, a third
// have a rule on a shared audience or on attributes, half roll out to a
// percentage, some are multivariate, and a fifth differ per environment.
func genFile(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString("audiences:\n")
	b.WriteString("  staff: is_staff == true\n")
	b.WriteString("  beta:\n    description: Beta testers\n    when:\n      - email ends_with @example.com\n      - country in NL, BE, DE\n")
	for i := range 18 {
		fmt.Fprintf(&b, "  segment-%02d: plan in pro, team-%d\n", i, i)
	}
	b.WriteString("\nflags:\n")
	for i := range n {
		fmt.Fprintf(&b, "  team%02d.feature-%05d:\n", i%40, i)
		fmt.Fprintf(&b, "    description: Expose feature %d of the %s page\n", i, []string{"home", "search", "checkout", "account"}[i%4])
		fmt.Fprintf(&b, "    owner: team-%02d\n", i%40)
		if i%3 == 0 {
			b.WriteString("    tags: [web, experiment]\n")
		}
		if i%4 == 0 {
			fmt.Fprintf(&b, "    expires: 2027-%02d-01\n", 1+i%12)
		}
		switch kind := i % 10; {
		case kind < 7: // a bool flag
			switch i % 6 {
			case 0, 1:
				fmt.Fprintf(&b, "    rules:\n      - audience: %s\n        serve: true\n", []string{"staff", "beta", "segment-03"}[i%3])
			case 2:
				b.WriteString("    rules:\n      - when: country in NL, BE\n        serve: true\n")
			}
			if i%2 == 0 {
				fmt.Fprintf(&b, "    rollout: %d\n", r.IntN(101))
			}
		case kind < 9: // a string flag with three variants
			b.WriteString("    type: string\n    variants: {control: control, blue: blue-v2, green: green-v3}\n    default: control\n")
			b.WriteString("    rules:\n      - audience: staff\n        serve: green\n")
			w := r.IntN(50)
			fmt.Fprintf(&b, "    fallthrough: {rollout: {control: %d, blue: %d, green: %d}, by: company_id}\n", 100-2*w, w, w)
		default: // an int flag
			b.WriteString("    type: int\n    variants: {low: 10, high: 100}\n    default: low\n")
			b.WriteString("    rules:\n      - when: [\"plan == pro\", \"app_version semver_gte 2.4.0\"]\n        serve: high\n")
		}
	}
	b.WriteString("\nenvironments:\n  production:\n")
	for i := 0; i < n; i += 10 {
		fmt.Fprintf(&b, "    team%02d.feature-%05d: {enabled: false}\n", i%40, i)
	}
	b.WriteString("  staging:\n")
	for i := 1; i < n; i += 10 {
		fmt.Fprintf(&b, "    team%02d.feature-%05d: {rollout: 50}\n", i%40, i)
	}
	return b.Bytes()
}

// genJSON returns the file genFile(n) returns, written as indented JSON
// with its keys in the same order.
func genJSON(n int) []byte {
	var doc yaml.Node
	if err := yaml.Unmarshal(genFile(n), &doc); err != nil {
		panic(err)
	}
	var b bytes.Buffer
	writeJSON(&b, doc.Content[0])
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		panic(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// writeJSON writes the YAML node n as compact JSON.
func writeJSON(b *bytes.Buffer, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			b.Write(k)
			b.WriteByte(':')
			writeJSON(b, n.Content[i+1])
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, c)
		}
		b.WriteByte(']')
	default:
		switch n.Tag {
		case "!!int", "!!float", "!!bool", "!!null":
			b.WriteString(n.Value)
		default:
			v, _ := json.Marshal(n.Value)
			b.Write(v)
		}
	}
}

// writeBench writes data to a file named name in a temporary directory
// and returns its path.
func writeBench(b *testing.B, name string, data []byte) string {
	path := filepath.Join(b.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// loadSource is what a program does at start: New reads the file and
// publishes its snapshot, ready for a client.
func loadSource(b *testing.B, path string, flags int) {
	src, err := New(path, &Options{Environment: "production", NoWatch: true, Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	if n := src.Snapshot().Len(); n != flags {
		b.Fatalf("%d flags, want %d", n, flags)
	}
}

var discard = slog.New(slog.DiscardHandler)

// ratio runs a benchmark of a load against its floor, both given as one
// operation, as the sub-benchmarks floor and flagon of b. Flagon reports
// its time over the floor's, with the floor run again between its own
// operations (timer stopped), so that both meet the same load from other
// programs on a shared machine: x-floor from the total times, and
// min-x-floor from the fastest single operation of each.
func ratio(b *testing.B, size int, floorOp, flagonOp func(b *testing.B)) {
	b.Run("floor", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			floorOp(b)
		}
	})
	b.Run("flagon", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		var own, floor time.Duration
		minOwn, minFloor := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
		for b.Loop() {
			t0 := time.Now()
			flagonOp(b)
			d := time.Since(t0)
			own, minOwn = own+d, min(minOwn, d)
			b.StopTimer()
			t0 = time.Now()
			floorOp(b)
			d = time.Since(t0)
			floor, minFloor = floor+d, min(minFloor, d)
			b.StartTimer()
		}
		b.ReportMetric(float64(own)/float64(floor), "x-floor")
		b.ReportMetric(float64(minOwn)/float64(minFloor), "min-x-floor")
	})
}

// BenchmarkLoad1000JSON measures loading a 1,000-flag JSON file into a
// ready snapshot (flagon) against the floor of reading the file and
// decoding it with encoding/json into map[string]any, in the same run.
func BenchmarkLoad1000JSON(b *testing.B) {
	data := genJSON(1000)
	path := writeBench(b, "flags.json", data)
	ratio(b, len(data), func(b *testing.B) {
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			b.Fatal(err)
		}
	}, func(b *testing.B) {
		loadSource(b, path, 1000)
	})
}

// BenchmarkLoadYAML measures loading YAML files of 1,000 and 10,000 flags
// into a ready snapshot (flagon), against the floor of reading the file
// and parsing it with yaml.v3 into its node tree (the first step of a
// load; decoding into map[string]any takes longer), in the same run.
func BenchmarkLoadYAML(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		data := genFile(n)
		path := writeBench(b, "flags.yaml", data)
		b.Run(fmt.Sprintf("flags=%d", n), func(b *testing.B) {
			ratio(b, len(data), func(b *testing.B) {
				raw, err := os.ReadFile(path)
				if err != nil {
					b.Fatal(err)
				}
				var v yaml.Node
				if err := yaml.Unmarshal(raw, &v); err != nil {
					b.Fatal(err)
				}
			}, func(b *testing.B) {
				loadSource(b, path, n)
			})
		})
	}
}

func TestGeneratedFileIsValid(t *testing.T) {
	data := genFile(1000)
	defs, err := Parse("gen.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(defs.Flags) != 1000 {
		t.Errorf("%d flags, want 1000", len(defs.Flags))
	}
	roundTrip(t, defs)
}

func TestGeneratedJSONIsValid(t *testing.T) {
	data := genJSON(1000)
	defs, err := Parse("gen.json", data)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Parse("gen.yaml", genFile(1000))
	if err != nil {
		t.Fatal(err)
	}
	if len(defs.Flags) != 1000 {
		t.Errorf("%d flags, want 1000", len(defs.Flags))
	}
	if !reflect.DeepEqual(defs, want) {
		t.Error("the JSON file reads differently from the YAML file it was made from")
	}
}
