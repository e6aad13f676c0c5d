package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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
	return r.patchMetadata(ctx, k, func() { controllerutil.AddFinalizer(k, apigeev1alpha1.Finalizer) })
}

// errBeingDeleted stops an import that would start after the object's
// deletion began; the next reconcile carries out the deletion policy.
var errBeingDeleted = errors.New("the object is being deleted; no new key is imported")

// recordImportIntent writes, with the finalizer, which key is about to be
// imported and where, before the import call (as crossplane records a
// pending create). If the status write that records the new key is lost,
// deletion still finds the key through this record. An object whose
// deletion has begun imports nothing.
func (r *DeveloperAppKeyReconciler) recordImportIntent(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, in importIntent) error {
	err := r.patchMetadata(ctx, k, func() {
		controllerutil.AddFinalizer(k, apigeev1alpha1.Finalizer)
		if k.Annotations == nil {
			k.Annotations = map[string]string{}
		}
		k.Annotations[apigeev1alpha1.ImportPendingAnnotation] = r.intents.encode(k.UID, in)
	})
	if err == nil && !k.DeletionTimestamp.IsZero() {
		return errBeingDeleted
	}
	return err
}

// forgetImportIntent drops the import-pending record once an import is
// known to have created nothing (Apigee answered 409: the key was there).
func (r *DeveloperAppKeyReconciler) forgetImportIntent(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey) error {
	if _, ok := k.Annotations[apigeev1alpha1.ImportPendingAnnotation]; !ok {
		return nil
	}
	return r.patchMetadata(ctx, k, func() { delete(k.Annotations, apigeev1alpha1.ImportPendingAnnotation) })
}

