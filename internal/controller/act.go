package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// errLaggingRead stops a run whose fresh read still shows the secret it
// replaced: Apigee's reads may lag a write, and a second re-create would
// delete the key just made. The queue's backoff brings it back.
var errLaggingRead = errors.New("a read after re-creating the key still shows the old secret (Apigee reads may lag a write); checking again shortly")

// maxSteps bounds one reconcile's plan-and-act loop; a healthy key needs
// far fewer, so hitting it means Apigee keeps undoing our writes.
const maxSteps = 64

// keyRun is one reconcile of one DeveloperAppKey against Apigee: what it
// knows, what it changed.
type keyRun struct {
	r      *DeveloperAppKeyReconciler
	k      *apigeev1alpha1.DeveloperAppKey
	client apigee.Client
	connID string // the connection's UID: snapshots are shared per connection
	// loc is where the spec's key lives; DeveloperID is filled from the
	// record or the first app read.
	loc   apigeev1alpha1.KeyLocation
	creds keyCredentials
	fp    string
	// heldElsewhere: an object in another namespace holds the Secret's key
	// and this one does not. The run takes the path an unmanaged key in
	// use elsewhere takes (the same calls, annotations and answer), so
	// neither timing nor metadata tells the two apart.
	heldElsewhere bool

	current *apigee.Credential
	app     *apigee.App
	// fresh: app (and current) come from a read made for this decision,
	// not from a snapshot or a write's response. Deletes need it.
	fresh bool
	// snapshotsSince: app snapshots taken since then serve this run's
	// reads (a resync's slot start; zero: only recent ones).
	snapshotsSince time.Time
	previous       []apigeev1alpha1.PreviousKey
	deleted        []apigeev1alpha1.DeletedKey
	// recreated: this run already re-created the key; a later read still
	// showing another secret lags that write and decides nothing.
	recreated bool
	// intentRecorded: this run wrote the import intent already (a
	// re-create writes it before its delete, then imports).
	intentRecorded bool
	// created: the last import made the key; a 409 instead found it
	// (adopted, or someone else's).
	created  bool
	drift    []string // ObserveOnly: what differs
	creation *creationEvent
	peers    peerView
	renewAt  *time.Time // when the generated key is due for renewal
	// mayApprove: the key's grant lets it approve (checkGrant).
	mayApprove bool
	// withheld names the approvals the grant left pending.
	withheld []string
	// heldGenerated: a generated key to delete waits for a peer.
	heldGenerated bool
	// pending is this object's signed import intent that its status does
	// not record, as the run found it: an earlier run may have created
	// that key and lost the status write that recorded it.
	pending *importIntent
	now     time.Time
}

func (run *keyRun) ref() apigee.KeyRef {
	return apigee.KeyRef{Developer: run.loc.Developer, App: run.loc.App, ConsumerKey: run.creds.key}
}

// observe reads what Apigee has. A key with no record of an import skips
// the read: it imports optimistically and a 409 means "read and converge".
// An object marked for adoption reads first, as its key should exist.
func (run *keyRun) observe(ctx context.Context) error {
	if firstImport(run.k) && run.pending == nil {
		return nil
	}
	if err := run.readApp(ctx, false); err != nil {
		return err
	}
	return run.settleObserved()
}

// firstImport: the key has no record of an import and is not marked for
// adoption; its run imports without reading first.
func firstImport(k *apigeev1alpha1.DeveloperAppKey) bool {
	return k.Status.ConsumerKeyFingerprint == "" && len(k.Status.PreviousKeys) == 0 &&
		k.Annotations[apigeev1alpha1.AdoptAnnotation] != "true"
}

// readApp reads the app (fresh: bypassing and replacing the snapshot) and
// learns the developer's ID and which of its keys other objects hold.
func (run *keyRun) readApp(ctx context.Context, fresh bool) error {
	if fresh {
		run.r.snapshots.drop(run.loc)
	}
	app, err := run.r.snapshots.get(ctx, run.client, run.connID, run.loc, run.snapshotsSince)
	if err != nil {
		return err
	}
	if err := run.learnDeveloper(app); err != nil {
		return err
	}
	if run.peers, err = run.r.peers(ctx, run.k, run.loc, app, len(run.previous)); err != nil {
		return err
	}
	run.app, run.fresh, run.current = app, fresh, nil
	if c, ok := app.Credential(run.creds.key); ok {
		cc := c.Clone()
		run.current = &cc
	}
	return nil
}

