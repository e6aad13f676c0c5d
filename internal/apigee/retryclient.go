package apigee

import (
	"context"
	"crypto/subtle"

	"github.com/go-logr/logr"
)

// WithRetries wraps c so that RateLimited and Unavailable failures are
// retried with backoff. Every operation is safe to repeat: reads, appends
// and replacements are idempotent, and for the three whose repeat can meet
// the first attempt's effect the ambiguity is resolved here (see
// ImportKey, RemoveProduct, DeleteKey). Resolution applies to retries only;
// a first attempt's Conflict or NotFound is returned as it is.
func WithRetries(c Client, opts RetryOptions) Client {
	return &retrying{inner: c, opts: opts.withDefaults()}
}

type retrying struct {
	inner Client
	opts  RetryOptions
}

var _ Client = (*retrying)(nil)

// do runs call until it succeeds, fails for good, or the attempts run out.
func (r *retrying) do(ctx context.Context, op string, call func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := call(attempt)
		d, again := r.opts.Delay(attempt, err, r.opts.Jitter())
		if !again {
			return err
		}
		logr.FromContextOrDiscard(ctx).V(1).Info("Retrying Apigee call",
			"operation", op, "attempt", attempt, "class", ClassOf(err), "delay", d,
			"keyFingerprint", keyFingerprintFrom(ctx))
		if r.opts.wait(ctx, d) != nil {
			return err
		}
	}
}

func (r *retrying) Probe(ctx context.Context) error {
	return r.do(ctx, OpProbe, func(int) error { return r.inner.Probe(ctx) })
}

func (r *retrying) GetApp(ctx context.Context, developer, app string) (a *App, err error) {
	err = r.do(ctx, OpGetApp, func(int) error {
		a, err = r.inner.GetApp(ctx, developer, app)
		return err
	})
	return a, err
}

func (r *retrying) GetKey(ctx context.Context, ref KeyRef) (k *Credential, err error) {
	ctx = WithConsumerKey(ctx, ref.ConsumerKey)
	err = r.do(ctx, OpGetKey, func(int) error {
		k, err = r.inner.GetKey(ctx, ref)
		return err
	})
	return k, err
}

// ImportKey: a retry answered with Conflict may mean the earlier attempt
// created the key. It is ours when it is on this app with this secret.
func (r *retrying) ImportKey(ctx context.Context, developer, app string, req ImportRequest) (k *Credential, err error) {
	ctx = WithConsumerKey(ctx, req.ConsumerKey)
	err = r.do(ctx, OpImportKey, func(attempt int) error {
		k, err = r.inner.ImportKey(ctx, developer, app, req)
		if attempt > 1 && ClassOf(err) == ClassConflict {
			k, err = r.adopt(ctx, KeyRef{Developer: developer, App: app, ConsumerKey: req.ConsumerKey}, req.ConsumerSecret, err)
		}
		return err
	})
	return k, err
}

// adopt reads the key after an ambiguous Conflict: the same secret on this
// app means our earlier attempt landed. A retryable read failure is
// returned so the loop tries again; anything else keeps the Conflict.
func (r *retrying) adopt(ctx context.Context, ref KeyRef, secret string, conflict error) (*Credential, error) {
	k, err := r.inner.GetKey(ctx, ref)
	switch {
	case Retryable(err):
		return nil, err
	case err != nil:
		return nil, conflict
	case subtle.ConstantTimeCompare([]byte(k.ConsumerSecret), []byte(secret)) != 1:
		return nil, conflict
	}
	return k, nil
}

func (r *retrying) AddProducts(ctx context.Context, ref KeyRef, products []string, attributes []Attribute) (k *Credential, err error) {
	ctx = WithConsumerKey(ctx, ref.ConsumerKey)
	err = r.do(ctx, OpAddProducts, func(int) error {
		k, err = r.inner.AddProducts(ctx, ref, products, attributes)
		return err
	})
	return k, err
}

func (r *retrying) SetAttributes(ctx context.Context, ref KeyRef, attributes []Attribute) (k *Credential, err error) {
	ctx = WithConsumerKey(ctx, ref.ConsumerKey)
	err = r.do(ctx, OpSetAttributes, func(int) error {
		k, err = r.inner.SetAttributes(ctx, ref, attributes)
		return err
	})
	return k, err
}

func (r *retrying) SetScopes(ctx context.Context, ref KeyRef, scopes []string) (k *Credential, err error) {
	ctx = WithConsumerKey(ctx, ref.ConsumerKey)
	err = r.do(ctx, OpSetScopes, func(int) error {
		k, err = r.inner.SetScopes(ctx, ref, scopes)
		return err
	})
	return k, err
}

// RemoveProduct: a retry told the product is not on the key means the
// earlier attempt removed it.
func (r *retrying) RemoveProduct(ctx context.Context, ref KeyRef, product string) error {
	ctx = WithConsumerKey(ctx, ref.ConsumerKey)
	return r.do(ctx, OpRemoveProduct, func(attempt int) error {
		err := r.inner.RemoveProduct(ctx, ref, product)
		if attempt > 1 && IsProductNotAssociated(err) {
			return nil
		}
		return err
	})
}

func (r *retrying) SetKeyStatus(ctx context.Context, ref KeyRef, action Action) error {
	ctx = WithConsumerKey(ctx, ref.ConsumerKey)
	return r.do(ctx, OpSetKeyStatus, func(int) error { return r.inner.SetKeyStatus(ctx, ref, action) })
}

func (r *retrying) SetProductStatus(ctx context.Context, ref KeyRef, product string, action Action) error {
	ctx = WithConsumerKey(ctx, ref.ConsumerKey)
	return r.do(ctx, OpSetProductStatus, func(int) error { return r.inner.SetProductStatus(ctx, ref, product, action) })
}

// DeleteKey: a retry told the key is not there means the earlier attempt
// deleted it.
func (r *retrying) DeleteKey(ctx context.Context, ref KeyRef) error {
	ctx = WithConsumerKey(ctx, ref.ConsumerKey)
	return r.do(ctx, OpDeleteKey, func(attempt int) error {
		err := r.inner.DeleteKey(ctx, ref)
		if attempt > 1 && IsNotFound(err, ResourceKey) {
			return nil
		}
		return err
	})
}
