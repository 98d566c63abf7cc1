package file

// This file reads flags: their fields, variants, rules, splits, override
// policies and per-environment settings.

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flagon/flagon"
	"go.yaml.in/yaml/v3"
)

func (p *parser) flags(n *yaml.Node) []flagon.Flag {
	at := (*path)(nil).key("flags")
	kv, ok := p.mapping(n, owner{}, at)
	if !ok {
		if !isNull(p.deref(n)) {
			p.errorf(n, owner{}, at, "want a mapping of flag keys to flags, not %s", describe(n))
		}
		return nil
	}
	if len(kv) == 0 {
		return nil
	}
	// The flags are independent: a large file's are read in parallel.
	parts := min(runtime.GOMAXPROCS(0), len(kv)/2/minParallelFlags)
	if parts < 2 {
		return p.flagRange(kv)
	}
	subs := make([]*parser, parts)
	outs := make([][]flagon.Flag, parts)
	var wg sync.WaitGroup
	for i := range subs {
		lo, hi := len(kv)/2*i/parts*2, len(kv)/2*(i+1)/parts*2
		subs[i] = &parser{file: p.file, budget: p.budget / parts}
		wg.Go(func() { outs[i] = subs[i].flagRange(kv[lo:hi]) })
	}
	wg.Wait()
	out := make([]flagon.Flag, 0, len(kv)/2)
	p.flagSrc = make([]source, 0, len(kv)/2)
	for i, sub := range subs {
		out = append(out, outs[i]...)
		p.adopt(sub)
	}
	return out
}

// adopt takes the flag sources and problems of sub, which read some of
// the flags.
func (p *parser) adopt(sub *parser) {
	p.flagSrc = append(p.flagSrc, sub.flagSrc...)
	for _, e := range sub.errs {
		if e.Msg != tooMany {
			p.add(e)
		}
	}
	if len(sub.errs) > maxErrors && p.errs[len(p.errs)-1].Msg != tooMany {
		p.errs = append(p.errs, &flagon.FieldError{File: p.file, Msg: tooMany})
	}
}

// minParallelFlags is the fewest flags worth reading on a goroutine of
// their own.
const minParallelFlags = 1000

// flagRange reads the flags of the alternating keys and values kv.
func (p *parser) flagRange(kv []*yaml.Node) []flagon.Flag {
	out := make([]flagon.Flag, 0, len(kv)/2)
	p.flagSrc = make([]source, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], p.deref(kv[i+1])
		f := flagon.Flag{Key: k.Value}
		o := owner{flag: k.Value}
		switch {
		case v.Kind == yaml.MappingNode:
			p.flag(&f, v, o)
		case isNull(v):
		case v.Kind == yaml.ScalarNode && v.Tag == "!!bool":
			b, _ := p.boolean(v, o, nil)
			f.Default, _ = boolVariant(&f, b)
		default:
			p.errorf(v, o, nil, "want a mapping of the flag's fields (or true or false, for a simple switch), not %s", describe(v))
		}
		out = append(out, f)
		p.flagSrc = append(p.flagSrc, source{k, v})
	}
	return out
}

