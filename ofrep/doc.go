// Package ofrep serves Flagon's flags over the OpenFeature Remote
// Evaluation Protocol (OFREP), so that any OpenFeature SDK, in any
// language, can evaluate them with its OFREP provider.
//
// To start, mount the handler beside the rest of your server:
//
//	mux.Handle("/ofrep/", ofrep.Handler(client, &ofrep.Options{APIKeys: []string{key}}))
//
// It serves
//
//	POST /ofrep/v1/evaluate/flags/{key}   one flag, body {"context": {...}}
//	POST /ofrep/v1/evaluate/flags         every flag, with ETag and 304
//	GET  /ofrep/v1/configuration          what this server supports
//	GET  /ofrep/v1/events                 server-sent change notifications
//
// The context's "targetingKey" becomes the [flagon.EvalContext] key and its
// other fields the attributes. Reasons stay within the protocol's list: a
// per-request override is reported as TARGETING_MATCH, with "override" and
// "overrideSource" in the result's metadata. The flag's own metadata is
// passed through too. A disabled flag (its kill switch on) is a success,
// not an error: reason DISABLED, with its default variant and that
// variant's value, which OFREP providers hand to the application as they
// would any other value. An override still wins over the kill switch.
//
// The bulk response announces the event stream in "eventStreams" (the
// name OFREP's ADR-0008 adopted) and in "refreshConnections" (its draft's);
// the stream sends a refetchEvaluation event, with the snapshot's revision
// as its ETag, whenever the client's source publishes a new snapshot.
//
// With no API keys configured the endpoints are open to anyone who can
// reach them; configure keys before exposing them beyond a trusted network.
package ofrep