// learnDeveloper records the developer's ID as Apigee resolves it.
func (run *keyRun) learnDeveloper(app *apigee.App) error {
	if err := sameDeveloperID(run.loc, app); err != nil {
		return err
	}
	if app.DeveloperID != "" {
		run.loc.DeveloperID = app.DeveloperID
	}
	return nil
}

// converge plans and acts until the plan is empty. ObserveOnly records the
// plan as drift instead of acting.
func (run *keyRun) converge(ctx context.Context) error {
	defer run.flushCreation()
	for range maxSteps {
		steps := plan(run.planInput())
		if len(steps) == 0 {
			in := run.planInput()
			run.withheld, run.heldGenerated = withheldApprovals(in), heldAutoGenerated(in)
			return nil
		}
		if run.k.Spec.ManagementPolicy == apigeev1alpha1.ManagementPolicyObserveOnly {
			return run.recordDrift(ctx)
		}
		if err := run.act(ctx, steps[0]); err != nil {
			return err
		}
	}
	return fmt.Errorf("no convergence after %d steps: Apigee keeps changing the key", maxSteps)
}

func (run *keyRun) planInput() planInput {
	return planInput{
		spec: &run.k.Spec, secret: run.creds.secret, current: run.current, recorded: run.owns(), app: run.app, fresh: run.fresh,
		location: run.loc, previousKeys: run.previous, managedByOthers: run.peers.managed,
		unclaimedPeers: run.peers.unclaimed, approvalWithheld: !run.mayApprove, origin: run.k.Status.KeyOrigin,
		serving: servingFingerprint(run.creds), now: run.now,
	}
}

// servingFingerprint is the fingerprint of the key the Secret's fields
// hold while a renewal is staged; "" otherwise.
func servingFingerprint(c keyCredentials) string {
	if c.serving == "" {
		return ""
	}
	return apigee.Fingerprint(c.serving)
}

// recordDrift lists what differs, reading the app afresh first: with a
// fresh read the plan is complete (it never asks for another read). A key
// found there with another secret reads as missing, as a key that is not
// there at all, so an ObserveOnly object cannot tell where a guessed key
// lives.
func (run *keyRun) recordDrift(ctx context.Context) error {
	if !run.fresh {
		if err := run.readApp(ctx, true); err != nil {
			return err
		}
	}
	if err := run.settleObserved(); err != nil {
		return err
	}
	for _, s := range plan(run.planInput()) {
		run.drift = append(run.drift, s.String())
	}
	return nil
}

// act carries out one action and updates what the run knows.
func (run *keyRun) act(ctx context.Context, a action) error {
	if a.kind == actReadApp {
		return run.readApp(ctx, a.fresh)
	}
	if a.kind == actKeepAdopted {
		return adoptedKeyProtected(run.fp)
	}
	if a.kind == actForgetRetiredKey {
		run.forgetPrevious(a.fingerprint)
		return nil
	}
	if a.kind == actImportKey && run.owns() {
		// Our recorded key is missing from a fresh read: a read may lag a
		// write, so look again (bounded) before importing it a second time.
		if err := run.readUntilFound(ctx); err != nil || run.current != nil {
			return err
		}
	}
	err := run.write(ctx, a) // newRun has put the finalizer on already
	run.r.snapshots.drop(run.loc)
	if err != nil {
		return err
	}
	if a.kind == actImportKey && !run.created {
		return nil // the key existed: nothing changed (an adoption sent its own Event)
	}
	run.recordChange(a)
	return nil
}

// creationEvent is the one Event for a key this run created (imported or
// re-created) and the calls that completed it: to a user an import is one
// change, whose products Apigee only takes in a second call. At 10,000
// keys a second Event each would be 10,000 more API server writes and
// objects client-go keeps for minutes to detect series.
type creationEvent struct {
	kind  actionKind
	steps []string
}

// completesKey: the action sets up the key itself (products, statuses,
// attributes, scopes); deletes of other keys get Events of their own.
func completesKey(k actionKind) bool {
	switch k {
	case actAddProducts, actRemoveProduct, actSetProductStatus, actSetKeyStatus, actSetAttributes, actSetScopes:
		return true
	}
	return false
}

// recordChange sends one Normal Event per change to Apigee, except that
// a creation gathers the calls completing it until the run ends or does
// something else.
func (run *keyRun) recordChange(a action) {
	switch {
	case a.kind == actImportKey || a.kind == actRecreateKey:
		run.flushCreation()
		run.creation = &creationEvent{kind: a.kind, steps: []string{a.String()}}
	case run.creation != nil && completesKey(a.kind):
		run.creation.steps = append(run.creation.steps, a.String())
	default:
		run.flushCreation()
		run.r.event(run.k, corev1.EventTypeNormal, string(a.kind), string(a.kind), capitalize(a.String()))
	}
}

