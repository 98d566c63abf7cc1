package admin

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// clock is a console's controllable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// usageHarness is a harness whose console shows usage, at a clock that
// starts at chartNow.
func usageHarness(t *testing.T) (*harness, *clock) {
	t.Helper()
	clk := &clock{now: chartNow}
	return newHarness(t, harnessOptions{usage: true, now: clk.Now}), clk
}

// addUsage stores counts; a count without an environment is in
// development, the harness's.
func (h *harness) addUsage(counts ...flagon.UsageCount) {
	h.t.Helper()
	for i := range counts {
		if counts[i].Environment == "" {
			counts[i].Environment = "development"
		}
	}
	if err := h.store.AddUsage(context.Background(), counts); err != nil {
		h.t.Fatal(err)
	}
}

// uc is a count of flag at hours before chartNow's hour.
func uc(flag, variant, app string, hoursAgo int, n int64) flagon.UsageCount {
	return flagon.UsageCount{Hour: chartNow.Truncate(time.Hour).Add(-time.Duration(hoursAgo) * time.Hour), Flag: flag, Variant: variant, App: app, Count: n}
}

var (
	rowRe  = regexp.MustCompile(`(?s)<tr data-flag="([^"]+)"[^>]*>(.*?)</tr>`)
	lastRe = regexp.MustCompile(`(?s)data-last><span title="([^"]*)"[^>]*>([^<]*)</span>`)
	weekRe = regexp.MustCompile(`data-week>([^<]*)<`)
)

// listRow is one flag's usage columns in the flags list.
type listRow struct{ key, last, title, week string }

func listRows(t *testing.T, body string) []listRow {
	t.Helper()
	var out []listRow
	for _, m := range rowRe.FindAllStringSubmatch(body, -1) {
		r := listRow{key: m[1]}
		if l := lastRe.FindStringSubmatch(m[2]); l != nil {
			r.title, r.last = l[1], l[2]
		}
		if w := weekRe.FindStringSubmatch(m[2]); w != nil {
			r.week = w[1]
		}
		out = append(out, r)
	}
	return out
}

func keysOf(rows []listRow) string {
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.key)
	}
	return strings.Join(keys, " ")
}

func TestFlagsListUsage(t *testing.T) {
	h, _ := usageHarness(t)
	h.addUsage(
		uc("checkout", "classic", "shop", 3, 400), uc("checkout", "express", "shop", 30, 100),
		uc("checkout", "classic", "shop", 10*24, 1000), // before the 7 days: not in the count
		uc("new-home-page", "on", "web", 10*24, 50),
		uc("max-items", "few", "web", 0, 5),
	)
	b := h.browser("vic:viewer")
	r := b.get("/admin/flags")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	mustContain(t, r.body, `>Last evaluated`, `>7 days`, `data-label="Last evaluated"`, `data-label="Evaluations, 7 days"`)
	want := map[string]listRow{
		"checkout":              {last: "3 h ago", title: "in the hour from 2026-03-16 07:00 UTC", week: "500"},
		"new-home-page":         {last: "10 d ago", title: "in the hour from 2026-03-06 10:00 UTC", week: "0"},
		"max-items":             {last: "this hour", title: "in the hour from 2026-03-16 10:00 UTC", week: "5"},
		"use-new-email-service": {last: "never", title: "no evaluation is kept", week: "0"},
		"ops-maintenance":       {last: "never", title: "no evaluation is kept", week: "0"},
	}
	rows := listRows(t, r.body)
	if got, want := keysOf(rows), "checkout max-items new-home-page ops-maintenance use-new-email-service"; got != want {
		t.Errorf("default order %q, want by key %q", got, want)
	}
	for _, row := range rows {
		w := want[row.key]
		if row.last != w.last || row.title != w.title || row.week != w.week {
			t.Errorf("%s: last %q (title %q), 7 days %q; want %q (%q), %q", row.key, row.last, row.title, row.week, w.last, w.title, w.week)
		}
	}
	// Two flags look ready to remove, the two never evaluated. max-items
	// and new-home-page served one variant each, but neither for the
	// whole 14 days.
	mustContain(t, r.body, `href="/admin/removable" data-removable-link>Ready to remove <span class="count">2</span>`)

	for _, tc := range []struct{ sort, order string }{
		{"last", "ops-maintenance use-new-email-service new-home-page checkout max-items"},
		{"-last", "max-items checkout new-home-page ops-maintenance use-new-email-service"},
		{"count", "new-home-page ops-maintenance use-new-email-service max-items checkout"},
		{"-count", "checkout max-items new-home-page ops-maintenance use-new-email-service"},
		{"nonsense", "checkout max-items new-home-page ops-maintenance use-new-email-service"},
	} {
		r := b.get("/admin/flags?sort=" + tc.sort)
		if r.status != http.StatusOK {
			t.Fatalf("sort=%s: status %d", tc.sort, r.status)
		}
		if got := keysOf(listRows(t, r.body)); got != tc.order {
			t.Errorf("sort=%s: %q, want %q", tc.sort, got, tc.order)
		}
	}

	// The headers link to their sort, keep the filter, and the sorted
	// column's link reverses it.
	r = b.get("/admin/flags?q=e&sort=last")
	mustContain(t, r.body,
		`<th scope="col" aria-sort="ascending"><a href="/admin/flags?q=e&amp;sort=-last" class="sort" data-sort="last">Last evaluated`,
		`<th scope="col" class="num"><a href="/admin/flags?q=e&amp;sort=count" class="sort" data-sort="count">7 days`,
		`<th scope="col"><a href="/admin/flags?q=e" class="sort">Flag</a>`,
		`<option value="last" selected>Least recently evaluated</option>`,
	)
	r = b.get("/admin/flags?sort=-count")
	mustContain(t, r.body, `<th scope="col" class="num" aria-sort="descending"><a href="/admin/flags?sort=count" class="sort" data-sort="count">7 days`)
}

