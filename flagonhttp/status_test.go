package flagonhttp

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/flagon/flagon"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"method", fail(errMethod), http.StatusMethodNotAllowed},
		{"cross origin", fail(errCrossOrigin), http.StatusForbidden},
		{"bad parameters", fail(errBadRequest, fieldError{"enable", "x"}), http.StatusBadRequest},
		{"unknown flag", fail(flagon.ErrNotFound), http.StatusNotFound},
		{"not ready", &PolicyError{Err: ErrNotReady}, http.StatusServiceUnavailable},
		{"policy none", fail(&PolicyError{Err: ErrNotOverridable}), http.StatusForbidden},
		{"policy staff", fail(&PolicyError{Err: ErrNotPermitted}), http.StatusForbidden},
		{"duration too long", fail(&PolicyError{Err: ErrDurationNotAllowed}), http.StatusBadRequest},
		// A share link the policy no longer allows is refused, whatever the reason.
		{"share link refused", fail(errRefused, fieldError{"token", "x"}), http.StatusForbidden},
		{"cookie too large", fail(fmt.Errorf("encode: %w", ErrTooLarge)), http.StatusBadRequest},
		{"anything else", errors.New("disk on fire"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusOf(tt.err); got != tt.want {
				t.Errorf("statusOf(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}