// flag reads the fields of a flag into f.
func (p *parser) flag(f *flagon.Flag, n *yaml.Node, o owner) {
	kv, _ := p.mapping(n, o, nil)
	var variants, deflt, rules, fall, rollout, override *yaml.Node
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		if isNull(p.deref(v)) {
			if !slices.Contains(flagFields, k.Value) {
				p.unknownField(k, o, nil, flagFields)
			}
			continue
		}
		at := (*path)(nil).key(k.Value)
		switch k.Value {
		case "description":
			f.Description, _ = p.text(v, o, at)
		case "owner":
			f.Owner, _ = p.text(v, o, at)
		case "tags":
			items, ok := p.list(v, true)
			if !ok {
				p.errorf(v, o, at, "want a list of tags, not %s", describe(v))
				break
			}
			if len(items) > 0 {
				f.Tags = make([]string, 0, len(items))
			}
			for j, item := range items {
				t, _ := p.text(item, o, at.at(j))
				f.Tags = append(f.Tags, t)
			}
		case "expires":
			f.Expires = p.date(v, o, at)
		case "type":
			t, ok := p.text(v, o, at)
			if !ok {
				break
			}
			switch typ := flagon.Type(t); typ {
			case flagon.TypeBool, flagon.TypeString, flagon.TypeInt, flagon.TypeFloat, flagon.TypeObject:
				f.Type = typ
			default:
				p.errorf(v, o, at, "unknown type %q (want bool, string, int, float or object)", t)
				f.Type = typ
			}
		case "variants":
			variants = v
		case "default":
			deflt = v
		case "enabled":
			on, _ := p.boolean(v, o, at)
			f.Disabled = !on
		case "rules":
			rules = v
		case "fallthrough":
			fall = v
		case "rollout":
			rollout = v
		case "salt":
			f.Salt, _ = p.text(v, o, at)
		case "override":
			override = v
		case "metadata":
			f.Metadata = p.metadata(v, o, at)
		default:
			p.unknownField(k, o, nil, flagFields)
		}
	}
	if variants != nil {
		p.variants(f, variants, o)
	}
	if deflt != nil {
		f.Default, _ = p.variantRef(deflt, f, o, (*path)(nil).key("default"))
	}
	if rules != nil {
		if r := p.rules(rules, f, o, nil); len(r) > 0 {
			f.Rules = r
		}
	}
	switch {
	case fall != nil && rollout != nil:
		p.errorf(rollout, o, (*path)(nil).key("rollout"), "set fallthrough or rollout, not both")
	case fall != nil:
		f.Fallthrough, _ = p.serve(fall, f, o, (*path)(nil).key("fallthrough"))
	case rollout != nil:
		f.Fallthrough.Split, _ = p.boolRollout(rollout, f, o, (*path)(nil).key("rollout"))
	}
	if override != nil {
		f.Override = p.override(override, f, o)
	}
}

func (p *parser) date(n *yaml.Node, o owner, at *path) time.Time {
	s, ok := p.text(n, o, at)
	if !ok {
		return time.Time{}
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	p.errorf(n, o, at, "want a date (2006-01-02) or an RFC 3339 time, not %q", s)
	return time.Time{}
}

func (p *parser) metadata(n *yaml.Node, o owner, at *path) map[string]string {
	kv, ok := p.mapping(n, o, at)
	if !ok {
		p.errorf(n, o, at, "want a mapping of names to text, not %s", describe(n))
		return nil
	}
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		v := p.deref(kv[i+1])
		if isNull(v) {
			m[kv[i].Value] = ""
			continue
		}
		m[kv[i].Value], _ = p.text(v, o, at.key(kv[i].Value))
	}
	return m
}

func (p *parser) variants(f *flagon.Flag, n *yaml.Node, o owner) {
	at := (*path)(nil).key("variants")
	kv, ok := p.mapping(n, o, at)
	if !ok {
		p.errorf(n, o, at, "want a mapping of variant names to values, not %s", describe(n))
		return
	}
	if len(kv) == 0 {
		return
	}
	f.Variants = make([]flagon.Variant, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		name, v := kv[i].Value, p.deref(kv[i+1])
		vat := at.key(name)
		var val any
		typ := f.Type
		if typ == "" {
			typ = flagon.TypeBool
		}
		switch typ {
		case flagon.TypeBool:
			if v.Kind == yaml.ScalarNode && v.Tag == "!!bool" {
				val, _ = p.boolean(v, o, vat)
			} else {
				hint := ""
				if f.Type == "" && v.Kind == yaml.ScalarNode {
					hint = "; for other values, set the flag's type (string, int, float or object)"
				} else if f.Type == "" && v.Kind == yaml.MappingNode {
					hint = "; for object values, set type: object"
				}
				p.errorf(v, o, vat, "a bool flag's variant is true or false, not %s%s", describe(v), hint)
			}
		case flagon.TypeString:
			if v.Kind == yaml.ScalarNode && (v.Tag == "!!str" || v.Tag == "!!timestamp" || v.Tag == "!!binary") {
				val, _ = p.text(v, o, vat)
			} else if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
				p.errorf(v, o, vat, "a string flag's variant is text, not %s; quote it: %q", describe(v), v.Value)
			} else {
				p.errorf(v, o, vat, "a string flag's variant is text, not %s", describe(v))
			}
		case flagon.TypeInt:
			if i, ok := p.integer(v); ok {
				val = i
			} else {
				p.errorf(v, o, vat, "an int flag's variant is a whole number that fits in 64 bits, not %s", describe(v))
			}
		case flagon.TypeFloat:
			if x, ok := p.number(v); ok {
				val = x
			} else {
				p.errorf(v, o, vat, "a float flag's variant is a finite number, not %s", describe(v))
			}
		case flagon.TypeObject:
			if v.Kind == yaml.MappingNode {
				val, _ = p.value(v, o, vat, 0)
			} else {
				p.errorf(v, o, vat, "an object flag's variant is a mapping, not %s", describe(v))
			}
		default:
			val, _ = p.value(v, o, vat, 0)
		}
		f.Variants = append(f.Variants, flagon.Variant{Name: name, Value: val})
	}
}

