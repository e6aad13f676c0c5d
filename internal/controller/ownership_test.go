package controller

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

func TestSameLocation(t *testing.T) {
	at := func(mutate func(*apigeev1alpha1.KeyLocation)) apigeev1alpha1.KeyLocation {
		l := here
		mutate(&l)
		return l
	}
	cases := []struct {
		reason string
		a, b   apigeev1alpha1.KeyLocation
		want   bool
	}{
		{"identical", here, here, true},
		{"another organization", here, at(func(l *apigeev1alpha1.KeyLocation) { l.Organization = "sandbox" }), false},
		{"another endpoint naming the same organization (a tenant's own server)", here,
			at(func(l *apigeev1alpha1.KeyLocation) { l.Endpoint = "https://tenant.example" }), false},
		{"the same endpoint spelled with its default port, capitals and a slash", here,
			at(func(l *apigeev1alpha1.KeyLocation) {
				l.Endpoint = strings.ToUpper(here.Endpoint[:8]) + here.Endpoint[8:] + ":443/"
			}), true},
		{"the same host on another port is another endpoint", here,
			at(func(l *apigeev1alpha1.KeyLocation) { l.Endpoint = here.Endpoint + ":8443" }), false},
		{"a 0.1 record has no endpoint and matches on the organization", here,
			at(func(l *apigeev1alpha1.KeyLocation) { l.Endpoint = "" }), true},
		{"another app", here, at(func(l *apigeev1alpha1.KeyLocation) { l.App = "other" }), false},
		{"an email in other letter case is the same developer", here,
			at(func(l *apigeev1alpha1.KeyLocation) { l.Developer, l.DeveloperID = "D@Example.COM", "" }), true},
		{"the developer named by ID is the developer with that ID", here,
			at(func(l *apigeev1alpha1.KeyLocation) { l.Developer, l.DeveloperID = "dev-1", "" }), true},
		{"another developer ID is another developer, whatever the email", here,
			at(func(l *apigeev1alpha1.KeyLocation) { l.DeveloperID = "dev-2" }), false},
		{"another email without IDs is another developer",
			at(func(l *apigeev1alpha1.KeyLocation) { l.DeveloperID = "" }),
			at(func(l *apigeev1alpha1.KeyLocation) { l.Developer, l.DeveloperID = "e@example.com", "" }), false},
	}
	for _, c := range cases {
		if got := sameLocation(c.a, c.b); got != c.want {
			t.Errorf("%s: sameLocation = %v, want %v", c.reason, got, c.want)
		}
		if got := sameLocation(c.b, c.a); got != c.want {
			t.Errorf("%s (reversed): sameLocation = %v, want %v", c.reason, got, c.want)
		}
	}
}

func TestRecordedLocation(t *testing.T) {
	target := here
	target.DeveloperID = ""
	withStatus := func(st apigeev1alpha1.DeveloperAppKeyStatus) *apigeev1alpha1.DeveloperAppKey {
		return &apigeev1alpha1.DeveloperAppKey{Status: st}
	}
	recorded := here
	cases := []struct {
		reason  string
		k       *apigeev1alpha1.DeveloperAppKey
		ok      bool
		matches bool
	}{
		{"nothing recorded yet", withStatus(apigeev1alpha1.DeveloperAppKeyStatus{}), false, false},
		{"a recorded location is used as it is",
			withStatus(apigeev1alpha1.DeveloperAppKeyStatus{ConsumerKeyFingerprint: "sha256:1", Location: &recorded}), true, true},
		{"a 0.1 record in the connection's organization means the target",
			withStatus(apigeev1alpha1.DeveloperAppKeyStatus{ConsumerKeyFingerprint: "sha256:1", Organization: "org"}), true, true},
		{"a 0.1 record with only previous keys means the target",
			withStatus(apigeev1alpha1.DeveloperAppKeyStatus{PreviousKeys: []apigeev1alpha1.PreviousKey{{Fingerprint: "sha256:1", RetireAfter: metav1.Now()}}}), true, true},
		{"a 0.1 record in another organization is elsewhere",
			withStatus(apigeev1alpha1.DeveloperAppKeyStatus{ConsumerKeyFingerprint: "sha256:1", Organization: "sandbox"}), true, false},
	}
	for _, c := range cases {
		loc, ok := recordedLocation(c.k, target)
		if ok != c.ok || (ok && sameLocation(loc, target) != c.matches) {
			t.Errorf("%s: recordedLocation = %+v, %v", c.reason, loc, ok)
		}
	}
}

