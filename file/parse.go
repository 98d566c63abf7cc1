package file

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flagon/flagon"
	"go.yaml.in/yaml/v3"
)

// Parse reads the config file data, named name in error messages, and
// returns its definitions, validated as [flagon.NewSnapshot] validates
// them. JSON is read as YAML, so both formats give the same errors.
//
// A file with any problem is rejected whole. The error is a
// *[flagon.FieldError], or a [flagon.FieldErrors] when there are several,
// each naming the file, the line and the field, such as
//
//	flags.yaml:14: flag "new-home-page": rules[0].serve: unknown variant "onn"
func Parse(name string, data []byte) (flagon.Definitions, error) {
	p := newParser(name, data)
	defs := p.parse(data)
	if len(p.errs) > 0 {
		return flagon.Definitions{}, p.err()
	}
	if err := defs.Validate(); err != nil {
		return flagon.Definitions{}, p.locate(err)
	}
	return defs, nil
}

// load parses data and builds the snapshot for env, validating once. It
// also returns the environments the file names.
func load(name string, data []byte, env string) (*flagon.Snapshot, []string, error) {
	p := newParser(name, data)
	defs := p.parse(data)
	if len(p.errs) > 0 {
		return nil, nil, p.err()
	}
	// The revision is a hash of the file rather than of the definitions,
	// which costs a fifth of building the snapshot for a large file.
	h := sha256.New()
	h.Write([]byte(env))
	h.Write([]byte{0})
	h.Write(data)
	rev := hex.EncodeToString(h.Sum(nil)[:8])
	s, err := flagon.NewSnapshot(defs, flagon.SnapshotOptions{Environment: env, Revision: rev})
	if err != nil {
		return nil, nil, p.locate(err)
	}
	return s, p.envNames, nil
}

// maxErrors is how many problems one parse reports before it gives up.
const maxErrors = 50

// parser turns the YAML node tree of a config file into definitions,
// collecting every problem with its line.
type parser struct {
	file   string
	errs   flagon.FieldErrors
	budget int // nodes left to visit through aliases and merge keys

	// Where each definition came from, for locating the errors that
	// Definitions.Validate reports.
	audSrc   []source // parallel to Definitions.Audiences
	flagSrc  []source // parallel to Definitions.Flags
	envSrc   []envSource
	envNames []string // in file order
}

type source struct{ key, body *yaml.Node }

type envSource struct {
	env  string
	flag int // index into flagSrc
	body *yaml.Node
}

func newParser(name string, data []byte) *parser {
	return &parser{file: name, budget: 1000 + 8*len(data)}
}

// owner says which flag or audience a field belongs to.
type owner struct{ flag, audience string }

// path is the path of a field within its flag or audience, built only
// when an error needs it.
type path struct {
	up    *path
	name  string // a field name, or "" for an index
	index int
}

func (p *path) key(name string) *path { return &path{up: p, name: name} }
func (p *path) at(i int) *path        { return &path{up: p, index: i} }

func (p *path) String() string {
	if p == nil {
		return ""
	}
	up := p.up.String()
	if p.name == "" {
		return up + "[" + strconv.Itoa(p.index) + "]"
	}
	if up == "" {
		return p.name
	}
	return up + "." + p.name
}

// errorf records a problem with the field at of o, found at node n.
func (p *parser) errorf(n *yaml.Node, o owner, at *path, format string, args ...any) {
	if len(p.errs) > maxErrors {
		return
	}
	e := &flagon.FieldError{File: p.file, Flag: o.flag, Audience: o.audience, Field: at.String(), Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line = n.Line
	}
	p.add(e)
}

// add records e, and after maxErrors problems, that there are too many.
func (p *parser) add(e *flagon.FieldError) {
	switch {
	case len(p.errs) < maxErrors:
		p.errs = append(p.errs, e)
	case len(p.errs) == maxErrors:
		p.errs = append(p.errs, &flagon.FieldError{File: p.file, Msg: tooMany})
	}
}

const tooMany = "too many errors"

// err returns the recorded problems, sorted by line.
func (p *parser) err() error { return joinErrors(p.errs) }

func joinErrors(errs flagon.FieldErrors) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	slices.SortStableFunc(errs, func(a, b *flagon.FieldError) int {
		if a.Msg == tooMany {
			return 1
		}
		if b.Msg == tooMany {
			return -1
		}
		return a.Line - b.Line
	})
	return errs
}

// parse reads data into definitions, recording problems in p.errs.
func (p *parser) parse(data []byte) flagon.Definitions {
	root, pieces := decodeChunked(p.file, data, runtime.GOMAXPROCS(0))
	if root == nil {
		if root = p.decode(data); root == nil {
			return flagon.Definitions{}
		}
	}
	return p.parseRoot(root, pieces)
}

// parseRoot reads the root mapping of a file. Pieces, if any, hold the
// flags already read.
func (p *parser) parseRoot(root *yaml.Node, pieces []piece) flagon.Definitions {
	var defs flagon.Definitions
	kv, ok := p.mapping(root, owner{}, nil)
	if !ok {
		p.errorf(root, owner{}, nil, "want a mapping with the keys audiences, flags and environments, not %s", describe(root))
		return defs
	}
	var auds, flags, envs *yaml.Node
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		switch k.Value {
		case "audiences":
			auds = v
		case "flags":
			flags = v
		case "environments":
			envs = v
		default:
			p.unknownField(k, owner{}, nil, topFields)
		}
	}
	if auds != nil {
		defs.Audiences = p.audiences(auds)
	}
	switch {
	case flags != nil && pieces != nil:
		// Check the keys across pieces, and collect what the pieces read.
		if kv, _ := p.mapping(flags, owner{}, (*path)(nil).key("flags")); len(kv) > 0 {
			defs.Flags = make([]flagon.Flag, 0, len(kv)/2)
			p.flagSrc = make([]source, 0, len(kv)/2)
		}
		for _, pc := range pieces {
			defs.Flags = append(defs.Flags, pc.read...)
			p.adopt(pc.sub)
		}
	case flags != nil:
		defs.Flags = p.flags(flags)
	}
	if envs != nil {
		p.environments(envs, defs.Flags)
	}
	return defs
}

