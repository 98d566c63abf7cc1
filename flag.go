package flagon

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// MaxKeyLen is the longest flag, audience or variant key that Flagon accepts.
const MaxKeyLen = 128

// Type is the type of a flag's values.
type Type string

// The flag types. The zero Type means TypeBool.
const (
	TypeBool   Type = "bool"
	TypeString Type = "string"
	TypeInt    Type = "int"
	TypeFloat  Type = "float"
	TypeObject Type = "object" // a JSON object, decoded as map[string]any
)

// Who says which requests may override a flag; see OverridePolicy.
type Who string

// The override policies. The zero Who means WhoStaff.
const (
	WhoNone   Who = "none"   // never overridden: kill switches, permissions
	WhoStaff  Who = "staff"  // only requests the application (or the policy's audience) allows
	WhoAnyone Who = "anyone" // anyone with the link
)

// DefaultOverrideMaxDuration is the longest override a policy allows when it
// names no MaxDuration: one year, the longest the override link accepts.
const DefaultOverrideMaxDuration = 365 * 24 * time.Hour

// A Flag is the definition of one feature flag: what it is, who owns it,
// which values it can take and how a context chooses among them.
//
// A Flag is plain data. [NewSnapshot] validates and compiles flags; a Flag
// that is not in a snapshot cannot be evaluated.
type Flag struct {
	Key         string    `json:"key"`
	Description string    `json:"description,omitempty"`
	Owner       string    `json:"owner,omitempty"`
	Tags        []string  `json:"tags,omitempty"`
	Expires     time.Time `json:"expires,omitzero"` // when the flag should be removed from code; zero for never
	Type        Type      `json:"type,omitempty"`

	// Variants are the named values the flag serves, in order. A bool flag
	// with no variants has two: "on" (true) and "off" (false).
	Variants []Variant `json:"variants,omitempty"`

	// Default names the variant served when the flag is disabled and when
	// neither a rule nor the fallthrough chooses one. For a bool flag with
	// implicit variants it defaults to "off".
	Default string `json:"default,omitempty"`

	// Disabled is the kill switch: a disabled flag serves its default
	// variant to everyone, with reason DISABLED.
	Disabled bool `json:"disabled,omitempty"`

	// Rules are tried in order; the first whose clauses all hold decides.
	Rules []Rule `json:"rules,omitempty"`

	// Fallthrough decides when no rule matches. Its zero value serves the
	// default variant.
	Fallthrough Serve `json:"fallthrough,omitzero"`

	// Salt is mixed into the hash of every percentage split of the flag, so
	// that two flags rolled out to 10% do not reach the same 10% of users.
	// Empty means the flag's key.
	Salt string `json:"salt,omitempty"`

	Override OverridePolicy    `json:"override,omitzero"`
	Metadata map[string]string `json:"metadata,omitempty"`

	// Environments holds the settings that differ per environment; see
	// [Flag.In].
	Environments map[string]EnvSettings `json:"environments,omitempty"`
}

// A Variant is one named value of a flag.
type Variant struct {
	Name  string `json:"name"`
	Value any    `json:"value"` // bool, string, int64, float64 or map[string]any, by the flag's Type
}

// EnvSettings holds the parts of a flag that one environment sets
// differently. A nil field keeps the flag's own setting.
type EnvSettings struct {
	Default     *string `json:"default,omitempty"`
	Disabled    *bool   `json:"disabled,omitempty"`
	Rules       *[]Rule `json:"rules,omitempty"`
	Fallthrough *Serve  `json:"fallthrough,omitempty"`
}

// In returns f as environment env sees it: f with the settings of
// f.Environments[env] applied and Environments cleared. An environment that
// f does not mention sees f unchanged.
func (f Flag) In(env string) Flag {
	e, ok := f.Environments[env]
	f.Environments = nil
	if !ok {
		return f
	}
	if e.Default != nil {
		f.Default = *e.Default
	}
	if e.Disabled != nil {
		f.Disabled = *e.Disabled
	}
	if e.Rules != nil {
		f.Rules = *e.Rules
	}
	if e.Fallthrough != nil {
		f.Fallthrough = *e.Fallthrough
	}
	return f
}

