package admin

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// The handler tests submit forms as a browser would: formOf reads the
// successful controls of a form in a page (inputs, checked boxes and
// radios, selected options, textareas), so a test changes only what a
// person would change. It knows the console's own markup, not all HTML.

var (
	formRe    = regexp.MustCompile(`(?s)<form\b([^>]*)>(.*?)</form>`)
	attrRe    = regexp.MustCompile(`([a-zA-Z-]+)(?:="([^"]*)")?`)
	controlRe = regexp.MustCompile(`(?s)<input\b([^>]*)>|<textarea\b([^>]*)>(.*?)</textarea>|<select\b([^>]*)>(.*?)</select>|<fieldset\b([^>]*)>|</fieldset>`)
	optionRe  = regexp.MustCompile(`(?s)<option\b([^>]*)>(.*?)</option>`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		m[a[1]] = html.UnescapeString(a[2])
	}
	return m
}

// formOf returns the values a browser would submit from the first POST
// form whose action ends with action.
func formOf(t *testing.T, body, action string) url.Values {
	t.Helper()
	for _, f := range formRe.FindAllStringSubmatch(body, -1) {
		fa := attrs(f[1])
		if !strings.HasSuffix(fa["action"], action) || fa["method"] != "post" {
			continue
		}
		v := url.Values{}
		disabled := 0
		for _, c := range controlRe.FindAllStringSubmatch(f[2], -1) {
			switch {
			case strings.HasPrefix(c[0], "<fieldset"):
				if _, ok := attrs(c[6])["disabled"]; ok || disabled > 0 {
					disabled++
				}
				continue
			case c[0] == "</fieldset>":
				if disabled > 0 {
					disabled--
				}
				continue
			}
			if disabled > 0 {
				continue
			}
			switch {
			case c[1] != "" || strings.HasPrefix(c[0], "<input"):
				a := attrs(c[1])
				if _, off := a["disabled"]; off || a["name"] == "" {
					continue
				}
				switch a["type"] {
				case "checkbox", "radio":
					if _, on := a["checked"]; on {
						v.Add(a["name"], valueOr(a, "on"))
					}
				case "submit", "button":
				default:
					v.Add(a["name"], a["value"])
				}
			case strings.HasPrefix(c[0], "<textarea"):
				a := attrs(c[2])
				if _, off := a["disabled"]; !off && a["name"] != "" {
					v.Add(a["name"], strings.TrimPrefix(html.UnescapeString(c[3]), "\n"))
				}
			case strings.HasPrefix(c[0], "<select"):
				a := attrs(c[4])
				if _, off := a["disabled"]; off || a["name"] == "" {
					continue
				}
				first, chosen := "", ""
				found := false
				for i, o := range optionRe.FindAllStringSubmatch(c[5], -1) {
					oa := attrs(o[1])
					val, ok := oa["value"]
					if !ok {
						val = html.UnescapeString(strings.TrimSpace(o[2]))
					}
					if i == 0 {
						first = val
					}
					if _, sel := oa["selected"]; sel && !found {
						chosen, found = val, true
					}
				}
				if !found {
					chosen = first
				}
				v.Add(a["name"], chosen)
			}
		}
		return v
	}
	t.Fatalf("no form with action …%s in the page", action)
	return nil
}

func valueOr(a map[string]string, def string) string {
	if v, ok := a["value"]; ok {
		return v
	}
	return def
}