// decode parses data whole and returns its root node, or nil after
// recording why there is none.
func (p *parser) decode(data []byte) *yaml.Node {
	const empty = "the file is empty; write \"flags: {}\" for a file with no flags"
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			p.errorf(nil, owner{}, nil, empty)
		} else {
			p.syntaxError(data, err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err != nil:
		p.syntaxError(data, err)
		return nil
	default:
		p.errorf(&extra, owner{}, nil, "the file holds more than one YAML document")
		return nil
	}
	if len(doc.Content) == 0 {
		p.errorf(&doc, owner{}, nil, empty)
		return nil
	}
	root := p.deref(doc.Content[0])
	if isNull(root) {
		p.errorf(root, owner{}, nil, empty)
		return nil
	}
	return root
}

var (
	topFields      = []string{"audiences", "flags", "environments"}
	audienceFields = []string{"description", "when"}
	flagFields     = []string{"description", "owner", "tags", "expires", "type", "variants", "default", "enabled", "rules", "fallthrough", "rollout", "override", "salt", "metadata"}
	envFields      = []string{"default", "enabled", "rules", "fallthrough", "rollout"}
	ruleFields     = []string{"id", "description", "audience", "audiences", "when", "serve"}
	serveFields    = []string{"variant", "rollout", "by"}
	clauseFields   = []string{"attribute", "op", "values"}
	splitFields    = []string{"variant", "percent"}
	overrideFields = []string{"who", "audience", "variants", "max_duration"}
)

func (p *parser) unknownField(k *yaml.Node, o owner, at *path, known []string) {
	if s := suggest(k.Value, known); s != "" {
		p.errorf(k, o, at.key(k.Value), "unknown field; did you mean %q?", s)
		return
	}
	p.errorf(k, o, at.key(k.Value), "unknown field (want one of %s)", strings.Join(known, ", "))
}

// suggest returns the name in known closest to s, if one is close.
func suggest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" && len(s) >= 2 {
		for _, k := range known {
			if strings.HasPrefix(s, k) || strings.HasPrefix(k, s) {
				return k
			}
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// deref follows aliases to the node they name.
func (p *parser) deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names the kind of a node for messages: "a list", "the number 3".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		switch n.Tag {
		case "!!null":
			return "nothing"
		case "!!bool":
			return "the boolean " + v
		case "!!int", "!!float":
			return "the number " + v
		case "!!str":
			return strconv.Quote(v)
		}
		return n.Tag + " " + strconv.Quote(v)
	}
	return "an empty node"
}

// mapping returns the keys and values of the mapping n, alternating, with
// aliases followed and merge keys (<<) applied. It reports duplicate keys.
// It returns false if n is not a mapping.
func (p *parser) mapping(n *yaml.Node, o owner, at *path) ([]*yaml.Node, bool) {
	n = p.deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, false
	}
	// The tree is shared (through aliases, and by goroutines reading
	// flags in parallel), so keys that need work are fixed in a copy.
	c := n.Content
	fixed := false
	merge := false
	for i := 0; i+1 < len(c); i += 2 {
		k := p.key(c[i])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, o, at, "a key must be text, not %s", describe(k))
			return nil, false
		}
		merge = merge || k.Tag == "!!merge"
		if k != c[i] {
			if !fixed {
				c, fixed = slices.Clone(c), true
			}
			c[i] = k
		}
	}
	if merge {
		c = p.merged(c, o, at, 0)
	}
	if len(c) <= 32 {
		for i := 2; i < len(c); i += 2 {
			for j := 0; j < i; j += 2 {
				if c[i].Value == c[j].Value {
					p.duplicate(c[j], c[i], o, at)
					break
				}
			}
		}
	} else {
		seen := make(map[string]*yaml.Node, len(c)/2)
		for i := 0; i < len(c); i += 2 {
			if first, ok := seen[c[i].Value]; ok {
				p.duplicate(first, c[i], o, at)
				continue
			}
			seen[c[i].Value] = c[i]
		}
	}
	return c, true
}

// key returns the mapping key k with aliases followed and text that is
// not UTF-8 (which Encode writes as !!binary) decoded.
func (p *parser) key(k *yaml.Node) *yaml.Node {
	k = p.deref(k)
	if k.Kind == yaml.ScalarNode && k.Tag == "!!binary" {
		if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(k.Value), "")); err == nil {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: string(b), Line: k.Line, Column: k.Column}
		}
	}
	return k
}

func (p *parser) duplicate(first, k *yaml.Node, o owner, at *path) {
	if first == k || first.Line == k.Line && first.Column == k.Column {
		return // the same key, reached twice through a merge
	}
	p.errorf(k, o, at.key(k.Value), "duplicate key %q (first at line %d)", k.Value, first.Line)
}

