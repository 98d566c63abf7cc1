package flagon

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"strconv"
	"time"
)

// Reason says why an evaluation produced its value. The names are
// OpenFeature's, plus OVERRIDE.
type Reason string

// The reasons.
const (
	ReasonStatic         Reason = "STATIC"          // the flag has no rules or splits: everyone gets the same value
	ReasonDefault        Reason = "DEFAULT"         // no rule matched; the fallthrough (or default variant) served
	ReasonTargetingMatch Reason = "TARGETING_MATCH" // a rule matched
	ReasonSplit          Reason = "SPLIT"           // a percentage split chose the variant
	ReasonDisabled       Reason = "DISABLED"        // the kill switch is on: the default variant served
	ReasonOverride       Reason = "OVERRIDE"        // a per-request override decided
	ReasonError          Reason = "ERROR"           // see the error code; the caller's default is served
)

// ErrorCode classifies a failed evaluation. The names are OpenFeature's.
type ErrorCode string

// The error codes.
const (
	ErrorNone                ErrorCode = ""
	ErrorFlagNotFound        ErrorCode = "FLAG_NOT_FOUND"
	ErrorTypeMismatch        ErrorCode = "TYPE_MISMATCH"
	ErrorParse               ErrorCode = "PARSE_ERROR"
	ErrorTargetingKeyMissing ErrorCode = "TARGETING_KEY_MISSING"
	ErrorInvalidContext      ErrorCode = "INVALID_CONTEXT"
	ErrorProviderNotReady    ErrorCode = "PROVIDER_NOT_READY"
	ErrorGeneral             ErrorCode = "GENERAL"
)

// Result is the outcome of evaluating one flag for one context.
type Result struct {
	Key       string
	Value     any    // the value served; nil when ErrorCode is set and no variant applies
	Variant   string // the variant served; empty for an override value that is no variant
	Reason    Reason
	Rule      int    // 1-based position of the rule that matched, or 0
	RuleID    string // the matching rule's ID, if it has one
	ErrorCode ErrorCode
	Revision  string // the revision of the snapshot evaluated
	// OverrideSource says where an override came from ("cookie", "user",
	// …) when Reason is OVERRIDE.
	OverrideSource string
}

// Err returns the sentinel error behind r.ErrorCode, such as
// ErrNotFound ("flag not found"), or nil when the evaluation succeeded.
func (r Result) Err() error {
	switch r.ErrorCode {
	case ErrorNone:
		return nil
	case ErrorFlagNotFound:
		return errFlagNotFound
	case ErrorTypeMismatch:
		return ErrTypeMismatch
	case ErrorTargetingKeyMissing:
		return ErrTargetingKeyMissing
	case ErrorProviderNotReady:
		return ErrNotReady
	}
	return errors.New(string(r.ErrorCode))
}

// Buckets is the number of buckets percentage splits divide contexts into:
// 100,000, so a split is precise to 0.001%.
const Buckets = 100000

// Bucket returns the bucket, in [0, Buckets), of value under salt. It is
// the whole of Flagon's rollout arithmetic, and it never changes (golden
// tests pin it):
//
//	h := FNV-1a 64-bit over the bytes of salt, then one '/' byte
//	for each whole 8-byte word w of value, little-endian:
//	    h = rotl64((h ^ w) * K, 31)              K = 0x9e3779b97f4a7c15
//	w := the 0 to 7 bytes left, little-endian, zero-padded
//	h = (h ^ w ^ len(value)<<56) * K
//	h ^= h >> 33; h *= 0xff51afd7ed558ccd; h ^= h >> 33
//	h *= 0xc4ceb9fe1a85ec53; h ^= h >> 33        (MurmurHash3's fmix64)
//	bucket = h mod 100000
//
// The salt's part is computed once per flag, so evaluation hashes only the
// value, a word at a time. A split stacks its variants' shares over the
// buckets in order: with shares of 25% and 75%, buckets 0–24,999 get the
// first variant. So raising the first share from 10% to 20% keeps everyone
// it already had.
func Bucket(salt, value string) int {
	return bucketString(saltHash(salt), value)
}

// saltHash is the salt's part of Bucket.
func saltHash(salt string) uint64 {
	return fnvByte(fnvString(fnvOffset, salt), '/')
}

const hashK = 0x9e3779b97f4a7c15

func bucketString(h uint64, v string) int {
	n := len(v)
	for len(v) >= 8 {
		w := uint64(v[0]) | uint64(v[1])<<8 | uint64(v[2])<<16 | uint64(v[3])<<24 |
			uint64(v[4])<<32 | uint64(v[5])<<40 | uint64(v[6])<<48 | uint64(v[7])<<56
		h = bits.RotateLeft64((h^w)*hashK, 31)
		v = v[8:]
	}
	var w uint64
	for i := len(v) - 1; i >= 0; i-- {
		w = w<<8 | uint64(v[i])
	}
	h = (h ^ w ^ uint64(n)<<56) * hashK
	return int(fmix64(h) % Buckets)
}

