package file

import "go.yaml.in/yaml/v3"

// The YAML package spends most of a large file's parse in its general
// scanner. Most config files use a small, regular part of YAML: block
// mappings with plain keys, block lists, plain or simply quoted scalars
// on one line, and one-line flow collections. fastDecode reads exactly
// that part, and builds the node tree the YAML package would build for
// it: the same kinds, styles, tags, values, lines and columns. Tags of
// plain scalars come from the YAML package itself ([yaml.Node.ShortTag]
// resolves them as its parser does).
//
// Comments are skipped: whole comment lines, and comments after a value.
// The nodes do not carry them, as the YAML package's would; this package
// never reads them.
//
// fastDecode gives up on anything else: anchors, aliases, tags,
// documents and directives, block scalars, single-quoted text, escapes,
// keys that are quoted or hold other than [A-Za-z0-9_.-/], empty values,
// lists at their key's indentation, scalars that continue on the next
// line, flow collections over several lines, tabs, carriage returns and
// bytes outside printable ASCII. The caller then uses the YAML package,
// so the result, and every error, is always that of the YAML package.

// maxFastDepth is how deep fastDecode nests collections before it gives up.
const maxFastDepth = 64

type fastParser struct {
	src   string
	pos   int // offset of the next byte to read
	line  int // line of src[pos], from 1
	bol   int // offset of the start of that line
	depth int

	nodes []yaml.Node  // free nodes, allocated in blocks
	ptrs  []*yaml.Node // free Content slots, allocated in blocks
	stack []*yaml.Node // children of the collections being read
}

// fastDecode returns the document node of data, which must be one
// document holding a block mapping, or false if data is not in the part
// of YAML that fastDecode reads.
func fastDecode(data []byte) (*yaml.Node, bool) {
	p := &fastParser{src: string(data), line: 1}
	indent, ok := p.nextContent()
	if !ok || indent != 0 {
		return nil, false
	}
	root := p.blockMapping(0)
	if root == nil || p.pos < len(p.src) {
		return nil, false
	}
	doc := p.node()
	doc.Kind, doc.Line, doc.Column = yaml.DocumentNode, root.Line, root.Column
	doc.Content = []*yaml.Node{root}
	return doc, true
}

func (p *fastParser) node() *yaml.Node {
	if len(p.nodes) == 0 {
		p.nodes = make([]yaml.Node, 512)
	}
	n := &p.nodes[0]
	p.nodes = p.nodes[1:]
	return n
}

// content returns the children pushed since mark, as a slice whose
// capacity is its length, so that appending to it never writes over
// another node's children.
func (p *fastParser) content(mark int) []*yaml.Node {
	kids := p.stack[mark:]
	k := len(kids)
	if k == 0 {
		p.stack = p.stack[:mark]
		return nil
	}
	if len(p.ptrs) < k {
		p.ptrs = make([]*yaml.Node, max(2048, k))
	}
	c := p.ptrs[:k:k]
	p.ptrs = p.ptrs[k:]
	copy(c, kids)
	clear(kids)
	p.stack = p.stack[:mark]
	return c
}

// nextContent moves to the first byte of the first line at or after pos
// that is not blank, and returns the line's indentation, or -1 at the end
// of src. pos must be at the start of a line, or already where
// nextContent moved it.
func (p *fastParser) nextContent() (int, bool) {
	if p.pos > p.bol && p.pos < len(p.src) {
		return p.pos - p.bol, true
	}
	for {
		if p.pos >= len(p.src) {
			return -1, true
		}
		i := p.pos
		for i < len(p.src) && p.src[i] == ' ' {
			i++
		}
		if i == len(p.src) {
			p.pos = i
			return -1, true
		}
		if p.src[i] == '#' {
			// A comment line: skip it as if it were blank.
			for i < len(p.src) && p.src[i] != '\n' {
				if c := p.src[i]; c < ' ' && c != '\t' || c >= 0x7f {
					return 0, false
				}
				i++
			}
			if i == len(p.src) {
				p.pos = i
				return -1, true
			}
		}
		if p.src[i] != '\n' {
			p.bol = p.pos
			p.pos = i
			return i - p.bol, true
		}
		p.pos = i + 1
		p.line++
	}
}

// endLine expects the end of the current line, after spaces, and moves to
// the start of the next.
func (p *fastParser) endLine() bool {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
	if p.pos < len(p.src) && p.src[p.pos] == '#' && p.pos > p.bol && p.src[p.pos-1] == ' ' {
		// A comment to the end of the line.
		for p.pos < len(p.src) && p.src[p.pos] != '\n' {
			if c := p.src[p.pos]; c < ' ' && c != '\t' || c >= 0x7f {
				return false
			}
			p.pos++
		}
	}
	if p.pos == len(p.src) {
		return true
	}
	if p.src[p.pos] != '\n' {
		return false
	}
	p.pos++
	p.line++
	p.bol = p.pos
	return true
}

