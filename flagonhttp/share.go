package flagonhttp

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flagon/flagon"
)

// maxTokenSize is the longest share token read.
const maxTokenSize = 2048

// A share token is sealed like the cookie, for its own purpose, with a body
// of base64url(JSON):
//
//	{"id": "<random>", "flag": "<key>", "value": V, "duration": <s>, "expiresAt": <Unix s>, "createdAt": <Unix s>}
//
// It is stateless: the signature is the proof. Its ID lets a store list and
// revoke it (Options.TokenRevoked).
type tokenBody struct {
	ID        string          `json:"id"`
	Flag      string          `json:"flag"`
	Value     json.RawMessage `json:"value"`
	Duration  int64           `json:"duration"`
	ExpiresAt int64           `json:"expiresAt"`
	CreatedAt int64           `json:"createdAt"`
}

// MintShareToken returns a signed share token that grants whoever opens
// the override link with it an override of flag to value for duration,
// until the link expires at expiry, and the token's record for a store
// (ShareTokenStore.CreateShareToken; fill in CreatedBy). The token binds the
// flag, the value, the duration, the expiry and the signing key's ID.
//
// The link does not need the visitor to be staff: the token is the
// permission. The flag's policy still applies when the link is opened: a
// none flag, a value outside the policy's variants or a duration past its
// maximum is refused.
func MintShareToken(keys *Keys, flag string, value any, duration time.Duration, expiry time.Time) (string, ShareToken, error) {
	if !flagon.ValidKey(flag) {
		return "", ShareToken{}, fmt.Errorf("flagonhttp: mint share token: invalid flag key %q", flag)
	}
	if duration < time.Second || duration > MaxDurationSeconds*time.Second {
		return "", ShareToken{}, fmt.Errorf("flagonhttp: mint share token: duration %v is not between 1s and %ds", duration, MaxDurationSeconds)
	}
	if expiry.IsZero() || expiry.Unix() <= 0 {
		return "", ShareToken{}, fmt.Errorf("flagonhttp: mint share token: no expiry")
	}
	val, err := json.Marshal(value)
	if err != nil {
		return "", ShareToken{}, fmt.Errorf("flagonhttp: mint share token: value: %w", err)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", ShareToken{}, fmt.Errorf("flagonhttp: mint share token: %w", err)
	}
	now := time.Now()
	body := tokenBody{
		ID:        b64.EncodeToString(id[:]),
		Flag:      flag,
		Value:     val,
		Duration:  int64(duration / time.Second),
		ExpiresAt: expiry.Unix(),
		CreatedAt: now.Unix(),
	}
	js, err := json.Marshal(body)
	if err != nil {
		return "", ShareToken{}, fmt.Errorf("flagonhttp: mint share token: %w", err)
	}
	token := seal(keys, purposeToken, b64.EncodeToString(js))
	if len(token) > maxTokenSize {
		return "", ShareToken{}, fmt.Errorf("flagonhttp: mint share token: value too large: %w", ErrTooLarge)
	}
	return token, ShareToken{
		ID:        body.ID,
		Flag:      flag,
		Value:     value,
		Duration:  time.Duration(body.Duration) * time.Second,
		ExpiresAt: time.Unix(body.ExpiresAt, 0),
		CreatedAt: time.Unix(body.CreatedAt, 0),
	}, nil
}

// VerifyShareToken checks a share token's signature and expiry at now,
// and returns what it grants. The value is as JSON decodes it (numbers are
// json.Number); Policy.Check converts it to the flag's type. The error
// wraps ErrMalformed, ErrUnknownVersion, ErrUnknownKey, ErrBadSignature,
// ErrTooLarge or ErrExpired. Revocation is the caller's to check.
func VerifyShareToken(keys *Keys, token string, now time.Time) (ShareToken, error) {
	body, scratch, err := open(keys, purposeToken, token, maxTokenSize, nil)
	if err != nil {
		return ShareToken{}, fmt.Errorf("flagonhttp: share token: %w", err)
	}
	js, err := decodeBody(scratch, body)
	if err != nil {
		return ShareToken{}, fmt.Errorf("flagonhttp: share token: %w", err)
	}
	var tb tokenBody
	if err := json.Unmarshal(js, &tb); err != nil || tb.ID == "" || !flagon.ValidKey(tb.Flag) || tb.Duration <= 0 || tb.ExpiresAt <= 0 {
		return ShareToken{}, fmt.Errorf("flagonhttp: share token: %w", ErrMalformed)
	}
	value, ok := decodeValue(tb.Value)
	if !ok {
		return ShareToken{}, fmt.Errorf("flagonhttp: share token: %w", ErrMalformed)
	}
	st := ShareToken{
		ID:        tb.ID,
		Flag:      tb.Flag,
		Value:     value,
		Duration:  time.Duration(tb.Duration) * time.Second,
		ExpiresAt: time.Unix(tb.ExpiresAt, 0),
		CreatedAt: time.Unix(tb.CreatedAt, 0),
	}
	if !now.Before(st.ExpiresAt) {
		return st, fmt.Errorf("flagonhttp: share token %s: %w at %s", st.ID, ErrExpired, st.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return st, nil
}
