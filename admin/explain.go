package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

type explainRow struct {
	Key     string
	Value   any
	Variant string
	Why     why
	Rule    string
	Error   string
}

type explainData struct {
	Key       string
	Attrs     string
	Overrides bool
	Filter    string
	Errors    map[string]string
	Rows      []explainRow
	Shown     bool
	Revision  string
	Env       string
}

// explainPage evaluates every flag for a context typed into its form
// (targeting key and attributes), and says for each which layer, rule and
// reason decided. With no query it explains this browser's own context.
func (c *Console) explainPage(w http.ResponseWriter, r *http.Request, q *request) {
	snap := c.snapshot()
	qv := r.URL.Query()
	d := &explainData{Errors: map[string]string{}, Revision: snap.Revision(), Env: snap.Environment()}
	var ec flagon.EvalContext
	d.Filter = strings.TrimSpace(qv.Get("flag"))
	if !qv.Has("key") && !qv.Has("attrs") {
		// Nothing typed yet: explain this browser, overrides included
		// unless the query says otherwise.
		ec = c.evalContext(r)
		d.Key, d.Attrs = ec.Key, attrsText(ec.Attrs)
		d.Overrides = len(qv) == 0 || qv.Get("overrides") != ""
	} else {
		d.Key = strings.TrimSpace(qv.Get("key"))
		d.Attrs = qv.Get("attrs")
		d.Overrides = qv.Get("overrides") != ""
		attrs, err := parseAttrs(d.Attrs)
		if err != nil {
			d.Errors["attrs"] = err.Error()
		}
		ec = flagon.EvalContext{Key: d.Key, Attrs: attrs}
	}
	if len(d.Errors) > 0 {
		p := c.newPage(r, "Explain", "explain", d)
		p.Error = "Fix the context to see how flags decide."
		c.render(w, http.StatusBadRequest, "explain", p)
		return
	}
	var layers flagon.Overrides
	if d.Overrides {
		cookie, _ := c.cookieEntries(r, snap)
		login, err := c.loginEntries(r.Context(), q.principal.Name, snap)
		if err != nil {
			c.log.Warn("admin: read login overrides", "err", err)
		}
		layers = layered{overridesOf(cookie, flagonhttp.SourceCookie), overridesOf(login, flagonhttp.SourceUser)}
	}
	d.Shown = true
	for _, key := range snap.Keys() {
		if d.Filter != "" && !strings.Contains(key, strings.ToLower(d.Filter)) {
			continue
		}
		f, _ := snap.Flag(key)
		res := snap.Evaluate(key, ec, layers)
		row := explainRow{Key: key, Value: res.Value, Variant: res.Variant, Why: explain(f, res)}
		if b, ok := bucketOf(f, res, ec); ok {
			row.Why.Detail += fmt.Sprintf(" (this context is at %s%%)", trimFloat(float64(b)/1000))
		}
		if res.Rule > 0 {
			row.Rule = ruleText(f, res.Rule)
		}
		if res.ErrorCode != "" {
			row.Error = string(res.ErrorCode)
		}
		d.Rows = append(d.Rows, row)
	}
	c.render(w, http.StatusOK, "explain", c.newPage(r, "Explain", "explain", d))
}

// bucketOf returns the bucket a percentage split put ec in, when the
// split hashed a string.
func bucketOf(f flagon.Flag, res flagon.Result, ec flagon.EvalContext) (int, bool) {
	if res.Reason != flagon.ReasonSplit {
		return 0, false
	}
	s := f.Fallthrough
	if res.Rule > 0 && res.Rule <= len(f.Rules) {
		s = f.Rules[res.Rule-1].Serve
	}
	v := ec.Key
	if by := s.By; by != "" && by != flagon.KeyAttribute && by != "targetingKey" {
		str, ok := ec.Attrs[by].(string)
		if !ok {
			return 0, false
		}
		v = str
	}
	if v == "" {
		return 0, false
	}
	salt := f.Salt
	if salt == "" {
		salt = f.Key
	}
	return flagon.Bucket(salt, v), true
}

// maxAttrs bounds the attributes the explain form accepts.
const maxAttrs = 100

// parseAttrs reads attributes typed one per line as "name = value" (or
// "name: value"), or as one JSON object. Values read as booleans, numbers
// or quoted strings become those; "[a, b]" is a list; anything else is a
// string.
func parseAttrs(s string) (map[string]any, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, "{") {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("not a JSON object: %v", err)
		}
		for k, v := range m {
			if n, ok := v.(json.Number); ok {
				m[k] = numberValue(n.String())
			}
		}
		return m, nil
	}
	m := map[string]any{}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sep := strings.IndexAny(line, "=:")
		if sep <= 0 {
			return nil, fmt.Errorf("line %d: %q: write name = value", i+1, line)
		}
		name := strings.TrimSpace(line[:sep])
		if strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("line %d: attribute name %q has a space", i+1, name)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("line %d: attribute %q given twice", i+1, name)
		}
		m[name] = attrValue(strings.TrimSpace(line[sep+1:]))
		if len(m) > maxAttrs {
			return nil, fmt.Errorf("more than %d attributes", maxAttrs)
		}
	}
	return m, nil
}

func attrValue(s string) any {
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		var list []any
		for _, part := range strings.Split(s[1:len(s)-1], ",") {
			if part = strings.TrimSpace(part); part != "" {
				list = append(list, attrValue(part))
			}
		}
		return list
	}
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
	return numberValue(s)
}

// numberValue returns s as an int64 or float64 when it is one, else s.
func numberValue(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == f && f < 1e308 && f > -1e308 {
		return f
	}
	return s
}

// attrsText writes attributes one per line, for the explain form.
func attrsText(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	for _, k := range keys {
		v := m[k]
		s := fmtValue(v)
		if str, ok := v.(string); ok && needsQuote(str) {
			s = strconv.Quote(str)
		}
		if list, ok := v.([]string); ok {
			s = "[" + strings.Join(list, ", ") + "]"
		}
		fmt.Fprintf(&b, "%s = %s\n", k, s)
	}
	return b.String()
}
