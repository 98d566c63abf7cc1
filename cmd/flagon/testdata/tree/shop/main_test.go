package main

import (
	"testing"

	"github.com/flagon/flagon"
)

// Tests make up flags of their own, which no config defines.
var testOnly = flagon.NewBool("made-up-in-test", false, "")

func TestHome(t *testing.T) {}
