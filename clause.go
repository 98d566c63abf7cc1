package flagon

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// An Operator compares a context attribute with a clause's values.
type Operator string

// The operators. A clause with several values holds when the attribute
// compares true with any of them, except for the negated operators
// (NotEquals, NotIn), which hold when it compares true with none.
const (
	OpEquals     Operator = "equals"
	OpNotEquals  Operator = "not_equals"
	OpIn         Operator = "in"     // same as OpEquals; reads better with a list
	OpNotIn      Operator = "not_in" // same as OpNotEquals
	OpContains   Operator = "contains"
	OpStartsWith Operator = "starts_with"
	OpEndsWith   Operator = "ends_with"
	OpMatches    Operator = "matches" // RE2 regular expression, compiled once
	OpLT         Operator = "lt"
	OpLTE        Operator = "lte"
	OpGT         Operator = "gt"
	OpGTE        Operator = "gte"
	OpSemverEq   Operator = "semver_eq"
	OpSemverLT   Operator = "semver_lt"
	OpSemverLTE  Operator = "semver_lte"
	OpSemverGT   Operator = "semver_gt"
	OpSemverGTE  Operator = "semver_gte"
	OpBefore     Operator = "before" // times: time.Time, RFC 3339 string, or Unix seconds
	OpAfter      Operator = "after"
	OpExists     Operator = "exists" // the attribute is present; takes no values
)

// operatorAliases maps the symbols a config file may use to operators.
var operatorAliases = map[string]Operator{
	"==": OpEquals, "=": OpEquals, "!=": OpNotEquals,
	"<": OpLT, "<=": OpLTE, ">": OpGT, ">=": OpGTE,
}

// ParseOperator returns the operator that s names, accepting the symbols
// ==, !=, <, <=, > and >= as well as the names.
func ParseOperator(s string) (Operator, bool) {
	if op, ok := operatorAliases[s]; ok {
		return op, true
	}
	op := Operator(s)
	switch op {
	case OpEquals, OpNotEquals, OpIn, OpNotIn, OpContains, OpStartsWith, OpEndsWith,
		OpMatches, OpLT, OpLTE, OpGT, OpGTE, OpSemverEq, OpSemverLT, OpSemverLTE,
		OpSemverGT, OpSemverGTE, OpBefore, OpAfter, OpExists:
		return op, true
	}
	return "", false
}

// A Clause holds when the context's Attribute compares true, by Op, with
// one of Values. The attribute "key" (or "targetingKey") is the context's
// targeting key.
type Clause struct {
	Attribute string   `json:"attribute"`
	Op        Operator `json:"op"`
	Values    []any    `json:"values,omitempty"`
}

// opSymbols are the symbols Clause.String writes for the operators that
// have one, as config files usually spell them.
var opSymbols = map[Operator]string{
	OpEquals: "==", OpNotEquals: "!=", OpLT: "<", OpLTE: "<=", OpGT: ">", OpGTE: ">=",
}

// String returns c in the shorthand ParseClause reads: for every clause
// ParseClause returns, ParseClause(c.String()) returns c again. A string
// value that would read as something else (a boolean, a number, a quoted
// string, an empty or padded string, one holding a comma) is written
// double-quoted, in Go syntax.
func (c Clause) String() string {
	var b strings.Builder
	b.WriteString(c.Attribute)
	b.WriteByte(' ')
	if sym, ok := opSymbols[c.Op]; ok {
		b.WriteString(sym)
	} else {
		b.WriteString(string(c.Op))
	}
	for i, v := range c.Values {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(FormatScalar(v))
	}
	return b.String()
}

// FormatScalar writes v as ParseScalar reads it back: a string that would
// read as another value is quoted, and a whole float64 keeps a decimal
// point. Other types are written as fmt.Sprint writes them.
func FormatScalar(v any) string {
	switch x := v.(type) {
	case string:
		if needsQuote(x) {
			return strconv.Quote(x)
		}
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEnN") { // not 1e+21, NaN, Inf
			s += ".0"
		}
		return s
	}
	return fmt.Sprint(v)
}

// needsQuote reports whether ParseScalar, reading s among a clause's
// values, would not give s back.
func needsQuote(s string) bool {
	if s == "" || s[0] == '"' || strings.TrimSpace(s) != s || strings.ContainsRune(s, ',') {
		return true
	}
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return true
		}
	}
	v, ok := ParseScalar(s).(string)
	return !ok || v != s
}

