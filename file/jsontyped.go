package file

// This file reads a JSON config file in one json.Decoder.Decode into
// typed structs, without positions, for the common case: a file with no
// problems, written in the usual shapes. Whatever it is not sure of (a
// problem, a rare shape, a key it cannot check) it declines, and the file
// is read again by the token reader of json.go and the checks of parse.go
// and flags.go, which have the positions and the messages. For every file
// it accepts, it returns exactly the definitions the general path returns
// (TestTypedJSONMatchesGeneral, FuzzTypedJSON).
//
// encoding/json matches struct fields without regard to case and keeps
// the last of two equal keys, where a config file must be exact and must
// refuse duplicates. plainKeys therefore counts the keys of the file and
// refuses any key that folds to a field name without being it; a file
// whose decoded keys are fewer than its keys (a duplicate, or a field set
// to null) is declined. Key order matters for name mappings (flags,
// audiences, variants, environments and splits): they are decoded into
// maps keyed by ordKey, which numbers keys in the order they are read.

import (
	"bytes"
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/flagon/flagon"
)

// keySeq numbers the keys of ordered mappings as they are decoded. A
// decode reads keys in file order, so the numbers of one mapping's keys
// rise in file order even when other decodes run at the same time.
var keySeq atomic.Uint64

// ordKey is the key of an ordered mapping: its name and when it was read.
// Two equal names in one mapping stay two keys.
type ordKey struct {
	name string
	seq  uint64
}

// UnmarshalText records the key and its place in the order.
func (k *ordKey) UnmarshalText(b []byte) error {
	k.name, k.seq = string(b), keySeq.Add(1)
	return nil
}

// ordered returns the keys of m in the order they were read, or false if
// two are equal.
func ordered[V any](m map[ordKey]V) ([]ordKey, bool) {
	keys := inOrder(m)
	if len(keys) <= 32 {
		for i := range keys {
			for j := range i {
				if keys[i].name == keys[j].name {
					return nil, false
				}
			}
		}
		return keys, true
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k.name] {
			return nil, false
		}
		seen[k.name] = true
	}
	return keys, true
}

// inOrder returns the keys of m in the order they were read.
func inOrder[V any](m map[ordKey]V) []ordKey {
	keys := make([]ordKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b ordKey) int { return cmp.Compare(a.seq, b.seq) })
	return keys
}

type jFile struct {
	Audiences    map[ordKey]any                   `json:"audiences"`
	Flags        map[ordKey]*jFlag                `json:"flags"`
	Environments map[ordKey]map[ordKey]*jSettings `json:"environments"`
}

// jSettings are the fields a flag and its per-environment settings share.
type jSettings struct {
	Default     json.RawMessage `json:"default"`
	Enabled     *bool           `json:"enabled"`
	Rules       []*jRule        `json:"rules"`
	Fallthrough *jServe         `json:"fallthrough"`
	Rollout     json.RawMessage `json:"rollout"`
}

type jFlag struct {
	jSettings
	Description string                     `json:"description"`
	Owner       string                     `json:"owner"`
	Tags        any                        `json:"tags"`
	Expires     string                     `json:"expires"`
	Type        string                     `json:"type"`
	Variants    map[ordKey]json.RawMessage `json:"variants"`
	Salt        string                     `json:"salt"`
	Metadata    map[string]any             `json:"metadata"`
	Override    any                        `json:"override"`
}

type jRule struct {
	ID          string  `json:"id"`
	Description string  `json:"description"`
	Audience    string  `json:"audience"`
	Audiences   []any   `json:"audiences"`
	When        any     `json:"when"`
	Serve       *jServe `json:"serve"`
}

// jServe is what a rule or fallthrough serves: a variant, or a mapping
// with variant, rollout and by.
type jServe struct {
	scalar any // a variant: see jsonScalar
	obj    *jServeMap
}

type jServeMap struct {
	Variant json.RawMessage `json:"variant"`
	Rollout *jSplits        `json:"rollout"`
	By      string          `json:"by"`
}

// jSplits is a rollout: one number (a bool flag's shorthand) or an
// ordered mapping of variants to percentages.
type jSplits struct {
	scalar any
	m      map[ordKey]json.RawMessage
}

