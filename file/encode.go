package file

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flagon/flagon"
	"go.yaml.in/yaml/v3"
)

// Encode writes d to w as a YAML config file. [Parse] reads back exactly
// what Encode wrote, in canonical form: values in the Go types Parse
// produces (int64, float64, string, bool, map[string]any, []any), times
// in UTC, and empty lists and maps as nil. Environments are written in
// name order; everything else keeps the order of d.
//
// Encode writes the shortest form that reads back the same: a clause as
// "attribute op value" where that parses back unchanged, a bool flag's
// variant as true or false, and a bool flag's 25% rollout as rollout: 25.
func Encode(w io.Writer, d flagon.Definitions) error {
	root := mapping(false)
	if len(d.Audiences) > 0 {
		auds := mapping(false)
		for _, a := range d.Audiences {
			n, err := audienceNode(a)
			if err != nil {
				return err
			}
			add(auds, a.Name, n)
		}
		add(root, "audiences", auds)
	}
	flags := mapping(false)
	envs := map[string]bool{}
	for i := range d.Flags {
		f := &d.Flags[i]
		n, err := flagNode(f)
		if err != nil {
			return fmt.Errorf("file: encode flag %q: %w", f.Key, err)
		}
		add(flags, f.Key, n)
		for env := range f.Environments {
			envs[env] = true
		}
	}
	add(root, "flags", flags)
	if len(envs) > 0 {
		names := make([]string, 0, len(envs))
		for env := range envs {
			names = append(names, env)
		}
		slices.Sort(names)
		en := mapping(false)
		for _, env := range names {
			m := mapping(false)
			for i := range d.Flags {
				f := &d.Flags[i]
				if es, ok := f.Environments[env]; ok {
					n, err := envNode(f, es)
					if err != nil {
						return fmt.Errorf("file: encode flag %q in environment %q: %w", f.Key, env, err)
					}
					add(m, f.Key, n)
				}
			}
			add(en, env, m)
		}
		add(root, "environments", en)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("file: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("file: encode: %w", err)
	}
	return nil
}

func mapping(flow bool) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if flow {
		n.Style = yaml.FlowStyle
	}
	return n
}

func sequence(flow bool) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	if flow {
		n.Style = yaml.FlowStyle
	}
	return n
}

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, str(key), v)
}

func str(s string) *yaml.Node {
	if !utf8.ValidString(s) {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!binary", Value: base64.StdEncoding.EncodeToString([]byte(s))}
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}

func scalar(tag, v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}
}

func boolNode(b bool) *yaml.Node { return scalar("!!bool", strconv.FormatBool(b)) }

// number writes f as briefly as it reads back: 25 for 25.0.
func number(f float64) *yaml.Node {
	switch {
	case math.IsNaN(f):
		return scalar("!!float", ".nan")
	case math.IsInf(f, 1):
		return scalar("!!float", ".inf")
	case math.IsInf(f, -1):
		return scalar("!!float", "-.inf")
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if strings.ContainsAny(s, ".e") {
		return scalar("!!float", s)
	}
	return scalar("!!int", s)
}

// float writes f so that it reads back as a float: 25.0, not 25.
func float(f float64) *yaml.Node {
	n := number(f)
	if n.Tag == "!!int" {
		n.Tag, n.Value = "!!float", n.Value+".0"
	}
	return n
}

// value writes a Go value of a variant or an object.
func value(v any) (*yaml.Node, error) {
	switch x := v.(type) {
	case nil:
		return scalar("!!null", "null"), nil
	case bool:
		return boolNode(x), nil
	case string:
		return str(x), nil
	case int:
		return scalar("!!int", strconv.Itoa(x)), nil
	case int8, int16, int32, int64:
		return scalar("!!int", strconv.FormatInt(reflect.ValueOf(x).Int(), 10)), nil
	case uint, uint8, uint16, uint32, uint64:
		u := reflect.ValueOf(x).Uint()
		if u > math.MaxInt64 {
			return nil, fmt.Errorf("%d does not fit in 64 bits", u)
		}
		return scalar("!!int", strconv.FormatUint(u, 10)), nil
	case float32:
		return float(float64(x)), nil
	case float64:
		return float(x), nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return scalar("!!int", strconv.FormatInt(i, 10)), nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("bad number %q", x)
		}
		return float(f), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		m := mapping(false)
		for _, k := range keys {
			n, err := value(x[k])
			if err != nil {
				return nil, err
			}
			add(m, k, n)
		}
		return m, nil
	case []any:
		s := sequence(false)
		for _, e := range x {
			n, err := value(e)
			if err != nil {
				return nil, err
			}
			s.Content = append(s.Content, n)
		}
		return s, nil
	case []string:
		s := sequence(false)
		for _, e := range x {
			s.Content = append(s.Content, str(e))
		}
		return s, nil
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = v
		}
		return value(m)
	}
	return nil, fmt.Errorf("cannot write a value of type %T", v)
}