// ParseClause reads the shorthand "attribute op value[, value…]", such as
// "is_staff == true" or "country in NL, BE". Values that read as booleans or
// numbers become those (see ParseScalar); others stay strings, and may be
// double-quoted in Go syntax, as a value holding a comma must be.
func ParseClause(s string) (Clause, error) {
	fields := strings.Fields(s)
	if len(fields) < 2 {
		return Clause{}, fmt.Errorf("clause %q: want \"attribute op value\"", s)
	}
	op, ok := ParseOperator(fields[1])
	if !ok {
		return Clause{}, fmt.Errorf("clause %q: unknown operator %q", s, fields[1])
	}
	c := Clause{Attribute: fields[0], Op: op}
	// The values are what follows the operator, which follows the
	// attribute: search for it only after the attribute, whose name may
	// contain the operator's text ("domain in …").
	afterAttr := strings.Index(s, fields[0]) + len(fields[0])
	rest := s[afterAttr:]
	rest = strings.TrimSpace(rest[strings.Index(rest, fields[1])+len(fields[1]):])
	if rest != "" {
		c.Values = splitValues(rest)
	}
	if _, err := compileClause(c); err != nil {
		return Clause{}, fmt.Errorf("clause %q: %w", s, err)
	}
	return c, nil
}

// splitValues reads a clause's comma-separated values. A value that is a
// whole Go double-quoted string may hold commas; any other value ends at
// the next comma.
func splitValues(s string) []any {
	var vals []any
	for {
		part := s
		end := strings.IndexByte(s, ',')
		if end >= 0 {
			part = s[:end]
		}
		lead := strings.TrimLeftFunc(s, unicode.IsSpace)
		if q, err := strconv.QuotedPrefix(lead); err == nil && lead[0] == '"' {
			after := strings.TrimLeftFunc(lead[len(q):], unicode.IsSpace)
			if after == "" || after[0] == ',' {
				u, _ := strconv.Unquote(q) // QuotedPrefix checked it
				vals = append(vals, u)
				if after == "" {
					return vals
				}
				s = after[1:]
				continue
			}
		}
		vals = append(vals, ParseScalar(strings.TrimSpace(part)))
		if end < 0 {
			return vals
		}
		s = s[end+1:]
	}
}

// ParseScalar reads one value as the shorthand of clauses and other text
// forms write it: a Go double-quoted string is that string; true and false
// are booleans; a decimal integer is an int64; another finite number is a
// float64; anything else is the string itself. FormatScalar writes it back.
func ParseScalar(s string) any {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	if !looksNumeric(s) {
		return s
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	return s
}

// cvalue is one clause value, pre-parsed into every form an attribute may
// be compared with.
type cvalue struct {
	str    string
	isStr  bool
	num    float64
	isNum  bool
	b      bool
	isBool bool
	ver    semver
	isVer  bool
	t      time.Time
	isTime bool
	re     *regexp.Regexp
}

// clause is a compiled Clause.
type clause struct {
	attr   string
	id     int // the attribute's ID in its snapshot, for attrs' memo
	op     Operator
	negate bool
	vals   []cvalue
}

// checkClause reports what is wrong with c, or nil.
func checkClause(c Clause) error {
	_, err := compileClause(c)
	return err
}

func compileClause(c Clause) (clause, error) {
	if c.Attribute == "" {
		return clause{}, fmt.Errorf("clause names no attribute")
	}
	op, ok := ParseOperator(string(c.Op))
	if !ok {
		return clause{}, fmt.Errorf("unknown operator %q", c.Op)
	}
	cc := clause{attr: c.Attribute, op: op}
	switch op {
	case OpIn:
		cc.op = OpEquals
	case OpNotEquals, OpNotIn:
		cc.op, cc.negate = OpEquals, true
	}
	if op == OpExists {
		if len(c.Values) != 0 {
			return clause{}, fmt.Errorf("operator exists takes no values")
		}
		return cc, nil
	}
	if len(c.Values) == 0 {
		return clause{}, fmt.Errorf("operator %s needs at least one value", op)
	}
	cc.vals = make([]cvalue, len(c.Values))
	for i, v := range c.Values {
		cv, err := compileValue(cc.op, v)
		if err != nil {
			return clause{}, fmt.Errorf("value %d: %w", i+1, err)
		}
		cc.vals[i] = cv
	}
	return cc, nil
}

func compileValue(op Operator, v any) (cvalue, error) {
	var cv cvalue
	switch x := v.(type) {
	case string:
		cv.str, cv.isStr = x, true
		if looksNumeric(x) {
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				cv.num, cv.isNum = f, true
			}
		}
		if x == "true" || x == "false" {
			cv.b, cv.isBool = x == "true", true
		}
	case bool:
		cv.b, cv.isBool = x, true
		cv.str, cv.isStr = strconv.FormatBool(x), true
	case time.Time:
		cv.t, cv.isTime = x, true
	default:
		if f, ok := toFloat(v); ok {
			cv.num, cv.isNum = f, true
			cv.str, cv.isStr = strconv.FormatFloat(f, 'f', -1, 64), true
		} else {
			return cv, fmt.Errorf("%v (%T) is not a string, number, boolean or time", v, v)
		}
	}
	switch op {
	case OpContains, OpStartsWith, OpEndsWith:
		if !cv.isStr {
			return cv, fmt.Errorf("operator %s needs a string, not %v", op, v)
		}
	case OpMatches:
		if !cv.isStr {
			return cv, fmt.Errorf("operator matches needs a regular expression string, not %v", v)
		}
		re, err := regexp.Compile(cv.str)
		if err != nil {
			return cv, fmt.Errorf("bad regular expression: %w", err)
		}
		cv.re = re
	case OpLT, OpLTE, OpGT, OpGTE:
		if !cv.isNum {
			return cv, fmt.Errorf("operator %s needs a number, not %v", op, v)
		}
	case OpSemverEq, OpSemverLT, OpSemverLTE, OpSemverGT, OpSemverGTE:
		ver, ok := parseSemver(cv.str)
		if !cv.isStr || !ok {
			return cv, fmt.Errorf("operator %s needs a semantic version, not %v", op, v)
		}
		cv.ver, cv.isVer = ver, true
	case OpBefore, OpAfter:
		if !cv.isTime {
			t, ok := toTime(v)
			if !ok {
				return cv, fmt.Errorf("operator %s needs an RFC 3339 time or Unix seconds, not %v", op, v)
			}
			cv.t, cv.isTime = t, true
		}
	}
	return cv, nil
}