// UnmarshalJSON reads a variant or a mapping. The value is small: decoding
// it again costs little.
func (s *jServe) UnmarshalJSON(raw []byte) error {
	if raw[0] == '{' {
		s.obj = new(jServeMap)
		return json.Unmarshal(raw, s.obj)
	}
	s.scalar = jsonScalar(raw)
	return nil
}

// UnmarshalJSON reads a number or a mapping.
func (s *jSplits) UnmarshalJSON(raw []byte) error {
	if raw[0] == '{' {
		return json.Unmarshal(raw, &s.m)
	}
	s.scalar = jsonScalar(raw)
	return nil
}

// notScalar is what jsonScalar returns for an object or an array.
type notScalar struct{}

// jsonScalar returns the JSON value raw, which encoding/json has found valid,
// as a string, a bool, a json.Number (the number as written), nil, or
// notScalar{} for an object or an array.
func jsonScalar(raw []byte) any {
	if len(raw) == 0 {
		return notScalar{}
	}
	switch raw[0] {
	case '"':
		if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
			return string(raw[1 : len(raw)-1])
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return notScalar{}
		}
		return s
	case 't':
		return true
	case 'f':
		return false
	case 'n':
		return nil
	case '{', '[':
		return notScalar{}
	}
	return json.Number(raw)
}

// structFields are the names of every field decoded into a struct; a key
// that differs from one only in case would be taken for it.
var structFields = slices.Concat(topFields, flagFields, envFields, ruleFields, serveFields)

// plainKeys returns the number of keys in the JSON text data, which
// encoding/json has found valid, and false if a key could be mistaken for
// a struct field it is not (the same name in other case, or written with
// escapes). A key is a string followed by a colon: each colon that the
// end of a string precedes ends a key.
func plainKeys(data []byte) (int, bool) {
	n := 0
	for i := 0; ; i++ {
		c := bytes.IndexByte(data[i:], ':')
		if c < 0 {
			return n, true
		}
		i += c
		end := i - 1
		for end >= 0 && isJSONSpace(data[end]) {
			end--
		}
		if end < 0 || data[end] != '"' {
			continue // a colon inside a string
		}
		if escaped(data, end) {
			return 0, false // a colon after a \" inside a string
		}
		start := end - 1
		for start >= 0 && (data[start] != '"' || escaped(data, start)) {
			start--
		}
		key := data[start+1 : end]
		if bytes.IndexByte(key, '\\') >= 0 {
			return 0, false
		}
		if !isLowerASCII(key) {
			for _, f := range structFields {
				if bytes.EqualFold(key, []byte(f)) {
					return 0, false
				}
			}
		}
		n++
	}
}

// escaped reports whether the quote at data[i] follows an odd number of
// backslashes.
func escaped(data []byte, i int) bool {
	b := 0
	for i--; i >= 0 && data[i] == '\\'; i-- {
		b++
	}
	return b%2 == 1
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isLowerASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// typedJSON reads the JSON file data into definitions and the names of
// its environments, or returns false if the general path must read it.
func typedJSON(data []byte) (flagon.Definitions, []string, bool) {
	var defs flagon.Definitions
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' {
		return defs, nil, false
	}
	// The keys are counted on another core while the file is decoded.
	type count struct {
		n  int
		ok bool
	}
	counted := make(chan count, 1)
	go func() {
		n, ok := plainKeys(data)
		counted <- count{n, ok}
	}()
	var f jFile
	err := json.Unmarshal(data, &f)
	keys := <-counted
	if err != nil || !keys.ok {
		return defs, nil, false
	}
	var ok bool
	r := typedReader{}
	if f.Audiences != nil {
		r.keys++
		if defs.Audiences, ok = r.audiences(f.Audiences); !ok {
			return defs, nil, false
		}
	}
	if f.Flags != nil {
		r.keys++
		if defs.Flags, ok = r.flags(f.Flags); !ok {
			return defs, nil, false
		}
	}
	var envs []string
	if f.Environments != nil {
		r.keys++
		if envs, ok = r.environments(f.Environments, defs.Flags); !ok {
			return defs, nil, false
		}
	}
	if r.keys != keys.n { // a duplicate, or an unknown field
		return flagon.Definitions{}, nil, false
	}
	return defs, envs, true
}

// typedReader turns the decoded structs into definitions, counting the
// keys it meets.
type typedReader struct {
	keys  int
	index map[string]int // flag keys to indexes in Definitions.Flags
}