func isBool(f *flagon.Flag) bool { return f.Type == "" || f.Type == flagon.TypeBool }

// boolVariant returns the name of the variant of the bool flag f whose
// value is v: "on" or "off" when f names no variants.
func boolVariant(f *flagon.Flag, v bool) (string, bool) {
	if !isBool(f) {
		return "", false
	}
	if len(f.Variants) == 0 {
		if v {
			return "on", true
		}
		return "off", true
	}
	for _, x := range f.Variants {
		if b, ok := x.Value.(bool); ok && b == v {
			return x.Name, true
		}
	}
	return "", false
}

// variantRef reads a reference to a variant: its name, or for a bool flag
// also true or false.
func (p *parser) variantRef(n *yaml.Node, f *flagon.Flag, o owner, at *path) (string, bool) {
	n = p.deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, o, at, "want a variant name, not %s", describe(n))
		return "", false
	}
	if n.Tag == "!!bool" && isBool(f) {
		b, ok := p.boolean(n, o, at)
		if !ok {
			return "", false
		}
		name, ok := boolVariant(f, b)
		if !ok {
			p.errorf(n, o, at, "no variant has the value %v", b)
		}
		return name, ok
	}
	if n.Value == "" {
		p.errorf(n, o, at, "want a variant name, not an empty string")
		return "", false
	}
	return n.Value, true
}

func (p *parser) rules(n *yaml.Node, f *flagon.Flag, o owner, up *path) []flagon.Rule {
	at := up.key("rules")
	items, ok := p.list(n, false)
	if !ok {
		p.errorf(n, o, at, "want a list of rules, not %s", describe(n))
		return nil
	}
	out := make([]flagon.Rule, 0, len(items))
	for i, item := range items {
		rat := at.at(i)
		kv, ok := p.mapping(item, o, rat)
		if !ok {
			p.errorf(item, o, rat, "want a rule (a mapping with when or audience, and serve), not %s", describe(p.deref(item)))
			continue
		}
		var r flagon.Rule
		var audience *yaml.Node
		for j := 0; j < len(kv); j += 2 {
			k, v := kv[j], kv[j+1]
			if isNull(p.deref(v)) {
				if !slices.Contains(ruleFields, k.Value) {
					p.unknownField(k, o, rat, ruleFields)
				}
				continue
			}
			fat := rat.key(k.Value)
			switch k.Value {
			case "id":
				r.ID, _ = p.text(v, o, fat)
			case "description":
				r.Description, _ = p.text(v, o, fat)
			case "audience":
				if r.Audiences != nil {
					p.errorf(k, o, fat, "set audience or audiences, not both")
					break
				}
				audience = k
				name, _ := p.text(v, o, fat)
				r.Audiences = []string{name}
			case "audiences":
				if audience != nil {
					p.errorf(k, o, fat, "set audience or audiences, not both")
					break
				}
				list, ok := p.list(v, false)
				if !ok {
					p.errorf(v, o, fat, "want a list of audience names, not %s", describe(v))
					break
				}
				r.Audiences = make([]string, 0, len(list))
				for x, a := range list {
					name, _ := p.text(a, o, fat.at(x))
					r.Audiences = append(r.Audiences, name)
				}
				audience = k
			case "when":
				r.Clauses = p.clauses(v, o, rat, "when")
			case "serve":
				r.Serve, _ = p.serve(v, f, o, fat)
			default:
				p.unknownField(k, o, rat, ruleFields)
			}
		}
		if len(r.Audiences) == 0 {
			r.Audiences = nil
		}
		if len(r.Clauses) == 0 {
			r.Clauses = nil
		}
		out = append(out, r)
	}
	return out
}