func bucketBytes(h uint64, v []byte) int {
	n := len(v)
	for len(v) >= 8 {
		w := binary.LittleEndian.Uint64(v)
		h = bits.RotateLeft64((h^w)*hashK, 31)
		v = v[8:]
	}
	var w uint64
	for i := len(v) - 1; i >= 0; i-- {
		w = w<<8 | uint64(v[i])
	}
	h = (h ^ w ^ uint64(n)<<56) * hashK
	return int(fmix64(h) % Buckets)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvByte(h uint64, c byte) uint64 { return (h ^ uint64(c)) * fnvPrime }

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Evaluate returns the result of the flag with the given key for ec,
// consulting the override layer ov (which may be nil) before the rules.
// Same inputs, same output: it does no I/O, takes no locks, and never
// panics. An unknown key gives reason ERROR with FLAG_NOT_FOUND.
func (s *Snapshot) Evaluate(key string, ec EvalContext, ov Overrides) Result {
	var r Result
	s.evaluate(&r, key, &ec, ov, nil)
	return r
}

// evaluate is Evaluate writing into *r, which must be zero. When x is not
// nil it records each step in it too; see Explain.
func (s *Snapshot) evaluate(r *Result, key string, ec *EvalContext, ov Overrides, x *Explanation) {
	a := attrs{ec: ec}
	r.Key = key
	if s == nil {
		r.Reason, r.ErrorCode = ReasonError, ErrorProviderNotReady
		return
	}
	r.Revision = s.revision
	f := s.flags[key]
	if f == nil {
		r.Reason, r.ErrorCode = ReasonError, ErrorFlagNotFound
		return
	}
	f.evaluate(r, &a, ov, x)
}

// evaluate is Evaluate for a compiled flag, writing into *r, whose Key and
// Revision are already set. It is the one evaluator: Explain runs it with
// x set, everything else with x nil, when it allocates nothing. It must
// never panic: every index it uses was checked when the flag was compiled.
func (f *cflag) evaluate(r *Result, a *attrs, ov Overrides, x *Explanation) {
	if ov != nil && f.override(r, ov, x) {
		return
	}
	if f.disabled {
		f.serveVariant(r, f.deflt, ReasonDisabled)
		return
	}
	for i := range f.rules {
		rule := &f.rules[i]
		if !rule.match(a, x) {
			continue
		}
		r.Rule, r.RuleID = i+1, rule.id
		f.serve(r, &rule.serve, a, ReasonTargetingMatch, x)
		return
	}
	reason := ReasonDefault
	if len(f.rules) == 0 {
		reason = ReasonStatic
	}
	f.serve(r, &f.fall, a, reason, x)
}

// override serves the override ov holds for the flag, if the flag can take
// its value, and reports whether it did. Layers (from Explain) are
// consulted in order: an override the flag cannot take gives way to the
// next layer's.
func (f *cflag) override(r *Result, ov Overrides, x *Explanation) bool {
	if ls, ok := ov.(layerList); ok {
		for i := range ls {
			if ls[i].Overrides != nil && f.overrideFrom(r, ls[i].Overrides, ls[i].Name, x) {
				return true
			}
		}
		return false
	}
	return f.overrideFrom(r, ov, "", x)
}

func (f *cflag) overrideFrom(r *Result, ov Overrides, layer string, x *Explanation) bool {
	o, ok := ov.Override(f.key)
	if !ok {
		return false
	}
	if !f.acceptsOverride(o.Value) {
		if x != nil {
			x.refuseOverride(f, layer, o)
		}
		return false
	}
	r.Value = o.Value
	r.Variant = f.variantOf(o.Value)
	r.Reason = ReasonOverride
	r.OverrideSource = o.Source
	if x != nil {
		x.Layer = layer
		x.Layers = append(x.Layers, LayerStep{Layer: layer, Source: o.Source, Value: o.Value})
	}
	return true
}

func (f *cflag) serveVariant(r *Result, i int, reason Reason) {
	v := &f.variants[i]
	r.Value, r.Variant, r.Reason = v.value, v.name, reason
}

func (f *cflag) serve(r *Result, s *cserve, a *attrs, reason Reason, x *Explanation) {
	if len(s.split) == 0 {
		f.serveVariant(r, s.variant, reason)
		return
	}
	b, ok := f.bucket(s.by, a.ec)
	if !ok {
		f.serveVariant(r, f.deflt, ReasonError)
		r.ErrorCode = ErrorTargetingKeyMissing
		if x != nil {
			x.recordSplit(f, s, a.ec, r.Rule, -1, -1)
		}
		return
	}
	for i, sp := range s.split {
		if uint32(b) < sp.upto {
			f.serveVariant(r, sp.variant, ReasonSplit)
			if x != nil {
				x.recordSplit(f, s, a.ec, r.Rule, b, i)
			}
			return
		}
	}
	// Unreachable: the last share ends at Buckets.
	f.serveVariant(r, s.split[len(s.split)-1].variant, ReasonSplit)
}

// bucket returns ec's bucket for a split on attribute by (the targeting
// key when empty).
func (f *cflag) bucket(by string, ec *EvalContext) (int, bool) {
	if by == "" {
		by = KeyAttribute
	}
	v, ok := ec.lookup(by)
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			return 0, false
		}
		return bucketString(f.saltHash, x), true
	case int:
		var buf [24]byte
		return bucketBytes(f.saltHash, strconv.AppendInt(buf[:0], int64(x), 10)), true
	case int64:
		var buf [24]byte
		return bucketBytes(f.saltHash, strconv.AppendInt(buf[:0], x, 10)), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, false
		}
		var buf [32]byte
		return bucketBytes(f.saltHash, strconv.AppendFloat(buf[:0], x, 'f', -1, 64)), true
	}
	return 0, false
}

