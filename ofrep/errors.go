package ofrep

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/flagon/flagon"
)

// A failure is an error the handler answers with: a flagon error code (or
// one of the auth codes below) and a message for errorDetails.
type failure struct {
	code    flagon.ErrorCode
	details string
}

// Failures that are not evaluation errors.
const (
	codeUnauthorized flagon.ErrorCode = "unauthorized" // no API key
	codeForbidden    flagon.ErrorCode = "forbidden"    // an unknown API key
	codeRateLimited  flagon.ErrorCode = "rate-limited"
)

// errorTable maps every failure to its HTTP status and to the error code
// the protocol reports. A failure with no protocol code has no body (401,
// 403, 429) or, for 5xx, the generalErrorResponse body. Codes missing from
// the table are answered as GENERAL with status 500.
var errorTable = map[flagon.ErrorCode]struct {
	status int
	code   string // as the protocol spells it
}{
	flagon.ErrorParse:               {http.StatusBadRequest, "PARSE_ERROR"},
	flagon.ErrorInvalidContext:      {http.StatusBadRequest, "INVALID_CONTEXT"},
	flagon.ErrorTargetingKeyMissing: {http.StatusBadRequest, "TARGETING_KEY_MISSING"},
	flagon.ErrorFlagNotFound:        {http.StatusNotFound, "FLAG_NOT_FOUND"},
	flagon.ErrorTypeMismatch:        {http.StatusBadRequest, "GENERAL"}, // OFREP has no expected type; never produced
	flagon.ErrorProviderNotReady:    {http.StatusInternalServerError, ""},
	flagon.ErrorGeneral:             {http.StatusInternalServerError, ""},
	codeUnauthorized:                {http.StatusUnauthorized, ""},
	codeForbidden:                   {http.StatusForbidden, ""},
	codeRateLimited:                 {http.StatusTooManyRequests, ""},
}

// lookupError returns the status and protocol code of a failure.
func lookupError(c flagon.ErrorCode) (int, string) {
	if e, ok := errorTable[c]; ok {
		return e.status, e.code
	}
	return http.StatusInternalServerError, ""
}

var notReady = &failure{code: flagon.ErrorProviderNotReady, details: "flags are not loaded yet"}

// resultFailure returns the failure behind a result with an error code.
func resultFailure(r *flagon.Result) *failure {
	f := &failure{code: r.ErrorCode}
	switch r.ErrorCode {
	case flagon.ErrorFlagNotFound:
		f.details = "flag " + quote(r.Key) + " not found"
	case flagon.ErrorTargetingKeyMissing:
		f.details = "flag " + quote(r.Key) + " has a percentage rollout and the context has no targetingKey"
	case flagon.ErrorProviderNotReady:
		f.details = notReady.details
	default:
		f.details = "flag " + quote(r.Key) + ": " + string(r.ErrorCode)
		if r.Err() != nil {
			f.details += ": " + r.Err().Error()
		}
	}
	return f
}

// fail answers with f: for one flag (key), or for the bulk endpoint.
func (h *handler) fail(w http.ResponseWriter, key string, f *failure, bulk bool) {
	status, code := lookupError(f.code)
	switch {
	case status >= 500:
		h.log.LogAttrs(context.Background(), slog.LevelError, "ofrep: "+f.details, slog.String("flag", key))
		body := append([]byte(`{"errorDetails":`), appendString(nil, f.details)...)
		writeJSON(w, status, append(body, '}'))
	case code == "":
		w.WriteHeader(status)
	case bulk:
		b := append([]byte(`{"errorCode":`), appendString(nil, code)...)
		b = append(b, `,"errorDetails":`...)
		b = appendString(b, f.details)
		writeJSON(w, status, append(b, '}'))
	default:
		writeJSON(w, status, appendFailure(nil, key, f))
	}
}

// appendFailure appends an evaluationFailure (or flagNotFound) object.
func appendFailure(b []byte, key string, f *failure) []byte {
	_, code := lookupError(f.code)
	if code == "" {
		code = "GENERAL"
	}
	b = append(b, `{"key":`...)
	b = appendString(b, key)
	b = append(b, `,"errorCode":`...)
	b = appendString(b, code)
	b = append(b, `,"errorDetails":`...)
	b = appendString(b, f.details)
	return append(b, '}')
}

func quote(s string) string { return string(appendString(nil, s)) }