// A Rule serves a variant, or a percentage split, to the contexts that are
// in all of its audiences and satisfy all of its clauses.
type Rule struct {
	ID          string   `json:"id,omitempty"` // optional name, shown in results and logs
	Description string   `json:"description,omitempty"`
	Audiences   []string `json:"audiences,omitempty"`
	Clauses     []Clause `json:"clauses,omitempty"`
	Serve       Serve    `json:"serve"`
}

// Serve says what a rule or the fallthrough serves: one variant, or a
// percentage split among variants.
type Serve struct {
	Variant string  `json:"variant,omitempty"`
	Split   []Split `json:"split,omitempty"`
	// By names the attribute that a split hashes; empty means the
	// targeting key.
	By string `json:"by,omitempty"`
}

// IsZero reports whether s serves nothing.
func (s Serve) IsZero() bool { return s.Variant == "" && len(s.Split) == 0 && s.By == "" }

// A Split gives a variant a share of a percentage rollout. Shares are
// stacked in order over 100,000 buckets, so growing the first share of a
// split keeps everyone it already held.
type Split struct {
	Variant string  `json:"variant"`
	Percent float64 `json:"percent"` // 0 to 100, in steps of 0.001
}

// An Audience is a named group of contexts, such as staff: is_staff ==
// true, defined once and referred to by rules and override policies. A
// context is in the audience when all the clauses hold.
type Audience struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Clauses     []Clause `json:"clauses"`
}

// OverridePolicy says who may override a flag, to which values, and for how
// long. The HTTP layer enforces it; the core validates it.
type OverridePolicy struct {
	Who Who `json:"who,omitempty"`
	// Audience, for WhoStaff, names an audience whose members may override
	// the flag, beside whoever the application allows.
	Audience string `json:"audience,omitempty"`
	// Variants limits overrides to these variants; empty allows any value
	// of the flag's type.
	Variants []string `json:"variants,omitempty"`
	// MaxDuration is the longest an override may last; zero means
	// DefaultOverrideMaxDuration.
	MaxDuration time.Duration `json:"max_duration,omitempty"`
}

// EffectiveWho returns p.Who, or WhoStaff when it is empty.
func (p OverridePolicy) EffectiveWho() Who {
	if p.Who == "" {
		return WhoStaff
	}
	return p.Who
}

// EffectiveMaxDuration returns p.MaxDuration, or DefaultOverrideMaxDuration
// when it is zero.
func (p OverridePolicy) EffectiveMaxDuration() time.Duration {
	if p.MaxDuration <= 0 {
		return DefaultOverrideMaxDuration
	}
	return p.MaxDuration
}

