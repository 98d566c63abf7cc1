package flagonhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// This file holds the reader of a signed cookie's payload, a JSON object of
// the form {"flag": {"value": V, "setAt": N, "expiresAt": N}, …}. The
// payload is read on every request that carries a cookie, so it is parsed
// in place, without allocating, instead of through encoding/json. It
// accepts only valid JSON (FuzzDecodeCookie checks it against json.Valid),
// and ignores fields it does not know, so that later versions can add some.

// maxJSONDepth bounds the nesting of skipped values and object overrides.
const maxJSONDepth = 32

var errSyntax = errors.New("malformed JSON")

// rawEntry is one entry of a payload, pointing into the payload's bytes.
type rawEntry struct {
	key       []byte // as written, without quotes
	keyEsc    bool   // key contains escapes
	val       []byte // the value's JSON text; nil if absent
	setAt     int64  // Unix seconds; 0 if absent
	expiresAt int64  // Unix seconds; 0 if absent
}

// kind returns the first byte of the value's JSON text, which tells its
// type: 't', 'f', 'n', '"', '{', '[' or a number's first character.
func (e *rawEntry) kind() byte {
	if len(e.val) == 0 {
		return 0
	}
	return e.val[0]
}

// payloadParser walks the entries of a payload.
type payloadParser struct {
	b       []byte
	i       int
	started bool
	done    bool
	err     error
}

// next reads the next entry into e. It returns false at the end of the
// payload or on error; p.err tells which.
func (p *payloadParser) next(e *rawEntry) bool {
	if p.done || p.err != nil {
		return false
	}
	*e = rawEntry{}
	if !p.started {
		p.started = true
		p.ws()
		if !p.eat('{') {
			return p.fail()
		}
		p.ws()
		if p.eat('}') {
			return p.end()
		}
	} else {
		p.ws()
		if p.eat('}') {
			return p.end()
		}
		if !p.eat(',') {
			return p.fail()
		}
		p.ws()
	}
	key, esc, ok := p.str()
	if !ok {
		return p.fail()
	}
	e.key, e.keyEsc = key, esc
	p.ws()
	if !p.eat(':') {
		return p.fail()
	}
	p.ws()
	if !p.eat('{') {
		return p.fail()
	}
	first := true
	// The fast path: the fields as Flagon writes them.
	if p.prefix(`"value":`) {
		start := p.i
		if !p.skip(0) {
			return p.fail()
		}
		e.val, first = p.b[start:p.i], false
		if p.prefix(`,"setAt":`) && !p.unix(&e.setAt) {
			return p.fail()
		}
		if p.prefix(`,"expiresAt":`) && !p.unix(&e.expiresAt) {
			return p.fail()
		}
	}
	for {
		p.ws()
		if p.eat('}') {
			return true
		}
		if !first {
			if !p.eat(',') {
				return p.fail()
			}
			p.ws()
		}
		first = false
		name, esc, ok := p.str()
		if !ok {
			return p.fail()
		}
		p.ws()
		if !p.eat(':') {
			return p.fail()
		}
		p.ws()
		start := p.i
		if !p.skip(0) {
			return p.fail()
		}
		tok := p.b[start:p.i]
		switch {
		case esc:
			// A field name with escapes is none of ours: skip it.
		case string(name) == "value":
			e.val = tok
		case string(name) == "setAt":
			if e.setAt, ok = parseUnix(tok); !ok {
				return p.fail()
			}
		case string(name) == "expiresAt":
			if e.expiresAt, ok = parseUnix(tok); !ok {
				return p.fail()
			}
		}
	}
}

