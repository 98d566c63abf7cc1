package file

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// roundTrip encodes d, parses the result, and reports any difference.
func roundTrip(t *testing.T, d flagon.Definitions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, d); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	got, err := Parse("encoded.yaml", buf.Bytes())
	if err != nil {
		t.Fatalf("Parse(Encode(d)): %v\n%s", err, buf.Bytes())
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("Parse(Encode(d)) differs from d:\n%s\n%s", buf.Bytes(), diff(got, d))
	}
	return buf.Bytes()
}

// diff describes the first difference between got and want.
func diff(got, want flagon.Definitions) string {
	if !reflect.DeepEqual(got.Audiences, want.Audiences) {
		return fmt.Sprintf("audiences:\n got %#v\nwant %#v", got.Audiences, want.Audiences)
	}
	if len(got.Flags) != len(want.Flags) {
		return fmt.Sprintf("got %d flags, want %d", len(got.Flags), len(want.Flags))
	}
	for i := range got.Flags {
		g, w := got.Flags[i], want.Flags[i]
		if reflect.DeepEqual(g, w) {
			continue
		}
		gv, wv := reflect.ValueOf(g), reflect.ValueOf(w)
		for j := range gv.NumField() {
			if !reflect.DeepEqual(gv.Field(j).Interface(), wv.Field(j).Interface()) {
				name := gv.Type().Field(j).Name
				if name == "Environments" {
					return fmt.Sprintf("flag %q environments:\n got %s\nwant %s", g.Key,
						dump(flagon.Definitions{Flags: []flagon.Flag{{Environments: g.Environments}}}),
						dump(flagon.Definitions{Flags: []flagon.Flag{{Environments: w.Environments}}}))
				}
				return fmt.Sprintf("flag %q field %s:\n got %#v\nwant %#v", g.Key, name, gv.Field(j).Interface(), wv.Field(j).Interface())
			}
		}
	}
	return "no difference found"
}

// dump prints d a flag per line, with the values behind pointers.
func dump(d flagon.Definitions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "audiences %#v\n", d.Audiences)
	for _, f := range d.Flags {
		envs := f.Environments
		f.Environments = nil
		fmt.Fprintf(&b, "%#v\n", f)
		for name, e := range envs {
			fmt.Fprintf(&b, "  env %s:", name)
			if e.Default != nil {
				fmt.Fprintf(&b, " default=%q", *e.Default)
			}
			if e.Disabled != nil {
				fmt.Fprintf(&b, " disabled=%v", *e.Disabled)
			}
			if e.Rules != nil {
				fmt.Fprintf(&b, " rules=%#v", *e.Rules)
			}
			if e.Fallthrough != nil {
				fmt.Fprintf(&b, " fallthrough=%#v", *e.Fallthrough)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func TestRoundTripComplete(t *testing.T) {
	data, err := os.ReadFile("testdata/complete.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defs, err := Parse("testdata/complete.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	out := roundTrip(t, defs)
	// Encoding is deterministic.
	var again bytes.Buffer
	if err := Encode(&again, defs); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, again.Bytes()) {
		t.Error("two encodings of the same definitions differ")
	}
}

func TestRoundTripRandom(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	for seed := range uint64(n) {
		r := rand.New(rand.NewPCG(seed, 2))
		d := randomDefinitions(r, 1+r.IntN(6))
		for _, env := range append([]string{""}, envNames...) {
			if _, err := flagon.NewSnapshot(d, flagon.SnapshotOptions{Environment: env}); err != nil {
				t.Fatalf("seed %d: the generator made invalid definitions: %v\n%s", seed, err, dump(d))
			}
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) { roundTrip(t, d) })
	}
}

func TestEncodeShorthands(t *testing.T) {
	d := flagon.Definitions{
		Audiences: []flagon.Audience{{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}}},
		Flags: []flagon.Flag{
			{Key: "simple", Default: "on"},
			{
				Key:         "rolled",
				Rules:       []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}},
				Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 33.333}, {Variant: "off", Percent: 66.667}}},
			},
		},
	}
	got := string(roundTrip(t, d))
	want := `audiences:
  staff: is_staff == true
flags:
  simple: true
  rolled:
    rules:
      - audience: staff
        serve: true
    rollout: 33.333
`
	if got != want {
		t.Errorf("Encode wrote\n%s\nwant\n%s", got, want)
	}
}