// looksNumeric reports whether s may parse as a number, so that most
// strings skip strconv.ParseFloat and the error it would allocate.
func looksNumeric(s string) bool {
	if s == "" {
		return false
	}
	switch c := s[0]; {
	case '0' <= c && c <= '9', c == '-', c == '+', c == '.':
		return true
	case c == 'i', c == 'I', c == 'n', c == 'N': // inf, NaN
		return true
	}
	return false
}

// toFloat returns the numeric value of v, for any Go number type.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case int32:
		return float64(n), true
	case int16:
		return float64(n), true
	case int8:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint8:
		return float64(n), true
	}
	return 0, false
}

// toTime returns the time v stands for: a time.Time, an RFC 3339 string (or
// a date, 2006-01-02), or Unix seconds.
func toTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		if t, err := time.Parse(time.RFC3339, x); err == nil {
			return t, true
		}
		if t, err := time.Parse(time.DateOnly, x); err == nil {
			return t, true
		}
		return time.Time{}, false
	}
	if f, ok := toFloat(v); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), true
	}
	return time.Time{}, false
}

// match reports whether the clause holds for ec. It does not allocate for
// attributes of the common types (string, bool, numbers, time.Time,
// []string).
func (c *clause) match(a *attrs) bool {
	v, ok := a.get(c)
	if c.op == OpExists {
		return ok
	}
	if !ok {
		// A missing attribute equals nothing, so "not in" holds.
		return c.negate
	}
	hit := false
	switch a := v.(type) {
	case []string:
		for _, s := range a {
			if c.matchOne(s) {
				hit = true
				break
			}
		}
	case []any:
		for _, e := range a {
			if c.matchOne(e) {
				hit = true
				break
			}
		}
	default:
		hit = c.matchOne(v)
	}
	return hit != c.negate
}