func (r *typedReader) audiences(m map[ordKey]any) ([]flagon.Audience, bool) {
	keys, ok := ordered(m)
	if !ok {
		return nil, false
	}
	r.keys += len(keys)
	var out []flagon.Audience
	for _, k := range keys {
		v := m[k]
		a := flagon.Audience{Name: k.name}
		if fields, isMap := v.(map[string]any); isMap {
			r.keys += len(fields)
			for name, fv := range fields {
				switch name {
				case "description":
					if a.Description, ok = fv.(string); !ok {
						return nil, false
					}
				case "when":
					if a.Clauses, ok = r.clauses(fv); !ok {
						return nil, false
					}
				default:
					return nil, false
				}
			}
		} else if a.Clauses, ok = r.clauses(v); !ok {
			return nil, false
		}
		out = append(out, a)
	}
	return out, true
}

// clauses reads a clause or a list of clauses, each in the shorthand.
func (r *typedReader) clauses(v any) ([]flagon.Clause, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		c, err := flagon.ParseClause(v)
		return []flagon.Clause{c}, err == nil
	case []any:
		var out []flagon.Clause
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, false
			}
			c, err := flagon.ParseClause(s)
			if err != nil {
				return nil, false
			}
			if out == nil {
				out = make([]flagon.Clause, 0, len(v))
			}
			out = append(out, c)
		}
		return out, true
	}
	return nil, false
}

func (r *typedReader) flags(m map[ordKey]*jFlag) ([]flagon.Flag, bool) {
	keys := inOrder(m)
	r.keys += len(keys)
	if len(keys) == 0 {
		return nil, true
	}
	// The index that finds duplicates serves the environments too.
	r.index = make(map[string]int, len(keys))
	out := make([]flagon.Flag, len(keys))
	for i, k := range keys {
		if _, dup := r.index[k.name]; dup {
			return nil, false
		}
		r.index[k.name] = i
		out[i].Key = k.name
		if jf := m[k]; jf != nil && !r.flag(&out[i], jf) {
			return nil, false
		}
	}
	return out, true
}

// text returns the text of a field, counting it if it is set. Text
// fields are plain strings, not pointers, to save an allocation each:
// "" is not counted, so a file that sets one to "" (or to null) is
// declined rather than misread.
func (r *typedReader) text(s string) string {
	if s != "" {
		r.keys++
	}
	return s
}

func (r *typedReader) flag(f *flagon.Flag, j *jFlag) bool {
	if j.Override != nil {
		return false
	}
	f.Description, f.Owner, f.Salt = r.text(j.Description), r.text(j.Owner), r.text(j.Salt)
	if j.Tags != nil && !r.tags(f, j.Tags) {
		return false
	}
	if j.Expires != "" {
		if f.Expires = parseDate(r.text(j.Expires)); f.Expires.IsZero() {
			return false
		}
	}
	if j.Type != "" {
		switch typ := flagon.Type(r.text(j.Type)); typ {
		case flagon.TypeBool, flagon.TypeString, flagon.TypeInt, flagon.TypeFloat:
			f.Type = typ
		default:
			return false // objects, and problems
		}
	}
	if j.Metadata != nil && !r.metadata(f, j.Metadata) {
		return false
	}
	if j.Variants != nil {
		r.keys++
		if !r.variants(f, j.Variants) {
			return false
		}
	}
	if j.Enabled != nil {
		r.keys++
		f.Disabled = !*j.Enabled
	}
	if j.Default != nil {
		r.keys++
		var ok bool
		if f.Default, ok = variantName(f, jsonScalar(j.Default)); !ok {
			return false
		}
	}
	if j.Rules != nil {
		r.keys++
		rules, ok := r.rules(f, j.Rules)
		if !ok {
			return false
		}
		if len(rules) > 0 {
			f.Rules = rules
		}
	}
	s, ok := r.fallOrRollout(f, &j.jSettings)
	if s != nil {
		f.Fallthrough = *s
	}
	return ok
}

// tags reads a tag or a list of tags.
func (r *typedReader) tags(f *flagon.Flag, v any) bool {
	r.keys++
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	for _, item := range items {
		s, ok := item.(string)
		if !ok {
			return false
		}
		if f.Tags == nil {
			f.Tags = make([]string, 0, len(items))
		}
		f.Tags = append(f.Tags, s)
	}
	return true
}

