package file

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/flagon/flagon"
	"go.yaml.in/yaml/v3"
)

// This file finds the lines of errors: of YAML syntax errors, whose line
// the YAML package reports only roughly, and of the errors that
// Definitions.Validate reports by flag and field.

var yamlErr = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// syntaxError records the YAML (or JSON) syntax error err in data.
func (p *parser) syntaxError(data []byte, err error) {
	msg, line := err.Error(), 0
	if m := yamlErr.FindStringSubmatch(msg); m != nil {
		msg = m[2]
		line, _ = strconv.Atoi(m[1])
	}
	if looksLikeJSON(data) {
		// encoding/json knows exactly where JSON goes wrong.
		var v any
		var se *json.SyntaxError
		if jerr := json.Unmarshal(data, &v); errors.As(jerr, &se) {
			p.errorf(&yaml.Node{Line: lineOf(data, int(se.Offset)-1)}, owner{}, nil, "%v", se)
			return
		}
	}
	if isParserProblem(msg) {
		line++ // the YAML package counts the lines of these from 0
	}
	line = syntaxLine(data, line)
	if isTabProblem(msg) && indentHasTab(data, line) {
		msg = "the line is indented with a tab; YAML indents with spaces only"
	}
	p.errorf(&yaml.Node{Line: line}, owner{}, nil, "%s", msg)
}

// isTabProblem reports whether msg is what the YAML scanner says of a tab
// where it wants indentation.
func isTabProblem(msg string) bool {
	return strings.HasPrefix(msg, "found character that cannot start any token") ||
		strings.HasPrefix(msg, "found a tab character that violates indentation")
}

// indentHasTab reports whether the indentation of the given 1-based line
// of data holds a tab.
func indentHasTab(data []byte, line int) bool {
	for i := 1; i < line; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return false
		}
		data = data[j+1:]
	}
	for _, c := range data {
		switch c {
		case '\t':
			return true
		case ' ':
		default:
			return false
		}
	}
	return false
}

// isParserProblem reports whether msg is one of the YAML parser's
// problems, as opposed to the scanner's.
func isParserProblem(msg string) bool {
	return strings.HasPrefix(msg, "did not find expected ") ||
		strings.HasPrefix(msg, "found duplicate %") ||
		msg == "found incompatible YAML document" ||
		msg == "found undefined tag handle"
}

func looksLikeJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && t[0] == '{'
}

// lineOf returns the 1-based line of byte offset off in data.
func lineOf(data []byte, off int) int {
	off = max(0, min(off, len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// byteReader hands the YAML scanner one byte at a time, so that how far
// it read says where it stopped.
type byteReader struct {
	data []byte
	pos  int
}

func (r *byteReader) Read(b []byte) (int, error) {
	if r.pos >= len(r.data) {
		return 0, io.EOF
	}
	if len(b) == 0 {
		return 0, nil
	}
	b[0] = r.data[r.pos]
	r.pos++
	return 1, nil
}

// syntaxLine returns the line of the syntax error in data. reported is
// the line the YAML package named, which is where the enclosing construct
// starts rather than where the problem is.
// The scanner stops reading at most a line or two past the problem, so
// the line is the first one whose prefix of the file no longer parses,
// searched for backwards from where the scanner stopped.
func syntaxLine(data []byte, reported int) int {
	lines := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		lines++
	}
	clamp := func(l int) int { return max(1, min(l, lines)) }
	r := &byteReader{data: data}
	dec := yaml.NewDecoder(r)
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if err == io.EOF {
				return clamp(reported)
			}
			break
		}
	}
	if r.pos >= len(data) {
		// The scanner reached the end: something was left open, and the
		// reported line is where it was opened.
		return clamp(reported)
	}
	stop := lineOf(data, r.pos-1)
	steps := 8
	if len(data) > 1<<20 {
		steps = 3
	}
	ans := stop
	for n := stop - 1; n >= 1 && n >= reported-1 && steps > 0; n-- {
		steps--
		end := 0
		for i := 0; i < n; i++ {
			j := bytes.IndexByte(data[end:], '\n')
			if j < 0 {
				end = len(data)
				break
			}
			end += j + 1
		}
		var doc yaml.Node
		if yaml.Unmarshal(data[:end], &doc) == nil {
			break
		}
		ans = n
	}
	return clamp(ans)
}

