package ofprovider_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagon/flagon/ofrep"
)

// TestSameAsOFREP reads every flag through the provider and through
// Flagon's OFREP bulk endpoint over the same client: values, variants,
// reasons and error codes agree. A disabled flag reads the same way in
// both (decision 0161): reason DISABLED, with the default variant and its
// value, and no error.
func TestSameAsOFREP(t *testing.T) {
	client, _, of, _ := setup(t, nil)
	srv := httptest.NewServer(ofrep.Handler(client, &ofrep.Options{Logger: discard}))
	defer srv.Close()
	snap := client.Snapshot()
	for _, ec := range []openfeature.EvaluationContext{
		openfeature.NewEvaluationContext("u1", map[string]any{"is_staff": true}),
		openfeature.NewEvaluationContext("u2", map[string]any{"is_staff": false}),
		openfeature.NewTargetlessEvaluationContext(map[string]any{"is_staff": true}),
	} {
		body, _ := json.Marshal(map[string]any{"context": flatten(ec)})
		resp, err := http.Post(srv.URL+"/ofrep/v1/evaluate/flags", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		var bulk struct {
			Flags []struct {
				Key       string
				Value     any
				Variant   string
				Reason    string
				ErrorCode string
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&bulk)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("bulk: %d, %v", resp.StatusCode, err)
		}
		if len(bulk.Flags) != snap.Len() {
			t.Fatalf("bulk: %d flags, want %d", len(bulk.Flags), snap.Len())
		}
		for _, r := range bulk.Flags {
			f, _ := snap.Flag(r.Key)
			got := viaOpenFeature(t.Context(), of, r.Key, f.Type, ec)
			want := detail{Value: r.Value, Variant: r.Variant, Reason: r.Reason, Error: r.ErrorCode}
			if r.ErrorCode != "" {
				// OFREP sends no value with an error; the SDK gives the
				// caller's default.
				got = detail{Error: got.Error}
				want = detail{Error: r.ErrorCode}
			}
			if got.String() != want.String() {
				t.Errorf("%s for %v:\n provider %v\n OFREP    %v", r.Key, ec.TargetingKey(), got, want)
			}
			if r.Key == "kill" && (r.Reason != "DISABLED" || r.Variant != "on" || r.Value != true || r.ErrorCode != "") {
				t.Errorf("the disabled flag over OFREP: %+v, want DISABLED, on, true", r)
			}
		}
	}
}

// flatten returns ec as an OFREP context object.
func flatten(ec openfeature.EvaluationContext) map[string]any {
	m := map[string]any{}
	for k, v := range ec.Attributes() {
		m[k] = v
	}
	if k := ec.TargetingKey(); k != "" {
		m["targetingKey"] = k
	}
	return m
}
