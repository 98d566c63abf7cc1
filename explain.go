package flagon

import (
	"fmt"
	"strconv"
)

// An OverrideLayer is one named source of per-request overrides, such as
// the override cookie or the signed-in user's stored overrides. Explain
// consults layers in order: the first whose override the flag can take
// decides, and an override it cannot take gives way to the next layer's.
// flagonhttp.OverrideLayers returns the layers its middleware applied to a
// request.
type OverrideLayer struct {
	Name      string // such as "header", "cookie" or "user"; Explain reports it
	Overrides Overrides
}

// layerList is the Overrides that Explain evaluates with: the evaluator
// walks its layers itself.
type layerList []OverrideLayer

// Override implements Overrides: the first layer's override of key.
// Evaluation does not call it; it skips overrides a flag cannot take.
func (l layerList) Override(key string) (Override, bool) {
	for _, ly := range l {
		if ly.Overrides == nil {
			continue
		}
		if o, ok := ly.Overrides.Override(key); ok {
			return o, true
		}
	}
	return Override{}, false
}

// An Explanation says how an evaluation reached its Result: the override
// layers it met, the rules it tried and why each was skipped, and the
// percentage split that decided, if one did.
type Explanation struct {
	// Result is what evaluation returns for the same inputs.
	Result Result
	// Layer names the override layer that decided, or is "" when none did
	// (or when the override came from layers with no names).
	Layer string
	// Layers lists the overrides of the flag met, in layer order: those
	// the flag could not take, then the one that decided, if any.
	Layers []LayerStep
	// Rules lists the rules tried, in order: each skipped one with the
	// condition that failed, then the one that matched, if any.
	Rules []RuleStep
	// Split is the percentage split that decided (or failed to bucket
	// the context), or nil.
	Split *SplitStep
}

// A LayerStep is one override met for the flag being explained.
type LayerStep struct {
	Layer  string // the layer's name
	Source string // the override's own Source
	Value  any
	// Refused says why the flag cannot take Value; it is empty for the
	// override that decided.
	Refused string
}

// A RuleStep is one rule tried: matched, or skipped with the first
// condition that failed.
type RuleStep struct {
	Rule    int    // 1-based position among the flag's rules
	ID      string // the rule's ID, if it has one
	Matched bool
	// For a skipped rule: the audience whose clause failed ("" for one of
	// the rule's own clauses), the clause, and the context's value of its
	// attribute (Missing when the context has none).
	Audience string
	Clause   Clause
	Value    any
	Missing  bool
}

// A SplitStep is the percentage split that decided: the value it hashed,
// the bucket that gave, and the share the bucket fell in.
type SplitStep struct {
	Rule    int    // the rule whose split it is, or 0 for the fallthrough
	By      string // the attribute hashed: KeyAttribute for the targeting key
	Value   any    // the context's value of By; nil when it has none
	Bucket  int    // in [0, Buckets), or -1 when Value could not be bucketed
	Lo, Hi  int    // the buckets of the share Bucket fell in: [Lo, Hi)
	Variant string // the share's variant
}

// Percent returns the share of contexts the split's decided share holds.
func (s *SplitStep) Percent() float64 { return float64(s.Hi-s.Lo) * 100 / Buckets }

// Explain evaluates the flag with the given key for ec, with the override
// layers given, highest first, and says how it decided. It runs the
// evaluator that Evaluate and Client run, recording as it goes, so the
// Result is theirs: Explain(key, ec, OverrideLayer{Overrides: ov}).Result
// equals Evaluate(key, ec, ov). Explain allocates; evaluation does not.
func (s *Snapshot) Explain(key string, ec EvalContext, layers ...OverrideLayer) Explanation {
	var x Explanation
	var ov Overrides
	if len(layers) > 0 {
		ov = layerList(layers)
	}
	s.evaluate(&x.Result, key, &ec, ov, &x)
	return x
}

// refuseOverride records an override that f cannot take.
func (x *Explanation) refuseOverride(f *cflag, layer string, o Override) {
	why := fmt.Sprintf("not a %s value", f.typ)
	if typeOK(f.typ, o.Value) {
		why = "not a variant the flag's override policy allows"
	}
	x.Layers = append(x.Layers, LayerStep{Layer: layer, Source: o.Source, Value: o.Value, Refused: why})
}