func TestEncodeUnsupportedValue(t *testing.T) {
	d := flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Type: flagon.TypeObject, Variants: []flagon.Variant{{Name: "x", Value: map[string]any{"ch": make(chan int)}}}}}}
	var buf bytes.Buffer
	err := Encode(&buf, d)
	if err == nil || !strings.Contains(err.Error(), `flag "a"`) {
		t.Errorf("Encode = %v, want an error naming the flag", err)
	}
}

// The generator of random valid definitions.

var (
	envNames = []string{"production", "staging", "dev.eu"}
	texts    = []string{
		"plain", "true", "False", "1", "-1.5e3", "0x10", "null", "~", "yes", "on", "off", "",
		"# not a comment", "a: b", "- item", "[list]", "{map}", "*alias", "&anchor", "!tag", "%percent", "@at", "`tick`",
		"multi\nline", "trailing newline\n", "\nleading newline", " leading space", "trailing space ", "tab\there",
		"quote\"s", "'single'", "ünïcödé ✓", "2027-03-01", "12:30", "back\\slash", "bell\a", "crlf\r\n", "  \n  ", "---", "...",
		"invalid utf-8 \xff",
	}
	attributes = []string{"is_staff", "country", "key", "email", "plan", "with space", "a,b", "true"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func randKey(r *rand.Rand) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789-_."
	b := make([]byte, 1+r.IntN(12))
	for i := range b {
		b[i] = chars[r.IntN(len(chars))]
	}
	return string(b)
}

func randVariantName(r *rand.Rand) string {
	if r.IntN(4) == 0 {
		return pick(r, []string{"true", "false", "on", "off", "1", "null", "Yes", "x.y", "A-B"})
	}
	return randKey(r)
}

func randText(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return randKey(r)
	}
	return pick(r, texts)
}

func randFloat(r *rand.Rand) float64 {
	switch r.IntN(5) {
	case 0:
		return float64(r.IntN(100))
	case 1:
		return r.Float64()
	case 2:
		return -r.Float64() * 1e6
	case 3:
		return math.Ldexp(r.Float64(), r.IntN(2000)-1000)
	}
	return pick(r, []float64{0, 0.1, 1e21, 1e-7, math.MaxFloat64, math.SmallestNonzeroFloat64})
}

func randInt(r *rand.Rand) int64 {
	switch r.IntN(3) {
	case 0:
		return int64(r.IntN(100))
	case 1:
		return r.Int64() - math.MaxInt64/2
	}
	return pick(r, []int64{0, -1, math.MaxInt64, math.MinInt64})
}

func randObject(r *rand.Rand, depth int) map[string]any {
	m := map[string]any{}
	for range r.IntN(4) {
		m[randText(r)] = randAny(r, depth+1)
	}
	return m
}

func randAny(r *rand.Rand, depth int) any {
	k := r.IntN(7)
	if depth > 2 {
		k = r.IntN(5)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return randText(r)
	case 3:
		return randInt(r)
	case 4:
		return randFloat(r)
	case 5:
		l := make([]any, r.IntN(3))
		for i := range l {
			l[i] = randAny(r, depth+1)
		}
		return l
	}
	return randObject(r, depth)
}

// randClause returns a clause that compiles.
func randClause(r *rand.Rand) flagon.Clause {
	c := flagon.Clause{Attribute: pick(r, attributes)}
	n := 1 + r.IntN(3)
	switch r.IntN(8) {
	case 0:
		c.Op = pick(r, []flagon.Operator{flagon.OpEquals, flagon.OpNotEquals, flagon.OpIn, flagon.OpNotIn, "=="})
		for range n {
			switch r.IntN(4) {
			case 0:
				c.Values = append(c.Values, randText(r))
			case 1:
				c.Values = append(c.Values, randInt(r))
			case 2:
				c.Values = append(c.Values, randFloat(r))
			default:
				c.Values = append(c.Values, r.IntN(2) == 0)
			}
		}
	case 1:
		c.Op = pick(r, []flagon.Operator{flagon.OpContains, flagon.OpStartsWith, flagon.OpEndsWith})
		for range n {
			c.Values = append(c.Values, randText(r))
		}
	case 2:
		c.Op = flagon.OpMatches
		c.Values = []any{pick(r, []string{"^a.*z$", `\d+`, "x|y", "[,]"})}
	case 3:
		c.Op = pick(r, []flagon.Operator{flagon.OpLT, flagon.OpLTE, flagon.OpGT, flagon.OpGTE})
		for range n {
			if r.IntN(2) == 0 {
				c.Values = append(c.Values, randInt(r))
			} else {
				c.Values = append(c.Values, randFloat(r))
			}
		}
	case 4:
		c.Op = pick(r, []flagon.Operator{flagon.OpSemverEq, flagon.OpSemverLT, flagon.OpSemverGTE})
		c.Values = []any{pick(r, []string{"1.2.3", "v2.0.0-rc.1", "1.2"})}
	case 5:
		c.Op = pick(r, []flagon.Operator{flagon.OpBefore, flagon.OpAfter})
		c.Values = []any{pick[any](r, []any{"2026-01-01", "2026-01-01T10:00:00Z", int64(1700000000), 1.7e9})}
	case 6:
		c.Op = flagon.OpExists
	default:
		c.Op = flagon.OpEquals
		c.Values = []any{pick[any](r, []any{"NL", true, int64(3), 2.5})}
	}
	return c
}