// flushCreation sends the gathered creation Event, if any.
func (run *keyRun) flushCreation() {
	if c := run.creation; c != nil {
		run.creation = nil
		run.r.event(run.k, corev1.EventTypeNormal, string(c.kind), string(c.kind), capitalize(strings.Join(c.steps, "; ")))
	}
}

// write makes the Apigee call for a and applies its effect to the model.
func (run *keyRun) write(ctx context.Context, a action) error {
	switch a.kind {
	case actImportKey:
		return run.importKey(ctx)
	case actRecreateKey:
		if run.recreated {
			return errLaggingRead
		}
		run.recreated = true
		return run.recreateKey(ctx)
	case actAddProducts:
		cred, err := run.client.AddProducts(ctx, run.ref(), a.products, toAPIAttributes(run.k.Spec.Attributes))
		return run.took(cred, err)
	case actSetAttributes:
		cred, err := run.client.SetAttributes(ctx, run.ref(), toAPIAttributes(run.k.Spec.Attributes))
		return run.took(cred, err)
	case actSetScopes:
		cred, err := run.client.SetScopes(ctx, run.ref(), run.k.Spec.Scopes)
		return run.took(cred, err)
	case actRemoveProduct:
		return run.removeProduct(ctx, a.product)
	case actSetProductStatus:
		return run.setProductStatus(ctx, a.product, a.approval)
	case actSetKeyStatus:
		if err := run.client.SetKeyStatus(ctx, run.ref(), a.approval); err != nil {
			return err
		}
		run.current.Status = statusAfter(a.approval)
		return nil
	case actDeleteRetiredKey:
		return run.deleteOther(ctx, a, apigeev1alpha1.DeletedKeyRotated)
	case actDeleteAutoGenerated:
		return run.deleteOther(ctx, a, apigeev1alpha1.DeletedKeyAutoGenerated)
	}
	return fmt.Errorf("unknown action %s", a.kind)
}

// took records the key a write returned. A write's answer is no ground
// for a delete: the run is no longer fresh.
func (run *keyRun) took(cred *apigee.Credential, err error) error {
	if err != nil {
		return err
	}
	c := cred.Clone()
	if c.ConsumerSecret == "" && run.current != nil {
		// Not every write answer carries the secret; it cannot change.
		c.ConsumerSecret = run.current.ConsumerSecret
	}
	run.current, run.fresh = &c, false
	return nil
}

// importKey creates the Secret's key, after recording the intent, so a
// status write lost after the import cannot leak the key on deletion.
func (run *keyRun) importKey(ctx context.Context) error {
	if err := run.recordIntent(ctx); err != nil {
		return err
	}
	run.created = false
	cred, err := run.createKey(ctx)
	if apigee.ClassOf(err) == apigee.ClassConflict {
		// The key existed before: this import created nothing.
		if err := run.r.forgetImportIntent(ctx, run.k); err != nil {
			return err
		}
		return run.resolveExisting(ctx)
	}
	if err := run.took(cred, err); err != nil {
		return err
	}
	run.created = true
	run.claim(apigeev1alpha1.KeyOriginCreated)
	return nil
}

// createKey imports the Secret's key. A key another namespace's object
// holds is never imported (were it gone from Apigee for a moment, the
// import would take it from its holder): the run makes a harmless call of
// the same cost in its place (a read of the key on its own app, so the
// import-pending record lasts a round trip, as for any import), gets the
// conflict Apigee gives for a key in use, and goes on as after one.
func (run *keyRun) createKey(ctx context.Context) (*apigee.Credential, error) {
	if run.heldElsewhere {
		_, _ = run.client.GetKey(ctx, run.ref())
		return nil, &apigee.Error{Class: apigee.ClassConflict, Operation: "ImportKey", Message: "the consumer key is in use"}
	}
	req := apigee.ImportRequest{ConsumerKey: run.creds.key, ConsumerSecret: run.creds.secret}
	if run.k.Spec.ExpiresInSeconds != nil {
		req.ExpiresInSeconds = *run.k.Spec.ExpiresInSeconds
	}
	return run.client.ImportKey(ctx, run.loc.Developer, run.loc.App, req)
}

