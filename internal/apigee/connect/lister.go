package connect

import (
	"context"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// dialectClient is what both dialects' clients implement.
type dialectClient interface {
	apigee.Client
	apigee.Lister
}

// NewWithLister returns the connection's client and its Lister, both on the
// same authentication, organization limiter and retries: the command-line
// tool reads whole organizations within the quota the operator shares.
func NewWithLister(ctx context.Context, cfg Config) (apigee.Client, apigee.Lister, error) {
	c, err := newDialect(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return apigee.WithRetries(c, cfg.Retry), apigee.WithListRetries(c, cfg.Retry), nil
}
