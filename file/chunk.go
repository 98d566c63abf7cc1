package file

import (
	"bytes"
	"sync"

	"github.com/flagon/flagon"
	"go.yaml.in/yaml/v3"
)

// The YAML package parses about 17 MB/s on a small server, so a file of
// 10,000 flags (2 MB) takes over 100 ms to parse whole. A large file is
// therefore parsed in pieces, one per CPU, split between two flags of the
// flags section. The split is safe because of how YAML nests: a line
// that starts, at the flags' own indentation, with a character that can
// start a key ends every plain scalar, block scalar and block collection
// of the flag before it. Only a quoted scalar or a flow collection ([…],
// {…}) can run across such a line, and then the piece before it ends
// unterminated and fails to parse. Any failure, or any piece whose shape
// is not what the split expects, and the file is parsed whole, so that
// errors are exactly those of a whole parse. Each piece is read by
// fastDecode when it is in the part of YAML fastDecode reads, and by the
// YAML package otherwise.

// minChunk is the smallest piece worth parsing on its own.
const minChunk = 128 << 10

// chunk is a piece of a file: data[start:end], whose first line is line.
type chunk struct {
	start, end, line int
}

// splitFlags returns the pieces of data to parse in parallel, or nil if
// data is small or not laid out as splitFlags expects: a block-style
// flags: section whose flags sit at one indentation.
func splitFlags(data []byte, parts int) (chunks []chunk, indent int) {
	parts = min(parts, len(data)/minChunk)
	if parts < 2 {
		return nil, 0
	}
	type cand struct{ off, line int }
	var (
		cands      []cand
		state      int // 0: before flags:, 1: in it, 2: after it
		flagsStart int
		flagsEnd   = len(data)
		first      = true
		line       = 0
	)
	for off := 0; off < len(data); {
		line++
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off
		}
		l := data[off:end]
		next := end + 1
		if bytes.HasPrefix(l, []byte("---")) || bytes.HasPrefix(l, []byte("...")) || bytes.HasPrefix(l, []byte("%")) {
			return nil, 0 // documents and directives: leave them to the YAML package
		}
		switch state {
		case 0:
			if isFlagsLine(l) {
				state, flagsStart = 1, next
			}
		case 1:
			sp := 0
			for sp < len(l) && l[sp] == ' ' {
				sp++
			}
			if sp == len(l) || l[sp] == '#' || l[sp] == '\r' {
				break // blank or a comment
			}
			if sp == 0 {
				state, flagsEnd = 2, off
				break
			}
			if first {
				indent, first = sp, false
				if !isKeyStart(l[sp]) {
					return nil, 0
				}
				break
			}
			if sp == indent && isKeyStart(l[sp]) {
				cands = append(cands, cand{off, line})
			}
		}
		if state == 2 {
			break
		}
		off = next
	}
	if state == 0 || len(cands) == 0 {
		return nil, 0
	}
	prev := 0
	ci := 0
	for k := 1; k < parts; k++ {
		target := flagsStart + k*(flagsEnd-flagsStart)/parts
		for ci < len(cands) && cands[ci].off < target {
			ci++
		}
		if ci == len(cands) {
			break
		}
		c := cands[ci]
		if len(chunks) == 0 {
			chunks = append(chunks, chunk{start: 0, end: c.off, line: 1})
		} else {
			chunks[len(chunks)-1].end = c.off
		}
		chunks = append(chunks, chunk{start: c.off, line: c.line})
		prev = c.off
		ci++
	}
	if len(chunks) < 2 || prev == 0 {
		return nil, 0
	}
	chunks[len(chunks)-1].end = len(data)
	return chunks, indent
}

// isFlagsLine reports whether l is "flags:" at the top level, with
// nothing after it but spaces or a comment.
func isFlagsLine(l []byte) bool {
	rest, ok := bytes.CutPrefix(l, []byte("flags:"))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \r")
	return len(rest) == 0 || rest[0] == '#'
}

func isKeyStart(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || c == '_' || c == '.' || c == '-'
}

// piece is the result of one piece of a split file: its root mapping,
// and its flags, read on the piece's goroutine while its nodes are fresh
// in the cache.
type piece struct {
	root  *yaml.Node
	flags *yaml.Node // the piece's part of the flags mapping
	read  []flagon.Flag
	sub   *parser // holds the flags' sources and problems
}

// decodeChunked parses a large file in up to parts pieces and returns its
// root mapping, with the flags of each piece already read, or nil if the
// file is not split or any piece fails; the caller then parses the file
// whole.
func decodeChunked(name string, data []byte, parts int) (*yaml.Node, []piece) {
	chunks, indent := splitFlags(data, parts)
	if chunks == nil {
		return nil, nil
	}
	pieces := make([]piece, len(chunks))
	var wg sync.WaitGroup
	for i, c := range chunks {
		wg.Go(func() {
			text := data[c.start:c.end]
			if i > 0 {
				// Put the piece on its own lines under a flags: key of its
				// own, so that every node keeps its line in the file.
				b := make([]byte, 0, c.line-2+len("flags:\n")+len(text))
				b = append(b, bytes.Repeat([]byte{'\n'}, c.line-2)...)
				b = append(b, "flags:\n"...)
				text = append(b, text...)
			}
			doc, ok := fastDecode(text)
			if !ok {
				doc = new(yaml.Node)
				if yaml.Unmarshal(text, doc) != nil {
					return
				}
			}
			if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
				return
			}
			root := doc.Content[0]
			var flags *yaml.Node
			if i == 0 {
				// The first piece ends inside flags:, so flags is its
				// last key.
				n := len(root.Content)
				if n < 2 || root.Content[n-2].Value != "flags" || root.Content[n-2].Column != 1 {
					return
				}
				flags = root.Content[n-1]
			} else {
				if len(root.Content) < 2 || root.Content[0].Value != "flags" || root.Content[0].Line != c.line-1 {
					return
				}
				if i < len(chunks)-1 && len(root.Content) != 2 {
					return
				}
				flags = root.Content[1]
				if len(flags.Content) == 0 || flags.Content[0].Line != c.line {
					return
				}
			}
			if !isFlagsMapping(flags, indent) {
				return
			}
			sub := newParser(name, text)
			for j := 0; j < len(flags.Content); j += 2 {
				if flags.Content[j] = sub.key(flags.Content[j]); flags.Content[j].Tag == "!!merge" {
					return
				}
			}
			pieces[i] = piece{root: root, flags: flags, read: sub.flagRange(flags.Content), sub: sub}
		})
	}
	wg.Wait()
	for _, pc := range pieces {
		if pc.root == nil {
			return nil, nil
		}
	}
	root, flags := pieces[0].root, pieces[0].flags
	for i, pc := range pieces[1:] {
		flags.Content = append(flags.Content, pc.flags.Content...)
		if i+1 == len(pieces)-1 {
			root.Content = append(root.Content, pc.root.Content[2:]...)
		}
	}
	return root, pieces
}

// isFlagsMapping reports whether n is a block mapping whose first key is
// at the given indentation.
func isFlagsMapping(n *yaml.Node, indent int) bool {
	return n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle == 0 && len(n.Content) >= 2 &&
		n.Content[0].Column == indent+1 && n.Content[0].Kind == yaml.ScalarNode
}
