package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// bigApps answers every GetApp with an app of about size bytes.
type bigApps struct {
	apigee.Client
	size int
}

func (b bigApps) GetApp(_ context.Context, _, app string) (*apigee.App, error) {
	return &apigee.App{Name: app, Credentials: []apigee.Credential{{
		Attributes: []apigee.Attribute{{Name: "pad", Value: strings.Repeat("x", b.size)}}}}}, nil
}

func locAt(org, app string) apigeev1alpha1.KeyLocation {
	return apigeev1alpha1.KeyLocation{Endpoint: "https://tenant.test", Organization: org, Developer: "dev@example.com", App: app}
}

// TestSnapshotsStayWithinTheirBudget: 40 apps of 4 MiB each (a tenant's
// endpoint may answer anything up to the clients' limit) keep no more than
// the snapshots' byte budget, and no read leaves anything behind.
func TestSnapshotsStayWithinTheirBudget(t *testing.T) {
	s := newAppSnapshots(time.Minute, time.Hour, time.Now)
	for i := range 40 {
		if _, err := s.get(context.Background(), bigApps{size: 4 << 20}, "conn", locAt("t", fmt.Sprint("app-", i)), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	n, bytes := s.len()
	if bytes > maxSnapshotBytes || n == 0 || n >= 40 {
		t.Errorf("%d snapshots of %d MiB kept; want some, within %d MiB", n, bytes>>20, maxSnapshotBytes>>20)
	}
	if len(s.reading) != 0 {
		t.Errorf("%d locations still counted as being read", len(s.reading))
	}
}

// TestSnapshotsExpire: a snapshot is let go after keep (the resync
// interval) even if nothing reads or writes its app again.
func TestSnapshotsExpire(t *testing.T) {
	now := time.Now()
	s := newAppSnapshots(time.Second, time.Minute, func() time.Time { return now })
	_, _ = s.get(context.Background(), bigApps{size: 10}, "conn", locAt("t", "a"), time.Time{})
	if n, _ := s.len(); n != 1 {
		t.Fatalf("%d snapshots after a read; want 1", n)
	}
	now = now.Add(time.Minute + time.Second)
	if n, bytes := s.len(); n != 0 || bytes != 0 {
		t.Errorf("%d snapshots (%d bytes) kept past their expiry", n, bytes)
	}
}

// TestSnapshotsGoWithTheirConnectionAndOrganization: a deleted
// connection's snapshots go, and so do an organization's when no
// connection reaches it; others stay.
func TestSnapshotsGoWithTheirConnectionAndOrganization(t *testing.T) {
	s := newAppSnapshots(time.Minute, time.Hour, time.Now)
	read := func(conn, org, app string) {
		if _, err := s.get(context.Background(), bigApps{size: 10}, conn, locAt(org, app), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	read("c1", "o1", "a")
	read("c2", "o1", "b")
	read("c3", "o2", "a")
	s.forgetConnection("c1")
	if n, _ := s.len(); n != 2 {
		t.Fatalf("%d snapshots after c1 went; want 2", n)
	}
	s.forgetOrganization("https://tenant.test", "o1")
	if n, _ := s.len(); n != 1 {
		t.Fatalf("%d snapshots after o1 went; want o2's alone", n)
	}
}
