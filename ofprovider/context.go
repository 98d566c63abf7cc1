package ofprovider

import (
	"context"
	"net/http"

	"github.com/flagon/flagon"
	"github.com/open-feature/go-sdk/openfeature"
)

// OverridesAttribute is the evaluation-context attribute under which a
// request's flagon.Overrides travel through the OpenFeature SDK to the
// provider. Set it with WithOverrides or Transaction; the provider does not
// pass it on as an attribute.
const OverridesAttribute = "flagon.overrides"

// WithOverrides returns a copy of ctx whose OpenFeature transaction context
// carries o, merged with the transaction context ctx already has. The
// provider applies o, before the flags' rules, to every evaluation made
// with the returned context.
func WithOverrides(ctx context.Context, o flagon.Overrides) context.Context {
	return openfeature.MergeTransactionContext(ctx,
		openfeature.NewTargetlessEvaluationContext(map[string]any{OverridesAttribute: o}))
}

// EvaluationContext returns the OpenFeature evaluation context for ec, with
// the overrides o (which may be nil).
func EvaluationContext(ec flagon.EvalContext, o flagon.Overrides) openfeature.EvaluationContext {
	attrs := make(map[string]any, len(ec.Attrs)+1)
	for k, v := range ec.Attrs {
		attrs[k] = v
	}
	if o != nil {
		attrs[OverridesAttribute] = o
	}
	return openfeature.NewEvaluationContext(ec.Key, attrs)
}

// Transaction returns a copy of ctx whose OpenFeature transaction context
// is the flagon scope ctx carries: the EvalContext and the Overrides that
// flagonhttp's middleware (or flagon.WithScope) put there. OpenFeature
// clients then evaluate for the same user, with the same overrides, as
// the flagon client does.
func Transaction(ctx context.Context) context.Context {
	return openfeature.MergeTransactionContext(ctx,
		EvaluationContext(flagon.EvalContextFrom(ctx), flagon.OverridesFrom(ctx)))
}

// Middleware applies Transaction to each request. Mount it inside
// flagonhttp's middleware, which builds the flagon scope it copies.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(Transaction(r.Context())))
	})
}

// scope returns ctx carrying the flagon scope for an evaluation: the
// targeting key and attributes of the flattened OpenFeature context, and
// the overrides under OverridesAttribute. When the OpenFeature context is
// empty, the flagon scope ctx already carries is used as it is; when it
// has no overrides, those ctx carries apply.
func scope(ctx context.Context, flat openfeature.FlattenedContext) context.Context {
	o, hasOverrides := flat[OverridesAttribute].(flagon.Overrides)
	key, _ := flat[openfeature.TargetingKey].(string)
	n := len(flat)
	if _, ok := flat[OverridesAttribute]; ok {
		n--
	}
	if n == 0 {
		if !hasOverrides {
			return ctx
		}
		return flagon.WithOverrides(ctx, o)
	}
	if !hasOverrides {
		o = flagon.OverridesFrom(ctx)
	}
	return flagon.WithScope(ctx, flagon.EvalContext{Key: key, Attrs: cloneAttrs(flat)}, o)
}
