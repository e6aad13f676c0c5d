package controller

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// appSnapshots shares one GET app between keys of the same app reconciled
// close together: every call counts against the organization's quota. A
// snapshot serves any read for ttl, and a resync's read for the rest of
// the app's resync slot (see get); it is dropped as soon as we write to
// the app. It is shared only between users of one connection: another
// connection may hold other credentials, and must not see what this one
// may read. Snapshots never decide a delete: those read afresh.
type appSnapshots struct {
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	cache map[string]map[string]appSnapshot // location, then connection
	// drops counts the writes to each location: a read that started
	// before one may not show it, and is not kept.
	drops  map[string]uint64
	flight singleflight.Group
}

type appSnapshot struct {
	app   *apigee.App
	taken time.Time
}

func newAppSnapshots(ttl time.Duration, now func() time.Time) *appSnapshots {
	return &appSnapshots{ttl: ttl, now: now, cache: map[string]map[string]appSnapshot{}, drops: map[string]uint64{}}
}

// snapshotID keys a snapshot by the whole location, endpoint included, so
// a connection to another server naming the same organization (a tenant's
// own, say) can never feed its answers to anyone else's reads.
func snapshotID(loc apigeev1alpha1.KeyLocation) string {
	return loc.Endpoint + "|" + loc.Organization + "|" + normalDeveloper(loc.Developer) + "|" + loc.App
}

// get returns a copy of the app, read from Apigee through the connection's
// client c unless a snapshot taken through the same connection is recent
// enough: within the ttl, or at or after since when since is set. A resync
// passes the start of its app's slot, so the app's keys share one read per
// resync interval however long the queue takes to reach them all.
func (s *appSnapshots) get(ctx context.Context, c apigee.Client, conn string, loc apigeev1alpha1.KeyLocation, since time.Time) (*apigee.App, error) {
	id := snapshotID(loc)
	s.mu.Lock()
	snap, ok := s.cache[id][conn]
	s.mu.Unlock()
	if ok && (s.now().Sub(snap.taken) < s.ttl || !since.IsZero() && !snap.taken.Before(since)) {
		return snap.app.Clone(), nil
	}
	// Keys of one app come due together (untilAppSlot): the first read
	// serves those that ask while it is under way, too.
	v, err, _ := s.flight.Do(id+"\x00"+conn, func() (any, error) {
		s.mu.Lock()
		drops := s.drops[id]
		s.mu.Unlock()
		a, err := c.GetApp(ctx, loc.Developer, loc.App)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.drops[id] != drops {
			return a, nil // a write landed meanwhile: this read may predate it
		}
		if s.cache[id] == nil {
			s.cache[id] = map[string]appSnapshot{}
		}
		s.cache[id][conn] = appSnapshot{app: a.Clone(), taken: s.now()}
		return a, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*apigee.App).Clone(), nil
}

// drop forgets the app's snapshots, through every connection, after a
// write changed it.
func (s *appSnapshots) drop(loc apigeev1alpha1.KeyLocation) {
	id := snapshotID(loc)
	s.mu.Lock()
	delete(s.cache, id)
	s.drops[id]++
	s.mu.Unlock()
}
