package controller

import (
	"context"
	"fmt"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// peerView is what other DeveloperAppKeys tell us about an app's keys.
type peerView struct {
	// managed holds the fingerprints of the app's keys that another
	// object records, or is about to import, in the same organization.
	managed map[string]bool
	// unclaimed: another object on an app of this name in the same
	// organization has not recorded a key yet, so a key it is about to
	// adopt could look unmanaged.
	unclaimed bool
}

// recordedKeys are the keys k's status records, each with its location.
// Records of release 0.1 name only the organization.
func recordedKeys(k *apigeev1alpha1.DeveloperAppKey) []ownedKey {
	cur := apigeev1alpha1.KeyLocation{Organization: k.Status.Organization}
	if k.Status.Location != nil {
		cur = *k.Status.Location
	}
	return ownedKeys(k, cur)
}

// recordsAt reports whether k's status records the key fp in loc's
// organization.
func recordsAt(k *apigeev1alpha1.DeveloperAppKey, fp string, loc apigeev1alpha1.KeyLocation) bool {
	return slices.ContainsFunc(recordedKeys(k), func(o ownedKey) bool {
		return o.fingerprint == fp && sameOrganization(o.location, loc)
	})
}

// importingAt reports whether k is about to import the key fp there.
func importingAt(k *apigeev1alpha1.DeveloperAppKey, fp string, loc apigeev1alpha1.KeyLocation) bool {
	in := pendingImport(k)
	return in != nil && in.Fingerprint == fp && sameOrganization(in.Location, loc)
}

// claimedByOlder returns the older DeveloperAppKey that already records the
// consumer key in the same organization, if any. The later object gets
// KeyConflict; see claimsFirst for what "later" means.
func (r *DeveloperAppKeyReconciler) claimedByOlder(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, loc apigeev1alpha1.KeyLocation, fp string) (*apigeev1alpha1.DeveloperAppKey, error) {
	list, err := r.holders(ctx, fp)
	if err != nil {
		return nil, err
	}
	for i := range list {
		other := &list[i]
		if other.UID != k.UID && recordsAt(other, fp, loc) && claimsFirst(other, k, loc, fp) {
			return other, nil
		}
	}
	return nil, nil
}

// holders lists the objects whose status or import intent names fp.
func (r *DeveloperAppKeyReconciler) holders(ctx context.Context, fp string) ([]apigeev1alpha1.DeveloperAppKey, error) {
	list := &apigeev1alpha1.DeveloperAppKeyList{}
	err := r.client.List(ctx, list, client.MatchingFields{indexFingerprint: fp})
	return list.Items, err
}

// claimsFirst reports whether a's claim on the key fp comes before b's.
// The earlier creation wins. Creation times have one-second resolution,
// and objects applied together often share one: on a tie the object that
// already records the key keeps it (else a newcomer whose name sorts
// first would take a working key over, and deleting the newcomer would
// delete the key), then namespace/name decides.
func claimsFirst(a, b *apigeev1alpha1.DeveloperAppKey, loc apigeev1alpha1.KeyLocation, fp string) bool {
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	if ma, mb := recordsAt(a, fp, loc), recordsAt(b, fp, loc); ma != mb {
		return ma
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// conflictError reports a key another object holds. Only an object in the
// same namespace is named: a tenant learns nothing about other namespaces,
// and the message is the one for any key in use elsewhere.
func conflictError(k, other *apigeev1alpha1.DeveloperAppKey, org string) error {
	if other.Namespace == k.Namespace {
		return terminal(apigeev1alpha1.ReasonKeyConflict,
			fmt.Sprintf("DeveloperAppKey %s in this namespace already manages this consumer key; nothing was changed", other.Name))
	}
	return keyInUse(org)
}

// keyInUse is the one message for a consumer key that exists elsewhere,
// whatever the reason (another app, another secret, another object), so it
// tells nobody which of them holds.
func keyInUse(org string) error {
	return terminal(apigeev1alpha1.ReasonKeyConflict, "the consumer key is already in use in organization "+org+
		" (on another app, with another secret, or by another DeveloperAppKey) and is not this object's to manage; "+
		"nothing was changed. Use another consumer key")
}

// peers learns which of the app's keys other objects hold in the same
// organization, and whether an object on an app of this name has yet to
// record its key.
func (r *DeveloperAppKeyReconciler) peers(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, loc apigeev1alpha1.KeyLocation, app *apigee.App) (peerView, error) {
	view := peerView{managed: map[string]bool{}}
	for i := range app.Credentials {
		fp := apigee.Fingerprint(app.Credentials[i].ConsumerKey)
		list, err := r.holders(ctx, fp)
		if err != nil {
			return peerView{}, err
		}
		for j := range list {
			p := &list[j]
			if p.UID != k.UID && (recordsAt(p, fp, loc) || importingAt(p, fp, loc)) {
				view.managed[fp] = true
			}
		}
	}
	unclaimed, err := r.unclaimedPeer(ctx, k, loc)
	view.unclaimed = unclaimed
	return view, err
}

// unclaimedPeer reports whether another live object names an app of this
// name in the same organization and has recorded no key yet. Developers
// are compared by organization only: a peer may name the developer by ID
// or in other letter case, and waiting is the cautious choice.
func (r *DeveloperAppKeyReconciler) unclaimedPeer(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, loc apigeev1alpha1.KeyLocation) (bool, error) {
	list := &apigeev1alpha1.DeveloperAppKeyList{}
	if err := r.client.List(ctx, list, client.MatchingFields{indexApp: k.Spec.App}); err != nil {
		return false, err
	}
	for i := range list.Items {
		p := &list.Items[i]
		if p.UID == k.UID || !p.DeletionTimestamp.IsZero() || len(recordedKeys(p)) > 0 {
			continue
		}
		conn, err := r.connections.Get(ctx, p.Spec.ConnectionRef, p.Namespace)
		if err == nil && sameOrganization(locationFor(conn, &p.Spec), loc) {
			return true, nil
		}
	}
	return false, nil
}
