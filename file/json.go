package file

// This file reads JSON config files with encoding/json. The tokens become
// the same node tree a YAML file becomes, each node with the line and
// column where its token starts, so that both formats are checked by the
// same code and give the same errors.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// isJSON reports whether the file name, with contents data, is read as
// JSON: a name ending in .json, or a name without a YAML extension (such
// as standard input) whose first character opens a JSON object.
func isJSON(name string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return true
	case ".yaml", ".yml":
		return false
	}
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && t[0] == '{'
}

// bom is the UTF-8 byte order mark, which some editors put at the start of
// a file and encoding/json refuses.
var bom = []byte("\ufeff")

// emptyJSON is the problem with a JSON file that holds nothing.
const emptyJSON = "the file is empty; write {\"flags\": {}} for a file with no flags"

// decodeJSON parses the JSON file data and returns its root node, or nil
// after recording why there is none.
func (p *parser) decodeJSON(data []byte) *yaml.Node {
	if bytes.HasPrefix(data, bom) {
		// Blank the mark out rather than cut it, so offsets stay those of
		// the file.
		data = append([]byte("   "), data[len(bom):]...)
	}
	if len(bytes.TrimLeft(data, " \t\r\n")) == 0 {
		p.errorf(nil, owner{}, nil, emptyJSON)
		return nil
	}
	j := &jsonReader{data: data, dec: json.NewDecoder(bytes.NewReader(data)), line: 1}
	j.dec.UseNumber()
	root, err := j.value(0)
	if err == nil {
		if _, err = j.dec.Token(); err == io.EOF {
			err = nil
		} else if err == nil {
			err = errors.New("more than one value") // Unmarshal says where
		}
	}
	if err == errTooDeep {
		p.errorf(j.tooDeep, owner{}, nil, "column %d: %v", j.tooDeep.Column, err)
		return nil
	}
	if err != nil {
		p.jsonError(data, err)
		return nil
	}
	if isNull(root) {
		p.errorf(root, owner{}, nil, emptyJSON)
		return nil
	}
	return root
}

// jsonReader turns the tokens of a JSON file into nodes.
type jsonReader struct {
	data []byte
	dec  *json.Decoder
	end  int // offset just past the last token read

	// The position of the last token start found: offset, line, and the
	// offset at which that line starts. Tokens come in order, so finding
	// the next one's line counts only the newlines in between.
	pos, line, lineStart int

	slab  []yaml.Node  // nodes to hand out, allocated in blocks
	stack []*yaml.Node // the children of the open objects and arrays

	tooDeep *yaml.Node // where nesting went past maxJSONDepth
}

// next reads a token and returns it with the line and column of its
// first character.
func (j *jsonReader) next() (t json.Token, line, col int, err error) {
	if t, err = j.dec.Token(); err != nil {
		return nil, 0, 0, err
	}
	start := j.end
	for start < len(j.data) {
		if c := j.data[start]; c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ',' && c != ':' {
			break
		}
		start++
	}
	j.end = int(j.dec.InputOffset())
	for i := j.pos; i < start; i++ {
		if j.data[i] == '\n' {
			j.line++
			j.lineStart = i + 1
		}
	}
	j.pos = start
	return t, j.line, start - j.lineStart + 1, nil
}

// node returns a new node at line and column.
func (j *jsonReader) node(line, col int) *yaml.Node {
	if len(j.slab) == 0 {
		j.slab = make([]yaml.Node, 256)
	}
	n := &j.slab[0]
	j.slab = j.slab[1:]
	n.Line, n.Column = line, col
	return n
}

// maxJSONDepth is how deep objects and arrays may nest.
const maxJSONDepth = 1000

// errTooDeep is the problem with a JSON file nested deeper than
// maxJSONDepth.
var errTooDeep = fmt.Errorf("objects and arrays nest more than %d deep", maxJSONDepth)

