package controller

import (
	"context"
	"testing"
	"time"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// countingReads answers GetApp and counts the reads; the rest of
// apigee.Client is not called here.
type countingReads struct {
	apigee.Client
	reads int
}

func (c *countingReads) GetApp(context.Context, string, string) (*apigee.App, error) {
	c.reads++
	return &apigee.App{Name: "orders"}, nil
}

// TestSnapshotsServeAResyncForItsSlot: a read made for a change is shared
// for the ttl only; a resync passes its app's slot start and shares any
// read made since, however late in the slot; a read before the slot, or a
// write to the app, makes the next one read again.
func TestSnapshotsServeAResyncForItsSlot(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s := newAppSnapshots(5*time.Second, time.Minute, func() time.Time { return now })
	c := &countingReads{}
	loc := apigeev1alpha1.KeyLocation{Endpoint: "https://apigee.test", Organization: "prod", Developer: "dev@example.com", App: "orders"}
	read := func(step string, since time.Time, want int) {
		t.Helper()
		if _, err := s.get(context.Background(), c, "conn", loc, since); err != nil {
			t.Fatal(err)
		}
		if c.reads != want {
			t.Fatalf("%s: %d reads of the app; want %d", step, c.reads, want)
		}
	}
	slot := now
	read("the slot's first key", slot, 1)
	now = now.Add(4 * time.Second)
	read("a change within the ttl", time.Time{}, 1)
	now = now.Add(2 * time.Second)
	read("a change after the ttl", time.Time{}, 2)
	now = now.Add(40 * time.Second)
	read("a key of the same slot, 46 s on", slot, 2)
	next := slot.Add(time.Minute)
	now = next.Add(time.Second)
	read("the next slot's first key", next, 3)
	read("the next slot's second key", next, 3)
	s.drop(loc)
	read("after a write to the app", next, 4)
	// Another connection never sees this one's read.
	if _, err := s.get(context.Background(), c, "other-conn", loc, next); err != nil || c.reads != 5 {
		t.Fatalf("another connection's read: %d reads, %v; want its own", c.reads, err)
	}
}

// blockingReads answers GetApp once release is closed, and says when a
// read has started.
type blockingReads struct {
	apigee.Client
	started chan struct{}
	release chan struct{}
}

func (c *blockingReads) GetApp(context.Context, string, string) (*apigee.App, error) {
	c.started <- struct{}{}
	<-c.release
	return &apigee.App{Name: "orders"}, nil
}

// TestSnapshotsKeepNoReadAWriteOvertook: a read under way when a write to
// the app lands may not show the write; its answer serves its caller but
// is not kept, so the next reader reads again.
func TestSnapshotsKeepNoReadAWriteOvertook(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s := newAppSnapshots(time.Minute, time.Minute, func() time.Time { return now })
	loc := apigeev1alpha1.KeyLocation{Endpoint: "https://apigee.test", Organization: "prod", Developer: "dev@example.com", App: "orders"}
	slow := &blockingReads{started: make(chan struct{}, 1), release: make(chan struct{})}
	done := make(chan error)
	go func() {
		_, err := s.get(context.Background(), slow, "conn", loc, now)
		done <- err
	}()
	<-slow.started
	s.drop(loc) // another key's write to the app lands while the read is out
	close(slow.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c := &countingReads{}
	if _, err := s.get(context.Background(), c, "conn", loc, now); err != nil || c.reads != 1 {
		t.Fatalf("after a read the write overtook: %d reads, %v; want a read of its own", c.reads, err)
	}
	if _, err := s.get(context.Background(), c, "conn", loc, now); err != nil || c.reads != 1 {
		t.Fatalf("after a clean read: %d reads, %v; want it shared", c.reads, err)
	}
}
