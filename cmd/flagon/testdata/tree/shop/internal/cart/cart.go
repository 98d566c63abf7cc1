package cart

import (
	"context"

	"github.com/flagon/flagon"
)

func Express(ctx context.Context, c *flagon.Client) bool {
	return c.Bool(ctx, "express-checkout", false)
}