// merged returns the pairs of n with its merge keys expanded: its own keys
// first, then those of each merged mapping that it does not set itself.
func (p *parser) merged(content []*yaml.Node, o owner, at *path, depth int) []*yaml.Node {
	var own, from []*yaml.Node
	for i := 0; i+1 < len(content); i += 2 {
		k, v := p.key(content[i]), content[i+1]
		if k.Tag != "!!merge" {
			own = append(own, k, v)
			continue
		}
		v = p.deref(v)
		switch v.Kind {
		case yaml.MappingNode:
			from = append(from, v)
		case yaml.SequenceNode:
			for _, m := range v.Content {
				if m = p.deref(m); m.Kind == yaml.MappingNode {
					from = append(from, m)
				} else {
					p.errorf(m, o, at, "a merge key (<<) takes mappings, not %s", describe(m))
				}
			}
		default:
			p.errorf(v, o, at, "a merge key (<<) takes a mapping, not %s", describe(v))
		}
	}
	if depth > 20 {
		p.errorf(content[0], o, at, "merge keys (<<) nest too deep")
		return own
	}
	out := own
	for _, m := range from {
		inner := m.Content
		if slices.ContainsFunc(inner, func(k *yaml.Node) bool { return k.Tag == "!!merge" }) {
			inner = p.merged(m.Content, o, at, depth+1)
		}
		for i := 0; i+1 < len(inner); i += 2 {
			p.budget--
			if p.budget < 0 {
				p.errorf(m, o, at, "aliases and merge keys expand too far")
				return out
			}
			if k := p.key(inner[i]); !hasKey(out, k.Value) {
				out = append(out, k, inner[i+1])
			}
		}
	}
	return out
}

// hasKey reports whether the alternating keys and values kv have the key.
func hasKey(kv []*yaml.Node, key string) bool {
	for i := 0; i < len(kv); i += 2 {
		if kv[i].Value == key {
			return true
		}
	}
	return false
}

// list returns the items of the sequence n. A single item that is not a
// list is accepted as a list of one when one is true.
func (p *parser) list(n *yaml.Node, one bool) ([]*yaml.Node, bool) {
	n = p.deref(n)
	if n.Kind == yaml.SequenceNode {
		return n.Content, true
	}
	if one && !isNull(n) {
		return []*yaml.Node{n}, true
	}
	return nil, false
}

// text returns the text of the scalar n, for free-text fields. It reports
// false, after recording the problem, if n is not text.
func (p *parser) text(n *yaml.Node, o owner, at *path) (string, bool) {
	n = p.deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, o, at, "want text, not %s", describe(n))
		return "", false
	}
	if n.Tag == "!!binary" {
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), ""))
		if err != nil {
			p.errorf(n, o, at, "bad !!binary text: %v", err)
			return "", false
		}
		return string(b), true
	}
	return n.Value, true
}

func (p *parser) boolean(n *yaml.Node, o owner, at *path) (bool, bool) {
	n = p.deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		switch strings.ToLower(n.Value) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	p.errorf(n, o, at, "want true or false, not %s", describe(n))
	return false, false
}

// number returns the value of a numeric scalar.
func (p *parser) number(n *yaml.Node) (float64, bool) {
	if n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.Tag {
	case "!!int":
		i, ok := p.integer(n)
		return float64(i), ok
	case "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			if n.Decode(&f) != nil {
				return 0, false
			}
		}
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func (p *parser) integer(n *yaml.Node) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, false
	}
	if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
		return i, true
	}
	var i int64
	if err := n.Decode(&i); err != nil {
		return 0, false
	}
	return i, true
}

// value returns the Go value of n for an object variant: maps, lists,
// strings, int64, float64, bools and nil.
func (p *parser) value(n *yaml.Node, o owner, at *path, depth int) (any, bool) {
	p.budget--
	if p.budget < 0 {
		p.errorf(n, o, at, "aliases expand too far")
		return nil, false
	}
	if depth > 100 {
		p.errorf(n, o, at, "values nest too deep")
		return nil, false
	}
	n = p.deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		kv, _ := p.mapping(n, o, at)
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			v, ok := p.value(kv[i+1], o, at.key(kv[i].Value), depth+1)
			if !ok {
				return nil, false
			}
			m[kv[i].Value] = v
		}
		return m, true
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, ok := p.value(c, o, at.at(i), depth+1)
			if !ok {
				return nil, false
			}
			l[i] = v
		}
		return l, true
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, true
		case "!!bool":
			return p.boolean(n, o, at)
		case "!!int":
			if i, ok := p.integer(n); ok {
				return i, true
			}
			p.errorf(n, o, at, "%s does not fit in 64 bits", n.Value)
			return nil, false
		case "!!float":
			if f, ok := p.number(n); ok {
				return f, true
			}
			p.errorf(n, o, at, "want a finite number, not %s", describe(n))
			return nil, false
		}
		return p.text(n, o, at)
	}
	p.errorf(n, o, at, "unexpected %s", describe(n))
	return nil, false
}

func (p *parser) audiences(n *yaml.Node) []flagon.Audience {
	at := (*path)(nil).key("audiences")
	kv, ok := p.mapping(n, owner{}, at)
	if !ok {
		if !isNull(p.deref(n)) {
			p.errorf(n, owner{}, at, "want a mapping of audience names to clauses, not %s", describe(n))
		}
		return nil
	}
	var out []flagon.Audience
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], p.deref(kv[i+1])
		a := flagon.Audience{Name: k.Value}
		o := owner{audience: k.Value}
		switch v.Kind {
		case yaml.ScalarNode, yaml.SequenceNode:
			a.Clauses = p.clauses(v, o, nil, "when")
		case yaml.MappingNode:
			fields, _ := p.mapping(v, o, nil)
			for j := 0; j < len(fields); j += 2 {
				fk, fv := fields[j], fields[j+1]
				if isNull(p.deref(fv)) {
					continue
				}
				switch fk.Value {
				case "description":
					a.Description, _ = p.text(fv, o, nil)
				case "when":
					a.Clauses = p.clauses(fv, o, nil, "when")
				default:
					p.unknownField(fk, o, nil, audienceFields)
				}
			}
		default:
			p.errorf(v, o, nil, "want a clause, a list of clauses, or a mapping with when and description, not %s", describe(v))
		}
		out = append(out, a)
		p.audSrc = append(p.audSrc, source{k, v})
	}
	return out
}

