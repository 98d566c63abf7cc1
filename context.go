package flagon

import (
	"context"
	"time"
)

// An EvalContext describes who a flag is evaluated for: a targeting key
// (usually a user or session ID) and attributes such as is_staff, email or
// country. Rules compare attributes; percentage splits hash the targeting
// key, or the attribute they name.
//
// Attribute values are strings, bools, numbers of any Go type, time.Time,
// or lists ([]string, []any) whose elements are compared one by one.
type EvalContext struct {
	Key   string
	Attrs map[string]any
}

// KeyAttribute is the attribute name under which rules see the targeting
// key. "targetingKey", OpenFeature's name for it, is accepted too.
const KeyAttribute = "key"

// lookup returns the value of the named attribute.
func (ec *EvalContext) lookup(name string) (any, bool) {
	if name == KeyAttribute || name == "targetingKey" {
		if ec.Key == "" {
			if v, ok := ec.Attrs[name]; ok {
				return v, true
			}
			return nil, false
		}
		return ec.Key, true
	}
	v, ok := ec.Attrs[name]
	return v, ok
}

// An Override is a value chosen for one flag by someone, for a time,
// instead of what the flag's rules would serve.
type Override struct {
	Value     any       // of the flag's type: bool, string, int64, float64 or map[string]any
	Source    string    // where it came from, such as "cookie", "user" or "header"
	SetAt     time.Time // when it was set; zero if unknown
	ExpiresAt time.Time // when it lapses; zero for never
}

// Overrides is the per-request override layer, consulted before a flag's
// rules. The HTTP middleware fills it from a signed cookie, a header or the
// signed-in user's stored overrides.
type Overrides interface {
	// Override returns the override for the flag with the given key.
	Override(key string) (Override, bool)
}

// OverrideMap is the simplest Overrides: a map from flag key to override.
type OverrideMap map[string]Override

// Override implements Overrides.
func (m OverrideMap) Override(key string) (Override, bool) {
	o, ok := m[key]
	return o, ok
}

// scope is what travels in a context.Context: one value, so that an
// evaluation costs one context lookup.
type scope struct {
	ec        EvalContext
	overrides Overrides
}

type scopeKey struct{}

// scopeContext is the context the With functions return: a
// context.WithValue whose value evaluation finds by a type assertion when
// it is the outermost context, as it is in a handler behind the
// middleware, instead of by walking the chain of contexts.
type scopeContext struct {
	context.Context
	s scope
}

// Value returns the scope for scopeKey and asks the parent otherwise.
func (c *scopeContext) Value(key any) any {
	if _, ok := key.(scopeKey); ok {
		return &c.s
	}
	return c.Context.Value(key)
}

func withScope(parent context.Context, s scope) context.Context {
	if parent == nil {
		panic("cannot create context from nil parent") // as context.WithValue
	}
	return &scopeContext{Context: parent, s: s}
}

func scopeFrom(ctx context.Context) *scope {
	if c, ok := ctx.(*scopeContext); ok {
		return &c.s
	}
	if ctx == nil {
		return nil
	}
	s, _ := ctx.Value(scopeKey{}).(*scope)
	return s
}

// WithEvalContext returns a copy of ctx that carries ec, keeping any
// overrides ctx already carries. Middleware calls it once per request.
func WithEvalContext(ctx context.Context, ec EvalContext) context.Context {
	s := scope{ec: ec}
	if p := scopeFrom(ctx); p != nil {
		s.overrides = p.overrides
	}
	return withScope(ctx, s)
}

// EvalContextFrom returns the EvalContext that ctx carries, or the zero
// EvalContext.
func EvalContextFrom(ctx context.Context) EvalContext {
	if s := scopeFrom(ctx); s != nil {
		return s.ec
	}
	return EvalContext{}
}

// WithOverrides returns a copy of ctx that carries o, keeping any
// EvalContext ctx already carries. A nil o removes the overrides.
func WithOverrides(ctx context.Context, o Overrides) context.Context {
	s := scope{overrides: o}
	if p := scopeFrom(ctx); p != nil {
		s.ec = p.ec
	}
	return withScope(ctx, s)
}

// OverridesFrom returns the Overrides that ctx carries, or nil.
func OverridesFrom(ctx context.Context) Overrides {
	if s := scopeFrom(ctx); s != nil {
		return s.overrides
	}
	return nil
}

// WithScope returns a copy of ctx that carries both ec and o, in one
// context value.
func WithScope(ctx context.Context, ec EvalContext, o Overrides) context.Context {
	return withScope(ctx, scope{ec: ec, overrides: o})
}
