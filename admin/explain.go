package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

type explainRow struct {
	Key     string
	Value   any
	Variant string
	Why     why
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
	// As says whom the form's context stands for when it is the signed-in
	// user's own ("alice"), and AsNote how it was made.
	As     string
	AsNote string
}

// explainPage evaluates every flag for a context typed into its form
// (targeting key and attributes), and says for each which layer, rule and
// reason decided, in the evaluator's own words (flagon.Snapshot.Explain).
// With no query it opens on the form, filled in with the signed-in user's
// context; with only a flag filter (the flag page's link) it explains that
// context.
func (c *Console) explainPage(w http.ResponseWriter, r *http.Request, q *request) {
	snap := c.snapshot()
	qv := r.URL.Query()
	d := &explainData{Errors: map[string]string{}, Revision: snap.Revision(), Env: snap.Environment()}
	var ec flagon.EvalContext
	d.Filter = strings.TrimSpace(qv.Get("flag"))
	if !qv.Has("key") && !qv.Has("attrs") {
		// Nothing typed yet: the signed-in user's context, overrides
		// included unless the query says otherwise.
		ec, d.AsNote = c.userContext(r, q)
		d.As = ec.Key
		d.Key, d.Attrs = ec.Key, attrsText(ec.Attrs)
		d.Overrides = len(qv) == 0 || qv.Get("overrides") != ""
		d.Shown = d.Filter != ""
	} else {
		d.Key = strings.TrimSpace(qv.Get("key"))
		d.Attrs = qv.Get("attrs")
		d.Overrides = qv.Get("overrides") != ""
		attrs, err := parseAttrs(d.Attrs)
		if err != nil {
			d.Errors["attrs"] = err.Error()
		}
		ec = flagon.EvalContext{Key: d.Key, Attrs: attrs}
		d.Shown = true
	}
	if len(d.Errors) > 0 {
		p := c.newPage(r, "Explain", "explain", d)
		p.Error = "Fix the context to see how flags decide."
		c.render(w, http.StatusBadRequest, "explain", p)
		return
	}
	if !d.Shown {
		c.render(w, http.StatusOK, "explain", c.newPage(r, "Explain", "explain", d))
		return
	}
	var layers []flagon.OverrideLayer
	if d.Overrides {
		layers = flagonhttp.OverrideLayers(r.Context())
	}
	for _, key := range snap.Keys() {
		if d.Filter != "" && !strings.Contains(key, strings.ToLower(d.Filter)) {
			continue
		}
		f, _ := snap.Flag(key)
		x := snap.Explain(key, ec, layers...)
		row := explainRow{Key: key, Value: x.Result.Value, Variant: x.Result.Variant, Why: explain(f, x)}
		if x.Result.ErrorCode != "" {
			row.Error = string(x.Result.ErrorCode)
		}
		d.Rows = append(d.Rows, row)
	}
	c.render(w, http.StatusOK, "explain", c.newPage(r, "Explain", "explain", d))
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
				m[k] = flagon.ParseScalar(n.String())
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

// attrValue reads one attribute value: "[a, b]" is a list, anything
// else a scalar as flagon.ParseScalar reads it.
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
	return flagon.ParseScalar(s)
}

// attrsText writes attributes one per line, for the explain form, as
// parseAttrs reads them back.
func attrsText(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, attrText(m[k]))
	}
	return b.String()
}

// attrText writes one attribute value as attrValue reads it.
func attrText(v any) string {
	var parts []string
	switch x := v.(type) {
	case []string:
		for _, e := range x {
			parts = append(parts, flagon.FormatScalar(e))
		}
	case []any:
		for _, e := range x {
			parts = append(parts, flagon.FormatScalar(e))
		}
	default:
		return flagon.FormatScalar(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