// serve reads what a rule or fallthrough serves: a variant (or a bool
// flag's value), or a mapping with variant, rollout and by.
func (p *parser) serve(n *yaml.Node, f *flagon.Flag, o owner, at *path) (flagon.Serve, bool) {
	var s flagon.Serve
	n = p.deref(n)
	if n.Kind == yaml.ScalarNode {
		name, ok := p.variantRef(n, f, o, at)
		s.Variant = name
		return s, ok
	}
	kv, ok := p.mapping(n, o, at)
	if !ok {
		p.errorf(n, o, at, "want a variant, or a mapping with rollout and by, not %s", describe(n))
		return s, false
	}
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		fat := at.key(k.Value)
		switch k.Value {
		case "variant":
			s.Variant, ok = p.variantRef(v, f, o, fat)
		case "rollout":
			s.Split, ok = p.rollout(v, f, o, fat)
		case "by":
			s.By, ok = p.text(v, o, fat)
		default:
			p.unknownField(k, o, at, serveFields)
			ok = false
		}
	}
	return s, ok
}

// rollout reads a percentage split: {variant: percent, …} in order, a
// list of {variant, percent}, or for a bool flag one number, the percent
// served true.
func (p *parser) rollout(n *yaml.Node, f *flagon.Flag, o owner, at *path) ([]flagon.Split, bool) {
	n = p.deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if !isBool(f) {
			p.errorf(n, o, at, "want a mapping of variants to percentages, such as {%s}; one number is a bool flag's shorthand", exampleSplit(f))
			return nil, false
		}
		return p.boolRollout(n, f, o, at)
	case yaml.MappingNode:
		kv, _ := p.mapping(n, o, at)
		out := make([]flagon.Split, 0, len(kv)/2)
		ok := true
		for i := 0; i < len(kv); i += 2 {
			k := kv[i]
			name := k.Value
			if k.Tag == "!!bool" && isBool(f) {
				name, _ = p.variantRef(k, f, o, at.key(k.Value))
			}
			pct, good := p.percent(kv[i+1], o, at.key(k.Value))
			ok = ok && good
			out = append(out, flagon.Split{Variant: name, Percent: pct})
		}
		return out, ok
	case yaml.SequenceNode:
		out := make([]flagon.Split, 0, len(n.Content))
		ok := true
		for i, item := range n.Content {
			iat := at.at(i)
			kv, isMap := p.mapping(item, o, iat)
			if !isMap {
				p.errorf(item, o, iat, "want {variant: name, percent: number}, not %s", describe(p.deref(item)))
				ok = false
				continue
			}
			var sp flagon.Split
			for j := 0; j < len(kv); j += 2 {
				switch kv[j].Value {
				case "variant":
					sp.Variant, _ = p.variantRef(kv[j+1], f, o, iat.key("variant"))
				case "percent":
					var good bool
					sp.Percent, good = p.percent(kv[j+1], o, iat.key("percent"))
					ok = ok && good
				default:
					p.unknownField(kv[j], o, iat, splitFields)
					ok = false
				}
			}
			out = append(out, sp)
		}
		return out, ok
	}
	p.errorf(n, o, at, "want a mapping of variants to percentages, not %s", describe(n))
	return nil, false
}

func exampleSplit(f *flagon.Flag) string {
	if len(f.Variants) >= 2 {
		return f.Variants[0].Name + ": 50, " + f.Variants[1].Name + ": 50"
	}
	return "a: 50, b: 50"
}