func (p *fastParser) col() int { return p.pos - p.bol + 1 }

func isFastKeyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == '/'
}

// keyAhead reports whether a plain key followed by ": " or ":\n" starts
// at pos.
func (p *fastParser) keyAhead() bool {
	i := p.pos
	if i >= len(p.src) || !isFastKeyStart(p.src[i]) {
		return false
	}
	for i < len(p.src) && isFastKeyByte(p.src[i]) {
		i++
	}
	return i < len(p.src) && p.src[i] == ':' && (i+1 == len(p.src) || p.src[i+1] == ' ' || p.src[i+1] == '\n')
}

func isFastKeyStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// scalar makes a scalar node of src[from:to], which starts at column col
// of the current line.
func (p *fastParser) scalar(from, to, col int, quoted bool) *yaml.Node {
	n := p.node()
	n.Kind, n.Value, n.Line, n.Column = yaml.ScalarNode, p.src[from:to], p.line, col
	if quoted {
		n.Style, n.Tag = yaml.DoubleQuotedStyle, "!!str"
	} else {
		n.Tag = plainTag(n)
	}
	return n
}

// plainTag returns the tag the YAML package resolves for the plain scalar
// n. It decides text that cannot be anything else, and words that could
// be booleans or null, itself, and leaves numbers, times and the rest to
// the YAML package.
func plainTag(n *yaml.Node) string {
	v := n.Value
	if v == "" {
		return n.ShortTag()
	}
	switch v[0] {
	case '+', '-', '.', '<', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return n.ShortTag()
	case 'y', 'Y', 'n', 'N', 't', 'T', 'f', 'F', 'o', 'O', '~':
		switch v {
		case "true", "True", "TRUE", "false", "False", "FALSE":
			return "!!bool"
		case "~", "null", "Null", "NULL":
			return "!!null"
		}
	}
	return "!!str"
}

// key reads a plain key and its colon, and the spaces after it.
func (p *fastParser) key() *yaml.Node {
	start, col := p.pos, p.col()
	for p.pos < len(p.src) && isFastKeyByte(p.src[p.pos]) {
		p.pos++
	}
	if p.pos-start > 1000 {
		return nil // the YAML package limits simple keys to 1024 characters
	}
	k := p.scalar(start, p.pos, col, false)
	if k.Tag == "!!merge" {
		return nil
	}
	p.pos++ // the colon
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
	return k
}

// blockMapping reads a block mapping whose first key is at pos, in column
// indent+1.
func (p *fastParser) blockMapping(indent int) *yaml.Node {
	if p.depth++; p.depth > maxFastDepth {
		return nil
	}
	defer func() { p.depth-- }()
	m := p.node()
	m.Kind, m.Tag, m.Line, m.Column = yaml.MappingNode, "!!map", p.line, indent+1
	mark := len(p.stack)
	for {
		if !p.keyAhead() {
			return nil
		}
		k := p.key()
		if k == nil {
			return nil
		}
		var v *yaml.Node
		if p.pos == len(p.src) || p.src[p.pos] == '\n' {
			// The value is on the lines below, indented further.
			p.endLine()
			next, ok := p.nextContent()
			if !ok || next <= indent {
				return nil
			}
			if p.src[p.pos] == '-' {
				v = p.blockSequence(next)
			} else {
				v = p.blockMapping(next)
			}
		} else {
			v = p.inline()
		}
		if v == nil {
			return nil
		}
		p.stack = append(p.stack, k, v)
		next, ok := p.nextContent()
		if !ok || next > indent {
			return nil
		}
		if next < indent {
			break
		}
	}
	m.Content = p.content(mark)
	return m
}

// blockSequence reads a block list whose first dash is at pos, in column
// indent+1.
func (p *fastParser) blockSequence(indent int) *yaml.Node {
	if p.depth++; p.depth > maxFastDepth {
		return nil
	}
	defer func() { p.depth-- }()
	s := p.node()
	s.Kind, s.Tag, s.Line, s.Column = yaml.SequenceNode, "!!seq", p.line, indent+1
	mark := len(p.stack)
	for {
		if p.pos+1 >= len(p.src) || p.src[p.pos] != '-' || p.src[p.pos+1] != ' ' {
			return nil
		}
		p.pos++
		for p.pos < len(p.src) && p.src[p.pos] == ' ' {
			p.pos++
		}
		if p.pos == len(p.src) || p.src[p.pos] == '\n' || p.src[p.pos] == '-' {
			return nil
		}
		var item *yaml.Node
		if p.keyAhead() {
			item = p.blockMapping(p.pos - p.bol)
		} else {
			item = p.inline()
		}
		if item == nil {
			return nil
		}
		p.stack = append(p.stack, item)
		next, ok := p.nextContent()
		if !ok || next > indent {
			return nil
		}
		if next < indent {
			break
		}
	}
	s.Content = p.content(mark)
	return s
}