// prefix consumes s if the input continues with it.
func (p *payloadParser) prefix(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// unix reads a time in Unix seconds (see parseUnix) into *t.
func (p *payloadParser) unix(t *int64) bool {
	start := p.i
	if !p.skip(0) {
		return false
	}
	var ok bool
	*t, ok = parseUnix(p.b[start:p.i])
	return ok
}

func (p *payloadParser) fail() bool {
	p.err = errSyntax
	return false
}

// end finishes the payload: nothing but white space may follow.
func (p *payloadParser) end() bool {
	p.ws()
	if p.i != len(p.b) {
		return p.fail()
	}
	p.done = true
	return false
}

func (p *payloadParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *payloadParser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a JSON string and returns its contents, unprocessed, and
// whether it holds escapes.
func (p *payloadParser) str() (s []byte, esc, ok bool) {
	if !p.eat('"') {
		return nil, false, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if !strSpecial[c] {
			p.i++
			continue
		}
		switch {
		case c == '"':
			s = p.b[start:p.i]
			p.i++
			return s, esc, true
		case c == '\\':
			esc = true
			p.i++
			if p.i >= len(p.b) {
				return nil, false, false
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				if p.i+5 > len(p.b) {
					return nil, false, false
				}
				for _, h := range p.b[p.i+1 : p.i+5] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				p.i += 5
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		default:
			p.i++
		}
	}
	return nil, false, false
}

// strSpecial marks the bytes that end a run of plain string characters.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skip steps over one JSON value.
func (p *payloadParser) skip(depth int) bool {
	if depth > maxJSONDepth || p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		_, _, ok := p.str()
		return ok
	case c == '{':
		p.i++
		p.ws()
		if p.eat('}') {
			return true
		}
		for {
			p.ws()
			if _, _, ok := p.str(); !ok {
				return false
			}
			p.ws()
			if !p.eat(':') {
				return false
			}
			p.ws()
			if !p.skip(depth + 1) {
				return false
			}
			p.ws()
			if p.eat('}') {
				return true
			}
			if !p.eat(',') {
				return false
			}
		}
	case c == '[':
		p.i++
		p.ws()
		if p.eat(']') {
			return true
		}
		for {
			p.ws()
			if !p.skip(depth + 1) {
				return false
			}
			p.ws()
			if p.eat(']') {
				return true
			}
			if !p.eat(',') {
				return false
			}
		}
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == 'n':
		return p.lit("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.num()
	}
	return false
}

func (p *payloadParser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// num steps over a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *payloadParser) num() bool {
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.i < len(p.b) && '1' <= p.b[p.i] && p.b[p.i] <= '9':
		p.digits()
	default:
		return false
	}
	if p.eat('.') {
		if p.digits() == 0 {
			return false
		}
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if p.digits() == 0 {
			return false
		}
	}
	return true
}

func (p *payloadParser) digits() int {
	n := 0
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// parseUnix reads a time in Unix seconds: a non-negative integer of at most
// 12 digits (enough for the year 33000), or null for none.
func parseUnix(b []byte) (int64, bool) {
	if string(b) == "null" {
		return 0, true
	}
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// decodeString returns the Go string of a JSON string's contents.
func decodeString(s []byte, esc bool) (string, bool) {
	if !esc && utf8.Valid(s) {
		return string(s), true
	}
	q := make([]byte, 0, len(s)+2)
	q = append(append(append(q, '"'), s...), '"')
	var out string
	if err := json.Unmarshal(q, &out); err != nil {
		return "", false
	}
	return out, true
}

// rawValue returns the Go value of a JSON value, as encoding/json decodes
// it with UseNumber: bool, string, json.Number, map[string]any, []any or
// nil.
func rawValue(tok []byte) (any, bool) {
	switch k := firstByte(tok); {
	case k == 't':
		return true, true
	case k == 'f':
		return false, true
	case k == 'n':
		return nil, true
	case k == '"':
		return decodeString(tok[1:len(tok)-1], true)
	case k == '-' || '0' <= k && k <= '9':
		return json.Number(tok), true
	case k == '{' || k == '[':
		var v any
		if err := unmarshalNumber(tok, &v); err != nil {
			return nil, false
		}
		return v, true
	}
	return nil, false
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func unmarshalNumber(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// parseInt64 reads an integral JSON number as an int64, accepting the
// forms encoding/json writes for whole numbers (12, -3, 1e3).
func parseInt64(tok []byte) (int64, bool) {
	neg := false
	b := tok
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return slowInt64(tok)
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return slowInt64(tok)
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func slowInt64(tok []byte) (int64, bool) {
	s := string(tok)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func parseFloat64(tok []byte) (float64, bool) {
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}
