package controller

import (
	"context"
	"fmt"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// peerView is what other DeveloperAppKeys on the same app tell us.
type peerView struct {
	// managed holds every fingerprint a key on this app manages.
	managed map[string]bool
	// unclaimed: a peer has not recorded its key yet.
	unclaimed bool
}

// claimedByOlder returns the older DeveloperAppKey that already manages the
// consumer key in the same organization, if any. The later object gets
// KeyConflict; see claimsFirst for what "later" means.
func (r *DeveloperAppKeyReconciler) claimedByOlder(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, org, fp string) (*apigeev1alpha1.DeveloperAppKey, error) {
	list := &apigeev1alpha1.DeveloperAppKeyList{}
	if err := r.client.List(ctx, list, client.MatchingFields{indexFingerprint: fp}); err != nil {
		return nil, err
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID != k.UID && other.Status.Organization == org && claimsFirst(other, k, fp) {
			return other, nil
		}
	}
	return nil, nil
}

// claimsFirst reports whether a's claim on the key fp comes before b's.
// The earlier creation wins. Creation times have one-second resolution,
// and objects applied together often share one: on a tie the object that
// already manages the key keeps it (else a newcomer whose name sorts
// first would take a working key over, and deleting the newcomer would
// delete the key), then namespace/name decides.
func claimsFirst(a, b *apigeev1alpha1.DeveloperAppKey, fp string) bool {
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	if ma, mb := manages(a, fp), manages(b, fp); ma != mb {
		return ma
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// manages reports whether k's status records the key fp as its own.
func manages(k *apigeev1alpha1.DeveloperAppKey, fp string) bool {
	return slices.Contains(managedFingerprints(k), fp)
}

func conflictError(other *apigeev1alpha1.DeveloperAppKey) error {
	return terminal(apigeev1alpha1.ReasonKeyConflict,
		fmt.Sprintf("DeveloperAppKey %s/%s already manages this consumer key; nothing was changed", other.Namespace, other.Name))
}

// peers lists the keys on the same app to learn which keys are managed.
func (r *DeveloperAppKeyReconciler) peers(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, org string) (peerView, error) {
	list := &apigeev1alpha1.DeveloperAppKeyList{}
	if err := r.client.List(ctx, list, client.MatchingFields{indexApp: appIndexValue(k.Spec.Developer, k.Spec.App)}); err != nil {
		return peerView{}, err
	}
	view := peerView{managed: map[string]bool{}}
	for i := range list.Items {
		p := &list.Items[i]
		if p.Status.Organization != "" && p.Status.Organization != org {
			continue
		}
		for _, fp := range managedFingerprints(p) {
			view.managed[fp] = true
		}
		if p.UID != k.UID && p.Status.ConsumerKeyFingerprint == "" && p.DeletionTimestamp.IsZero() {
			view.unclaimed = true
		}
	}
	return view, nil
}