// value reads one JSON value, inside depth objects and arrays.
func (j *jsonReader) value(depth int) (*yaml.Node, error) {
	t, line, col, err := j.next()
	if err != nil {
		return nil, err
	}
	return j.fill(t, j.node(line, col), depth)
}

// fill makes n the node of the value that starts with token t, reading
// the rest of it if it is an object or an array.
func (j *jsonReader) fill(t json.Token, n *yaml.Node, depth int) (*yaml.Node, error) {
	switch t := t.(type) {
	case json.Delim:
		if depth >= maxJSONDepth {
			j.tooDeep = n
			return nil, errTooDeep
		}
		// The children gather on the stack, so that each Content is
		// allocated once, at its size.
		mark := len(j.stack)
		if t == '{' {
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
			for j.dec.More() {
				kt, line, col, err := j.next()
				if err != nil {
					return nil, err
				}
				k := j.node(line, col)
				k.Kind, k.Tag, k.Value, k.Style = yaml.ScalarNode, "!!str", kt.(string), yaml.DoubleQuotedStyle
				v, err := j.value(depth + 1)
				if err != nil {
					return nil, err
				}
				j.stack = append(j.stack, k, v)
			}
		} else {
			n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
			for j.dec.More() {
				v, err := j.value(depth + 1)
				if err != nil {
					return nil, err
				}
				j.stack = append(j.stack, v)
			}
		}
		if _, _, _, err := j.next(); err != nil { // the closing delimiter
			return nil, err
		}
		if len(j.stack) > mark {
			n.Content = slices.Clone(j.stack[mark:])
			clear(j.stack[mark:])
			j.stack = j.stack[:mark]
		}
		n.Style = yaml.FlowStyle
	case string:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!str", t
		n.Style = yaml.DoubleQuotedStyle
	case json.Number:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!int", string(t)
		if strings.ContainsAny(n.Value, ".eE") {
			n.Tag = "!!float"
		}
	case bool:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!bool", "false"
		if t {
			n.Value = "true"
		}
	case nil:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!null", "null"
	default:
		return nil, fmt.Errorf("unexpected token %v", t)
	}
	return n, nil
}

// jsonError records the syntax error that reading data as JSON met. The
// token reader's errors do not all carry an offset, so data is decoded
// again by json.Unmarshal, whose errors do.
func (p *parser) jsonError(data []byte, err error) {
	var v any
	if uerr := json.Unmarshal(data, &v); uerr != nil {
		err = uerr
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		p.errorf(nil, owner{}, nil, "%v", err)
		return
	}
	off := int(se.Offset) - 1 // the offending byte
	msg := se.Error()
	if se.Offset == int64(len(data)) && strings.HasPrefix(msg, "unexpected end") {
		off = len(bytes.TrimRight(data, " \t\r\n"))
		msg = "the file ends before its last object or array is closed"
	} else if strings.HasSuffix(msg, "after top-level value") {
		msg = "the file holds more than one JSON value"
	} else if strings.HasSuffix(msg, "after object key:value pair") || strings.HasSuffix(msg, "after array element") {
		msg += "; is a comma missing?"
	} else if off >= 0 && off < len(data) && (data[off] == '}' || data[off] == ']') {
		if c := bytes.TrimRight(data[:off], " \t\r\n"); len(c) > 0 && c[len(c)-1] == ',' {
			msg = fmt.Sprintf("trailing comma before %q: JSON allows no comma after the last item", data[off])
			off = len(c) - 1
		}
	}
	line, col := lineCol(data, off)
	p.errorf(&yaml.Node{Line: line}, owner{}, nil, "column %d: %s", col, msg)
}

// lineCol returns the 1-based line and column of byte offset off in data,
// the column counted in characters.
func lineCol(data []byte, off int) (line, col int) {
	off = max(0, min(off, len(data)))
	line = bytes.Count(data[:off], []byte("\n")) + 1
	return line, utf8.RuneCount(data[bytes.LastIndexByte(data[:off], '\n')+1:off]) + 1
}