func TestFlagsListWithoutUsage(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	r := h.browser("vic:viewer").get("/admin/flags?sort=last")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	mustNotContain(t, r.body, "Last evaluated", "7 days", "Ready to remove", `name="sort"`)
	if got, want := keysOf(listRows(t, r.body)), "checkout max-items new-home-page ops-maintenance use-new-email-service"; got != want {
		t.Errorf("order %q, want by key %q", got, want)
	}
	r = h.browser("vic:viewer").get("/admin/flags/checkout")
	mustNotContain(t, r.body, `id="usage"`)
}

func TestFlagPageUsage(t *testing.T) {
	h, _ := usageHarness(t)
	h.addUsage(
		uc("checkout", "classic", "shop", 1, 300), uc("checkout", "express", "shop", 1, 100),
		uc("checkout", "express", "mobile-api", 30, 40),
		uc("checkout", "classic", "shop", 20*24, 999), // before the chart: in the last-seen only
		flagon.UsageCount{Hour: chartNow.Truncate(time.Hour), Flag: "checkout", Variant: "express", Environment: "production", App: "shop", Count: 7},
	)
	b := h.browser("vic:viewer")
	r := b.get("/admin/flags/checkout")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	body := r.body
	mustContain(t, body,
		`<h2 id="usage-h">Usage</h2>`,
		`Last evaluated <strong title="in the hour from 2026-03-16 10:00 UTC" data-last>this hour</strong>`,
		`<strong>447</strong> evaluations from Mar 3 to Mar 16`,
		`role="img" aria-labelledby="usage-title usage-desc" data-usage-chart`,
		`<title id="usage-title">Evaluations per day and variant, Mar 3 to Mar 16</title>`,
		`<desc id="usage-desc">Evaluations per day from Mar 3 to Mar 16 (UTC): 447 in all; classic 300, express 147.`,
		// Today's bar: classic (c1) under express (c2), in proportion.
		`<g data-day="Mar 16" data-total="407">`,
		`class="c1" data-variant="classic"><title>Mar 16 · classic: 300</title></rect>`,
		`class="c2" data-variant="express"><title>Mar 16 · express: 107</title></rect>`,
		`<g data-day="Mar 15" data-total="40">`,
		// The legend and the table behind the chart.
		`<li data-series="classic"><span class="swatch c1" aria-hidden="true"></span><code>classic</code> <span class="muted">300</span></li>`,
		`<table class="visually-hidden">`,
		`<tr><th scope="row">Mar 16</th><td>300</td><td>107</td><td>407</td></tr>`,
		// The applications, busiest first.
		`<h3>Applications</h3>`,
	)
	apps := regexp.MustCompile(`(?s)<tr data-app="([^"]*)">.*?data-label="Environment">([^<]*)<.*?data-count>([^<]*)<`).FindAllStringSubmatch(body, -1)
	var got []string
	for _, a := range apps {
		got = append(got, a[1]+"/"+a[2]+"="+a[3])
	}
	if want := "shop/development=400 mobile-api/development=40 shop/production=7"; strings.Join(got, " ") != want {
		t.Errorf("apps %q, want %q", strings.Join(got, " "), want)
	}
	// The heights: today's 407 is the busiest day, and sets the scale
	// (500); classic's 300 is 300/500 of the plot's 154 units.
	rects := regexp.MustCompile(`<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" class="c1" data-variant="classic"><title>Mar 16`).FindStringSubmatch(body)
	if rects == nil || rects[2] != "92.4" {
		t.Errorf("classic's bar today: %v, want height 92.4", rects)
	}

	// An environment's tab shows that environment's usage.
	r = b.get("/admin/flags/checkout?env=production")
	mustContain(t, r.body, `Usage in <span class="env-name">production</span>`, `<strong>7</strong> evaluations`, `data-app="shop"`)
	mustNotContain(t, r.body, `data-app="mobile-api"`)

	// A flag nothing evaluated says so, without a chart.
	r = b.get("/admin/flags/ops-maintenance")
	mustContain(t, r.body, `id="usage"`, `data-last>never</strong>`, "No evaluations yet in the last 14 days.")
	mustNotContain(t, r.body, "data-usage-chart", "<h3>Applications</h3>")
}

