package file

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/flagon/flagon"
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

// BenchmarkLoad10k measures what a Source does when the file changes:
// parse a 10,000-flag file and build its snapshot.
func BenchmarkLoad10k(b *testing.B) {
	data := genFile(10000)
	b.SetBytes(int64(len(data)))
	b.ReportMetric(float64(len(data))/10000, "B/flag")
	b.ReportAllocs()
	for b.Loop() {
		s, _, err := load("flags.yaml", data, "production")
		if err != nil {
			b.Fatal(err)
		}
		if s.Len() != 10000 {
			b.Fatalf("%d flags", s.Len())
		}
	}
}

// BenchmarkLoad10kParts splits BenchmarkLoad10k into its stages: the YAML
// package's parse into nodes (which fastDecode does instead, for this
// file), this package's parse and reading of the nodes, and
// flagon.NewSnapshot.
func BenchmarkLoad10kParts(b *testing.B) {
	data := genFile(10000)
	b.Run("yaml", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var n yaml.Node
			if err := yaml.Unmarshal(data, &n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fastyaml", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := fastDecode(data); !ok {
				b.Fatal("fastDecode does not read the file")
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			p := newParser("flags.yaml", data)
			p.parse(data)
			if len(p.errs) > 0 {
				b.Fatal(p.err())
			}
		}
	})
	b.Run("snapshot", func(b *testing.B) {
		p := newParser("flags.yaml", data)
		defs := p.parse(data)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := flagon.NewSnapshot(defs, flagon.SnapshotOptions{Environment: "production"}); err != nil {
				b.Fatal(err)
			}
		}
	})
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