// recordRule records the next rule tried: matched when aud and cl are
// both -1, else failed at clause cl of the rule (aud -1) or of its
// audience aud.
func (x *Explanation) recordRule(r *crule, a *attrs, aud, cl int) {
	st := RuleStep{Rule: len(x.Rules) + 1, ID: r.id, Matched: aud < 0 && cl < 0}
	if !st.Matched {
		var c *clause
		if aud >= 0 {
			ca := r.audiences[aud]
			c, st.Audience = &ca.clauses[cl], ca.name
			if cl < len(ca.defs) {
				st.Clause = ca.defs[cl]
			}
		} else {
			c = &r.clauses[cl]
			if cl < len(r.defs) {
				st.Clause = r.defs[cl]
			}
		}
		v, ok := a.ec.lookup(c.attr)
		st.Value, st.Missing = v, !ok
	}
	x.Rules = append(x.Rules, st)
}

// recordSplit records the split s of f: ec's bucket b and the share i it
// fell in, or b -1 when ec could not be bucketed.
func (x *Explanation) recordSplit(f *cflag, s *cserve, ec *EvalContext, rule, b, i int) {
	st := &SplitStep{Rule: rule, By: s.by, Bucket: b}
	if st.By == "" {
		st.By = KeyAttribute
	}
	st.Value, _ = ec.lookup(st.By)
	if b >= 0 {
		if i > 0 {
			st.Lo = int(s.split[i-1].upto)
		}
		st.Hi = int(s.split[i].upto)
		st.Variant = f.variants[s.split[i].variant].name
	}
	x.Split = st
}

// Steps returns the explanation as sentences, one per step, ending with
// the result.
func (x *Explanation) Steps() []string {
	var out []string
	for _, l := range x.Layers {
		name := l.Layer
		if name == "" {
			name = l.Source
		}
		if l.Refused != "" {
			out = append(out, fmt.Sprintf("override from %s: %s ignored: %s", name, FormatScalar(l.Value), l.Refused))
			continue
		}
		out = append(out, fmt.Sprintf("override from %s decides: %s", name, FormatScalar(l.Value)))
	}
	if x.Result.Reason == ReasonDisabled {
		out = append(out, "kill switch: the flag is disabled; everyone gets the default variant")
	}
	for _, r := range x.Rules {
		name := "rule " + strconv.Itoa(r.Rule)
		if r.ID != "" {
			name += " (" + r.ID + ")"
		}
		if r.Matched {
			out = append(out, name+" matched")
			continue
		}
		out = append(out, name+" skipped: "+r.Failure())
	}
	if n := len(x.Rules); n > 0 && !x.Rules[n-1].Matched {
		out = append(out, "no rule matched: the fallthrough serves")
	}
	if sp := x.Split; sp != nil {
		out = append(out, sp.String())
	}
	res := x.Result
	switch {
	case res.ErrorCode != ErrorNone:
		out = append(out, fmt.Sprintf("result: error %s (reason %s)", res.ErrorCode, res.Reason))
	case res.Variant != "":
		out = append(out, fmt.Sprintf("result: %s (variant %s, reason %s)", FormatScalar(res.Value), res.Variant, res.Reason))
	default:
		out = append(out, fmt.Sprintf("result: %s (reason %s)", FormatScalar(res.Value), res.Reason))
	}
	return out
}

// Failure says which condition of a skipped rule failed, and why: the
// clause and the context's value of its attribute.
func (r *RuleStep) Failure() string {
	s := ""
	if r.Audience != "" {
		s = "not in audience " + r.Audience + ": "
	}
	s += r.Clause.String() + " does not hold: "
	if r.Missing {
		return s + "the context has no " + r.Clause.Attribute
	}
	return s + r.Clause.Attribute + " is " + FormatScalar(r.Value)
}

// String says how the split placed the context.
func (s *SplitStep) String() string {
	where := "the fallthrough's"
	if s.Rule > 0 {
		where = "rule " + strconv.Itoa(s.Rule) + "'s"
	}
	if s.Bucket < 0 {
		if s.Value == nil {
			return fmt.Sprintf("%s percentage split hashes %s, which the context does not have", where, s.By)
		}
		return fmt.Sprintf("%s percentage split hashes %s, and %s cannot be bucketed", where, s.By, FormatScalar(s.Value))
	}
	return fmt.Sprintf("%s percentage split by %s: %s is in bucket %d of %d; buckets %d to %d (%s%%) get %s",
		where, s.By, FormatScalar(s.Value), s.Bucket, Buckets, s.Lo, s.Hi-1, strconv.FormatFloat(s.Percent(), 'f', -1, 64), s.Variant)
}