func TestMayBeSameDeveloper(t *testing.T) {
	loc := apigeev1alpha1.KeyLocation{Developer: "dev@a.example.com", DeveloperID: "id-1"}
	for peer, want := range map[string]bool{
		"dev@a.example.com":   true,
		"DEV@A.example.com":   true,
		"id-1":                true,
		"id-2":                false, // the location's ID is known
		"other@a.example.com": false,
	} {
		if got := mayBeSameDeveloper(peer, loc); got != want {
			t.Errorf("mayBeSameDeveloper(%q) = %v, want %v", peer, got, want)
		}
	}
	byID := apigeev1alpha1.KeyLocation{Developer: "id-1", DeveloperID: "id-1"}
	if mayBeSameDeveloper("id-2", byID) || !mayBeSameDeveloper("dev@a.example.com", byID) {
		t.Error("IDs compare exactly; an email against an ID may be the same")
	}
	if !mayBeSameDeveloper("id-9", apigeev1alpha1.KeyLocation{Developer: "dev@a.example.com"}) {
		t.Error("an ID against an email whose ID is not known yet may be the same")
	}
}

// TestPeerHoldIsBounded (issue 20, 4): an object that never records its
// key holds back the app's generated-key delete for peerHold from its
// creation, and not at all once it records a key, is being deleted, or is
// on another developer.
func TestPeerHoldIsBounded(t *testing.T) {
	created := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	loc := apigeev1alpha1.KeyLocation{Developer: "dev@a.example.com", DeveloperID: "id-1", App: "orders-app"}
	self := &apigeev1alpha1.DeveloperAppKey{}
	self.UID, self.CreationTimestamp, self.Spec.Developer = "self", metav1.NewTime(created), "dev@a.example.com"
	peer := func(change func(*apigeev1alpha1.DeveloperAppKey)) *apigeev1alpha1.DeveloperAppKey {
		p := &apigeev1alpha1.DeveloperAppKey{}
		p.UID, p.CreationTimestamp, p.Spec.Developer, p.Spec.App = "peer", metav1.NewTime(created), "dev@a.example.com", "orders-app"
		if change != nil {
			change(p)
		}
		return p
	}
	deleting := metav1.NewTime(created)
	for _, c := range []struct {
		reason string
		p      *apigeev1alpha1.DeveloperAppKey
		now    time.Time
		holds  bool
	}{
		{"a new peer holds", peer(nil), created.Add(time.Minute), true},
		{"the hold ends peerHold after the peer's creation", peer(nil), created.Add(peerHold), false},
		{"a peer that recorded its key holds nothing", peer(func(p *apigeev1alpha1.DeveloperAppKey) { p.Status.ConsumerKeyFingerprint = "sha256:1" }), created, false},
		{"a peer being deleted holds nothing", peer(func(p *apigeev1alpha1.DeveloperAppKey) { p.DeletionTimestamp = &deleting }), created, false},
		{"a peer on another developer holds nothing", peer(func(p *apigeev1alpha1.DeveloperAppKey) { p.Spec.Developer = "nobody@b.example.com" }), created, false},
		{"the object itself is no peer", self, created, false},
	} {
		end, holds := peerHoldsUntil(c.p, self, loc, c.now)
		if holds != c.holds || (holds && !end.Equal(created.Add(peerHold))) {
			t.Errorf("%s: holds %v until %s", c.reason, holds, end)
		}
	}
}
