package controller

import (
	"context"
	"sync"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// appSnapshots shares one GET app between keys of the same app reconciled
// close together: every call counts against the organization's quota. A
// snapshot lives for ttl and is dropped as soon as we write to the app.
type appSnapshots struct {
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	cache map[string]appSnapshot
}

type appSnapshot struct {
	app   *apigee.App
	taken time.Time
}

func newAppSnapshots(ttl time.Duration, now func() time.Time) *appSnapshots {
	return &appSnapshots{ttl: ttl, now: now, cache: map[string]appSnapshot{}}
}

// get returns a copy of the app, read from Apigee unless a fresh snapshot
// exists.
func (s *appSnapshots) get(ctx context.Context, c apigee.Client, org, developer, app string) (*apigee.App, error) {
	id := org + "/" + appIndexValue(developer, app)
	s.mu.Lock()
	snap, ok := s.cache[id]
	s.mu.Unlock()
	if ok && s.now().Sub(snap.taken) < s.ttl {
		return snap.app.Clone(), nil
	}
	a, err := c.GetApp(ctx, developer, app)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cache[id] = appSnapshot{app: a.Clone(), taken: s.now()}
	s.mu.Unlock()
	return a, nil
}

// drop forgets the app's snapshot after a write changed it.
func (s *appSnapshots) drop(org, developer, app string) {
	s.mu.Lock()
	delete(s.cache, org+"/"+appIndexValue(developer, app))
	s.mu.Unlock()
}