// variantValue returns the value of the named variant of f.
func variantValue(f *flagon.Flag, name string) (any, bool) {
	if isBool(f) && len(f.Variants) == 0 {
		switch name {
		case "on":
			return true, true
		case "off":
			return false, true
		}
		return nil, false
	}
	for _, v := range f.Variants {
		if v.Name == name {
			return v.Value, true
		}
	}
	return nil, false
}

// ref writes a reference to a variant: true or false where that names it
// in a bool flag, else its name.
func ref(f *flagon.Flag, name string) *yaml.Node {
	if isBool(f) {
		if v, ok := variantValue(f, name); ok {
			if b, ok := v.(bool); ok {
				if n, _ := boolVariant(f, b); n == name {
					return boolNode(b)
				}
			}
		}
	}
	return str(name)
}

func flagNode(f *flagon.Flag) (*yaml.Node, error) {
	rest := *f
	rest.Key, rest.Default, rest.Environments = "", "", nil
	if f.Type == "" && (f.Default == "on" || f.Default == "off") && reflect.ValueOf(rest).IsZero() {
		return boolNode(f.Default == "on"), nil // a simple switch
	}
	m := mapping(false)
	if f.Description != "" {
		add(m, "description", str(f.Description))
	}
	if f.Owner != "" {
		add(m, "owner", str(f.Owner))
	}
	if len(f.Tags) > 0 {
		s := sequence(true)
		for _, t := range f.Tags {
			s.Content = append(s.Content, str(t))
		}
		add(m, "tags", s)
	}
	if !f.Expires.IsZero() {
		add(m, "expires", timeNode(f.Expires))
	}
	if f.Type != "" {
		add(m, "type", str(string(f.Type)))
	}
	if len(f.Variants) > 0 {
		vs := mapping(false)
		for _, v := range f.Variants {
			var n *yaml.Node
			var err error
			switch x := v.Value.(type) {
			case float64:
				if f.Type == flagon.TypeFloat {
					n = number(x) // a float flag reads 2 as 2.0
					break
				}
				n, err = value(x)
			default:
				n, err = value(x)
			}
			if err != nil {
				return nil, fmt.Errorf("variant %q: %w", v.Name, err)
			}
			add(vs, v.Name, n)
		}
		add(m, "variants", vs)
	}
	if f.Default != "" {
		add(m, "default", ref(f, f.Default))
	}
	if f.Disabled {
		add(m, "enabled", boolNode(false))
	}
	if len(f.Rules) > 0 {
		n, err := rulesNode(f, f.Rules)
		if err != nil {
			return nil, err
		}
		add(m, "rules", n)
	}
	if !f.Fallthrough.IsZero() {
		key, n := fallNode(f, f.Fallthrough)
		add(m, key, n)
	}
	if o := f.Override; o.Who != "" || o.Audience != "" || len(o.Variants) > 0 || o.MaxDuration != 0 {
		om := mapping(true)
		if o.Who != "" {
			add(om, "who", str(string(o.Who)))
		}
		if o.Audience != "" {
			add(om, "audience", str(o.Audience))
		}
		if len(o.Variants) > 0 {
			s := sequence(true)
			for _, v := range o.Variants {
				s.Content = append(s.Content, str(v))
			}
			add(om, "variants", s)
		}
		if o.MaxDuration != 0 {
			add(om, "max_duration", str(formatDuration(o.MaxDuration)))
		}
		add(m, "override", om)
	}
	if f.Salt != "" {
		add(m, "salt", str(f.Salt))
	}
	if len(f.Metadata) > 0 {
		keys := make([]string, 0, len(f.Metadata))
		for k := range f.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		mm := mapping(false)
		for _, k := range keys {
			add(mm, k, str(f.Metadata[k]))
		}
		add(m, "metadata", mm)
	}
	return m, nil
}