// percent reads a number from 0 to 100, or text such as "12.5%".
func (p *parser) percent(n *yaml.Node, o owner, at *path) (float64, bool) {
	n = p.deref(n)
	if x, ok := p.number(n); ok {
		return x, true
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && strings.HasSuffix(n.Value, "%") {
		x, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(n.Value, "%")), 64)
		if err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
			return x, true
		}
	}
	p.errorf(n, o, at, "want a percentage, not %s", describe(n))
	return 0, false
}

// boolRollout reads the bool shorthand: one number, the percent served
// true; the rest is served false.
func (p *parser) boolRollout(n *yaml.Node, f *flagon.Flag, o owner, at *path) ([]flagon.Split, bool) {
	n = p.deref(n)
	if !isBool(f) {
		p.errorf(n, o, at, "rollout is the shorthand for a bool flag; for a %s flag write fallthrough: {rollout: {%s}}", f.Type, exampleSplit(f))
		return nil, false
	}
	pct, ok := p.percent(n, o, at)
	if !ok {
		return nil, false
	}
	if !(pct >= 0 && pct <= 100) {
		p.errorf(n, o, at, "percent %v is not between 0 and 100", pct)
		return nil, false
	}
	on, ok1 := boolVariant(f, true)
	off, ok2 := boolVariant(f, false)
	if !ok1 || !ok2 {
		p.errorf(n, o, at, "the rollout shorthand needs a variant that is true and one that is false")
		return nil, false
	}
	return []flagon.Split{{Variant: on, Percent: pct}, {Variant: off, Percent: complement(pct)}}, true
}

// complement returns 100 - pct, rounded to the 0.001 steps of a split.
func complement(pct float64) float64 {
	return float64(flagon.Buckets-int(math.Round(pct*1000))) / 1000
}

func (p *parser) override(n *yaml.Node, f *flagon.Flag, o owner) flagon.OverridePolicy {
	var pol flagon.OverridePolicy
	at := (*path)(nil).key("override")
	kv, ok := p.mapping(n, o, at)
	if !ok {
		p.errorf(n, o, at, "want a mapping with who, audience, variants and max_duration, not %s", describe(n))
		return pol
	}
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		if isNull(p.deref(v)) {
			continue
		}
		fat := at.key(k.Value)
		switch k.Value {
		case "who":
			who, ok := p.text(v, o, fat)
			pol.Who = flagon.Who(who)
			switch pol.Who {
			case flagon.WhoNone, flagon.WhoStaff, flagon.WhoAnyone:
			default:
				if ok {
					p.errorf(v, o, fat, "unknown policy %q (want none, staff or anyone)", who)
				}
			}
		case "audience":
			pol.Audience, _ = p.text(v, o, fat)
		case "variants":
			items, ok := p.list(v, true)
			if !ok {
				p.errorf(v, o, fat, "want a list of variants, not %s", describe(v))
				break
			}
			pol.Variants = make([]string, 0, len(items))
			for j, item := range items {
				name, _ := p.variantRef(item, f, o, fat.at(j))
				pol.Variants = append(pol.Variants, name)
			}
			if len(pol.Variants) == 0 {
				pol.Variants = nil
			}
		case "max_duration":
			s, ok := p.text(v, o, fat)
			if !ok {
				break
			}
			d, err := parseDuration(s)
			if err != nil {
				p.errorf(v, o, fat, "%v", err)
			}
			pol.MaxDuration = d
		default:
			p.unknownField(k, o, at, overrideFields)
		}
	}
	return pol
}

