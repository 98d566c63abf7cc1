package flagonhttp

import (
	"context"
	"fmt"
	"html/template"
	"net/http"

	"github.com/flagon/flagon"
)

// FuncMap returns template functions that read flags for the request
// whose context (or *http.Request) a template passes them, overrides
// included. Use them with html/template:
//
//	tmpl := template.New("page").Funcs(flagonhttp.FuncMap(client))
//
//	{{if flag .Ctx "new-home-page"}}…{{end}}
//	{{variant .Ctx "checkout"}}
//	{{overrideBanner .Ctx}}
//
// The functions:
//
//   - flag ctx key: the value of a bool flag, false on any error.
//   - variant ctx key: the name of the variant served ("" on error, or
//     for an override value that is no variant).
//   - flagValue ctx key: the value served, of any type; nil on error.
//   - overrideCount ctx: the number of overrides the request carries.
//   - overrideBanner ctx: outside production, a small banner such as
//     "2 flag overrides active — manage" (linking to Options.ManageURL);
//     empty when there are none.
//   - overrideLink flag value redirect: the path of the override link
//     (see Link); a nil value removes the override.
//
// A nil client means the default client (flagon.SetDefault), looked up at
// each call. The ctx argument may be a context.Context or an
// *http.Request; anything else reads flags with no context.
func FuncMap(c *flagon.Client) template.FuncMap {
	client := func() *flagon.Client {
		if c != nil {
			return c
		}
		return flagon.Default()
	}
	return template.FuncMap{
		"flag": func(ctx any, key string) bool {
			return client().Bool(toContext(ctx), key, false)
		},
		"variant": func(ctx any, key string) string {
			r := client().Evaluate(toContext(ctx), key)
			if r.ErrorCode != flagon.ErrorNone {
				return ""
			}
			return r.Variant
		},
		"flagValue": func(ctx any, key string) any {
			r := client().Evaluate(toContext(ctx), key)
			if r.ErrorCode != flagon.ErrorNone {
				return nil
			}
			return r.Value
		},
		"overrideCount":  func(ctx any) int { return OverrideCount(toContext(ctx)) },
		"overrideBanner": func(ctx any) template.HTML { return Banner(toContext(ctx)) },
		"overrideLink": func(flag string, value any, redirect string) string {
			return Link(flag, value, 0, redirect)
		},
	}
}

func toContext(v any) context.Context {
	switch x := v.(type) {
	case context.Context:
		if x != nil {
			return x
		}
	case *http.Request:
		if x != nil {
			return x.Context()
		}
	}
	return context.Background()
}

// Banner returns, outside production, a small HTML banner that says how
// many overrides the request whose context is ctx carries, such as
//
//	<div class="flagon-banner" role="status">2 flag overrides active — <a href="/admin/overrides">manage</a></div>
//
// and "" when it carries none. Style it with the class flagon-banner.
func Banner(ctx context.Context) template.HTML {
	ro, ok := flagon.OverridesFrom(ctx).(*reqOverrides)
	if !ok || len(ro.list) == 0 || ro.production {
		return ""
	}
	n := len(ro.list)
	noun := "overrides"
	if n == 1 {
		noun = "override"
	}
	s := fmt.Sprintf(`<div class="flagon-banner" role="status">%d flag %s active`, n, noun)
	if u := ro.cfg.opts.ManageURL; u != "" {
		s += ` — <a href="` + template.HTMLEscapeString(u) + `">manage</a>`
	}
	return template.HTML(s + `</div>`)
}