// clauses reads a clause or a list of clauses.
func (p *parser) clauses(n *yaml.Node, o owner, up *path, name string) []flagon.Clause {
	at := up.key(name)
	n = p.deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		if c, ok := p.clause(n, o, at); ok {
			return []flagon.Clause{c}
		}
		return nil
	}
	var out []flagon.Clause
	for i, item := range n.Content {
		if c, ok := p.clause(item, o, at.at(i)); ok {
			if out == nil {
				out = make([]flagon.Clause, 0, len(n.Content))
			}
			out = append(out, c)
		}
	}
	return out
}

// clause reads "attribute op value, value" or {attribute, op, values}.
func (p *parser) clause(n *yaml.Node, o owner, at *path) (flagon.Clause, bool) {
	n = p.deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag != "!!str" {
			p.errorf(n, o, at, "want a clause such as \"is_staff == true\", not %s", describe(n))
			return flagon.Clause{}, false
		}
		c, err := flagon.ParseClause(n.Value)
		if err != nil {
			p.errorf(n, o, at, "%v", err)
			return flagon.Clause{}, false
		}
		return c, true
	case yaml.MappingNode:
		var c flagon.Clause
		kv, _ := p.mapping(n, o, at)
		ok := true
		for i := 0; i < len(kv); i += 2 {
			k, v := kv[i], kv[i+1]
			switch k.Value {
			case "attribute":
				c.Attribute, _ = p.text(v, o, at.key("attribute"))
			case "op":
				op, _ := p.text(v, o, at.key("op"))
				c.Op = flagon.Operator(op)
				if _, known := flagon.ParseOperator(op); !known {
					p.errorf(v, o, at.key("op"), "unknown operator %q", op)
					ok = false
				}
			case "values":
				items, _ := p.list(v, true)
				c.Values = make([]any, 0, len(items))
				for j, item := range items {
					cv, good := p.clauseValue(item, o, at.key("values").at(j))
					ok = ok && good
					c.Values = append(c.Values, cv)
				}
			default:
				p.unknownField(k, o, at, clauseFields)
				ok = false
			}
		}
		if c.Attribute == "" {
			p.errorf(n, o, at, "the clause names no attribute")
			ok = false
		}
		if len(c.Values) == 0 {
			c.Values = nil
		}
		return c, ok
	}
	p.errorf(n, o, at, "want a clause, not %s", describe(n))
	return flagon.Clause{}, false
}

func (p *parser) clauseValue(n *yaml.Node, o owner, at *path) (any, bool) {
	n = p.deref(n)
	if n.Kind == yaml.ScalarNode {
		switch n.Tag {
		case "!!bool":
			return p.boolean(n, o, at)
		case "!!int":
			if i, ok := p.integer(n); ok {
				return i, true
			}
		case "!!float":
			if f, ok := p.number(n); ok {
				return f, true
			}
		case "!!str", "!!timestamp":
			return n.Value, true
		case "!!binary":
			return p.text(n, o, at)
		}
	}
	p.errorf(n, o, at, "want a string, number or boolean, not %s", describe(n))
	return nil, false
}

func (p *parser) flags(n *yaml.Node) []flagon.Flag {
	at := (*path)(nil).key("flags")
	kv, ok := p.mapping(n, owner{}, at)
	if !ok {
		if !isNull(p.deref(n)) {
			p.errorf(n, owner{}, at, "want a mapping of flag keys to flags, not %s", describe(n))
		}
		return nil
	}
	if len(kv) == 0 {
		return nil
	}
	// The flags are independent: a large file's are read in parallel.
	parts := min(runtime.GOMAXPROCS(0), len(kv)/2/minParallelFlags)
	if parts < 2 {
		return p.flagRange(kv)
	}
	subs := make([]*parser, parts)
	outs := make([][]flagon.Flag, parts)
	var wg sync.WaitGroup
	for i := range subs {
		lo, hi := len(kv)/2*i/parts*2, len(kv)/2*(i+1)/parts*2
		subs[i] = &parser{file: p.file, budget: p.budget / parts}
		wg.Go(func() { outs[i] = subs[i].flagRange(kv[lo:hi]) })
	}
	wg.Wait()
	out := make([]flagon.Flag, 0, len(kv)/2)
	p.flagSrc = make([]source, 0, len(kv)/2)
	for i, sub := range subs {
		out = append(out, outs[i]...)
		p.adopt(sub)
	}
	return out
}

// adopt takes the flag sources and problems of sub, which read some of
// the flags.
func (p *parser) adopt(sub *parser) {
	p.flagSrc = append(p.flagSrc, sub.flagSrc...)
	for _, e := range sub.errs {
		if e.Msg != tooMany {
			p.add(e)
		}
	}
	if len(sub.errs) > maxErrors && p.errs[len(p.errs)-1].Msg != tooMany {
		p.errs = append(p.errs, &flagon.FieldError{File: p.file, Msg: tooMany})
	}
}

// minParallelFlags is the fewest flags worth reading on a goroutine of
// their own.
const minParallelFlags = 1000