// locate returns err, an error from Definitions.Validate or NewSnapshot,
// with the file and line of each problem filled in and the field named as
// the file names it.
func (p *parser) locate(err error) error {
	var fes flagon.FieldErrors
	if !errors.As(err, &fes) {
		var fe *flagon.FieldError
		if errors.As(err, &fe) {
			fes = flagon.FieldErrors{fe}
		} else {
			return &flagon.FieldError{File: p.file, Msg: err.Error()}
		}
	}
	flags := make(map[string]int, len(p.flagSrc))
	for i, s := range p.flagSrc {
		if _, dup := flags[s.key.Value]; !dup {
			flags[s.key.Value] = i
		}
	}
	type key struct {
		flag, aud, field, msg string
		line                  int
	}
	seen := make(map[key]bool)
	var out flagon.FieldErrors
	for _, e := range fes {
		c := *e
		c.File = p.file
		switch {
		case c.Audience != "":
			c.Line, c.Field = p.locateAudience(c.Audience, c.Field)
		case c.Flag != "":
			if i, ok := flags[c.Flag]; ok {
				c.Line, c.Field = p.locateFlag(i, c.Field)
			}
		}
		k := key{c.Flag, c.Audience, c.Field, c.Msg, c.Line}
		if seen[k] {
			continue // an environment repeating its flag's own problem
		}
		seen[k] = true
		out = append(out, &c)
	}
	return joinErrors(out)
}

func (p *parser) locateAudience(name, field string) (int, string) {
	for _, s := range p.audSrc {
		if s.key.Value != name {
			continue
		}
		segs := splitField(field)
		if len(segs) == 0 || segs[0].name != "clauses" {
			return s.key.Line, field
		}
		if len(segs) > 1 && segs[1].name == "" {
			if s.body.Kind == yaml.SequenceNode || s.body.Kind == yaml.MappingNode {
				when := s.body
				if s.body.Kind == yaml.MappingNode {
					if _, when = p.get(s.body, "when"); when == nil {
						return s.key.Line, "when"
					}
				}
				if item := p.item(when, segs[1].index); item != nil {
					return item.Line, "when[" + strconv.Itoa(segs[1].index) + "]"
				}
			}
			return s.body.Line, "when"
		}
		return s.body.Line, "when"
	}
	return 0, field
}

// seg is one step of a field path: a name, or an index when name is "".
type seg struct {
	name  string
	index int
}

// splitField splits "rules[0].serve.split[1].variant" into its steps.
func splitField(f string) []seg {
	var out []seg
	for f != "" {
		switch {
		case f[0] == '.':
			f = f[1:]
		case f[0] == '[':
			end := strings.IndexByte(f, ']')
			if end < 0 {
				return out
			}
			i, _ := strconv.Atoi(f[1:end])
			out = append(out, seg{index: i})
			f = f[end+1:]
		default:
			end := strings.IndexAny(f, ".[")
			if end < 0 {
				end = len(f)
			}
			out = append(out, seg{name: f[:end]})
			f = f[end:]
		}
	}
	return out
}

// get returns the key and value of the mapping n under name.
func (p *parser) get(n *yaml.Node, name string) (*yaml.Node, *yaml.Node) {
	n = p.deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	c := n.Content
	for i := 0; i+1 < len(c); i += 2 {
		if k := p.deref(c[i]); k.Value == name && k.Tag != "!!merge" {
			return k, c[i+1]
		}
	}
	for i := 0; i+1 < len(c); i += 2 {
		if k := p.deref(c[i]); k.Tag == "!!merge" {
			v := p.deref(c[i+1])
			if v.Kind == yaml.MappingNode {
				if k, v := p.get(v, name); k != nil {
					return k, v
				}
			}
		}
	}
	return nil, nil
}

// item returns the i-th item of the sequence n, or n itself when it is a
// single item standing for a list of one.
func (p *parser) item(n *yaml.Node, i int) *yaml.Node {
	n = p.deref(n)
	if n.Kind != yaml.SequenceNode {
		if i == 0 {
			return n
		}
		return nil
	}
	if i < len(n.Content) {
		return n.Content[i]
	}
	return nil
}

// locateFlag returns the line of the field of flag i that Validate
// reported, and the field's path as the file spells it.
func (p *parser) locateFlag(i int, field string) (int, string) {
	src := p.flagSrc[i]
	if rest, ok := strings.CutPrefix(field, "environments."); ok {
		// The environment's own setting if it has one, else the flag's.
		var best *envSource
		for j := range p.envSrc {
			e := &p.envSrc[j]
			if e.flag == i && strings.HasPrefix(rest, e.env+".") && (best == nil || len(e.env) > len(best.env)) {
				best = e
			}
		}
		if best != nil {
			sub := strings.TrimPrefix(rest, best.env+".")
			if n, f, ok := p.resolveFlag(best.body, splitField(sub)); ok {
				return n.Line, "environments." + best.env + "." + f
			}
			field = sub
		}
	}
	if n, f, ok := p.resolveFlag(src.body, splitField(field)); ok {
		return n.Line, f
	}
	return src.key.Line, field
}

