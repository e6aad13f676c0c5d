package apigee

import "context"

// Operation names of the list calls, for metrics and logs.
const (
	OpListDevelopers = "ListDevelopers"
	OpListApps       = "ListApps"
	OpListProducts   = "ListProducts"
)

// MaxPageSize is the largest page both dialects serve (count, rows).
const MaxPageSize = 1000

// Lister reads a whole organization in few calls: the paginated, expanded
// list calls of both dialects. It is separate from Client, which stays the
// operator's narrow per-key view; the command-line tool uses both.
//
// Each method is one call. startKey is where the page starts, inclusive
// (both dialects repeat it as the first item); "" starts at the beginning.
// Use EachDeveloper, EachApp and EachProduct to walk every page.
type Lister interface {
	// ListDevelopers returns up to count developers from the one whose
	// email is startKey.
	ListDevelopers(ctx context.Context, startKey string, count int) ([]Developer, error)
	// ListApps returns up to rows apps of the organization whose status is
	// f.Status, each with its credentials whose status is f.KeyStatus, from
	// the one whose app id is startKey.
	ListApps(ctx context.Context, f AppFilter, startKey string, rows int) ([]ListedApp, error)
	// ListProducts returns up to count API products from the one named
	// startKey.
	ListProducts(ctx context.Context, startKey string, count int) ([]Product, error)
}

// Developer is a developer as the list call returns it.
type Developer struct {
	ID    string
	Email string
}

// ListedApp is an app from the organization's app list. DeveloperEmail is
// set when the dialect returns it (X may; Edge does not): join on
// App.DeveloperID otherwise. Apps of companies or app groups have no
// DeveloperID.
type ListedApp struct {
	App
	DeveloperEmail string
	Status         string // the app's own approval: approved or revoked
}

// Product is an API product's name and approval type (auto or manual).
type Product struct {
	Name         string
	ApprovalType string
}

// EachDeveloper calls fn with every page of developers.
func EachDeveloper(ctx context.Context, l Lister, size int, fn func([]Developer) error) error {
	return eachPage(size, func(start string, n int) ([]Developer, error) { return l.ListDevelopers(ctx, start, n) },
		func(d Developer) string { return d.Email }, fn)
}

// AppFilter selects apps by their own status and their credentials by
// theirs. The apps list is documented to default both to approved (X:
// "Defaults to approved" for status and keyStatus), so a list without them
// may hide revoked apps and revoked keys.
type AppFilter struct{ Status, KeyStatus string }

// AllApps are the filters that together list every app and every key.
var AllApps = []AppFilter{
	{StatusApproved, StatusApproved}, {StatusApproved, StatusRevoked},
	{StatusRevoked, StatusApproved}, {StatusRevoked, StatusRevoked},
}

// EachApp calls fn with every page of apps, asking for every app status and
// key status in turn (AllApps). Each credential comes once; an app may come
// again in a later page with credentials not seen before, and an app comes
// again only then.
func EachApp(ctx context.Context, l Lister, size int, fn func([]ListedApp) error) error {
	seenApps, seenKeys := map[string]bool{}, map[string]bool{}
	fresh := func(page []ListedApp) []ListedApp {
		out := page[:0]
		for _, a := range page {
			creds := a.Credentials[:0:0]
			for _, c := range a.Credentials {
				if !seenKeys[c.ConsumerKey] {
					seenKeys[c.ConsumerKey] = true
					creds = append(creds, c)
				}
			}
			if !seenApps[a.AppID] || len(creds) > 0 {
				seenApps[a.AppID] = true
				a.Credentials = creds
				out = append(out, a)
			}
		}
		return out
	}
	for _, f := range AllApps {
		err := eachPage(size, func(start string, n int) ([]ListedApp, error) { return l.ListApps(ctx, f, start, n) },
			func(a ListedApp) string { return a.AppID }, func(page []ListedApp) error {
				if page = fresh(page); len(page) > 0 {
					return fn(page)
				}
				return nil
			})
		if err != nil {
			return err
		}
	}
	return nil
}

// EachProduct calls fn with every page of products.
func EachProduct(ctx context.Context, l Lister, size int, fn func([]Product) error) error {
	return eachPage(size, func(start string, n int) ([]Product, error) { return l.ListProducts(ctx, start, n) },
		func(p Product) string { return p.Name }, fn)
}

// eachPage walks startKey pagination. A full page means there may be more;
// the next page starts at the last item seen, which comes back first and
// is dropped. A page that brings nothing new ends the walk, so a server
// that ignores startKey cannot loop us forever.
func eachPage[T any](size int, fetch func(start string, n int) ([]T, error), keyOf func(T) string, fn func([]T) error) error {
	if size <= 0 || size > MaxPageSize {
		size = MaxPageSize
	}
	start := ""
	for {
		items, err := fetch(start, size)
		if err != nil {
			return err
		}
		full := len(items) >= size
		if start != "" && len(items) > 0 && keyOf(items[0]) == start {
			items = items[1:]
		}
		if len(items) == 0 {
			return nil
		}
		if err := fn(items); err != nil {
			return err
		}
		next := keyOf(items[len(items)-1])
		if !full || next == start {
			return nil
		}
		start = next
	}
}

// WithListRetries retries the list calls like WithRetries does the
// Client's: they are reads, safe to repeat.
func WithListRetries(l Lister, opts RetryOptions) Lister {
	return &retryingLister{inner: l, r: &retrying{opts: opts.withDefaults()}}
}

type retryingLister struct {
	inner Lister
	r     *retrying
}

func (l *retryingLister) ListDevelopers(ctx context.Context, startKey string, count int) (out []Developer, err error) {
	err = l.r.do(ctx, OpListDevelopers, func(int) error {
		out, err = l.inner.ListDevelopers(ctx, startKey, count)
		return err
	})
	return out, err
}

func (l *retryingLister) ListApps(ctx context.Context, f AppFilter, startKey string, rows int) (out []ListedApp, err error) {
	err = l.r.do(ctx, OpListApps, func(int) error {
		out, err = l.inner.ListApps(ctx, f, startKey, rows)
		return err
	})
	return out, err
}

func (l *retryingLister) ListProducts(ctx context.Context, startKey string, count int) (out []Product, err error) {
	err = l.r.do(ctx, OpListProducts, func(int) error {
		out, err = l.inner.ListProducts(ctx, startKey, count)
		return err
	})
	return out, err
}
