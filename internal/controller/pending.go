package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// settlePendingImport resolves this object's signed import intent that its
// status does not record, before the run touches anything else: an earlier
// run may have created that key and lost the status write recording it
// (a conflict, a crash), and the spec may have changed since (another
// app, developer, connection or consumer key). The intent binds the object
// to its location until a fresh read there finds the key (recorded as the
// object's own, at that location) or finds it absent (the intent is
// dropped). An intent for the Secret's key where the spec points is left to
// the run: it reads before it imports, and a key found there is its own.
func (run *keyRun) settlePendingImport(ctx context.Context, conn *connection) error {
	in := run.r.intents.read(run.k)
	if in == nil || recordsAt(run.k, in.Fingerprint, in.Location) {
		return nil
	}
	run.pending = in
	if in.Fingerprint == run.fp && sameLocation(in.Location, run.loc) {
		return nil
	}
	if !sameOrganization(in.Location, run.loc) {
		return pendingElsewhere(in.Location, "connection "+conn.object.GetName()+" now reaches "+describeLocation(run.loc))
	}
	if err := checkDeleteGranted(conn, run.k, in.Location); err != nil {
		return err
	}
	found, err := run.pendingKeyThere(ctx, in)
	if err != nil || !found {
		return err
	}
	run.claimAt(in.Fingerprint, in.Location, apigeev1alpha1.KeyOriginCreated)
	run.pending = nil
	run.r.event(run.k, corev1.EventTypeNormal, "ImportRecovered", "RecoverImport", fmt.Sprintf(
		"Recorded key %s, which an earlier import created in %s before its status write was lost", in.Fingerprint, describeLocation(in.Location)))
	if !sameLocation(in.Location, run.loc) {
		return locationChanged(in.Location, "the spec now names "+describeLocation(run.loc))
	}
	return nil
}

// pendingKeyThere reads the intent's app afresh: is the key there, issued
// after the intent was written (so that import created it), and no other
// object's? Otherwise the intent is dropped: absent, older (it was there
// before: the import got a 409) or another's, the key is not this one's.
func (run *keyRun) pendingKeyThere(ctx context.Context, in *importIntent) (bool, error) {
	app, err := run.r.freshApp(ctx, run.client, in.Location)
	if err != nil {
		return false, err
	}
	if app != nil && in.created(credentialByFingerprint(app, in.Fingerprint)) {
		other, err := run.r.heldByAnother(ctx, run.k, in.Location, in.Fingerprint)
		if err != nil || other == nil {
			return err == nil, err
		}
	}
	run.pending = nil
	return false, run.r.forgetImportIntent(ctx, run.k)
}

// pendingElsewhere stops an object whose unresolved import lives in an
// organization its connection no longer reaches.
func pendingElsewhere(at apigeev1alpha1.KeyLocation, now string) error {
	return terminal(apigeev1alpha1.ReasonLocationChanged, fmt.Sprintf(
		"an import into %s is not resolved (its status write was lost), but %s; nothing was changed in either place. "+
			"Point spec.connectionRef back there so the operator can record or rule out that key, or delete this object "+
			"(deletionPolicy Orphan releases it)", describeLocation(at), now))
}