// parseDuration reads a Go duration ("36h", "90m") with whole days allowed
// in front ("7d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	neg := strings.HasPrefix(t, "-")
	t = strings.TrimPrefix(t, "-")
	var d time.Duration
	if i := strings.IndexByte(t, 'd'); i > 0 {
		days, err := strconv.ParseInt(t[:i], 10, 64)
		if err != nil || days > int64(math.MaxInt64/(24*time.Hour)) {
			return 0, fmt.Errorf("bad duration %q: want a number of days, such as 7d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
		t = t[i+1:]
		if t == "" {
			if neg {
				d = -d
			}
			return d, nil
		}
	}
	rest, err := time.ParseDuration(t)
	if err != nil || rest < 0 {
		return 0, fmt.Errorf("bad duration %q: want a duration such as 24h, 90m or 7d", s)
	}
	if d > math.MaxInt64-rest {
		return 0, fmt.Errorf("bad duration %q: too long", s)
	}
	d += rest
	if neg {
		d = -d
	}
	return d, nil
}

// environments reads the environments section into the flags'
// Environments.
func (p *parser) environments(n *yaml.Node, flags []flagon.Flag) {
	at := (*path)(nil).key("environments")
	kv, ok := p.mapping(n, owner{}, at)
	if !ok {
		if !isNull(p.deref(n)) {
			p.errorf(n, owner{}, at, "want a mapping of environment names to flag settings, not %s", describe(n))
		}
		return
	}
	var index map[string]int
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		env := k.Value
		eat := at.key(env)
		if !flagon.ValidKey(env) {
			p.errorf(k, owner{}, eat, "invalid environment name: use 1 to %d lowercase letters, digits, '-', '_' or '.'", flagon.MaxKeyLen)
		}
		p.envNames = append(p.envNames, env)
		if isNull(p.deref(v)) {
			continue
		}
		fkv, ok := p.mapping(v, owner{}, eat)
		if !ok {
			p.errorf(v, owner{}, eat, "want a mapping of flag keys to settings, not %s", describe(p.deref(v)))
			continue
		}
		if index == nil && len(fkv) > 0 {
			index = make(map[string]int, len(flags))
			for j := range flags {
				if _, dup := index[flags[j].Key]; !dup {
					index[flags[j].Key] = j
				}
			}
		}
		for j := 0; j < len(fkv); j += 2 {
			fk, fv := fkv[j], p.deref(fkv[j+1])
			fi, ok := index[fk.Value]
			if !ok {
				p.errorf(fk, owner{}, eat.key(fk.Value), "unknown flag %q: environments may only change flags defined under flags", fk.Value)
				continue
			}
			f := &flags[fi]
			es := p.envSettings(fv, f, owner{flag: f.Key}, (*path)(nil).key("environments").key(env))
			if f.Environments == nil {
				f.Environments = make(map[string]flagon.EnvSettings)
			}
			f.Environments[env] = es
			p.envSrc = append(p.envSrc, envSource{env: env, flag: fi, body: fv})
		}
	}
}

func (p *parser) envSettings(n *yaml.Node, f *flagon.Flag, o owner, at *path) flagon.EnvSettings {
	var es flagon.EnvSettings
	if isNull(n) {
		return es
	}
	kv, ok := p.mapping(n, o, at)
	if !ok {
		p.errorf(n, o, at, "want a mapping with default, enabled, rules, fallthrough or rollout, not %s; to switch a flag off write {enabled: false}", describe(n))
		return es
	}
	var fall, rollout *yaml.Node
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		if isNull(p.deref(v)) {
			if !slices.Contains(envFields, k.Value) {
				p.unknownField(k, o, at, envFields)
			}
			continue
		}
		fat := at.key(k.Value)
		switch k.Value {
		case "default":
			if name, ok := p.variantRef(v, f, o, fat); ok {
				es.Default = &name
			}
		case "enabled":
			if on, ok := p.boolean(v, o, fat); ok {
				off := !on
				es.Disabled = &off
			}
		case "rules":
			r := p.rules(v, f, o, at)
			if r == nil {
				r = []flagon.Rule{}
			}
			es.Rules = &r
		case "fallthrough":
			fall = v
		case "rollout":
			rollout = v
		default:
			p.unknownField(k, o, at, envFields)
		}
	}
	switch {
	case fall != nil && rollout != nil:
		p.errorf(rollout, o, at.key("rollout"), "set fallthrough or rollout, not both")
	case fall != nil:
		s, _ := p.serve(fall, f, o, at.key("fallthrough"))
		es.Fallthrough = &s
	case rollout != nil:
		split, _ := p.boolRollout(rollout, f, o, at.key("rollout"))
		es.Fallthrough = &flagon.Serve{Split: split}
	}
	return es
}