// resolveFlag finds the node in the flag (or environment settings) body
// that the Go field path segs names. It returns the deepest node it
// found, the file's path to it, and false if the body lacks the field.
func (p *parser) resolveFlag(body *yaml.Node, segs []seg) (*yaml.Node, string, bool) {
	if len(segs) == 0 || body == nil || p.deref(body).Kind != yaml.MappingNode {
		return nil, "", false
	}
	name := segs[0].name
	switch name {
	case "variants":
		_, v := p.get(body, name)
		if v == nil {
			return nil, "", false
		}
		if len(segs) > 1 && segs[1].name == "" {
			if c := p.deref(v).Content; p.deref(v).Kind == yaml.MappingNode && 2*segs[1].index+1 < len(c) {
				k, val := p.deref(c[2*segs[1].index]), c[2*segs[1].index+1]
				if len(segs) > 2 && segs[2].name == "name" {
					return k, "variants." + k.Value, true
				}
				return val, "variants." + k.Value, true
			}
		}
		return v, name, true
	case "rules":
		_, v := p.get(body, name)
		if v == nil {
			return nil, "", false
		}
		if len(segs) < 2 || segs[1].name != "" {
			return v, name, true
		}
		f := "rules[" + strconv.Itoa(segs[1].index) + "]"
		item := p.item(v, segs[1].index)
		if item == nil {
			return v, name, true
		}
		n, sub := p.resolveRule(item, segs[2:])
		return n, f + sub, true
	case "fallthrough":
		_, v := p.get(body, "fallthrough")
		if v == nil {
			if _, v = p.get(body, "rollout"); v == nil {
				return nil, "", false
			}
			return v, "rollout", true
		}
		n, sub := p.resolveServe(v, segs[1:])
		return n, "fallthrough" + sub, true
	case "override":
		_, v := p.get(body, name)
		if v == nil {
			return nil, "", false
		}
		if len(segs) > 1 && segs[1].name != "" {
			if _, fv := p.get(v, segs[1].name); fv != nil {
				f := "override." + segs[1].name
				if len(segs) > 2 && segs[2].name == "" {
					if item := p.item(fv, segs[2].index); item != nil {
						return item, f + "[" + strconv.Itoa(segs[2].index) + "]", true
					}
				}
				return fv, f, true
			}
		}
		return v, name, true
	case "disabled":
		name = "enabled"
	}
	_, v := p.get(body, name)
	if v == nil {
		return nil, "", false
	}
	return v, name, true
}

// resolveRule is resolveFlag for the rest of a path within a rule.
func (p *parser) resolveRule(rule *yaml.Node, segs []seg) (*yaml.Node, string) {
	if len(segs) == 0 {
		return rule, ""
	}
	switch segs[0].name {
	case "audiences":
		if _, v := p.get(rule, "audience"); v != nil {
			return v, ".audience"
		}
		if _, v := p.get(rule, "audiences"); v != nil {
			if len(segs) > 1 && segs[1].name == "" {
				if item := p.item(v, segs[1].index); item != nil {
					return item, ".audiences[" + strconv.Itoa(segs[1].index) + "]"
				}
			}
			return v, ".audiences"
		}
	case "clauses":
		if _, v := p.get(rule, "when"); v != nil {
			if len(segs) > 1 && segs[1].name == "" {
				if item := p.item(v, segs[1].index); item != nil {
					if p.deref(v).Kind == yaml.SequenceNode {
						return item, ".when[" + strconv.Itoa(segs[1].index) + "]"
					}
					return item, ".when"
				}
			}
			return v, ".when"
		}
	case "serve":
		if _, v := p.get(rule, "serve"); v != nil {
			n, sub := p.resolveServe(v, segs[1:])
			return n, ".serve" + sub
		}
	}
	return rule, ""
}

// resolveServe is resolveFlag for the rest of a path within a serve.
func (p *parser) resolveServe(s *yaml.Node, segs []seg) (*yaml.Node, string) {
	if len(segs) == 0 || p.deref(s).Kind != yaml.MappingNode {
		return s, ""
	}
	switch segs[0].name {
	case "variant":
		if _, v := p.get(s, "variant"); v != nil {
			return v, ".variant"
		}
	case "split":
		_, r := p.get(s, "rollout")
		if r == nil {
			break
		}
		if len(segs) < 2 || segs[1].name != "" {
			return r, ".rollout"
		}
		i := segs[1].index
		switch rn := p.deref(r); rn.Kind {
		case yaml.MappingNode:
			if 2*i+1 < len(rn.Content) {
				k := p.deref(rn.Content[2*i])
				if len(segs) > 2 && segs[2].name == "percent" {
					return rn.Content[2*i+1], ".rollout." + k.Value
				}
				return k, ".rollout." + k.Value
			}
		case yaml.SequenceNode:
			if i < len(rn.Content) {
				f := ".rollout[" + strconv.Itoa(i) + "]"
				if len(segs) > 2 {
					if _, v := p.get(rn.Content[i], segs[2].name); v != nil {
						return v, f + "." + segs[2].name
					}
				}
				return rn.Content[i], f
			}
		}
		return r, ".rollout"
	}
	return s, ""
}