// match reports whether the rule holds for a. When x is not nil, it
// records the rule as matched or, if not, the first condition that failed.
func (r *crule) match(a *attrs, x *Explanation) bool {
	for i, aud := range r.audiences {
		if j := aud.failing(a); j >= 0 {
			if x != nil {
				x.recordRule(r, a, i, j)
			}
			return false
		}
	}
	for i := range r.clauses {
		if !r.clauses[i].match(a) {
			if x != nil {
				x.recordRule(r, a, -1, i)
			}
			return false
		}
	}
	if x != nil {
		x.recordRule(r, a, -1, -1)
	}
	return true
}

func (aud *caudience) match(a *attrs) bool { return aud.failing(a) < 0 }

// failing returns the index of the first of the audience's clauses that
// does not hold for a, or -1 when a is in the audience.
func (aud *caudience) failing(a *attrs) int {
	for i := range aud.clauses {
		if !aud.clauses[i].match(a) {
			return i
		}
	}
	return -1
}

// attrs reads the attributes of the context being evaluated. For a batch
// of evaluations of one context (Client.All) it remembers each attribute it
// has looked up, by the ID the snapshot gave its name, so a thousand rules
// on is_staff cost one map lookup.
type attrs struct {
	ec   *EvalContext
	memo []memoSlot // nil: look every attribute up
}

type memoSlot struct {
	v     any
	state uint8 // 0 not looked up yet, 1 missing, 2 present
}

func (a *attrs) get(c *clause) (any, bool) {
	if c.id >= len(a.memo) {
		return a.ec.lookup(c.attr)
	}
	m := &a.memo[c.id]
	switch m.state {
	case 1:
		return nil, false
	case 2:
		return m.v, true
	}
	v, ok := a.ec.lookup(c.attr)
	if ok {
		m.v, m.state = v, 2
	} else {
		m.state = 1
	}
	return v, ok
}

// acceptsOverride reports whether v may stand as the flag's value: it has
// the flag's type and, if the policy lists variants, is one of theirs.
func (f *cflag) acceptsOverride(v any) bool {
	if !typeOK(f.typ, v) {
		return false
	}
	if len(f.overrideVariants) == 0 {
		return true
	}
	i := f.variantIndex(v)
	return i >= 0 && f.overrideVariants[i]
}

// variantOf returns the name of the variant whose value is v, or "".
func (f *cflag) variantOf(v any) string {
	if i := f.variantIndex(v); i >= 0 {
		return f.variants[i].name
	}
	return ""
}

func (f *cflag) variantIndex(v any) int {
	for i := range f.variants {
		if ValueEqual(f.variants[i].value, v) {
			return i
		}
	}
	return -1
}

// typeOK reports whether v is a canonical value of type t.
func typeOK(t Type, v any) bool {
	switch v.(type) {
	case bool:
		return t == TypeBool
	case string:
		return t == TypeString
	case int64:
		return t == TypeInt
	case float64:
		return t == TypeFloat
	case map[string]any:
		return t == TypeObject
	}
	return false
}

// ValueEqual reports whether a and b are the same canonical flag value
// (bool, string, int64 or float64, see ConvertValue). Objects never compare
// equal: they cannot name a variant.
func ValueEqual(a, b any) bool {
	switch x := a.(type) {
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	}
	return false
}

// Expired reports whether the flag's expiry date is before now.
func (f Flag) Expired(now time.Time) bool {
	return !f.Expires.IsZero() && f.Expires.Before(now)
}
