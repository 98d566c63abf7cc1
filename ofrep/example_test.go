package ofrep_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/ofrep"
)

func ExampleHandler() {
	src, _ := flagon.NewMemorySource(flagon.Definitions{Flags: []flagon.Flag{{
		Key: "new-home-page",
		Rules: []flagon.Rule{{
			Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}},
			Serve:   flagon.Serve{Variant: "on"},
		}},
	}}}, "")
	client := flagon.NewClient(src, &flagon.Options{Logger: discard})

	mux := http.NewServeMux()
	mux.Handle("/ofrep/", ofrep.Handler(client, &ofrep.Options{APIKeys: []string{"s3cret"}}))

	// What an OFREP provider sends for one flag:
	r := httptest.NewRequest("POST", "/ofrep/v1/evaluate/flags/new-home-page",
		strings.NewReader(`{"context":{"targetingKey":"user-1","is_staff":true}}`))
	r.Header.Set("Authorization", "Bearer s3cret")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body)
	// Output:
	// 200 {"key":"new-home-page","value":true,"reason":"TARGETING_MATCH","variant":"on","metadata":{}}
}