// randSplit returns shares of the named variants that add up to 100.
func randSplit(r *rand.Rand, names []string) []flagon.Split {
	n := 1 + r.IntN(len(names))
	split := make([]flagon.Split, n)
	left := flagon.Buckets
	for i := range split {
		w := left
		if i < n-1 {
			w = r.IntN(left + 1)
		}
		left -= w
		split[i] = flagon.Split{Variant: pick(r, names), Percent: float64(w) / 1000}
	}
	return split
}

func randServe(r *rand.Rand, f *flagon.Flag, names []string, optional bool) flagon.Serve {
	var s flagon.Serve
	switch k := r.IntN(4); {
	case k == 0 && optional:
	case k <= 1:
		s.Variant = pick(r, names)
	case k == 2 && isBool(f):
		on, _ := boolVariant(f, true)
		off, _ := boolVariant(f, false)
		w := r.IntN(flagon.Buckets + 1)
		s.Split = []flagon.Split{{Variant: on, Percent: float64(w) / 1000}, {Variant: off, Percent: float64(flagon.Buckets-w) / 1000}}
	default:
		s.Split = randSplit(r, names)
	}
	if len(s.Split) > 0 && r.IntN(2) == 0 {
		s.By = pick(r, attributes)
	}
	return s
}

func randRules(r *rand.Rand, f *flagon.Flag, names, auds []string) []flagon.Rule {
	var rules []flagon.Rule
	for range r.IntN(4) {
		var rule flagon.Rule
		if r.IntN(3) == 0 {
			rule.ID = randKey(r)
		}
		if r.IntN(4) == 0 {
			rule.Description = randText(r)
		}
		if len(auds) > 0 && r.IntN(2) == 0 {
			for range 1 + r.IntN(2) {
				rule.Audiences = append(rule.Audiences, pick(r, auds))
			}
		}
		if len(rule.Audiences) == 0 || r.IntN(2) == 0 {
			for range 1 + r.IntN(3) {
				rule.Clauses = append(rule.Clauses, randClause(r))
			}
		}
		rule.Serve = randServe(r, f, names, false)
		rules = append(rules, rule)
	}
	return rules
}

