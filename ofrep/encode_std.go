package ofrep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/flagon/flagon"
)

// This file holds the reference encoder of evaluation responses, by
// encoding/json. The handler serves with the hand-written one in encode.go,
// which BenchmarkOFREPServer measured a third faster over HTTP for bulk
// evaluations (decision 0110); TestEncodersAgree checks that the two write
// the same JSON, and the benchmark keeps the comparison repeatable.

// The protocol's response objects, for encoding/json.
type (
	successJSON struct {
		Key      string `json:"key"`
		Value    any    `json:"value"`
		Reason   string `json:"reason"`
		Variant  string `json:"variant,omitempty"`
		Metadata any    `json:"metadata"` // map[string]string, or map[string]any with the handler's own
	}
	failureJSON struct {
		Key          string `json:"key"`
		ErrorCode    string `json:"errorCode"`
		ErrorDetails string `json:"errorDetails"`
	}
	bulkJSON struct {
		Flags              []any         `json:"flags"`
		Metadata           bulkMetaJSON  `json:"metadata"`
		EventStreams       []refreshJSON `json:"eventStreams,omitempty"`
		RefreshConnections []refreshJSON `json:"refreshConnections,omitempty"`
	}
	bulkMetaJSON struct {
		Revision string `json:"revision"`
	}
	refreshJSON struct {
		Type               string `json:"type"`
		URL                string `json:"url"`
		InactivityDelaySec int64  `json:"inactivityDelaySec,omitempty"`
	}
)

var emptyMeta = map[string]string{}

// stdSuccess returns the serverEvaluationSuccess object for r; meta is the
// flag's own metadata, reserved names left out.
func stdSuccess(r *flagon.Result, meta map[string]string) (*successJSON, error) {
	v := r.Value
	switch x := v.(type) {
	case bool, string, int64:
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("flag %q: encoding its value: %v is not a JSON number", r.Key, x)
		}
	default:
		j, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("flag %q: encoding its value: %w", r.Key, err)
		}
		v = json.RawMessage(j)
	}
	s := &successJSON{Key: r.Key, Value: v, Reason: reason(r.Reason), Variant: r.Variant, Metadata: meta}
	if meta == nil {
		s.Metadata = emptyMeta
	}
	if r.Reason == flagon.ReasonOverride || r.RuleID != "" {
		m := make(map[string]any, len(meta)+3)
		for k, v := range meta {
			m[k] = v
		}
		if r.Reason == flagon.ReasonOverride {
			m["override"], m["overrideSource"] = true, r.OverrideSource
		}
		if r.RuleID != "" {
			m["ruleId"] = r.RuleID
		}
		s.Metadata = m
	}
	return s, nil
}

func stdFailure(key string, f *failure) *failureJSON {
	_, code := lookupError(f.code)
	if code == "" {
		code = "GENERAL"
	}
	return &failureJSON{Key: key, ErrorCode: code, ErrorDetails: f.details}
}

// stdEncode encodes v into b with encoding/json.
func stdEncode(b []byte, v any) []byte {
	buf := bytes.NewBuffer(b)
	_ = json.NewEncoder(buf).Encode(v)
	return buf.Bytes()
}

// stdBulk returns the bulk response for the results of all.
func stdBulk(b []byte, results []any, rev, events string, inactivity time.Duration) []byte {
	out := bulkJSON{Flags: results, Metadata: bulkMetaJSON{Revision: rev}}
	if events != "" {
		out.EventStreams = []refreshJSON{{Type: "sse", URL: events, InactivityDelaySec: int64(inactivity / time.Second)}}
		out.RefreshConnections = out.EventStreams
	}
	return stdEncode(b, out)
}
