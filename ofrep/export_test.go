package ofrep

import "net/http"

// SetStdJSON makes h, a handler from Handler without CORS, encode its
// responses with encoding/json (on) or by hand.
func SetStdJSON(h http.Handler, on bool) { h.(*handler).std = on }
