package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// ensureFinalizer adds the finalizer before the first Apigee write, so the
// key cannot be forgotten when the object is deleted.
func (r *DeveloperAppKeyReconciler) ensureFinalizer(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey) error {
	if controllerutil.ContainsFinalizer(k, apigeev1alpha1.Finalizer) {
		return nil
	}
	patch := client.MergeFrom(k.DeepCopy())
	controllerutil.AddFinalizer(k, apigeev1alpha1.Finalizer)
	status := k.Status.DeepCopy()
	err := r.client.Patch(ctx, k, patch)
	k.Status = *status // the patch response carries the stored status
	return err
}

func (r *DeveloperAppKeyReconciler) releaseFinalizer(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey) error {
	if !controllerutil.ContainsFinalizer(k, apigeev1alpha1.Finalizer) {
		return nil
	}
	patch := client.MergeFrom(k.DeepCopy())
	controllerutil.RemoveFinalizer(k, apigeev1alpha1.Finalizer)
	return client.IgnoreNotFound(r.client.Patch(ctx, k, patch))
}

// finalize carries out the deletion policy: Delete removes the keys this
// object manages (a key already gone is success), Orphan leaves them. The
// credentials Secret is not needed: keys are found by fingerprint on the app.
func (r *DeveloperAppKeyReconciler) finalize(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey) error {
	if !controllerutil.ContainsFinalizer(k, apigeev1alpha1.Finalizer) {
		return nil
	}
	if k.Spec.DeletionPolicy == apigeev1alpha1.DeletionPolicyOrphan ||
		k.Spec.ManagementPolicy == apigeev1alpha1.ManagementPolicyObserveOnly || len(managedFingerprints(k)) == 0 {
		return r.releaseFinalizer(ctx, k)
	}
	if err := r.deleteManagedKeys(ctx, k); err != nil {
		return err
	}
	return r.releaseFinalizer(ctx, k)
}

func (r *DeveloperAppKeyReconciler) deleteManagedKeys(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey) error {
	conn, err := r.connections.Get(ctx, k.Spec.ConnectionRef, k.Namespace)
	if err != nil {
		return deletionBlocked(err)
	}
	c, err := r.connections.ClientFor(ctx, conn)
	if err != nil {
		return deletionBlocked(err)
	}
	org := conn.spec.Organization
	app, err := c.GetApp(ctx, k.Spec.Developer, k.Spec.App)
	if apigee.IsNotFound(err, apigee.ResourceApp) || apigee.IsNotFound(err, apigee.ResourceDeveloper) {
		return nil // the app and its keys are gone already
	}
	if err != nil {
		return deletionBlocked(err)
	}
	defer r.snapshots.drop(org, k.Spec.Developer, k.Spec.App)
	for _, fp := range managedFingerprints(k) {
		if err := r.deleteByFingerprint(ctx, c, k, app, org, fp); err != nil {
			return deletionBlocked(err)
		}
	}
	return nil
}

// deleteByFingerprint deletes one managed key unless an older object
// manages it too (then it is theirs to keep).
func (r *DeveloperAppKeyReconciler) deleteByFingerprint(ctx context.Context, c apigee.Client, k *apigeev1alpha1.DeveloperAppKey, app *apigee.App, org, fp string) error {
	cred := credentialByFingerprint(app, fp)
	if cred == nil {
		return nil
	}
	if other, err := r.claimedByOlder(ctx, k, org, fp); err != nil || other != nil {
		return err
	}
	ref := apigee.KeyRef{Developer: k.Spec.Developer, App: k.Spec.App, ConsumerKey: cred.ConsumerKey}
	if err := c.DeleteKey(ctx, ref); err != nil && !apigee.IsNotFound(err, apigee.ResourceKey) {
		return err
	}
	r.event(k, corev1.EventTypeNormal, "KeyDeleted", "DeleteKey", "Deleted key "+fp+" from Apigee (deletionPolicy: Delete)")
	return nil
}

// deletionBlocked explains how to release an object whose key cannot be
// deleted, so it never hangs without a way out.
func deletionBlocked(err error) error {
	f := classify(err)
	return &conditionError{reason: apigeev1alpha1.ReasonDeleting, retry: f.retry, message: fmt.Sprintf(
		"cannot delete the Apigee key (%s: %s); fix that, or set spec.deletionPolicy: Orphan to keep the key in Apigee and release the object",
		f.reason, f.message)}
}
