package file

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/flagon/flagon"
	"go.yaml.in/yaml/v3"
)

// Parse reads the config file data, named name in error messages, and
// returns its definitions, validated as [flagon.NewSnapshot] validates
// them. A file whose name ends in .json is read with encoding/json, one
// ending in .yaml or .yml with yaml.v3, and one with neither ending (such
// as standard input) as JSON if it starts with "{"; both formats are then
// checked by the same code and give the same errors.
//
// A file with any problem is rejected whole. The error is a
// *[flagon.FieldError], or a [flagon.FieldErrors] when there are several,
// each naming the file, the line and the field, such as
//
//	flags.yaml:14: flag "new-home-page": rules[0].serve: unknown variant "onn"
func Parse(name string, data []byte) (flagon.Definitions, error) {
	if isJSON(name, data) {
		if defs, _, ok := typedJSON(data); ok && defs.Validate() == nil {
			return defs, nil
		}
	}
	return parseGeneral(name, data)
}

// parseGeneral is Parse without the typed JSON path: every file is read
// into a node tree, which knows where each value is.
func parseGeneral(name string, data []byte) (flagon.Definitions, error) {
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
//
// A JSON file is first read by typedJSON, which has no positions; a file
// it declines, or whose definitions NewSnapshot refuses, is read again by
// the general path, whose errors say where each problem is.
func load(name string, data []byte, env string) (*flagon.Snapshot, []string, error) {
	// The revision is a hash of the file rather than of the definitions,
	// which costs a fifth of building the snapshot for a large file. It
	// is computed on another core while the file is parsed.
	revc := make(chan string, 1)
	go func() {
		h := sha256.New()
		h.Write([]byte(env))
		h.Write([]byte{0})
		h.Write(data)
		revc <- hex.EncodeToString(h.Sum(nil)[:8])
	}()
	opts := flagon.SnapshotOptions{Environment: env}
	if isJSON(name, data) {
		defs, envs, ok := typedJSON(data)
		opts.Revision = <-revc
		if ok {
			if s, err := flagon.NewSnapshot(defs, opts); err == nil {
				return s, envs, nil
			}
		}
	}
	p := newParser(name, data)
	defs := p.parse(data)
	if opts.Revision == "" {
		opts.Revision = <-revc
	}
	if len(p.errs) > 0 {
		return nil, nil, p.err()
	}
	s, err := flagon.NewSnapshot(defs, opts)
	if err != nil {
		return nil, nil, p.locate(err)
	}
	return s, p.envNames, nil
}

// emptyFile is the problem with a file that holds nothing.
const emptyFile = "the file is empty; write \"flags: {}\" for a file with no flags"

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
	root := p.decode(data)
	if root == nil {
		return flagon.Definitions{}
	}
	return p.parseRoot(root)
}

// parseRoot reads the root mapping of a file.
func (p *parser) parseRoot(root *yaml.Node) flagon.Definitions {
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
	if flags != nil {
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
	if isJSON(p.file, data) {
		return p.decodeJSON(data)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			p.errorf(nil, owner{}, nil, emptyFile)
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
		p.errorf(&doc, owner{}, nil, emptyFile)
		return nil
	}
	root := p.deref(doc.Content[0])
	if isNull(root) {
		p.errorf(root, owner{}, nil, emptyFile)
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