// recordIntent writes the import intent once per run.
func (run *keyRun) recordIntent(ctx context.Context) error {
	if run.intentRecorded {
		return nil
	}
	in := importIntent{Fingerprint: run.fp, Location: run.loc, At: run.r.now().UnixMilli()}
	if err := run.r.recordImportIntent(ctx, run.k, in); err != nil {
		return err
	}
	run.intentRecorded = true
	return nil
}

// resolveExisting handles a 409 on import: the key already exists. Not on
// this app, it belongs to someone else: KeyConflict, nothing deleted.
func (run *keyRun) resolveExisting(ctx context.Context) error {
	if err := run.readUntilFound(ctx); err != nil {
		return err
	}
	if run.current == nil {
		return keyInUse(run.loc.Organization)
	}
	return run.settleObserved()
}

// conflictRereads are the waits between fresh reads after a 409 that the
// app does not show the key: Apigee's reads may lag a write (issue 11), so
// a key imported moments ago is looked for again before calling it someone
// else's. Bounded: about 3 s and five reads in all.
var conflictRereads = []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond}

// readUntilFound reads the app afresh until it shows the key, backing off
// between reads, at most len(conflictRereads)+1 times.
func (run *keyRun) readUntilFound(ctx context.Context) error {
	for i := 0; ; i++ {
		if err := run.readApp(ctx, true); err != nil || run.current != nil || i == len(conflictRereads) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(conflictRereads[i]):
		}
	}
}

// settleObserved decides about a key found on the app that this object
// does not manage yet: with our secret it is adopted, not re-created,
// unless another namespace's object holds it; with another secret it is a
// KeyConflict and nothing is changed (ObserveOnly: the key is missing).
func (run *keyRun) settleObserved() error {
	if run.current == nil || run.owns() {
		return nil
	}
	if run.current.ConsumerSecret != run.creds.secret {
		run.current = nil
		if run.k.Spec.ManagementPolicy == apigeev1alpha1.ManagementPolicyObserveOnly {
			// The app has no key with these credentials, as when it has
			// none at all: ObserveOnly tells a guesser nothing either way.
			return nil
		}
		return keyInUse(run.loc.Organization)
	}
	if run.heldElsewhere {
		run.current = nil
		return keyInUse(run.loc.Organization)
	}
	origin := run.foundOrigin()
	if origin == apigeev1alpha1.KeyOriginAdopted {
		run.r.event(run.k, corev1.EventTypeNormal, "Adopted", "AdoptKey",
			"Adopted the existing key "+run.fp+" with the same secret instead of creating it")
	}
	run.claim(origin)
	return nil
}

// foundOrigin is the origin of the Secret's key found in Apigee before
// this object recorded it: a key it recorded before (a rotation back)
// keeps its origin, and a key an earlier run's import created (its intent
// written before the key was issued) when a status write was lost is its
// own; any other was there before it: adopted.
func (run *keyRun) foundOrigin() apigeev1alpha1.KeyOrigin {
	for _, p := range run.previous {
		if p.Fingerprint == run.fp && p.Origin != "" {
			return p.Origin
		}
	}
	if in := run.pending; in != nil && in.Fingerprint == run.fp && sameLocation(in.Location, run.loc) && in.created(run.current) {
		return apigeev1alpha1.KeyOriginCreated
	}
	return apigeev1alpha1.KeyOriginAdopted
}

// owns reports whether this object already manages the Secret's key.
func (run *keyRun) owns() bool {
	return run.k.Status.ConsumerKeyFingerprint == run.fp
}

// claim records the Secret's key, and where it lives, as the managed key.
// A different key managed before becomes a previous key with a grace
// period; a previous key that becomes current again (a rotation back)
// leaves previousKeys, so its old retirement can never delete it.
func (run *keyRun) claim(origin apigeev1alpha1.KeyOrigin) {
	run.claimAt(run.fp, run.loc, origin)
}