// ValidKey reports whether s is a valid flag, audience or variant key: 1 to
// MaxKeyLen characters, each a lowercase ASCII letter, digit, '-', '_' or
// '.'.
func ValidKey(s string) bool {
	if len(s) == 0 || len(s) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validVariantName reports whether s can name a variant. Variant names are
// keys too, except that they may also use uppercase letters.
func validVariantName(s string) bool {
	if len(s) == 0 || len(s) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Normalize returns f with its implicit parts made explicit: the type (bool
// when empty), the on/off variants of a bool flag that names none, and the
// default variant ("off" for such a flag, else the first variant). Values
// are converted to their canonical Go types (int64 for int flags, float64
// for float flags). It does not validate; see [Flag.Validate].
func (f Flag) Normalize() Flag {
	if f.Type == "" {
		f.Type = TypeBool
	}
	if f.Type == TypeBool && len(f.Variants) == 0 {
		f.Variants = []Variant{{Name: "on", Value: true}, {Name: "off", Value: false}}
		if f.Default == "" {
			f.Default = "off"
		}
	}
	if len(f.Variants) > 0 {
		vs := make([]Variant, len(f.Variants))
		for i, v := range f.Variants {
			if cv, err := ConvertValue(f.Type, v.Value); err == nil {
				v.Value = cv
			}
			vs[i] = v
		}
		f.Variants = vs
	}
	if f.Default == "" && len(f.Variants) > 0 {
		f.Default = f.Variants[0].Name
	}
	return f
}

// ConvertValue returns v as the canonical Go value of type t: bool, string,
// int64, float64 or map[string]any. It accepts the types that encoding/json
// and YAML decoders produce, such as float64 for a whole number or
// json.Number, and any Go integer type.
func ConvertValue(t Type, v any) (any, error) {
	if t == "" {
		t = TypeBool
	}
	switch t {
	case TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case TypeInt:
		switch n := v.(type) {
		case int:
			return int64(n), nil
		case int8:
			return int64(n), nil
		case int16:
			return int64(n), nil
		case int32:
			return int64(n), nil
		case int64:
			return n, nil
		case uint:
			if uint64(n) <= math.MaxInt64 {
				return int64(n), nil
			}
		case uint8:
			return int64(n), nil
		case uint16:
			return int64(n), nil
		case uint32:
			return int64(n), nil
		case uint64:
			if n <= math.MaxInt64 {
				return int64(n), nil
			}
		case float64:
			if n == math.Trunc(n) && math.Abs(n) <= 1<<53 {
				return int64(n), nil
			}
		case float32:
			if f := float64(n); f == math.Trunc(f) && math.Abs(f) <= 1<<24 {
				return int64(f), nil
			}
		case json.Number:
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
		}
	case TypeFloat:
		switch n := v.(type) {
		case float64:
			if !math.IsNaN(n) && !math.IsInf(n, 0) {
				return n, nil
			}
		case float32:
			return float64(n), nil
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		case int32:
			return float64(n), nil
		case uint64:
			return float64(n), nil
		case json.Number:
			if f, err := n.Float64(); err == nil {
				return f, nil
			}
		}
	case TypeObject:
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
	default:
		return nil, fmt.Errorf("unknown type %q", t)
	}
	return nil, fmt.Errorf("%v (%T) is not a %s value", v, v, t)
}

// Validate reports the first problem with f as a list of field errors, or
// nil. Audiences names the audiences that rules and the policy may refer
// to. f should be normalized first (see [Flag.Normalize]); NewSnapshot does
// both.
func (f Flag) Validate(audiences map[string]bool) error {
	return f.validate(audiences, true)
}

// validate is Validate; with clauses false it leaves the rules' clauses
// unchecked, for a caller that compiles them next and reports their errors.
func (f Flag) validate(audiences map[string]bool, clauses bool) error {
	c := &flagCheck{f: f, audiences: audiences, clauses: clauses}
	if !ValidKey(f.Key) {
		c.add("key", "invalid key %q: use 1 to %d lowercase letters, digits, '-', '_' or '.'", f.Key, MaxKeyLen)
	}
	switch f.Type {
	case TypeBool, TypeString, TypeInt, TypeFloat, TypeObject:
	default:
		c.add("type", "unknown type %q (want bool, string, int, float or object)", f.Type)
		return c.errs
	}
	c.variants()
	c.rules()
	c.serve("fallthrough", f.Fallthrough, true)
	c.policy()
	c.environments()
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

// flagCheck collects the field errors of one flag, one part at a time.
type flagCheck struct {
	f         Flag
	audiences map[string]bool
	clauses   bool
	names     nameSet // the variants' names
	errs      FieldErrors
}

func (c *flagCheck) add(field, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Flag: c.f.Key, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// variants checks the variants and the default, and records the names.
func (c *flagCheck) variants() {
	f := c.f
	if len(f.Variants) == 0 {
		c.add("variants", "a %s flag needs at least one variant", f.Type)
	}
	c.names = make(nameSet, 0, len(f.Variants))
	for i, v := range f.Variants {
		if !validVariantName(v.Name) {
			c.add(indexed("variants", i)+".name", "invalid variant name %q", v.Name)
		}
		if c.names.has(v.Name) {
			c.add(indexed("variants", i)+".name", "duplicate variant %q", v.Name)
		}
		c.names = append(c.names, v.Name)
		if _, err := ConvertValue(f.Type, v.Value); err != nil {
			c.add(indexed("variants", i)+".value", "%v", err)
		}
	}
	if f.Default != "" && !c.names.has(f.Default) {
		c.add("default", "default names unknown variant %q", f.Default)
	}
}

// serve checks what a rule or the fallthrough serves: a known variant,
// or a split of known variants adding up to 100 percent.
func (c *flagCheck) serve(field string, s Serve, optional bool) {
	switch {
	case s.Variant != "" && len(s.Split) > 0:
		c.add(field, "serves both a variant and a split; choose one")
	case s.Variant != "":
		if !c.names.has(s.Variant) {
			c.add(field+".variant", "unknown variant %q", s.Variant)
		}
	case len(s.Split) > 0:
		total := 0
		for i, sp := range s.Split {
			if !c.names.has(sp.Variant) {
				c.add(indexed(field+".split", i)+".variant", "unknown variant %q", sp.Variant)
			}
			if !(sp.Percent >= 0 && sp.Percent <= 100) {
				c.add(indexed(field+".split", i)+".percent", "percent %v is not between 0 and 100", sp.Percent)
				continue
			}
			w := math.Round(sp.Percent * 1000)
			if math.Abs(w-sp.Percent*1000) > 1e-6 {
				c.add(indexed(field+".split", i)+".percent", "percent %v is finer than 0.001", sp.Percent)
			}
			total += int(w)
		}
		if total != Buckets {
			c.add(field+".split", "percentages add up to %v, not 100", float64(total)/1000)
		}
	case !optional:
		c.add(field, "serves nothing: name a variant or a split")
	}
}

// rules checks each rule's audiences, clauses and what it serves.
func (c *flagCheck) rules() {
	for i, r := range c.f.Rules {
		if len(r.Audiences) == 0 && len(r.Clauses) == 0 {
			c.add(indexed("rules", i), "a rule needs at least one audience or clause")
		}
		for j, a := range r.Audiences {
			if !c.audiences[a] {
				c.add(indexed(indexed("rules", i)+".audiences", j), "unknown audience %q", a)
			}
		}
		for j, cl := range r.Clauses {
			if !c.clauses {
				break
			}
			if err := checkClause(cl); err != nil {
				c.add(indexed(indexed("rules", i)+".clauses", j), "%v", err)
			}
		}
		if r.Serve.Variant != "" && len(r.Serve.Split) == 0 && c.names.has(r.Serve.Variant) {
			continue // the common case, checked without building the field's name
		}
		c.serve(indexed("rules", i)+".serve", r.Serve, false)
	}
}

// policy checks the override policy.
func (c *flagCheck) policy() {
	p := c.f.Override
	switch p.Who {
	case "", WhoNone, WhoStaff, WhoAnyone:
	default:
		c.add("override.who", "unknown policy %q (want none, staff or anyone)", p.Who)
	}
	if p.Audience != "" && !c.audiences[p.Audience] {
		c.add("override.audience", "unknown audience %q", p.Audience)
	}
	for i, v := range p.Variants {
		if !c.names.has(v) {
			c.add(fmt.Sprintf("override.variants[%d]", i), "unknown variant %q", v)
		}
	}
	if p.MaxDuration < 0 {
		c.add("override.max_duration", "negative duration %v", p.MaxDuration)
	}
}

// environments checks each environment's view of the flag, reporting its
// errors under environments.NAME.
func (c *flagCheck) environments() {
	for env := range c.f.Environments {
		if !ValidKey(env) {
			c.add("environments", "invalid environment name %q", env)
			continue
		}
		ef := c.f.In(env)
		if err := ef.validate(c.audiences, c.clauses); err != nil {
			for _, e := range err.(FieldErrors) {
				e.Field = "environments." + env + "." + e.Field
				c.errs = append(c.errs, e)
			}
		}
	}
}

// Validate reports the problems with a, or nil. Audiences cannot refer to
// other audiences.
func (a Audience) Validate() error {
	var errs FieldErrors
	if !ValidKey(a.Name) {
		errs = append(errs, &FieldError{Audience: a.Name, Field: "name", Msg: fmt.Sprintf("invalid audience name %q", a.Name)})
	}
	if len(a.Clauses) == 0 {
		errs = append(errs, &FieldError{Audience: a.Name, Field: "clauses", Msg: "an audience needs at least one clause"})
	}
	for i, c := range a.Clauses {
		if err := checkClause(c); err != nil {
			errs = append(errs, &FieldError{Audience: a.Name, Field: fmt.Sprintf("clauses[%d]", i), Msg: err.Error()})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// nameSet is a set of variant names. Flags have few variants, so a slice
// searched in order beats a map, which validation would build per flag.
type nameSet []string

func (s nameSet) has(name string) bool {
	for _, n := range s {
		if n == name {
			return true
		}
	}
	return false
}

// indexed returns name[i], the name of a list element in field paths.
func indexed(name string, i int) string {
	return name + "[" + strconv.Itoa(i) + "]"
}
