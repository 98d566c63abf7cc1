package admin

import (
	"fmt"
	"strings"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// why says in words why a flag gave its result, and which layer decided:
// override, kill switch, rule, rollout or default.
type why struct {
	Layer  string // "override", "kill switch", "rule", "fallthrough", "static", "error"
	Detail string // the rule, the override's source, the error
	Reason flagon.Reason
	// Steps are the evaluator's own steps (flagon.Explanation.Steps):
	// overrides met, rules skipped and why, the split's bucket.
	Steps []string
}

// String returns the explanation in one line.
func (w why) String() string {
	if w.Detail == "" {
		return w.Layer
	}
	return w.Layer + ": " + w.Detail
}

// explain describes, for flag f, how the evaluator decided: x is
// flagon.Snapshot.Explain's account, not a second opinion.
func explain(f flagon.Flag, x flagon.Explanation) why {
	r := x.Result
	w := why{Reason: r.Reason, Steps: x.Steps()}
	w.Steps = w.Steps[:len(w.Steps)-1] // the result, which the page shows
	split := ""
	if sp := x.Split; sp != nil && sp.Bucket >= 0 {
		split = fmt.Sprintf(" (this context is at %s%%)", trimFloat(float64(sp.Bucket)/1000))
	}
	switch r.Reason {
	case flagon.ReasonOverride:
		w.Layer = "override"
		src := x.Layer
		if src == "" {
			src = r.OverrideSource
		}
		w.Detail = sourceName(src)
	case flagon.ReasonDisabled:
		w.Layer = "kill switch"
		w.Detail = "the flag is disabled; everyone gets the default variant"
	case flagon.ReasonStatic:
		w.Layer = "static"
		w.Detail = "no rules: everyone gets " + serveText(f.Fallthrough, f.Default)
	case flagon.ReasonDefault:
		w.Layer = "fallthrough"
		w.Detail = "no rule matched"
	case flagon.ReasonTargetingMatch, flagon.ReasonSplit:
		if r.Rule > 0 {
			w.Layer = "rule"
			w.Detail = ruleText(f, r.Rule)
			if r.Reason == flagon.ReasonSplit {
				w.Detail += "; percentage rollout" + split
			}
		} else {
			w.Layer = "fallthrough"
			w.Detail = "no rule matched; percentage rollout" + split
		}
	case flagon.ReasonError:
		w.Layer = "error"
		w.Detail = string(r.ErrorCode)
		if r.Err() != nil {
			w.Detail = r.Err().Error()
		}
		if x.Split != nil {
			w.Detail += ": " + x.Split.String()
		}
	default:
		w.Layer = string(r.Reason)
	}
	return w
}

// ruleText names rule n (1-based) of f: its number, ID and what it tests.
func ruleText(f flagon.Flag, n int) string {
	if n < 1 || n > len(f.Rules) {
		return fmt.Sprintf("rule %d", n)
	}
	rule := f.Rules[n-1]
	s := fmt.Sprintf("rule %d", n)
	if rule.ID != "" {
		s += " (" + rule.ID + ")"
	}
	var conds []string
	for _, a := range rule.Audiences {
		conds = append(conds, "in audience "+a)
	}
	for _, c := range rule.Clauses {
		conds = append(conds, c.String())
	}
	if len(conds) > 0 {
		s += ": " + strings.Join(conds, " and ")
	}
	return s
}

// serveText says what s serves: a variant or a split.
func serveText(s flagon.Serve, def string) string {
	if len(s.Split) > 0 {
		parts := make([]string, len(s.Split))
		for i, sp := range s.Split {
			parts[i] = fmt.Sprintf("%s %s%%", sp.Variant, trimFloat(sp.Percent))
		}
		by := ""
		if s.By != "" {
			by = " by " + s.By
		}
		return strings.Join(parts, ", ") + by
	}
	if s.Variant != "" {
		return s.Variant
	}
	return def
}

// sourceName says where an override came from, for people.
func sourceName(src string) string {
	switch src {
	case flagonhttp.SourceCookie:
		return "this browser"
	case flagonhttp.SourceUser:
		return "your login"
	case flagonhttp.SourceHeader:
		return "the Flagon-Overrides header"
	case flagonhttp.SourceQuery:
		return "the query string"
	case flagonhttp.SourceLegacyCookie:
		return "a legacy cookie"
	case "":
		return "unknown source"
	}
	return src
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.3f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