// inline reads a value that starts at pos and ends its line: a flow
// collection, a double-quoted scalar or a plain scalar. The caller checks
// that the next line does not continue it.
func (p *fastParser) inline() *yaml.Node {
	var v *yaml.Node
	switch c := p.src[p.pos]; {
	case c == '[' || c == '{':
		v = p.flow()
	case c == '"':
		v = p.quoted()
	default:
		v = p.plain()
	}
	if v == nil || !p.endLine() {
		return nil
	}
	return v
}

// canStartPlain reports whether a plain scalar fastDecode reads may start
// with src[i].
func (p *fastParser) canStartPlain(i int) bool {
	c := p.src[i]
	switch {
	case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9':
		return true
	case c == '_' || c == '.' || c == '/' || c == '~' || c == '+' || c == '$' || c == '(' || c == '=':
		return true
	case c == '-':
		if i+1 < len(p.src) {
			d := p.src[i+1]
			return 'a' <= d && d <= 'z' || 'A' <= d && d <= 'Z' || '0' <= d && d <= '9' || d == '.'
		}
	}
	return false
}

// plain reads a plain scalar in block context, to the end of its line.
func (p *fastParser) plain() *yaml.Node {
	if !p.canStartPlain(p.pos) {
		return nil
	}
	start, col := p.pos, p.col()
	end := start // after the last byte that is not a space
	for ; p.pos < len(p.src); p.pos++ {
		c := p.src[p.pos]
		if c == '\n' {
			break
		}
		if c == '#' && p.src[p.pos-1] == ' ' {
			break // a comment follows the value
		}
		if c < ' ' || c >= 0x7f || c == '#' {
			return nil
		}
		if c == ':' && (p.pos+1 == len(p.src) || p.src[p.pos+1] == ' ' || p.src[p.pos+1] == '\n') {
			return nil
		}
		if c != ' ' {
			end = p.pos + 1
		}
	}
	return p.scalar(start, end, col, false)
}

// quoted reads a double-quoted scalar without escapes on one line.
func (p *fastParser) quoted() *yaml.Node {
	col := p.col()
	p.pos++
	start := p.pos
	for ; p.pos < len(p.src); p.pos++ {
		c := p.src[p.pos]
		if c == '"' {
			n := p.scalar(start, p.pos, col, true)
			p.pos++
			return n
		}
		if c < ' ' || c >= 0x7f || c == '\\' {
			return nil
		}
	}
	return nil
}

// flowPlain reads a plain scalar in a flow collection.
func (p *fastParser) flowPlain() *yaml.Node {
	if !p.canStartPlain(p.pos) {
		return nil
	}
	start, col := p.pos, p.col()
	end := start
	for ; p.pos < len(p.src); p.pos++ {
		c := p.src[p.pos]
		if c == ',' || c == ']' || c == '}' {
			break
		}
		if c < ' ' || c >= 0x7f || c == '#' || c == ':' || c == '?' || c == '[' || c == '{' || c == '"' || c == '\'' {
			return nil
		}
		if c != ' ' {
			end = p.pos + 1
		}
	}
	return p.scalar(start, end, col, false)
}

func (p *fastParser) skipSpaces() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
}

// flow reads a flow collection that ends on its line.
func (p *fastParser) flow() *yaml.Node {
	if p.depth++; p.depth > maxFastDepth {
		return nil
	}
	defer func() { p.depth-- }()
	n := p.node()
	open := p.src[p.pos]
	isMap := open == '{'
	closer := byte(']')
	n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
	if isMap {
		n.Kind, n.Tag, closer = yaml.MappingNode, "!!map", '}'
	}
	n.Style, n.Line, n.Column = yaml.FlowStyle, p.line, p.col()
	p.pos++
	p.skipSpaces()
	mark := len(p.stack)
	if p.pos < len(p.src) && p.src[p.pos] == closer {
		p.pos++
		n.Content = p.content(mark)
		return n
	}
	for {
		if p.pos >= len(p.src) {
			return nil
		}
		if isMap {
			if !p.keyAhead() {
				return nil
			}
			k := p.key()
			if k == nil || p.pos >= len(p.src) || p.src[p.pos] == '\n' {
				return nil
			}
			p.stack = append(p.stack, k)
		}
		var v *yaml.Node
		switch p.src[p.pos] {
		case '[', '{':
			v = p.flow()
		case '"':
			v = p.quoted()
		default:
			v = p.flowPlain()
		}
		if v == nil {
			return nil
		}
		p.stack = append(p.stack, v)
		p.skipSpaces()
		if p.pos >= len(p.src) {
			return nil
		}
		switch p.src[p.pos] {
		case closer:
			p.pos++
			n.Content = p.content(mark)
			return n
		case ',':
			p.pos++
			p.skipSpaces()
			if p.pos >= len(p.src) || p.src[p.pos] == closer {
				return nil
			}
		default:
			return nil
		}
	}
}
