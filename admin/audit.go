package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// maxDiffLines bounds the lines the audit page diffs; longer documents
// are shown side by side without a diff.
const maxDiffLines = 400

type auditRow struct {
	flagon.AuditEntry
	Diff    []diffLine
	NoDiff  bool   // too long to diff: show Before and After whole
	BeforeS string // pretty JSON
	AfterS  string
}

type diffLine struct {
	Op   string // " ", "-", "+"
	Text string
}

type auditData struct {
	Flag   string
	User   string
	Since  string
	Until  string
	Limit  int
	Rows   []auditRow
	Errors map[string]string
	More   bool
}

// auditPage lists the audit log, newest first, filtered by flag, user and
// time.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, q *request) {
	qv := r.URL.Query()
	d := &auditData{
		Flag: strings.TrimSpace(qv.Get("flag")), User: strings.TrimSpace(qv.Get("user")),
		Since: strings.TrimSpace(qv.Get("since")), Until: strings.TrimSpace(qv.Get("until")),
		Limit: 100, Errors: map[string]string{},
	}
	if s := qv.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			d.Errors["limit"] = "a number from 1 to 1000"
		} else {
			d.Limit = n
		}
	}
	aq := flagon.AuditQuery{Target: d.Flag, Actor: d.User, Limit: d.Limit + 1}
	var err error
	if aq.Since, err = parseWhen(d.Since, false); err != nil {
		d.Errors["since"] = err.Error()
	}
	if aq.Until, err = parseWhen(d.Until, true); err != nil {
		d.Errors["until"] = err.Error()
	}
	if !aq.Since.IsZero() && !aq.Until.IsZero() && aq.Until.Before(aq.Since) {
		d.Errors["until"] = "the end is before the start"
	}
	if len(d.Errors) > 0 {
		p := c.newPage(r, "Audit log", "audit", d)
		p.Error = "Fix the marked filters."
		c.render(w, http.StatusBadRequest, "audit", p)
		return
	}
	if c.opts.Audit != nil {
		entries, err := c.opts.Audit.Audit(r.Context(), aq)
		if err != nil {
			c.serverError(w, r, "read the audit log", err)
			return
		}
		if len(entries) > d.Limit {
			entries, d.More = entries[:d.Limit], true
		}
		for _, e := range entries {
			d.Rows = append(d.Rows, auditRowOf(e))
		}
	}
	c.render(w, http.StatusOK, "audit", c.newPage(r, "Audit log", "audit", d))
}

// parseWhen reads a filter time: "2006-01-02T15:04" (as a datetime-local
// input sends it) or a date, in UTC. A date as the end of a range means
// the end of that day.
func parseWhen(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339, "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if end {
			t = t.Add(24*time.Hour - time.Nanosecond)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time such as 2026-11-22 or 2026-11-22T15:04 (UTC)", s)
}

func auditRowOf(e flagon.AuditEntry) auditRow {
	row := auditRow{AuditEntry: e, BeforeS: prettyJSON(e.Before), AfterS: prettyJSON(e.After)}
	a, b := splitLines(row.BeforeS), splitLines(row.AfterS)
	if len(a) > maxDiffLines || len(b) > maxDiffLines {
		row.NoDiff = true
		return row
	}
	row.Diff = diffLines(a, b)
	return row
}

func prettyJSON(m json.RawMessage) string {
	if len(m) == 0 || string(m) == "null" {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, m, "", "  "); err != nil {
		return string(m)
	}
	return buf.String()
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// diffLines returns a line diff of a and b from their longest common
// subsequence.
func diffLines(a, b []string) []diffLine {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []diffLine
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			out = append(out, diffLine{" ", a[i]})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, diffLine{"-", a[i]})
			i++
		default:
			out = append(out, diffLine{"+", b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, diffLine{"-", a[i]})
	}
	for ; j < m; j++ {
		out = append(out, diffLine{"+", b[j]})
	}
	return out
}
