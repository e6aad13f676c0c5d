package controller

import (
	"context"
	"fmt"

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
// KeyConflict; creation time decides, then namespace/name.
func (r *DeveloperAppKeyReconciler) claimedByOlder(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, org, fp string) (*apigeev1alpha1.DeveloperAppKey, error) {
	list := &apigeev1alpha1.DeveloperAppKeyList{}
	if err := r.client.List(ctx, list, client.MatchingFields{indexFingerprint: fp}); err != nil {
		return nil, err
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID != k.UID && other.Status.Organization == org && older(other, k) {
			return other, nil
		}
	}
	return nil, nil
}

func older(a, b *apigeev1alpha1.DeveloperAppKey) bool {
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

func conflictError(other *apigeev1alpha1.DeveloperAppKey) error {
	return terminal(apigeev1alpha1.ReasonKeyConflict,
		fmt.Sprintf("DeveloperAppKey %s/%s already manages this consumer key; nothing was changed", other.Namespace, other.Name))
}

// peers lists the keys on the same app to learn which keys are managed.
func (r *DeveloperAppKeyReconciler) peers(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, org string) (peerView, error) {
	list := &apigeev1alpha1.DeveloperAppKeyList{}
	if err := r.client.List(ctx, list, client.MatchingFields{indexApp: appIndexValue("", k.Spec.Developer, k.Spec.App)}); err != nil {
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
