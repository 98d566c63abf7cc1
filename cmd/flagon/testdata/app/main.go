package app

import (
	"context"

	"github.com/flagon/flagon"
)

var NewHomePage = flagon.NewBool("new-home-page", false, "Expose the new home page")

func signup(ctx context.Context, c *flagon.Client) bool {
	return c.Bool(ctx, "use-new-email-service", false) || c.Bool(ctx, "typo-service", false)
}