// patchMetadata applies change to k's metadata with a merge patch, keeping
// the status this reconcile has built (the patch response carries the
// stored one). The patch is optimistic-locked: a run that started from a
// stale copy of the object gets a conflict before it writes to Apigee,
// rather than a fresh resourceVersion that would let its stale status
// overwrite what the previous run recorded.
func (r *DeveloperAppKeyReconciler) patchMetadata(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, change func()) error {
	patch := client.MergeFromWithOptions(k.DeepCopy(), client.MergeFromWithOptimisticLock{})
	change()
	status := k.Status.DeepCopy()
	err := r.client.Patch(ctx, k, patch)
	k.Status = *status
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
// object records (a key already gone is success) and a key whose import
// was in flight; Orphan leaves them, and releases a generated Secret, the
// only copy of the orphaned key's values, from garbage collection.
func (r *DeveloperAppKeyReconciler) finalize(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey) error {
	if !controllerutil.ContainsFinalizer(k, apigeev1alpha1.Finalizer) {
		return nil
	}
	if k.Spec.ManagementPolicy != apigeev1alpha1.ManagementPolicyObserveOnly && hasKeysToDelete(k, r.intents.read(k)) {
		if err := r.deleteManagedKeys(ctx, k); err != nil {
			return err
		}
	}
	if keepsCurrentKey(k) {
		if err := r.releaseSecret(ctx, k); err != nil {
			return err
		}
	}
	return r.releaseFinalizer(ctx, k)
}

// deletable: the deletion policy deletes a key of this origin.
func deletable(k *apigeev1alpha1.DeveloperAppKey, origin apigeev1alpha1.KeyOrigin) bool {
	return k.Spec.EffectiveDeletionPolicy(origin) == apigeev1alpha1.DeletionPolicyDelete
}

// hasKeysToDelete: a recorded key, or an import in flight (the operator's
// own creation, by its signed intent), that the deletion policy deletes.
func hasKeysToDelete(k *apigeev1alpha1.DeveloperAppKey, pending *importIntent) bool {
	if pending != nil && deletable(k, apigeev1alpha1.KeyOriginCreated) {
		return true
	}
	return slices.ContainsFunc(recordedKeys(k), func(o ownedKey) bool { return deletable(k, o.origin) })
}

// keepsCurrentKey: the object's current key stays in Apigee (ObserveOnly,
// or a policy that orphans it), so a Secret it generated, the only copy
// of the key's values, must outlive the object.
func keepsCurrentKey(k *apigeev1alpha1.DeveloperAppKey) bool {
	return k.Spec.ManagementPolicy == apigeev1alpha1.ManagementPolicyObserveOnly ||
		k.Spec.DeletionPolicy == apigeev1alpha1.DeletionPolicyOrphan ||
		(k.Status.ConsumerKeyFingerprint != "" && !deletable(k, k.Status.KeyOrigin))
}

// deleteManagedKeys deletes every key the object records, at the location
// recorded for it, and an import that was in flight, after a fresh read of
// the app. Keys recorded in an organization the connection no longer
// reaches, or outside its grant, block the deletion with a message.
func (r *DeveloperAppKeyReconciler) deleteManagedKeys(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey) error {
	conn, err := r.connections.Get(ctx, k.Spec.ConnectionRef, k.Namespace)
	if err != nil {
		return deletionBlocked(err)
	}
	target := locationFor(conn, &k.Spec)
	rec, recorded := recordedLocation(k, target)
	if recorded {
		if err := checkDeletable(conn, k, rec, target); err != nil {
			return deletionBlocked(err)
		}
	}
	c, err := r.connections.ClientFor(ctx, conn)
	if err != nil {
		return deletionBlocked(err)
	}
	if _, err := r.enterOrganization(k, conn); err != nil {
		return err
	}
	if recorded {
		if err := r.deleteRecordedKeys(ctx, c, k, rec); err != nil {
			return deletionBlocked(err)
		}
	}
	if err := r.deletePendingImport(ctx, c, k, conn, target); err != nil {
		return deletionBlocked(err)
	}
	return nil
}

// checkDeletable: the operator deletes keys at loc only in the
// organization the connection reaches (target's) and inside its grant.
// The spec may name another app there since (an edit after a lost status
// write): the keys are deleted where they live.
func checkDeletable(conn *connection, k *apigeev1alpha1.DeveloperAppKey, loc, target apigeev1alpha1.KeyLocation) error {
	if !sameOrganization(loc, target) {
		return locationChanged(loc, "connection "+conn.object.GetName()+" now reaches "+describeLocation(target))
	}
	return checkDeleteGranted(conn, k, loc)
}

// deleteRecordedKeys deletes the keys status records at rec, found by
// fingerprint on a fresh read of the app.
func (r *DeveloperAppKeyReconciler) deleteRecordedKeys(ctx context.Context, c apigee.Client, k *apigeev1alpha1.DeveloperAppKey, rec apigeev1alpha1.KeyLocation) error {
	app, err := r.freshApp(ctx, c, rec)
	if app == nil || err != nil {
		return err
	}
	if err := sameDeveloperID(rec, app); err != nil {
		return err
	}
	for _, o := range ownedKeys(k, rec) {
		if !deletable(k, o.origin) {
			continue // left in Apigee, as the policy says for its origin
		}
		if !sameLocation(o.location, rec) {
			return locationChanged(o.location, "the connection reaches "+describeLocation(rec))
		}
		if err := r.deleteByFingerprint(ctx, c, k, app, rec, o.fingerprint); err != nil {
			return err
		}
	}
	return nil
}

// freshApp reads the app for a delete decision; nil without error when the
// app or developer is gone (and the keys with it).
func (r *DeveloperAppKeyReconciler) freshApp(ctx context.Context, c apigee.Client, loc apigeev1alpha1.KeyLocation) (*apigee.App, error) {
	r.snapshots.drop(loc)
	app, err := c.GetApp(ctx, loc.Developer, loc.App)
	if apigee.IsNotFound(err, apigee.ResourceApp) || apigee.IsNotFound(err, apigee.ResourceDeveloper) {
		return nil, nil
	}
	return app, err
}

// deleteByFingerprint deletes one managed key unless another object's
// claim on it comes first (then it is theirs to keep).
func (r *DeveloperAppKeyReconciler) deleteByFingerprint(ctx context.Context, c apigee.Client, k *apigeev1alpha1.DeveloperAppKey, app *apigee.App, loc apigeev1alpha1.KeyLocation, fp string) error {
	cred := credentialByFingerprint(app, fp)
	if cred == nil {
		return nil
	}
	if other, err := r.heldByAnother(ctx, k, loc, fp); err != nil || other != nil {
		return err
	}
	defer r.snapshots.drop(loc)
	ref := apigee.KeyRef{Developer: loc.Developer, App: loc.App, ConsumerKey: cred.ConsumerKey}
	if err := c.DeleteKey(ctx, ref); err != nil && !apigee.IsNotFound(err, apigee.ResourceKey) {
		return err
	}
	r.event(k, corev1.EventTypeNormal, "KeyDeleted", "DeleteKey", "Deleted key "+fp+" from Apigee (deletionPolicy: Delete)")
	return nil
}

// deletePendingImport deletes a key whose import was in flight when the
// object was deleted and whose record was lost. Only an intent the
// operator signed for this object counts (a forged one names nothing and
// reveals nothing), and the key is this object's only when the key found
// there has the Secret's key and secret; otherwise it stops with
// ImportUnconfirmed rather than guess.
func (r *DeveloperAppKeyReconciler) deletePendingImport(ctx context.Context, c apigee.Client, k *apigeev1alpha1.DeveloperAppKey, conn *connection, target apigeev1alpha1.KeyLocation) error {
	in := r.intents.read(k)
	if in == nil || recordsAt(k, in.Fingerprint, in.Location) || !deletable(k, apigeev1alpha1.KeyOriginCreated) {
		return nil
	}
	if err := checkDeletable(conn, k, in.Location, target); err != nil {
		return err
	}
	app, err := r.freshApp(ctx, c, in.Location)
	if app == nil || err != nil {
		return err
	}
	cred := credentialByFingerprint(app, in.Fingerprint)
	if !in.created(cred) {
		return nil // the import never took effect, or found the key there before it (a 409)
	}
	if !r.secretHolds(ctx, k, cred) {
		return terminal(apigeev1alpha1.ReasonImportUnconfirmed, fmt.Sprintf(
			"the object was deleted while key %s was being imported into %s, and the credentials Secret is gone or names "+
				"another key or secret, so the operator cannot confirm the key there is the one it imported. "+
				"Delete that key in Apigee if it is yours, then set spec.deletionPolicy: Orphan to release the object",
			in.Fingerprint, describeLocation(in.Location)))
	}
	return r.deleteByFingerprint(ctx, c, k, app, in.Location, in.Fingerprint)
}

// secretHolds reports whether the credentials Secret still holds exactly
// this key and secret, in its fields or staged by a renewal.
func (r *DeveloperAppKeyReconciler) secretHolds(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, cred *apigee.Credential) bool {
	s := &corev1.Secret{}
	name := types.NamespacedName{Namespace: k.Namespace, Name: k.Spec.Credentials.SecretRef.Name}
	if err := r.apiReader.Get(withoutBodyLogs(ctx), name, s); err != nil {
		return false
	}
	holds := func(c keyCredentials) bool { return c.key == cred.ConsumerKey && c.secret == cred.ConsumerSecret }
	creds, err := credentialsFrom(s, &k.Spec.Credentials)
	if err == nil && holds(creds) {
		return true
	}
	staged, ok, err := stagedCredentials(s, &k.Spec.Credentials)
	return ok && err == nil && metav1.IsControlledBy(s, k) && holds(staged)
}

// releaseSecret removes this object's owner reference from its Secret
// (one it generated, even if generate was turned off since), so garbage
// collection cannot delete the values of a key that stays in Apigee.
func (r *DeveloperAppKeyReconciler) releaseSecret(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey) error {
	s := secretMetadata()
	name := types.NamespacedName{Namespace: k.Namespace, Name: k.Spec.Credentials.SecretRef.Name}
	if err := r.client.Get(ctx, name, s); err != nil {
		return client.IgnoreNotFound(err)
	}
	refs := s.GetOwnerReferences()
	kept := refs[:0:0]
	for _, ref := range refs {
		if ref.UID != k.UID {
			kept = append(kept, ref)
		}
	}
	if len(kept) == len(refs) {
		return nil
	}
	patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
	s.SetOwnerReferences(kept)
	if err := r.client.Patch(ctx, s, patch); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.event(k, corev1.EventTypeNormal, "SecretReleased", "ReleaseSecret",
		fmt.Sprintf("Released Secret %q from garbage collection: it holds the values of the key left in Apigee", name.Name))
	return nil
}

// deletionBlocked explains how to release an object whose key cannot be
// deleted, so it never hangs without a way out.
func deletionBlocked(err error) error {
	f := classify(err)
	if f.wait {
		return f // its turn with the organization will come
	}
	return &conditionError{reason: apigeev1alpha1.ReasonDeleting, retry: f.retry, message: fmt.Sprintf(
		"cannot delete the Apigee key (%s: %s); fix that, or set spec.deletionPolicy: Orphan to keep the key in Apigee and release the object",
		f.reason, f.message)}
}