func randomDefinitions(r *rand.Rand, nflags int) flagon.Definitions {
	var d flagon.Definitions
	var auds []string
	for range r.IntN(4) {
		a := flagon.Audience{Name: randKey(r)}
		if containsName(auds, a.Name) {
			continue
		}
		if r.IntN(2) == 0 {
			a.Description = randText(r)
		}
		for range 1 + r.IntN(3) {
			a.Clauses = append(a.Clauses, randClause(r))
		}
		auds = append(auds, a.Name)
		d.Audiences = append(d.Audiences, a)
	}
	seen := map[string]bool{}
	for range nflags {
		f := flagon.Flag{Key: randKey(r)}
		if seen[f.Key] {
			continue
		}
		seen[f.Key] = true
		if r.IntN(6) == 0 {
			f.Default = pick(r, []string{"", "on", "off"})
			d.Flags = append(d.Flags, f) // maybe a simple switch
			continue
		}
		types := []flagon.Type{"", flagon.TypeBool, flagon.TypeString, flagon.TypeInt, flagon.TypeFloat, flagon.TypeObject}
		f.Type = pick(r, types)
		var names []string
		if isBool(&f) && r.IntN(2) == 0 {
			names = []string{"on", "off"}
		} else {
			used := map[string]bool{}
			for i := range 2 + r.IntN(3) {
				name := randVariantName(r)
				if used[name] {
					continue
				}
				used[name] = true
				var v any
				switch f.Type {
				case "", flagon.TypeBool:
					v = i%2 == 0
				case flagon.TypeString:
					v = randText(r)
				case flagon.TypeInt:
					v = randInt(r)
				case flagon.TypeFloat:
					v = randFloat(r)
				case flagon.TypeObject:
					v = randObject(r, 0)
				}
				f.Variants = append(f.Variants, flagon.Variant{Name: name, Value: v})
				names = append(names, name)
			}
			if isBool(&f) {
				if _, ok := boolVariant(&f, false); !ok {
					f.Variants = append(f.Variants, flagon.Variant{Name: "no", Value: false})
					names = append(names, "no")
				}
			}
		}
		if r.IntN(2) == 0 {
			f.Default = pick(r, names)
		}
		if r.IntN(2) == 0 {
			f.Description = randText(r)
		}
		if r.IntN(3) == 0 {
			f.Owner = randText(r)
		}
		for range r.IntN(3) {
			f.Tags = append(f.Tags, randText(r))
		}
		switch r.IntN(3) {
		case 0:
			f.Expires = time.Date(2020+r.IntN(10), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
		case 1:
			f.Expires = time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()
		}
		f.Disabled = r.IntN(5) == 0
		f.Rules = randRules(r, &f, names, auds)
		f.Fallthrough = randServe(r, &f, names, true)
		if r.IntN(3) == 0 {
			f.Salt = randText(r)
		}
		if r.IntN(3) == 0 {
			f.Override.Who = pick(r, []flagon.Who{"", flagon.WhoNone, flagon.WhoStaff, flagon.WhoAnyone})
			if len(auds) > 0 && r.IntN(2) == 0 {
				f.Override.Audience = pick(r, auds)
			}
			for range r.IntN(3) {
				f.Override.Variants = append(f.Override.Variants, pick(r, names))
			}
			f.Override.MaxDuration = pick(r, []time.Duration{0, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 90 * time.Minute, 1500 * time.Millisecond, time.Microsecond})
		}
		if r.IntN(3) == 0 {
			f.Metadata = map[string]string{}
			for range 1 + r.IntN(3) {
				f.Metadata[randText(r)] = randText(r)
			}
		}
		for _, env := range envNames {
			if r.IntN(3) != 0 {
				continue
			}
			var es flagon.EnvSettings
			if r.IntN(2) == 0 {
				es.Default = ptr(pick(r, names))
			}
			if r.IntN(2) == 0 {
				es.Disabled = ptr(r.IntN(2) == 0)
			}
			if r.IntN(3) == 0 {
				rules := randRules(r, &f, names, auds)
				if rules == nil {
					rules = []flagon.Rule{}
				}
				es.Rules = &rules
			}
			if r.IntN(3) == 0 {
				es.Fallthrough = ptr(randServe(r, &f, names, true))
			}
			if f.Environments == nil {
				f.Environments = map[string]flagon.EnvSettings{}
			}
			f.Environments[env] = es
		}
		d.Flags = append(d.Flags, f)
	}
	return d
}

func containsName(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// TestEncodeQuotedClauses checks that clauses whose string values would
// read as something else (a boolean, a number, two values) are written in
// the shorthand with quotes, as valid YAML that parses back the same.
func TestEncodeQuotedClauses(t *testing.T) {
	clauses := []flagon.Clause{
		{Attribute: "name", Op: flagon.OpIn, Values: []any{"a, b", "c"}},
		{Attribute: "answer", Op: flagon.OpEquals, Values: []any{"true"}},
		{Attribute: "code", Op: flagon.OpEquals, Values: []any{"007"}},
		{Attribute: "score", Op: flagon.OpGTE, Values: []any{1.0}},
		{Attribute: "note", Op: flagon.OpEquals, Values: []any{`say "hi": ok #1`}},
		{Attribute: "pad", Op: flagon.OpEquals, Values: []any{" x "}},
	}
	var d flagon.Definitions
	for i, c := range clauses {
		d.Audiences = append(d.Audiences, flagon.Audience{Name: fmt.Sprintf("a%d", i), Clauses: []flagon.Clause{c}})
	}
	d.Flags = []flagon.Flag{{Key: "f", Default: "on", Rules: []flagon.Rule{{Clauses: clauses, Serve: flagon.Serve{Variant: "off"}}}}}
	got := string(roundTrip(t, d))
	for _, c := range clauses {
		if !strings.Contains(got, strings.Trim(strconv.Quote(c.String()), `"`)) && !strings.Contains(got, c.String()) {
			t.Errorf("encoded file lacks the shorthand %s:\n%s", c, got)
		}
	}
}