func timeNode(t time.Time) *yaml.Node {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return scalar("!!timestamp", t.Format(time.DateOnly))
	}
	return scalar("!!timestamp", t.Format(time.RFC3339Nano))
}

// formatDuration writes d as parseDuration reads it, briefly: 7d, 24h,
// 1h30m.
func formatDuration(d time.Duration) string {
	day := 24 * time.Hour
	if d%day == 0 && (d >= 2*day || d <= -2*day) {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// fallNode writes a fallthrough: rollout: N for a bool flag's plain
// split, else fallthrough: <serve>.
func fallNode(f *flagon.Flag, s flagon.Serve) (string, *yaml.Node) {
	if s.Variant == "" && s.By == "" {
		if pct, ok := boolShorthand(f, s.Split); ok {
			return "rollout", number(pct)
		}
	}
	return "fallthrough", serveNode(f, s)
}

// boolShorthand reports whether split is what the bool shorthand
// "rollout: pct" reads as.
func boolShorthand(f *flagon.Flag, split []flagon.Split) (float64, bool) {
	if !isBool(f) || len(split) != 2 {
		return 0, false
	}
	on, ok1 := boolVariant(f, true)
	off, ok2 := boolVariant(f, false)
	pct := split[0].Percent
	if !ok1 || !ok2 || split[0].Variant != on || split[1].Variant != off || !(pct >= 0 && pct <= 100) {
		return 0, false
	}
	return pct, split[1].Percent == complement(pct)
}

func serveNode(f *flagon.Flag, s flagon.Serve) *yaml.Node {
	if len(s.Split) == 0 && s.By == "" && s.Variant != "" {
		return ref(f, s.Variant)
	}
	m := mapping(true)
	if s.Variant != "" {
		add(m, "variant", ref(f, s.Variant))
	}
	if len(s.Split) > 0 {
		if pct, ok := boolShorthand(f, s.Split); ok {
			add(m, "rollout", number(pct))
		} else {
			add(m, "rollout", splitNode(s.Split))
		}
	}
	if s.By != "" {
		add(m, "by", str(s.By))
	}
	return m
}

// splitNode writes {variant: percent, …}, or a list of {variant, percent}
// when a variant appears twice.
func splitNode(split []flagon.Split) *yaml.Node {
	unique := true
	for i := range split {
		for j := range i {
			if split[i].Variant == split[j].Variant {
				unique = false
			}
		}
	}
	if unique {
		m := mapping(true)
		for _, sp := range split {
			add(m, sp.Variant, number(sp.Percent))
		}
		return m
	}
	s := sequence(true)
	for _, sp := range split {
		m := mapping(true)
		add(m, "variant", str(sp.Variant))
		add(m, "percent", number(sp.Percent))
		s.Content = append(s.Content, m)
	}
	return s
}

func rulesNode(f *flagon.Flag, rules []flagon.Rule) (*yaml.Node, error) {
	s := sequence(false)
	for _, r := range rules {
		m := mapping(false)
		if r.ID != "" {
			add(m, "id", str(r.ID))
		}
		if r.Description != "" {
			add(m, "description", str(r.Description))
		}
		switch len(r.Audiences) {
		case 0:
		case 1:
			add(m, "audience", str(r.Audiences[0]))
		default:
			as := sequence(true)
			for _, a := range r.Audiences {
				as.Content = append(as.Content, str(a))
			}
			add(m, "audiences", as)
		}
		if len(r.Clauses) > 0 {
			n, err := clausesNode(r.Clauses)
			if err != nil {
				return nil, err
			}
			add(m, "when", n)
		}
		if !r.Serve.IsZero() {
			add(m, "serve", serveNode(f, r.Serve))
		}
		s.Content = append(s.Content, m)
	}
	return s, nil
}

// clausesNode writes one clause in its shorthand as is, else a list.
func clausesNode(cs []flagon.Clause) (*yaml.Node, error) {
	if len(cs) == 1 {
		if s, ok := shortClause(cs[0]); ok {
			return str(s), nil
		}
	}
	s := sequence(false)
	for _, c := range cs {
		n, err := clauseNode(c)
		if err != nil {
			return nil, err
		}
		s.Content = append(s.Content, n)
	}
	return s, nil
}

// shortClause returns c in its shorthand (Clause.String), if ParseClause
// reads that back as c: values of other types (times, ints) take the long
// form.
func shortClause(c flagon.Clause) (string, bool) {
	s := c.String()
	if !utf8.ValidString(s) {
		return "", false
	}
	back, err := flagon.ParseClause(s)
	if err != nil || !reflect.DeepEqual(back, c) {
		return "", false
	}
	return s, true
}

func clauseNode(c flagon.Clause) (*yaml.Node, error) {
	if s, ok := shortClause(c); ok {
		return str(s), nil
	}
	m := mapping(true)
	add(m, "attribute", str(c.Attribute))
	add(m, "op", str(string(c.Op)))
	if len(c.Values) > 0 {
		vs := sequence(true)
		for _, v := range c.Values {
			var n *yaml.Node
			switch x := v.(type) {
			case time.Time:
				n = str(x.Format(time.RFC3339Nano))
			case string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, json.Number:
				var err error
				if n, err = value(x); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("clause %s: cannot write a value of type %T", c.Attribute, v)
			}
			vs.Content = append(vs.Content, n)
		}
		add(m, "values", vs)
	}
	return m, nil
}

func audienceNode(a flagon.Audience) (*yaml.Node, error) {
	if a.Description == "" && len(a.Clauses) == 1 {
		if s, ok := shortClause(a.Clauses[0]); ok {
			return str(s), nil
		}
	}
	s := sequence(false)
	for _, c := range a.Clauses {
		n, err := clauseNode(c)
		if err != nil {
			return nil, fmt.Errorf("file: encode audience %q: %w", a.Name, err)
		}
		s.Content = append(s.Content, n)
	}
	if a.Description == "" {
		return s, nil
	}
	m := mapping(false)
	add(m, "description", str(a.Description))
	if len(a.Clauses) > 0 {
		add(m, "when", s)
	}
	return m, nil
}

func envNode(f *flagon.Flag, es flagon.EnvSettings) (*yaml.Node, error) {
	m := mapping(false)
	if es.Default != nil {
		add(m, "default", ref(f, *es.Default))
	}
	if es.Disabled != nil {
		add(m, "enabled", boolNode(!*es.Disabled))
	}
	if es.Rules != nil {
		n, err := rulesNode(f, *es.Rules)
		if err != nil {
			return nil, err
		}
		add(m, "rules", n)
	}
	if es.Fallthrough != nil {
		if es.Fallthrough.IsZero() {
			add(m, "fallthrough", mapping(true))
		} else {
			key, n := fallNode(f, *es.Fallthrough)
			add(m, key, n)
		}
	}
	return m, nil
}
