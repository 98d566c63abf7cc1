package ofrep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/flagon/flagon"
)

// readBody appends the request body to buf, refusing one longer than max.
func readBody(r *http.Request, max int64, buf []byte) ([]byte, *failure) {
	if r.Body == nil || r.Body == http.NoBody {
		return buf, nil
	}
	lr := io.LimitedReader{R: r.Body, N: max + 1}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return buf, &failure{code: flagon.ErrorParse, details: "reading the request body: " + err.Error()}
		}
	}
	if int64(len(buf)) > max {
		return buf, &failure{code: flagon.ErrorParse, details: fmt.Sprintf("request body is larger than %d bytes", max)}
	}
	return buf, nil
}

// request is the body of both evaluation endpoints.
type request struct {
	Context any `json:"context"`
}

// parseContext reads the evaluation context from a request body: the
// context's "targetingKey" becomes the key, the other fields attributes.
// An empty body, or a missing or null context, is the empty context.
func parseContext(body []byte) (flagon.EvalContext, *failure) {
	var ec flagon.EvalContext
	if len(bytes.TrimSpace(body)) == 0 {
		return ec, nil
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		return ec, &failure{code: flagon.ErrorParse, details: "request body: " + jsonError(err)}
	}
	if req.Context == nil {
		return ec, nil
	}
	m, ok := req.Context.(map[string]any)
	if !ok {
		return ec, &failure{code: flagon.ErrorInvalidContext, details: fmt.Sprintf("context: want a JSON object, got %s", jsonKind(req.Context))}
	}
	if v, ok := m[flagonTargetingKey]; ok {
		s, ok := v.(string)
		if !ok && v != nil {
			return ec, &failure{code: flagon.ErrorInvalidContext, details: fmt.Sprintf("context.targetingKey: want a string, got %s", jsonKind(v))}
		}
		ec.Key = s
		delete(m, flagonTargetingKey)
	}
	if len(m) > 0 {
		ec.Attrs = m
	}
	return ec, nil
}

// flagonTargetingKey is OpenFeature's name for the targeting key.
const flagonTargetingKey = "targetingKey"

// jsonError describes a decoding error without Go type names.
func jsonError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%s: want a JSON object, got %s", te.Field, te.Value)
		}
		return fmt.Sprintf("want a JSON object, got %s", te.Value)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "invalid JSON: unexpected end of input"
	}
	return "invalid JSON: " + err.Error()
}

// jsonKind names the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