// flagRange reads the flags of the alternating keys and values kv.
func (p *parser) flagRange(kv []*yaml.Node) []flagon.Flag {
	out := make([]flagon.Flag, 0, len(kv)/2)
	p.flagSrc = make([]source, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], p.deref(kv[i+1])
		f := flagon.Flag{Key: k.Value}
		o := owner{flag: k.Value}
		switch {
		case v.Kind == yaml.MappingNode:
			p.flag(&f, v, o)
		case isNull(v):
		case v.Kind == yaml.ScalarNode && v.Tag == "!!bool":
			b, _ := p.boolean(v, o, nil)
			f.Default, _ = boolVariant(&f, b)
		default:
			p.errorf(v, o, nil, "want a mapping of the flag's fields (or true or false, for a simple switch), not %s", describe(v))
		}
		out = append(out, f)
		p.flagSrc = append(p.flagSrc, source{k, v})
	}
	return out
}

// flag reads the fields of a flag into f.
func (p *parser) flag(f *flagon.Flag, n *yaml.Node, o owner) {
	kv, _ := p.mapping(n, o, nil)
	var variants, deflt, rules, fall, rollout, override *yaml.Node
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		if isNull(p.deref(v)) {
			if !slices.Contains(flagFields, k.Value) {
				p.unknownField(k, o, nil, flagFields)
			}
			continue
		}
		at := (*path)(nil).key(k.Value)
		switch k.Value {
		case "description":
			f.Description, _ = p.text(v, o, at)
		case "owner":
			f.Owner, _ = p.text(v, o, at)
		case "tags":
			items, ok := p.list(v, true)
			if !ok {
				p.errorf(v, o, at, "want a list of tags, not %s", describe(v))
				break
			}
			if len(items) > 0 {
				f.Tags = make([]string, 0, len(items))
			}
			for j, item := range items {
				t, _ := p.text(item, o, at.at(j))
				f.Tags = append(f.Tags, t)
			}
		case "expires":
			f.Expires = p.date(v, o, at)
		case "type":
			t, ok := p.text(v, o, at)
			if !ok {
				break
			}
			switch typ := flagon.Type(t); typ {
			case flagon.TypeBool, flagon.TypeString, flagon.TypeInt, flagon.TypeFloat, flagon.TypeObject:
				f.Type = typ
			default:
				p.errorf(v, o, at, "unknown type %q (want bool, string, int, float or object)", t)
				f.Type = typ
			}
		case "variants":
			variants = v
		case "default":
			deflt = v
		case "enabled":
			on, _ := p.boolean(v, o, at)
			f.Disabled = !on
		case "rules":
			rules = v
		case "fallthrough":
			fall = v
		case "rollout":
			rollout = v
		case "salt":
			f.Salt, _ = p.text(v, o, at)
		case "override":
			override = v
		case "metadata":
			f.Metadata = p.metadata(v, o, at)
		default:
			p.unknownField(k, o, nil, flagFields)
		}
	}
	if variants != nil {
		p.variants(f, variants, o)
	}
	if deflt != nil {
		f.Default, _ = p.variantRef(deflt, f, o, (*path)(nil).key("default"))
	}
	if rules != nil {
		if r := p.rules(rules, f, o, nil); len(r) > 0 {
			f.Rules = r
		}
	}
	switch {
	case fall != nil && rollout != nil:
		p.errorf(rollout, o, (*path)(nil).key("rollout"), "set fallthrough or rollout, not both")
	case fall != nil:
		f.Fallthrough, _ = p.serve(fall, f, o, (*path)(nil).key("fallthrough"))
	case rollout != nil:
		f.Fallthrough.Split, _ = p.boolRollout(rollout, f, o, (*path)(nil).key("rollout"))
	}
	if override != nil {
		f.Override = p.override(override, f, o)
	}
}

func (p *parser) date(n *yaml.Node, o owner, at *path) time.Time {
	s, ok := p.text(n, o, at)
	if !ok {
		return time.Time{}
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	p.errorf(n, o, at, "want a date (2006-01-02) or an RFC 3339 time, not %q", s)
	return time.Time{}
}

func (p *parser) metadata(n *yaml.Node, o owner, at *path) map[string]string {
	kv, ok := p.mapping(n, o, at)
	if !ok {
		p.errorf(n, o, at, "want a mapping of names to text, not %s", describe(n))
		return nil
	}
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		v := p.deref(kv[i+1])
		if isNull(v) {
			m[kv[i].Value] = ""
			continue
		}
		m[kv[i].Value], _ = p.text(v, o, at.key(kv[i].Value))
	}
	return m
}

