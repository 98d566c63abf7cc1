// Package jsondiff lists what changed between two records, field by
// field, as decoded JSON: what the console's audit log and change
// requests show, and what flagon requests show prints. One diff, so that
// a change reads the same wherever it is shown.
package jsondiff

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/flagon/flagon"
)

// A Change is one field of a record that was added, removed or changed.
type Change struct {
	Path    string // such as fallthrough.split[0].percent
	Context string // what names the list element changed, such as variant "express"
	Kind    string // "added", "removed" or "changed"
	Old     string // compact JSON; empty when added
	New     string // compact JSON; empty when removed
}

// Values returns the changes from a to b, values decoded from JSON (nil
// for absent), field by field in key order. Elements of lists are
// compared by position, and one added or removed shows whole; an object
// added or removed shows field by field.
func Values(a, b any) []Change {
	var out []Change
	diff("", "", a, b, &out)
	return out
}

// Flags returns what replacing old by new changes, both normalized so
// that spelling out a flag's implicit parts is no change. An old flag with
// no key stands for none: everything in new is added.
func Flags(old, new flagon.Flag) []Change {
	var a any
	if old.Key != "" {
		a = decoded(old.Normalize())
	}
	return Values(a, decoded(new.Normalize()))
}

// decoded returns f as decoded JSON.
func decoded(f flagon.Flag) any {
	raw, err := json.Marshal(f)
	if err != nil {
		return fmt.Sprint(f)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	return v
}

func diff(path, ctx string, a, b any, out *[]Change) {
	if _, ok := b.(map[string]any); ok && a == nil {
		a = map[string]any{}
	}
	if _, ok := a.(map[string]any); ok && b == nil {
		b = map[string]any{}
	}
	switch {
	case a == nil && b == nil:
		return
	case a == nil:
		*out = append(*out, Change{Path: path, Context: ctx, Kind: "added", New: Compact(b)})
		return
	case b == nil:
		*out = append(*out, Change{Path: path, Context: ctx, Kind: "removed", Old: Compact(a)})
		return
	}
	ma, aMap := a.(map[string]any)
	mb, bMap := b.(map[string]any)
	if aMap && bMap {
		keys := map[string]bool{}
		for k := range ma {
			keys[k] = true
		}
		for k := range mb {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diff(p, ctx, ma[k], mb[k], out)
		}
		return
	}
	la, aList := a.([]any)
	lb, bList := b.([]any)
	if aList && bList {
		for i := range max(len(la), len(lb)) {
			var x, y any
			if i < len(la) {
				x = la[i]
			}
			if i < len(lb) {
				y = lb[i]
			}
			p, name := fmt.Sprintf("%s[%d]", path, i), elementName(x, y, ctx)
			switch {
			case x == nil:
				*out = append(*out, Change{Path: p, Context: name, Kind: "added", New: Compact(y)})
			case y == nil:
				*out = append(*out, Change{Path: p, Context: name, Kind: "removed", Old: Compact(x)})
			default:
				diff(p, name, x, y, out)
			}
		}
		return
	}
	if ja, jb := Compact(a), Compact(b); ja != jb {
		*out = append(*out, Change{Path: path, Context: ctx, Kind: "changed", Old: ja, New: jb})
	}
}

// elementName names a list element by the field that identifies it (a
// rule's id, a variant's name, a split's variant), preferring the element
// before the change; else it keeps ctx, the name of the enclosing element.
func elementName(before, after any, ctx string) string {
	for _, v := range []any{before, after} {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		for _, k := range []string{"id", "name", "key", "variant", "attribute"} {
			if s, ok := m[k].(string); ok && s != "" {
				return k + " " + strconv.Quote(s)
			}
		}
	}
	return ctx
}

// Compact returns v as JSON on one line, as the REST API and OFREP show
// values (strings quoted, objects as objects), leaving <, > and & as they
// are: an HTML template escapes them, and a terminal needs no escaping.
func Compact(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