// metadata reads a mapping of names to text (or null, for "").
func (r *typedReader) metadata(f *flagon.Flag, m map[string]any) bool {
	r.keys += 1 + len(m)
	if len(m) > 0 {
		f.Metadata = make(map[string]string, len(m))
	}
	for k, v := range m {
		s, ok := v.(string)
		if !ok && v != nil {
			return false
		}
		f.Metadata[k] = s
	}
	return true
}

// parseDate reads a date or an RFC 3339 time, or returns the zero time.
func parseDate(s string) time.Time {
	for _, layout := range []string{time.DateOnly, time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil && !t.IsZero() {
			return t.UTC()
		}
	}
	return time.Time{}
}

func (r *typedReader) variants(f *flagon.Flag, m map[ordKey]json.RawMessage) bool {
	keys, ok := ordered(m)
	if !ok {
		return false
	}
	r.keys += len(keys)
	if len(keys) == 0 {
		return true
	}
	f.Variants = make([]flagon.Variant, 0, len(keys))
	for _, k := range keys {
		var val any
		switch v := jsonScalar(m[k]).(type) {
		case bool:
			if !isBool(f) {
				return false
			}
			val = v
		case string:
			if f.Type != flagon.TypeString {
				return false
			}
			val = v
		case json.Number:
			switch f.Type {
			case flagon.TypeInt:
				i, ok := jsonInt(v)
				if !ok {
					return false
				}
				val = i
			case flagon.TypeFloat:
				x, ok := jsonFloat(v)
				if !ok {
					return false
				}
				val = x
			default:
				return false
			}
		default:
			return false
		}
		f.Variants = append(f.Variants, flagon.Variant{Name: k.name, Value: val})
	}
	return true
}

// jsonInt returns a whole number written without fraction or exponent.
func jsonInt(n json.Number) (int64, bool) {
	if strings.ContainsAny(string(n), ".eE") {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil
}

// jsonFloat returns a finite number.
func jsonFloat(n json.Number) (float64, bool) {
	if !strings.ContainsAny(string(n), ".eE") {
		i, ok := jsonInt(n)
		return float64(i), ok
	}
	x, err := strconv.ParseFloat(string(n), 64)
	return x, err == nil && !math.IsNaN(x) && !math.IsInf(x, 0)
}

// variantName reads a reference to a variant, as variantRef does.
func variantName(f *flagon.Flag, v any) (string, bool) {
	switch v := v.(type) {
	case bool:
		if isBool(f) {
			return boolVariant(f, v)
		}
		return strconv.FormatBool(v), true
	case string:
		return v, v != ""
	case json.Number:
		return string(v), true
	}
	return "", false
}

func (r *typedReader) rules(f *flagon.Flag, items []*jRule) ([]flagon.Rule, bool) {
	out := make([]flagon.Rule, 0, len(items))
	for _, j := range items {
		if j == nil {
			return nil, false
		}
		var rule flagon.Rule
		rule.ID, rule.Description = r.text(j.ID), r.text(j.Description)
		switch {
		case j.Audience != "" && j.Audiences != nil:
			return nil, false
		case j.Audience != "":
			rule.Audiences = []string{r.text(j.Audience)}
		case j.Audiences != nil:
			r.keys++
			rule.Audiences = make([]string, 0, len(j.Audiences))
			for _, a := range j.Audiences {
				s, ok := a.(string)
				if !ok {
					return nil, false
				}
				rule.Audiences = append(rule.Audiences, s)
			}
		}
		if j.When != nil {
			r.keys++
			var ok bool
			if rule.Clauses, ok = r.clauses(j.When); !ok {
				return nil, false
			}
		}
		if j.Serve != nil {
			r.keys++
			var ok bool
			if rule.Serve, ok = r.serve(f, j.Serve); !ok {
				return nil, false
			}
		}
		if len(rule.Audiences) == 0 {
			rule.Audiences = nil
		}
		if len(rule.Clauses) == 0 {
			rule.Clauses = nil
		}
		out = append(out, rule)
	}
	return out, true
}

func (r *typedReader) serve(f *flagon.Flag, j *jServe) (flagon.Serve, bool) {
	var s flagon.Serve
	if j.obj == nil {
		var ok bool
		s.Variant, ok = variantName(f, j.scalar)
		return s, ok
	}
	ok := true
	if j.obj.Variant != nil {
		r.keys++
		s.Variant, ok = variantName(f, jsonScalar(j.obj.Variant))
	}
	if j.obj.Rollout != nil && ok {
		r.keys++
		s.Split, ok = r.splits(f, j.obj.Rollout)
	}
	s.By = r.text(j.obj.By)
	return s, ok
}

// splits reads the rollout of a serve: a mapping of variants to
// percentages, or a bool flag's one number.
func (r *typedReader) splits(f *flagon.Flag, j *jSplits) ([]flagon.Split, bool) {
	if j.m == nil {
		if !isBool(f) {
			return nil, false
		}
		return boolSplits(f, j.scalar)
	}
	keys, ok := ordered(j.m)
	if !ok {
		return nil, false
	}
	r.keys += len(keys)
	out := make([]flagon.Split, 0, len(keys))
	for _, k := range keys {
		pct, ok := jsonPercent(jsonScalar(j.m[k]))
		if !ok {
			return nil, false
		}
		out = append(out, flagon.Split{Variant: k.name, Percent: pct})
	}
	return out, true
}

// jsonPercent reads a number, or text such as "12.5%", as percent does.
func jsonPercent(v any) (float64, bool) {
	switch v := v.(type) {
	case json.Number:
		return jsonFloat(v)
	case string:
		if strings.HasSuffix(v, "%") {
			x, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, "%")), 64)
			return x, err == nil && !math.IsNaN(x) && !math.IsInf(x, 0)
		}
	}
	return 0, false
}

