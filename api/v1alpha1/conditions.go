package v1alpha1

// Condition types used by every kind.
const (
	// ConditionReady is True when Apigee matches the spec (keys) or the
	// connection authenticated (connections).
	ConditionReady = "Ready"
	// ConditionSynced is True when the last reconcile attempt succeeded.
	ConditionSynced = "Synced"
	// ConditionScoped (ClusterApigeeConnection) says what the connection
	// grants: reason Granted when spec.grants scope its namespaces,
	// WholeOrganization when it has no grants.
	ConditionScoped = "Scoped"
	// ConditionStalled is True, with the Ready reason, while the object
	// waits on a person (a conflict, a bad Secret, something not found or
	// not granted, an expired key): kstatus, and so Flux, Config Sync and
	// kpt, report it Failed. Absent otherwise.
	ConditionStalled = "Stalled"
	// ConditionReconciling is True, with the Ready reason, while an object
	// that is not Ready is being worked on or waits for its turn, its
	// connection or a transient failure to pass: kstatus reports it
	// InProgress. Absent otherwise.
	ConditionReconciling = "Reconciling"
)

// Condition reasons. Each one names a situation a person can act on; the
// README lists what to do about each.
const (
	// ReasonConverged: Apigee matches the spec.
	ReasonConverged = "Converged"
	// ReasonProgressing: changes are being made or a rotation is under way.
	ReasonProgressing = "Progressing"
	// ReasonReconcileSucceeded: the last attempt made every call it needed.
	ReasonReconcileSucceeded = "ReconcileSucceeded"
	// ReasonReconcileFailed: the last attempt failed; see the message.
	ReasonReconcileFailed = "ReconcileFailed"
	// ReasonPaused: the paused annotation is set; nothing is reconciled.
	ReasonPaused = "Paused"
	// ReasonDrifted: ObserveOnly and Apigee differs from the spec.
	ReasonDrifted = "Drifted"
	// ReasonDeleting: the object is being deleted.
	ReasonDeleting = "Deleting"

	// ReasonSecretNotFound: a referenced Secret does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonInvalidCredentials: the credentials Secret lacks a field, or a
	// value is empty, too long or has characters Apigee rejects.
	ReasonInvalidCredentials = "InvalidCredentials"
	// ReasonKeyConflict: the consumer key belongs to another app, has
	// another secret there, or is claimed by an older DeveloperAppKey.
	ReasonKeyConflict = "KeyConflict"
	// ReasonDeveloperNotFound: the developer does not exist in Apigee.
	ReasonDeveloperNotFound = "DeveloperNotFound"
	// ReasonAppNotFound: the app does not exist under the developer.
	ReasonAppNotFound = "AppNotFound"
	// ReasonProductNotFound: an API product does not exist in Apigee.
	ReasonProductNotFound = "ProductNotFound"
	// ReasonInvalidRequest: Apigee rejected a request as invalid.
	ReasonInvalidRequest = "InvalidRequest"
	// ReasonKeyExpired: the key's expiresAt has passed; Apigee rejects it.
	// Change the consumer key in the Secret (or let the operator renew a
	// generated key with rotation.renewBefore).
	ReasonKeyExpired = "KeyExpired"
	// ReasonAppRevoked: the developer app is revoked in Apigee, so no key
	// on it works. The operator never changes an app's status.
	ReasonAppRevoked = "AppRevoked"
	// ReasonExpiryNotSupported: expiresInSeconds on an Apigee Edge
	// connection; Edge applies no expiry to imported keys.
	ReasonExpiryNotSupported = "ExpiryNotSupported"
	// ReasonLocationChanged: the connection now reaches another endpoint,
	// organization or developer than the one holding this object's keys.
	// Nothing is changed until it points back, or the object is deleted.
	ReasonLocationChanged = "LocationChanged"
	// ReasonImportUnconfirmed: the object was deleted while an import was
	// in flight and the operator cannot confirm the key it finds is the
	// one it imported; it is left in Apigee until a person decides.
	ReasonImportUnconfirmed = "ImportUnconfirmed"

	// ReasonConnectionNotFound: the referenced connection does not exist.
	ReasonConnectionNotFound = "ConnectionNotFound"
	// ReasonConnectionNotReady: the connection exists but is not Ready.
	ReasonConnectionNotReady = "ConnectionNotReady"
	// ReasonConnectionNotAllowed: a ClusterApigeeConnection does not allow
	// this namespace.
	ReasonConnectionNotAllowed = "ConnectionNotAllowed"

	// ReasonAuthenticated: the connection's probe call succeeded.
	ReasonAuthenticated = "Authenticated"
	// ReasonUnauthorized: Apigee rejected the connection's credentials.
	ReasonUnauthorized = "Unauthorized"
	// ReasonForbidden: the credentials lack permission on the organization.
	ReasonForbidden = "Forbidden"
	// ReasonUnreachable: Apigee could not be reached or answered 5xx; on a
	// connection, after five such calls in a row its organization is held
	// (its keys wait without calls) until a trial call succeeds.
	ReasonUnreachable = "Unreachable"
	// ReasonRateLimited: the organization's call budget, the connection's
	// own rateLimit or Apigee (429) holds the key back; it waits for its
	// turn without holding a worker, and a Ready key stays Ready.
	ReasonRateLimited = "RateLimited"
	// ReasonInvalidSpec: the spec cannot be used as written.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonAmbientCredentialsNotAllowed: the connection asks for the
	// operator's own Google identity (workloadIdentity) where the operator
	// does not lend it: on an ApigeeConnection without the operator flag
	// --namespaced-ambient-credentials, or towards an endpoint that is not
	// https on a *.googleapis.com host. No call was made and no token
	// fetched. Use serviceAccountKey, or ask an administrator for a
	// ClusterApigeeConnection.
	ReasonAmbientCredentialsNotAllowed = "AmbientCredentialsNotAllowed"
	// ReasonApprovalNotGranted: the key asks to approve what Apigee left
	// pending (a manual-approval product or the key itself), but the grant
	// of its ClusterApigeeConnection does not allow approval. It stays
	// pending for an administrator to approve in Apigee; everything else
	// about the key is done.
	ReasonApprovalNotGranted = "ApprovalNotGranted"
	// ReasonAdoptedKeyProtected: the Secret's consumer secret changed, but
	// the managed key was adopted (it was in Apigee before this object),
	// and re-creating it would lock out whoever uses it. Nothing was
	// changed. Restore the secret, or set spec.deletionPolicy: Delete to
	// let the operator replace the key.
	ReasonAdoptedKeyProtected = "AdoptedKeyProtected"
	// ReasonWaitingForPeers (Ready=True): the key works, but deleting the
	// key Apigee generated with the app (autoGeneratedKeys: Delete) waits
	// while another DeveloperAppKey on the same app and developer has not
	// recorded its key, for at most 10 minutes from that object's
	// creation; the message says until when.
	ReasonWaitingForPeers = "WaitingForPeers"
	// ReasonGranted (Scoped): spec.grants scope what each namespace reaches.
	ReasonGranted = "Granted"
	// ReasonWholeOrganization (Scoped): the connection has no spec.grants,
	// so its allowed namespaces reach the whole organization. Add grants
	// to scope it.
	ReasonWholeOrganization = "WholeOrganization"
)

const (
	// PausedAnnotation set to "true" stops all reconciling of the object.
	PausedAnnotation = "apigee.keyoperator.io/paused"
	// Finalizer guards the Apigee key of a DeveloperAppKey until the
	// deletion policy has been carried out.
	Finalizer = "apigee.keyoperator.io/finalizer"
	// ImportPendingAnnotation records, before each import, which key the
	// operator is about to create and where (JSON: fingerprint and
	// location, never the key). A status write lost after the import
	// cannot then leak the key: deletion finds it through this record.
	ImportPendingAnnotation = "apigee.keyoperator.io/import-pending"
	// AdoptAnnotation set to "true" says the key is expected to exist in
	// Apigee already (an exported manifest): the first reconcile reads the
	// app and adopts the key before creating anything, so bringing an
	// organization under management writes nothing.
	AdoptAnnotation = "apigee.keyoperator.io/adopt"
	// RotateAnnotation set to a new value asks for an immediate renewal of
	// a generated key, once per value (status.lastRotateRequest).
	RotateAnnotation = "apigee.keyoperator.io/rotate"
)
