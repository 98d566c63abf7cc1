package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// errInUse marks a deletion refused because something still uses what
// was to be deleted (a store reports it as flagon.ErrInvalid).
var errInUse = errors.New("still in use")

// statusTable maps every error the console answers with to its HTTP
// status, the title of the page that says so and a sentence about the
// subject of the request (%s, such as `flag "checkout"`): the first entry
// the error matches (errors.Is) decides. Entries with detail add the
// error's own text, which names the fields at fault. An error that matches
// none is a 500, whose text stays in the log.
var statusTable = []struct {
	err    error
	status int
	title  string
	say    string
	detail bool
}{
	{ErrUnauthenticated, http.StatusUnauthorized, "Sign in required", "Sign in to use %s.", false},
	{ErrForbidden, http.StatusForbidden, "Forbidden", "You may not change %s.", false},
	{flagon.ErrSelfReview, http.StatusForbidden, "Forbidden", "You asked for %s, so someone else must approve it.", false},
	{flagon.ErrReadOnly, http.StatusConflict, "Read-only", "%s cannot be changed here.", false},
	{errInUse, http.StatusConflict, "In use", "%s is still used, so it was not deleted", true},
	{flagon.ErrNotFound, http.StatusNotFound, "Not found", "There is no %s; it may have been deleted.", false},
	{flagon.ErrConflict, http.StatusConflict, "Changed meanwhile", "Someone changed %s since you loaded the page, so nothing was done. Open it to see the newer version, then try again.", false},
	{flagon.ErrInvalid, http.StatusBadRequest, "Refused", "The change to %s was refused", true},
	{flagonhttp.ErrNotOverridable, http.StatusForbidden, "Refused", "%s may not be overridden.", false},
	{flagonhttp.ErrNotPermitted, http.StatusForbidden, "Refused", "You may not override %s.", false},
	{flagonhttp.ErrValueNotAllowed, http.StatusBadRequest, "Refused", "That value is not allowed for %s", true},
	{flagonhttp.ErrDurationNotAllowed, http.StatusBadRequest, "Refused", "That duration is not allowed for %s", true},
	{flagonhttp.ErrTooLarge, http.StatusBadRequest, "Too large", "Too many overrides to fit in the cookie for %s; remove some first.", false},
}

// statusOf returns the HTTP status that answers err: that of the first
// entry of statusTable that err matches, else 500.
func statusOf(err error) int {
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// failureText returns the page title and the sentence that answer err
// about subject, and whether statusTable knows err.
func failureText(err error, subject string) (title, msg string, ok bool) {
	for _, e := range statusTable {
		if !errors.Is(err, e.err) {
			continue
		}
		msg = fmt.Sprintf(e.say, subject)
		if e.detail {
			msg += ": " + err.Error() + "."
		}
		// The subject may open the sentence.
		if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return e.title, msg, true
	}
	return "", "", false
}

// fail answers a request that failed with err with an error page: the
// status and title from statusTable, and its sentence about subject (such
// as `flag "checkout"`). An error the table does not know is logged as the
// failure to do what, and answered 500 without its text. Handlers of every
// page call it, so that an error gets the same status everywhere.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error, subject, what string) {
	title, msg, ok := failureText(err, subject)
	if !ok {
		c.serverError(w, r, what, err)
		return
	}
	c.renderError(w, r, statusOf(err), title, msg)
}

// failSay is fail with the page's sentence given: msg instead of the
// table's.
func (c *Console) failSay(w http.ResponseWriter, r *http.Request, err error, msg, what string) {
	title, _, ok := failureText(err, "")
	if !ok {
		c.serverError(w, r, what, err)
		return
	}
	c.renderError(w, r, statusOf(err), title, msg)
}

// readOnly answers a change the console cannot make without a store.
func (c *Console) readOnly(w http.ResponseWriter, r *http.Request, what string) {
	c.failSay(w, r, flagon.ErrReadOnly, what+" cannot be changed here: "+c.readNote+".", "")
}