// boolSplits reads the bool shorthand, as boolRollout does.
func boolSplits(f *flagon.Flag, v any) ([]flagon.Split, bool) {
	pct, ok := jsonPercent(v)
	if !ok || !(pct >= 0 && pct <= 100) || !isBool(f) {
		return nil, false
	}
	on, ok1 := boolVariant(f, true)
	off, ok2 := boolVariant(f, false)
	if !ok1 || !ok2 {
		return nil, false
	}
	return []flagon.Split{{Variant: on, Percent: pct}, {Variant: off, Percent: complement(pct)}}, true
}

// fallOrRollout reads fallthrough or rollout (not both), or returns nil if
// neither is set.
func (r *typedReader) fallOrRollout(f *flagon.Flag, j *jSettings) (*flagon.Serve, bool) {
	switch {
	case j.Fallthrough != nil && j.Rollout != nil:
		return nil, false
	case j.Fallthrough != nil:
		r.keys++
		s, ok := r.serve(f, j.Fallthrough)
		return &s, ok
	case j.Rollout != nil:
		r.keys++
		split, ok := boolSplits(f, jsonScalar(j.Rollout))
		return &flagon.Serve{Split: split}, ok
	}
	return nil, true
}

func (r *typedReader) environments(m map[ordKey]map[ordKey]*jSettings, flags []flagon.Flag) ([]string, bool) {
	keys, ok := ordered(m)
	if !ok {
		return nil, false
	}
	r.keys += len(keys)
	var envs []string
	for _, k := range keys {
		env := k.name
		if !flagon.ValidKey(env) {
			return nil, false
		}
		envs = append(envs, env)
		fm := m[k]
		fkeys, ok := ordered(fm)
		if !ok {
			return nil, false
		}
		r.keys += len(fkeys)
		for _, fk := range fkeys {
			i, known := r.index[fk.name]
			if !known {
				return nil, false
			}
			f := &flags[i]
			var es flagon.EnvSettings
			if j := fm[fk]; j != nil && !r.envSettings(&es, f, j) {
				return nil, false
			}
			if f.Environments == nil {
				f.Environments = make(map[string]flagon.EnvSettings)
			}
			f.Environments[env] = es
		}
	}
	return envs, true
}

func (r *typedReader) envSettings(es *flagon.EnvSettings, f *flagon.Flag, j *jSettings) bool {
	if j.Default != nil {
		r.keys++
		name, ok := variantName(f, jsonScalar(j.Default))
		if !ok {
			return false
		}
		es.Default = &name
	}
	if j.Enabled != nil {
		r.keys++
		off := !*j.Enabled
		es.Disabled = &off
	}
	if j.Rules != nil {
		r.keys++
		rules, ok := r.rules(f, j.Rules)
		if !ok {
			return false
		}
		es.Rules = &rules
	}
	s, ok := r.fallOrRollout(f, j)
	es.Fallthrough = s
	return ok
}
