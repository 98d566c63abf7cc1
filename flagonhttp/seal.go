package flagonhttp

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
)

// Everything Flagon signs (the override cookie, the Flagon-Overrides
// header and share tokens) is sealed the same way:
//
//	<version> "." <key ID> "." <body> "." base64url(HMAC-SHA256(key, <purpose> 0x00 <version> "." <key ID> "." <body>))
//
// The purpose ("flagon-cookie", "flagon-header", "flagon-share") is signed
// but not written, so that a value sealed for one use is refused by the
// others: a cookie cannot be replayed as a share token, nor a token as a
// header.
const (
	formatVersion  = "1"
	purposeCookie  = "flagon-cookie"
	purposeHeader  = "flagon-header"
	purposeToken   = "flagon-share"
	sigEncodedLen  = 43 // base64url of 32 bytes, unpadded
	sigDecodedSize = 32
)

// Errors that reading a sealed value returns, wrapped with context. The
// middleware ignores such values and logs each distinct one once.
var (
	// ErrMalformed means the value is not in Flagon's format.
	ErrMalformed = errors.New("malformed value")
	// ErrUnknownVersion means the value is in a format version this
	// program does not read.
	ErrUnknownVersion = errors.New("unknown format version")
	// ErrUnknownKey means the value was signed with a key that is not in
	// the key ring, such as one rotated out.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrBadSignature means the signature does not match: the value was
	// forged or altered.
	ErrBadSignature = errors.New("bad signature")
	// ErrTooLarge means the value is longer than allowed.
	ErrTooLarge = errors.New("too large")
	// ErrExpired means a share token or header is past its expiry.
	ErrExpired = errors.New("expired")
)

var (
	b64     = base64.RawURLEncoding
	b64Sig  = base64.RawURLEncoding.Strict()
	b64Body = base64.RawURLEncoding.Strict()
)

// seal signs body (already in the body's alphabet, without dots unless the
// format says so) with the ring's signing key.
func seal(keys *Keys, purpose, body string) string {
	ks := keys.resolve().ring()[0]
	var b strings.Builder
	b.Grow(len(formatVersion) + len(ks.id) + len(body) + sigEncodedLen + 3)
	b.WriteString(formatVersion)
	b.WriteByte('.')
	b.WriteString(ks.id)
	b.WriteByte('.')
	b.WriteString(body)
	signed := b.String()
	msg := make([]byte, 0, len(purpose)+1+len(signed))
	msg = append(append(append(msg, purpose...), 0), signed...)
	m := ks.get()
	sum := ks.mac(m, msg)
	var enc [sigEncodedLen]byte
	b64Sig.Encode(enc[:], sum)
	ks.put(m)
	b.WriteByte('.')
	b.Write(enc[:])
	return b.String()
}

// open checks a sealed value's size, version, key and signature, in
// constant time for the signature, and returns its body. The returned
// scratch buffer has room for the body decoded from base64, so that the
// caller allocates nothing more.
//
// buf, if its capacity is large enough, is used instead of a new buffer.
func open(keys *Keys, purpose, value string, max int, buf []byte) (body, scratch []byte, err error) {
	if len(value) > max {
		return nil, nil, ErrTooLarge
	}
	v, rest, ok := strings.Cut(value, ".")
	if !ok {
		return nil, nil, ErrMalformed
	}
	if v != formatVersion {
		return nil, nil, ErrUnknownVersion
	}
	kid, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, nil, ErrMalformed
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		return nil, nil, ErrMalformed
	}
	bodyLen, sig := dot, rest[dot+1:]
	if len(sig) != sigEncodedLen {
		return nil, nil, ErrBadSignature
	}
	ks := keys.resolve().findString(kid)
	if ks == nil {
		return nil, nil, ErrUnknownKey
	}
	// One buffer holds the signed message, the signature and the decoded
	// body: purpose 0x00 version.kid.body | signature | decoded body.
	signed := value[:len(value)-len(sig)-1]
	n := len(purpose) + 1 + len(signed)
	if size := n + len(sig) + b64.DecodedLen(bodyLen); cap(buf) >= size {
		buf = buf[:size]
	} else {
		buf = make([]byte, size)
	}
	copy(buf, purpose)
	buf[len(purpose)] = 0
	copy(buf[len(purpose)+1:], signed)
	copy(buf[n:], sig)
	m := ks.get()
	sum := ks.mac(m, buf[:n])
	k, err := b64Sig.Decode(m.sig[:], buf[n:n+len(sig)])
	good := err == nil && k == sigDecodedSize && hmac.Equal(sum, m.sig[:sigDecodedSize])
	ks.put(m)
	if !good {
		return nil, nil, ErrBadSignature
	}
	return buf[n-bodyLen : n], buf[n+len(sig):], nil
}

// findString is find for a string ID.
func (k *Keys) findString(id string) *keyState {
	for _, ks := range k.ring() {
		if ks.id == id {
			return ks
		}
	}
	return nil
}

// decodeBody decodes a base64url body into scratch, which open sized.
func decodeBody(scratch, body []byte) ([]byte, error) {
	if bytes.IndexByte(body, '\n') >= 0 || bytes.IndexByte(body, '\r') >= 0 {
		return nil, ErrMalformed
	}
	n, err := b64Body.Decode(scratch, body)
	if err != nil {
		return nil, ErrMalformed
	}
	return scratch[:n], nil
}

// scratchPool holds buffers for open, so that reading a cookie on every
// request does not allocate one. Nothing read from a buffer outlives it:
// values are copied or are the flags' own.
var scratchPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 2*DefaultMaxCookieSize+256)
	return &b
}}

// Seal signs payload with the ring's signing key for a purpose of the
// caller's, such as the admin console's sessions, so that a program signs
// everything with one key ring and rotates it once. The purpose is signed,
// not written: a value sealed for one purpose does not open for another,
// nor as an override cookie, header or share token.
func (k *Keys) Seal(purpose string, payload []byte) string {
	return seal(k, "seal:"+purpose, b64.EncodeToString(payload))
}

// Open checks a value that Seal made for purpose, no longer than max
// bytes, and returns its payload. The error wraps ErrMalformed,
// ErrUnknownVersion, ErrUnknownKey, ErrBadSignature or ErrTooLarge.
func (k *Keys) Open(purpose, value string, max int) ([]byte, error) {
	body, scratch, err := open(k, "seal:"+purpose, value, max, nil)
	if err != nil {
		return nil, err
	}
	return decodeBody(scratch, body)
}