func (p *parser) variants(f *flagon.Flag, n *yaml.Node, o owner) {
	at := (*path)(nil).key("variants")
	kv, ok := p.mapping(n, o, at)
	if !ok {
		p.errorf(n, o, at, "want a mapping of variant names to values, not %s", describe(n))
		return
	}
	if len(kv) == 0 {
		return
	}
	f.Variants = make([]flagon.Variant, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		name, v := kv[i].Value, p.deref(kv[i+1])
		vat := at.key(name)
		var val any
		typ := f.Type
		if typ == "" {
			typ = flagon.TypeBool
		}
		switch typ {
		case flagon.TypeBool:
			if v.Kind == yaml.ScalarNode && v.Tag == "!!bool" {
				val, _ = p.boolean(v, o, vat)
			} else {
				hint := ""
				if f.Type == "" && v.Kind == yaml.ScalarNode {
					hint = "; for other values, set the flag's type (string, int, float or object)"
				} else if f.Type == "" && v.Kind == yaml.MappingNode {
					hint = "; for object values, set type: object"
				}
				p.errorf(v, o, vat, "a bool flag's variant is true or false, not %s%s", describe(v), hint)
			}
		case flagon.TypeString:
			if v.Kind == yaml.ScalarNode && (v.Tag == "!!str" || v.Tag == "!!timestamp" || v.Tag == "!!binary") {
				val, _ = p.text(v, o, vat)
			} else if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
				p.errorf(v, o, vat, "a string flag's variant is text, not %s; quote it: %q", describe(v), v.Value)
			} else {
				p.errorf(v, o, vat, "a string flag's variant is text, not %s", describe(v))
			}
		case flagon.TypeInt:
			if i, ok := p.integer(v); ok {
				val = i
			} else {
				p.errorf(v, o, vat, "an int flag's variant is a whole number that fits in 64 bits, not %s", describe(v))
			}
		case flagon.TypeFloat:
			if x, ok := p.number(v); ok {
				val = x
			} else {
				p.errorf(v, o, vat, "a float flag's variant is a finite number, not %s", describe(v))
			}
		case flagon.TypeObject:
			if v.Kind == yaml.MappingNode {
				val, _ = p.value(v, o, vat, 0)
			} else {
				p.errorf(v, o, vat, "an object flag's variant is a mapping, not %s", describe(v))
			}
		default:
			val, _ = p.value(v, o, vat, 0)
		}
		f.Variants = append(f.Variants, flagon.Variant{Name: name, Value: val})
	}
}

func isBool(f *flagon.Flag) bool { return f.Type == "" || f.Type == flagon.TypeBool }

// boolVariant returns the name of the variant of the bool flag f whose
// value is v: "on" or "off" when f names no variants.
func boolVariant(f *flagon.Flag, v bool) (string, bool) {
	if !isBool(f) {
		return "", false
	}
	if len(f.Variants) == 0 {
		if v {
			return "on", true
		}
		return "off", true
	}
	for _, x := range f.Variants {
		if b, ok := x.Value.(bool); ok && b == v {
			return x.Name, true
		}
	}
	return "", false
}

// variantRef reads a reference to a variant: its name, or for a bool flag
// also true or false.
func (p *parser) variantRef(n *yaml.Node, f *flagon.Flag, o owner, at *path) (string, bool) {
	n = p.deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, o, at, "want a variant name, not %s", describe(n))
		return "", false
	}
	if n.Tag == "!!bool" && isBool(f) {
		b, ok := p.boolean(n, o, at)
		if !ok {
			return "", false
		}
		name, ok := boolVariant(f, b)
		if !ok {
			p.errorf(n, o, at, "no variant has the value %v", b)
		}
		return name, ok
	}
	if n.Value == "" {
		p.errorf(n, o, at, "want a variant name, not an empty string")
		return "", false
	}
	return n.Value, true
}

func (p *parser) rules(n *yaml.Node, f *flagon.Flag, o owner, up *path) []flagon.Rule {
	at := up.key("rules")
	items, ok := p.list(n, false)
	if !ok {
		p.errorf(n, o, at, "want a list of rules, not %s", describe(n))
		return nil
	}
	out := make([]flagon.Rule, 0, len(items))
	for i, item := range items {
		rat := at.at(i)
		kv, ok := p.mapping(item, o, rat)
		if !ok {
			p.errorf(item, o, rat, "want a rule (a mapping with when or audience, and serve), not %s", describe(p.deref(item)))
			continue
		}
		var r flagon.Rule
		var audience *yaml.Node
		for j := 0; j < len(kv); j += 2 {
			k, v := kv[j], kv[j+1]
			if isNull(p.deref(v)) {
				if !slices.Contains(ruleFields, k.Value) {
					p.unknownField(k, o, rat, ruleFields)
				}
				continue
			}
			fat := rat.key(k.Value)
			switch k.Value {
			case "id":
				r.ID, _ = p.text(v, o, fat)
			case "description":
				r.Description, _ = p.text(v, o, fat)
			case "audience":
				if r.Audiences != nil {
					p.errorf(k, o, fat, "set audience or audiences, not both")
					break
				}
				audience = k
				name, _ := p.text(v, o, fat)
				r.Audiences = []string{name}
			case "audiences":
				if audience != nil {
					p.errorf(k, o, fat, "set audience or audiences, not both")
					break
				}
				list, ok := p.list(v, false)
				if !ok {
					p.errorf(v, o, fat, "want a list of audience names, not %s", describe(v))
					break
				}
				r.Audiences = make([]string, 0, len(list))
				for x, a := range list {
					name, _ := p.text(a, o, fat.at(x))
					r.Audiences = append(r.Audiences, name)
				}
				audience = k
			case "when":
				r.Clauses = p.clauses(v, o, rat, "when")
			case "serve":
				r.Serve, _ = p.serve(v, f, o, fat)
			default:
				p.unknownField(k, o, rat, ruleFields)
			}
		}
		if len(r.Audiences) == 0 {
			r.Audiences = nil
		}
		if len(r.Clauses) == 0 {
			r.Clauses = nil
		}
		out = append(out, r)
	}
	return out
}

