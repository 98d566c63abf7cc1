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
	"github.com/flagon/flagon/internal/jsondiff"
)

// maxChanges bounds the changes an audit entry lists; the whole record
// is behind them.
const maxChanges = 100

// metadataFields are the fields of a stored record that every write
// changes; the audit entry says when and by whom already.
var metadataFields = []string{"version", "updated_at", "updated_by"}

type auditRow struct {
	flagon.AuditEntry
	Changes []jsondiff.Change // what changed, field by field
	More    int               // changes left off the list
	BeforeS string            // the whole record before, as pretty JSON
	AfterS  string
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
	before, after := comparable(e.Action, e.Before), comparable(e.Action, e.After)
	row.Changes = jsondiff.Values(before, after)
	if n := len(row.Changes); n > maxChanges {
		row.Changes, row.More = row.Changes[:maxChanges], n-maxChanges
	}
	return row
}

// comparable decodes an audited record for comparison: without the
// metadata every write changes, and a flag normalized, so that making its
// implicit parts explicit (as the editor's first save of an imported flag
// does) is no change.
func comparable(action string, raw json.RawMessage) any {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if strings.HasPrefix(action, "flag.") {
		var sf flagon.StoredFlag
		if err := json.Unmarshal(raw, &sf); err == nil && sf.Key != "" {
			sf.Flag = sf.Flag.Normalize()
			if b, err := json.Marshal(sf); err == nil {
				raw = b
			}
		}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	if m, ok := v.(map[string]any); ok {
		for _, k := range metadataFields {
			delete(m, k)
		}
	}
	return v
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