// removable returns the flags the Ready to remove page lists, each with
// its reasons and detail.
func removable(t *testing.T, b *browser, query string) map[string]string {
	t.Helper()
	r := b.get("/admin/removable" + query)
	if r.status != http.StatusOK {
		t.Fatalf("removable%s: status %d: %s", query, r.status, snippet(r.body))
	}
	out := map[string]string{}
	re := regexp.MustCompile(`(?s)<tr data-flag="([^"]+)">(.*?)</tr>`)
	reason := regexp.MustCompile(`data-reason>([^<]*)<`)
	detail := regexp.MustCompile(`data-detail>([^<]*)<`)
	for _, m := range re.FindAllStringSubmatch(r.body, -1) {
		var rs []string
		for _, x := range reason.FindAllStringSubmatch(m[2], -1) {
			rs = append(rs, x[1])
		}
		d := detail.FindStringSubmatch(m[2])
		out[m[1]] = strings.Join(rs, "+") + ": " + d[1]
	}
	return out
}

func TestRemovablePage(t *testing.T) {
	h, clk := usageHarness(t)
	ctx := context.Background()
	// max-items is past its expiry; use-new-email-service is archived,
	// so not a candidate whatever its usage.
	sf := h.stored("max-items")
	sf.Expires = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, err := h.store.PutFlag(ctx, sf.Flag, sf.Version, flagon.Change{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	sf = h.stored("use-new-email-service")
	if _, err := h.store.ArchiveFlag(ctx, sf.Key, true, sf.Version, flagon.Change{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	// checkout is evaluated today, to both variants, and new-home-page
	// served only "on" for three weeks, up to now.
	h.addUsage(uc("checkout", "classic", "shop", 2, 30), uc("checkout", "express", "shop", 2, 10))
	for d := range 21 {
		h.addUsage(uc("new-home-page", "on", "web", d*24, 100))
	}
	b := h.browser("vic:viewer")
	got := removable(t, b, "")
	want := map[string]string{
		"max-items":       "not evaluated+past expiry: no evaluation kept; expired 2026-03-01",
		"new-home-page":   "one variant: served on to all 1400 evaluations since 2026-03-02",
		"ops-maintenance": "not evaluated: no evaluation kept",
	}
	if !equalMaps(got, want) {
		t.Errorf("at first:\n got %v\nwant %v", got, want)
	}
	mustContain(t, b.last, `<input id="days" name="days" type="number" min="1" max="365" size="5" value="14">`, "3 of 4 live flags in a 14-day window")

	// checkout stops being evaluated (its last hour is 08:00, the clock
	// says 10:15); once 14 days pass that hour, it is listed.
	clk.Add(14*24*time.Hour - 3*time.Hour)
	if got := removable(t, b, ""); got["checkout"] != "" {
		t.Errorf("13 days 21 hours on, checkout is listed: %s", got["checkout"])
	}
	clk.Add(3 * time.Hour)
	got = removable(t, b, "")
	if got["checkout"] != "not evaluated: last evaluated 2026-03-16" {
		t.Errorf("after 14 days checkout is %q, want listed as not evaluated", got["checkout"])
	}
	mustContain(t, b.last, `<tr data-flag="checkout">`, `title="in the hour from 2026-03-16 08:00 UTC">14 d ago</span>`)
	// A longer window still counts checkout's evaluation.
	got = removable(t, b, "?days=30")
	if got["checkout"] != "" {
		t.Errorf("in a 30-day window checkout is listed: %s", got["checkout"])
	}
	mustContain(t, b.last, `value="30"`, "a 30-day window")

	// Bad windows are refused, naming the field.
	for _, bad := range []string{"0", "366", "abc", "-3", "1.5"} {
		r := b.get("/admin/removable?days=" + bad)
		if r.status != http.StatusBadRequest {
			t.Errorf("days=%s: status %d, want 400", bad, r.status)
		}
		mustContain(t, r.body, `id="days-err">days: want a whole number of days from 1 to 365`, `aria-invalid="true"`)
		mustNotContain(t, r.body, `<tr data-flag=`)
	}
}

func TestRemovableWithoutUsage(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	r := h.browser("vic:viewer").get("/admin/removable")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	mustContain(t, r.body, "cannot tell which flags are unused")
	mustNotContain(t, r.body, `<tr data-flag=`)
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// seedUsage gives the demo flags two weeks of made-up usage up to now,
// for the browser tour: new-home-page rolls out (more "on" each day) from
// two apps, checkout is busy, max-items served one variant all along,
// and the rest are never evaluated.
func seedUsage(t *testing.T, h *harness, now time.Time) {
	t.Helper()
	hour := now.UTC().Truncate(time.Hour)
	var counts []flagon.UsageCount
	add := func(flag, variant, app string, hoursAgo int, n int64) {
		if n > 0 {
			counts = append(counts, flagon.UsageCount{Hour: hour.Add(-time.Duration(hoursAgo) * time.Hour), Flag: flag, Variant: variant, App: app, Environment: "development", Count: n})
		}
	}
	for d := range 20 {
		for _, at := range []int{2, 9, 15} {
			h := d*24 + at
			on := int64(40 * (20 - d))
			add("new-home-page", "on", "storefront", h, on)
			add("new-home-page", "off", "storefront", h, 900-on)
			add("new-home-page", "off", "mailer", h, int64(30+d))
			add("checkout", "classic", "storefront", h, int64(600+25*(d%5)))
			add("checkout", "express", "storefront", h, int64(70+10*(d%3)))
			add("max-items", "few", "catalog", h, 120)
		}
	}
	if err := h.store.AddUsage(context.Background(), counts); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkFlagsListUsage renders the flags list of 200 flags with and
// without usage: 30 days of hourly counts, two variants and two apps per
// flag (576,000 rows, as a store keeps them). Without usage is the floor.
//
//	go test -run '^$' -bench FlagsListUsage -benchmem ./admin/
func BenchmarkFlagsListUsage(b *testing.B) {
	for _, withUsage := range []bool{false, true} {
		name := "floor"
		if withUsage {
			name = "usage"
		}
		b.Run(name, func(b *testing.B) {
			h := newHarness(b, harnessOptions{usage: withUsage, now: func() time.Time { return chartNow }})
			ctx := context.Background()
			hour := chartNow.Truncate(time.Hour)
			var counts []flagon.UsageCount
			for i := range 200 {
				key := fmt.Sprintf("bench-%03d", i)
				if _, err := h.store.PutFlag(ctx, flagon.Flag{Key: key}, 0, flagon.Change{Actor: "b"}); err != nil {
					b.Fatal(err)
				}
				for hr := range 30 * 24 {
					for _, v := range []string{"on", "off"} {
						for _, app := range []string{"web", "api"} {
							counts = append(counts, flagon.UsageCount{Hour: hour.Add(-time.Duration(hr) * time.Hour), Flag: key, Variant: v, App: app, Environment: "development", Count: 3})
						}
					}
				}
			}
			for len(counts) > 0 {
				n := min(len(counts), flagon.MaxUsageBatch)
				if err := h.store.AddUsage(ctx, counts[:n]); err != nil {
					b.Fatal(err)
				}
				counts = counts[n:]
			}
			br := h.browser("vic:viewer")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if r := br.get("/admin/flags"); r.status != http.StatusOK {
					b.Fatalf("status %d", r.status)
				}
			}
		})
	}
}
