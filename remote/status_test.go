package remote

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		want       int
		retryAfter string
	}{
		{"no snapshot", errNoSnapshot, http.StatusServiceUnavailable, "1"},
		{"encoding failed", fmt.Errorf("%w: %w", errEncode, errors.New("NaN")), http.StatusInternalServerError, ""},
		{"anything else", errors.New("boom"), http.StatusInternalServerError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, tt.err)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d", w.Code, tt.want)
			}
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
		})
	}
}