// claimAt records the key fp at loc as the managed key (claim for a key
// other than the Secret's: one an earlier run imported).
func (run *keyRun) claimAt(fp string, loc apigeev1alpha1.KeyLocation, origin apigeev1alpha1.KeyOrigin) {
	st := &run.k.Status
	old := st.ConsumerKeyFingerprint
	if old != "" && old != fp && !run.hasPrevious(old) {
		oldLoc, _ := recordedLocation(run.k, run.loc)
		retire := metav1.NewTime(run.now.Add(run.k.Spec.Rotation.EffectiveGracePeriod()))
		run.previous = append(run.previous, apigeev1alpha1.PreviousKey{Fingerprint: old, RetireAfter: retire, Location: &oldLoc, Origin: st.KeyOrigin})
		run.r.event(run.k, corev1.EventTypeNormal, "Rotated", "RotateKey",
			fmt.Sprintf("Key %s replaces %s, which keeps working until %s", fp, old, retire.UTC().Format(time.RFC3339)))
	}
	run.forgetPrevious(fp)
	if len(run.previous) > maxPreviousKeys && old != fp {
		run.r.event(run.k, corev1.EventTypeWarning, "RotationCeiling", "RotateKey", fmt.Sprintf(
			"More than %d replaced keys would keep working: the oldest, %s, is retired now instead of at the end of its grace period",
			maxPreviousKeys, run.previous[0].Fingerprint))
	}
	st.ConsumerKeyFingerprint, st.Location, st.Organization, st.KeyOrigin = fp, &loc, loc.Organization, origin
}

// adoptedKeyProtected stops the re-create of a key that was in Apigee
// before this object: its holder would be locked out.
func adoptedKeyProtected(fp string) error {
	return terminal(apigeev1alpha1.ReasonAdoptedKeyProtected, "the Secret's consumer secret changed, but key "+fp+
		" was in Apigee before this object adopted it, and re-creating it with the new secret would lock out whoever "+
		"uses it; nothing was changed. Restore the secret, or set spec.deletionPolicy: Delete to let the operator replace the key")
}

func (run *keyRun) hasPrevious(fp string) bool {
	return slices.ContainsFunc(run.previous, func(p apigeev1alpha1.PreviousKey) bool { return p.Fingerprint == fp })
}

// recreateKey replaces a key whose secret changed: Apigee cannot change a
// secret, so the key is deleted and imported again; the plan then restores
// its products and statuses.
func (run *keyRun) recreateKey(ctx context.Context) error {
	if err := run.recordIntent(ctx); err != nil {
		return err
	}
	if err := run.client.DeleteKey(ctx, run.ref()); err != nil && !apigee.IsNotFound(err, apigee.ResourceKey) {
		return err
	}
	run.current = nil
	run.r.event(run.k, corev1.EventTypeWarning, "SecretChanged", "RecreateKey",
		"The consumer secret changed and Apigee cannot change a secret: re-creating key "+run.fp)
	return run.importKey(ctx)
}

// removeProduct removes a product from the key. "Not associated" means it
// is gone already (our view lagged Apigee's): the removal is done.
func (run *keyRun) removeProduct(ctx context.Context, product string) error {
	if err := run.client.RemoveProduct(ctx, run.ref(), product); err != nil && !apigee.IsProductNotAssociated(err) {
		return err
	}
	run.current.Products = slices.DeleteFunc(run.current.Products, func(p apigee.ProductStatus) bool { return p.Name == product })
	return nil
}

func (run *keyRun) setProductStatus(ctx context.Context, product string, a apigee.Action) error {
	if err := run.client.SetProductStatus(ctx, run.ref(), product, a); err != nil {
		return err
	}
	for i := range run.current.Products {
		if run.current.Products[i].Name == product {
			run.current.Products[i].Status = statusAfter(a)
		}
	}
	return nil
}

// deleteOther deletes a key of the app that is not the managed one.
func (run *keyRun) deleteOther(ctx context.Context, a action, reason string) error {
	ref := apigee.KeyRef{Developer: run.loc.Developer, App: run.loc.App, ConsumerKey: a.target.ConsumerKey}
	if err := run.client.DeleteKey(ctx, ref); err != nil && !apigee.IsNotFound(err, apigee.ResourceKey) {
		return err
	}
	now := metav1.NewTime(run.now)
	run.deleted = append(run.deleted, apigeev1alpha1.DeletedKey{Fingerprint: a.fingerprint, Reason: reason, DeletedAt: &now})
	run.forgetPrevious(a.fingerprint)
	run.app.Credentials = slices.DeleteFunc(run.app.Credentials, func(c apigee.Credential) bool {
		return c.ConsumerKey == a.target.ConsumerKey
	})
	return nil
}

func (run *keyRun) forgetPrevious(fp string) {
	run.previous = slices.DeleteFunc(run.previous, func(p apigeev1alpha1.PreviousKey) bool { return p.Fingerprint == fp })
}

func statusAfter(a apigee.Action) string {
	if a == apigee.ActionRevoke {
		return apigee.StatusRevoked
	}
	return apigee.StatusApproved
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