// serve reads what a rule or fallthrough serves: a variant (or a bool
// flag's value), or a mapping with variant, rollout and by.
func (p *parser) serve(n *yaml.Node, f *flagon.Flag, o owner, at *path) (flagon.Serve, bool) {
	var s flagon.Serve
	n = p.deref(n)
	if n.Kind == yaml.ScalarNode {
		name, ok := p.variantRef(n, f, o, at)
		s.Variant = name
		return s, ok
	}
	kv, ok := p.mapping(n, o, at)
	if !ok {
		p.errorf(n, o, at, "want a variant, or a mapping with rollout and by, not %s", describe(n))
		return s, false
	}
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		fat := at.key(k.Value)
		switch k.Value {
		case "variant":
			s.Variant, ok = p.variantRef(v, f, o, fat)
		case "rollout":
			s.Split, ok = p.rollout(v, f, o, fat)
		case "by":
			s.By, ok = p.text(v, o, fat)
		default:
			p.unknownField(k, o, at, serveFields)
			ok = false
		}
	}
	return s, ok
}

// rollout reads a percentage split: {variant: percent, …} in order, a
// list of {variant, percent}, or for a bool flag one number, the percent
// served true.
func (p *parser) rollout(n *yaml.Node, f *flagon.Flag, o owner, at *path) ([]flagon.Split, bool) {
	n = p.deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if !isBool(f) {
			p.errorf(n, o, at, "want a mapping of variants to percentages, such as {%s}; one number is a bool flag's shorthand", exampleSplit(f))
			return nil, false
		}
		return p.boolRollout(n, f, o, at)
	case yaml.MappingNode:
		kv, _ := p.mapping(n, o, at)
		out := make([]flagon.Split, 0, len(kv)/2)
		ok := true
		for i := 0; i < len(kv); i += 2 {
			k := kv[i]
			name := k.Value
			if k.Tag == "!!bool" && isBool(f) {
				name, _ = p.variantRef(k, f, o, at.key(k.Value))
			}
			pct, good := p.percent(kv[i+1], o, at.key(k.Value))
			ok = ok && good
			out = append(out, flagon.Split{Variant: name, Percent: pct})
		}
		return out, ok
	case yaml.SequenceNode:
		out := make([]flagon.Split, 0, len(n.Content))
		ok := true
		for i, item := range n.Content {
			iat := at.at(i)
			kv, isMap := p.mapping(item, o, iat)
			if !isMap {
				p.errorf(item, o, iat, "want {variant: name, percent: number}, not %s", describe(p.deref(item)))
				ok = false
				continue
			}
			var sp flagon.Split
			for j := 0; j < len(kv); j += 2 {
				switch kv[j].Value {
				case "variant":
					sp.Variant, _ = p.variantRef(kv[j+1], f, o, iat.key("variant"))
				case "percent":
					var good bool
					sp.Percent, good = p.percent(kv[j+1], o, iat.key("percent"))
					ok = ok && good
				default:
					p.unknownField(kv[j], o, iat, splitFields)
					ok = false
				}
			}
			out = append(out, sp)
		}
		return out, ok
	}
	p.errorf(n, o, at, "want a mapping of variants to percentages, not %s", describe(n))
	return nil, false
}

func exampleSplit(f *flagon.Flag) string {
	if len(f.Variants) >= 2 {
		return f.Variants[0].Name + ": 50, " + f.Variants[1].Name + ": 50"
	}
	return "a: 50, b: 50"
}

// percent reads a number from 0 to 100, or text such as "12.5%".
func (p *parser) percent(n *yaml.Node, o owner, at *path) (float64, bool) {
	n = p.deref(n)
	if x, ok := p.number(n); ok {
		return x, true
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && strings.HasSuffix(n.Value, "%") {
		x, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(n.Value, "%")), 64)
		if err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
			return x, true
		}
	}
	p.errorf(n, o, at, "want a percentage, not %s", describe(n))
	return 0, false
}

// boolRollout reads the bool shorthand: one number, the percent served
// true; the rest is served false.
func (p *parser) boolRollout(n *yaml.Node, f *flagon.Flag, o owner, at *path) ([]flagon.Split, bool) {
	n = p.deref(n)
	if !isBool(f) {
		p.errorf(n, o, at, "rollout is the shorthand for a bool flag; for a %s flag write fallthrough: {rollout: {%s}}", f.Type, exampleSplit(f))
		return nil, false
	}
	pct, ok := p.percent(n, o, at)
	if !ok {
		return nil, false
	}
	if !(pct >= 0 && pct <= 100) {
		p.errorf(n, o, at, "percent %v is not between 0 and 100", pct)
		return nil, false
	}
	on, ok1 := boolVariant(f, true)
	off, ok2 := boolVariant(f, false)
	if !ok1 || !ok2 {
		p.errorf(n, o, at, "the rollout shorthand needs a variant that is true and one that is false")
		return nil, false
	}
	return []flagon.Split{{Variant: on, Percent: pct}, {Variant: off, Percent: complement(pct)}}, true
}

// complement returns 100 - pct, rounded to the 0.001 steps of a split.
func complement(pct float64) float64 {
	return float64(flagon.Buckets-int(math.Round(pct*1000))) / 1000
}

