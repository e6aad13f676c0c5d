package controller

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/util/cache"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// Bounds of the app snapshots, whatever Apigee (or a tenant's own endpoint)
// answers: at most maxSnapshots apps and about maxSnapshotBytes of them
// (apigee.App.Size), least recently used first out. 10,000 keys in 100
// apps keep about 2 MiB.
const (
	maxSnapshots     = 4096
	maxSnapshotBytes = 64 << 20
)

// appSnapshots shares one GET app between keys of the same app reconciled
// close together: every call counts against the organization's quota. A
// snapshot serves any read for ttl, and a resync's read for the rest of
// the app's resync slot (see get), and expires after keep (the resync
// interval); it is dropped as soon as we write to the app, and with its
// connection or organization. It is shared only between users of one
// connection: another connection may hold other credentials, and must not
// see what this one may read. Snapshots never decide a delete: those read
// afresh.
type appSnapshots struct {
	ttl, keep time.Duration
	now       func() time.Time
	mu        sync.Mutex
	cache     *cache.LRUExpireCache // snapshotKey → appSnapshot
	// sizes and bytes account for what the cache holds.
	sizes map[snapshotKey]int
	bytes int
	// reading counts the writes to each location while a read of it is
	// under way: a read that started before one may not show it, and is
	// not kept. An entry lives only as long as its reads.
	reading map[string]*readsOf
	flight  singleflight.Group
}

// snapshotKey is one app as one connection reads it.
type snapshotKey struct {
	org, location, conn string
}

type appSnapshot struct {
	app   *apigee.App
	taken time.Time
}

type readsOf struct {
	readers int
	writes  uint64
}

// snapshotClock lets the cache expire entries on the snapshots' clock.
type snapshotClock func() time.Time

func (c snapshotClock) Now() time.Time { return c() }

func newAppSnapshots(ttl, keep time.Duration, now func() time.Time) *appSnapshots {
	return &appSnapshots{ttl: ttl, keep: max(ttl, keep), now: now,
		cache: cache.NewLRUExpireCacheWithClock(maxSnapshots, snapshotClock(now)),
		sizes: map[snapshotKey]int{}, reading: map[string]*readsOf{}}
}

// snapshotID keys a snapshot by the whole location, endpoint included, so
// a connection to another server naming the same organization (a tenant's
// own, say) can never feed its answers to anyone else's reads.
func snapshotID(loc apigeev1alpha1.KeyLocation) string {
	return loc.Endpoint + "|" + loc.Organization + "|" + normalDeveloper(loc.Developer) + "|" + loc.App
}

func keyFor(loc apigeev1alpha1.KeyLocation, conn string) snapshotKey {
	return snapshotKey{org: apigee.OrgKey(loc.Endpoint, loc.Organization), location: snapshotID(loc), conn: conn}
}

// get returns a copy of the app, read from Apigee through the connection's
// client c unless a snapshot taken through the same connection is recent
// enough: within the ttl, or at or after since when since is set. A resync
// passes the start of its app's slot, so the app's keys share one read per
// resync interval however long the queue takes to reach them all.
func (s *appSnapshots) get(ctx context.Context, c apigee.Client, conn string, loc apigeev1alpha1.KeyLocation, since time.Time) (*apigee.App, error) {
	key := keyFor(loc, conn)
	if v, ok := s.cache.Get(key); ok {
		snap := v.(appSnapshot)
		if s.now().Sub(snap.taken) < s.ttl || !since.IsZero() && !snap.taken.Before(since) {
			return snap.app.Clone(), nil
		}
	}
	// Keys of one app come due together (untilAppSlot): the first read
	// serves those that ask while it is under way, too.
	v, err, _ := s.flight.Do(key.location+"\x00"+conn, func() (any, error) {
		reads := s.startRead(key.location)
		a, err := c.GetApp(ctx, loc.Developer, loc.App)
		s.endRead(key, reads, a, err)
		return a, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*apigee.App).Clone(), nil
}

func (s *appSnapshots) startRead(location string) (writes uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reading[location]
	if r == nil {
		r = &readsOf{}
		s.reading[location] = r
	}
	r.readers++
	return r.writes
}

// endRead keeps a's snapshot unless the read failed or a write to the
// location landed meanwhile (this read may predate it).
func (s *appSnapshots) endRead(key snapshotKey, writesBefore uint64, a *apigee.App, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reading[key.location]
	if r.readers--; r.readers == 0 {
		delete(s.reading, key.location)
	}
	if err != nil || r.writes != writesBefore {
		return
	}
	s.add(key, appSnapshot{app: a.Clone(), taken: s.now()})
}

// add adds a snapshot and evicts the least recently used while over
// budget; s.mu is held.
func (s *appSnapshots) add(key snapshotKey, snap appSnapshot) {
	size := snap.app.Size()
	if size > maxSnapshotBytes {
		return
	}
	s.cache.Add(key, snap, s.keep)
	s.bytes += size - s.sizes[key]
	s.sizes[key] = size
	s.trim()
}

// trim forgets the sizes of what the cache let go (expired or pushed out
// by its count), then evicts the least recently used while over budget.
func (s *appSnapshots) trim() {
	live := s.cache.Keys() // least recently used first; unexpired only
	held := make(map[snapshotKey]bool, len(live))
	for _, k := range live {
		held[k.(snapshotKey)] = true
	}
	for k := range s.sizes {
		if !held[k] {
			s.forget(k)
		}
	}
	for _, k := range live {
		if s.bytes <= maxSnapshotBytes {
			return
		}
		s.forget(k.(snapshotKey))
	}
}

func (s *appSnapshots) forget(k snapshotKey) {
	s.cache.Remove(k)
	s.bytes -= s.sizes[k]
	delete(s.sizes, k)
}

// removeWhere drops every snapshot whose key matches.
func (s *appSnapshots) removeWhere(match func(snapshotKey) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.sizes {
		if match(k) {
			s.forget(k)
		}
	}
}

// drop forgets the app's snapshots, through every connection, after a
// write changed it.
func (s *appSnapshots) drop(loc apigeev1alpha1.KeyLocation) {
	id := snapshotID(loc)
	s.mu.Lock()
	if r := s.reading[id]; r != nil {
		r.writes++
	}
	s.mu.Unlock()
	s.removeWhere(func(k snapshotKey) bool { return k.location == id })
}

// forgetConnection drops what a deleted connection read.
func (s *appSnapshots) forgetConnection(conn string) {
	s.removeWhere(func(k snapshotKey) bool { return k.conn == conn })
}

// forgetOrganization drops every snapshot of an organization no
// connection reaches any more.
func (s *appSnapshots) forgetOrganization(endpoint, org string) {
	orgKey := apigee.OrgKey(endpoint, org)
	s.removeWhere(func(k snapshotKey) bool { return k.org == orgKey })
}

// len is how many snapshots are kept, and their size.
func (s *appSnapshots) len() (n, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trim()
	return len(s.sizes), s.bytes
}