// matchOne reports whether one attribute value compares true with any of
// the clause's values.
func (c *clause) matchOne(v any) bool {
	switch c.op {
	case OpEquals:
		return c.equals(v)
	case OpContains, OpStartsWith, OpEndsWith, OpMatches:
		s, ok := v.(string)
		if !ok {
			return false
		}
		for i := range c.vals {
			cv := &c.vals[i]
			switch c.op {
			case OpContains:
				if strings.Contains(s, cv.str) {
					return true
				}
			case OpStartsWith:
				if strings.HasPrefix(s, cv.str) {
					return true
				}
			case OpEndsWith:
				if strings.HasSuffix(s, cv.str) {
					return true
				}
			case OpMatches:
				if cv.re.MatchString(s) {
					return true
				}
			}
		}
		return false
	case OpLT, OpLTE, OpGT, OpGTE:
		f, ok := toFloat(v)
		if !ok {
			s, isStr := v.(string)
			if !isStr {
				return false
			}
			var err error
			if f, err = strconv.ParseFloat(s, 64); err != nil {
				return false
			}
		}
		for i := range c.vals {
			n := c.vals[i].num
			if c.op == OpLT && f < n || c.op == OpLTE && f <= n || c.op == OpGT && f > n || c.op == OpGTE && f >= n {
				return true
			}
		}
		return false
	case OpSemverEq, OpSemverLT, OpSemverLTE, OpSemverGT, OpSemverGTE:
		s, ok := v.(string)
		if !ok {
			return false
		}
		ver, ok := parseSemver(s)
		if !ok {
			return false
		}
		for i := range c.vals {
			d := ver.compare(c.vals[i].ver)
			switch c.op {
			case OpSemverEq:
				ok = d == 0
			case OpSemverLT:
				ok = d < 0
			case OpSemverLTE:
				ok = d <= 0
			case OpSemverGT:
				ok = d > 0
			case OpSemverGTE:
				ok = d >= 0
			}
			if ok {
				return true
			}
		}
		return false
	case OpBefore, OpAfter:
		t, ok := toTime(v)
		if !ok {
			return false
		}
		for i := range c.vals {
			if c.op == OpBefore && t.Before(c.vals[i].t) || c.op == OpAfter && t.After(c.vals[i].t) {
				return true
			}
		}
		return false
	}
	return false
}

func (c *clause) equals(v any) bool {
	switch a := v.(type) {
	case string:
		for i := range c.vals {
			if c.vals[i].isStr && c.vals[i].str == a {
				return true
			}
		}
	case bool:
		for i := range c.vals {
			if c.vals[i].isBool && c.vals[i].b == a {
				return true
			}
		}
	case time.Time:
		for i := range c.vals {
			if c.vals[i].isTime && c.vals[i].t.Equal(a) {
				return true
			}
		}
	default:
		f, ok := toFloat(v)
		if !ok {
			return false
		}
		for i := range c.vals {
			if c.vals[i].isNum && c.vals[i].num == f {
				return true
			}
		}
	}
	return false
}

// semver is a parsed semantic version (https://semver.org). Pre is the
// pre-release part, a substring of the parsed text; build metadata is
// ignored, as the specification says.
type semver struct {
	major, minor, patch uint64
	pre                 string
}

// parseSemver parses "1.2.3", "v1.2.3", "1.2.3-rc.1+build" and, leniently,
// "1.2" and "1" (missing parts are 0). It does not allocate.
func parseSemver(s string) (semver, bool) {
	var v semver
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		v.pre = s[i+1:]
		s = s[:i]
		if v.pre == "" {
			return v, false
		}
	}
	var parts [3]uint64
	n := 0
	for n < 3 {
		i := strings.IndexByte(s, '.')
		part := s
		if i >= 0 {
			part = s[:i]
		}
		x, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return v, false
		}
		parts[n] = x
		n++
		if i < 0 {
			s = ""
			break
		}
		s = s[i+1:]
	}
	if s != "" {
		return v, false
	}
	v.major, v.minor, v.patch = parts[0], parts[1], parts[2]
	return v, true
}

// compare returns -1, 0 or +1 as v is less than, equal to or greater than w,
// by semantic-version precedence.
func (v semver) compare(w semver) int {
	if c := cmp.Compare(v.major, w.major); c != 0 {
		return c
	}
	if c := cmp.Compare(v.minor, w.minor); c != 0 {
		return c
	}
	if c := cmp.Compare(v.patch, w.patch); c != 0 {
		return c
	}
	switch {
	case v.pre == w.pre:
		return 0
	case v.pre == "":
		return 1
	case w.pre == "":
		return -1
	}
	a, b := v.pre, w.pre
	for a != "" || b != "" {
		if a == "" {
			return -1
		}
		if b == "" {
			return 1
		}
		var x, y string
		x, a, _ = strings.Cut(a, ".")
		y, b, _ = strings.Cut(b, ".")
		xn, xerr := strconv.ParseUint(x, 10, 64)
		yn, yerr := strconv.ParseUint(y, 10, 64)
		switch {
		case xerr == nil && yerr == nil:
			if c := cmp.Compare(xn, yn); c != 0 {
				return c
			}
		case xerr == nil:
			return -1 // numeric identifiers sort first
		case yerr == nil:
			return 1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return 0
}