func (p *parser) override(n *yaml.Node, f *flagon.Flag, o owner) flagon.OverridePolicy {
	var pol flagon.OverridePolicy
	at := (*path)(nil).key("override")
	kv, ok := p.mapping(n, o, at)
	if !ok {
		p.errorf(n, o, at, "want a mapping with who, audience, variants and max_duration, not %s", describe(n))
		return pol
	}
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		if isNull(p.deref(v)) {
			continue
		}
		fat := at.key(k.Value)
		switch k.Value {
		case "who":
			who, ok := p.text(v, o, fat)
			pol.Who = flagon.Who(who)
			switch pol.Who {
			case flagon.WhoNone, flagon.WhoStaff, flagon.WhoAnyone:
			default:
				if ok {
					p.errorf(v, o, fat, "unknown policy %q (want none, staff or anyone)", who)
				}
			}
		case "audience":
			pol.Audience, _ = p.text(v, o, fat)
		case "variants":
			items, ok := p.list(v, true)
			if !ok {
				p.errorf(v, o, fat, "want a list of variants, not %s", describe(v))
				break
			}
			pol.Variants = make([]string, 0, len(items))
			for j, item := range items {
				name, _ := p.variantRef(item, f, o, fat.at(j))
				pol.Variants = append(pol.Variants, name)
			}
			if len(pol.Variants) == 0 {
				pol.Variants = nil
			}
		case "max_duration":
			s, ok := p.text(v, o, fat)
			if !ok {
				break
			}
			d, err := parseDuration(s)
			if err != nil {
				p.errorf(v, o, fat, "%v", err)
			}
			pol.MaxDuration = d
		default:
			p.unknownField(k, o, at, overrideFields)
		}
	}
	return pol
}

// parseDuration reads a Go duration ("36h", "90m") with whole days allowed
// in front ("7d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	neg := strings.HasPrefix(t, "-")
	t = strings.TrimPrefix(t, "-")
	var d time.Duration
	if i := strings.IndexByte(t, 'd'); i > 0 {
		days, err := strconv.ParseInt(t[:i], 10, 64)
		if err != nil || days > int64(math.MaxInt64/(24*time.Hour)) {
			return 0, fmt.Errorf("bad duration %q: want a number of days, such as 7d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
		t = t[i+1:]
		if t == "" {
			if neg {
				d = -d
			}
			return d, nil
		}
	}
	rest, err := time.ParseDuration(t)
	if err != nil || rest < 0 {
		return 0, fmt.Errorf("bad duration %q: want a duration such as 24h, 90m or 7d", s)
	}
	if d > math.MaxInt64-rest {
		return 0, fmt.Errorf("bad duration %q: too long", s)
	}
	d += rest
	if neg {
		d = -d
	}
	return d, nil
}

// environments reads the environments section into the flags'
// Environments.
func (p *parser) environments(n *yaml.Node, flags []flagon.Flag) {
	at := (*path)(nil).key("environments")
	kv, ok := p.mapping(n, owner{}, at)
	if !ok {
		if !isNull(p.deref(n)) {
			p.errorf(n, owner{}, at, "want a mapping of environment names to flag settings, not %s", describe(n))
		}
		return
	}
	var index map[string]int
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		env := k.Value
		eat := at.key(env)
		if !flagon.ValidKey(env) {
			p.errorf(k, owner{}, eat, "invalid environment name: use 1 to %d lowercase letters, digits, '-', '_' or '.'", flagon.MaxKeyLen)
		}
		p.envNames = append(p.envNames, env)
		if isNull(p.deref(v)) {
			continue
		}
		fkv, ok := p.mapping(v, owner{}, eat)
		if !ok {
			p.errorf(v, owner{}, eat, "want a mapping of flag keys to settings, not %s", describe(p.deref(v)))
			continue
		}
		if index == nil && len(fkv) > 0 {
			index = make(map[string]int, len(flags))
			for j := range flags {
				if _, dup := index[flags[j].Key]; !dup {
					index[flags[j].Key] = j
				}
			}
		}
		for j := 0; j < len(fkv); j += 2 {
			fk, fv := fkv[j], p.deref(fkv[j+1])
			fi, ok := index[fk.Value]
			if !ok {
				p.errorf(fk, owner{}, eat.key(fk.Value), "unknown flag %q: environments may only change flags defined under flags", fk.Value)
				continue
			}
			f := &flags[fi]
			es := p.envSettings(fv, f, owner{flag: f.Key}, (*path)(nil).key("environments").key(env))
			if f.Environments == nil {
				f.Environments = make(map[string]flagon.EnvSettings)
			}
			f.Environments[env] = es
			p.envSrc = append(p.envSrc, envSource{env: env, flag: fi, body: fv})
		}
	}
}

func (p *parser) envSettings(n *yaml.Node, f *flagon.Flag, o owner, at *path) flagon.EnvSettings {
	var es flagon.EnvSettings
	if isNull(n) {
		return es
	}
	kv, ok := p.mapping(n, o, at)
	if !ok {
		p.errorf(n, o, at, "want a mapping with default, enabled, rules, fallthrough or rollout, not %s; to switch a flag off write {enabled: false}", describe(n))
		return es
	}
	var fall, rollout *yaml.Node
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		if isNull(p.deref(v)) {
			if !slices.Contains(envFields, k.Value) {
				p.unknownField(k, o, at, envFields)
			}
			continue
		}
		fat := at.key(k.Value)
		switch k.Value {
		case "default":
			if name, ok := p.variantRef(v, f, o, fat); ok {
				es.Default = &name
			}
		case "enabled":
			if on, ok := p.boolean(v, o, fat); ok {
				off := !on
				es.Disabled = &off
			}
		case "rules":
			r := p.rules(v, f, o, at)
			if r == nil {
				r = []flagon.Rule{}
			}
			es.Rules = &r
		case "fallthrough":
			fall = v
		case "rollout":
			rollout = v
		default:
			p.unknownField(k, o, at, envFields)
		}
	}
	switch {
	case fall != nil && rollout != nil:
		p.errorf(rollout, o, at.key("rollout"), "set fallthrough or rollout, not both")
	case fall != nil:
		s, _ := p.serve(fall, f, o, at.key("fallthrough"))
		es.Fallthrough = &s
	case rollout != nil:
		split, _ := p.boolRollout(rollout, f, o, at.key("rollout"))
		es.Fallthrough = &flagon.Serve{Split: split}
	}
	return es
}
