package integration

// Ownership is a location plus a key (issue 9, problems 2, 5, 8 and 12):
// an object changes or deletes a key only where its status records it;
// pointing it elsewhere stops it with LocationChanged and touches nothing,
// in either place.

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// locWindow is how long a test watches for something that must not
// happen; locResync makes several reconciles fall inside it.
const (
	locWindow = 2 * time.Second
	locResync = 500 * time.Millisecond
)

// moveHint is the part of the CEL message that says how to move a key.
const moveHint = "To move a key"

// locConnection creates an ApigeeConnection in ns reaching a's
// organization with the namespace's "apigee-token" Secret, and waits
// until it is Ready.
func locConnection(t *testing.T, ns, name string, a *apigeeOrg) {
	t.Helper()
	create(t, &apigeev1alpha1.ApigeeConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       locConnectionSpec(a),
	})
	locWaitConnectionProbed(t, ns, name)
}

func locConnectionSpec(a *apigeeOrg) apigeev1alpha1.ApigeeConnectionSpec {
	platform := apigeev1alpha1.PlatformX
	if a.dialect == emulator.Edge {
		platform = apigeev1alpha1.PlatformEdge
	}
	return apigeev1alpha1.ApigeeConnectionSpec{Organization: a.emu.Organization(), Platform: platform, Endpoint: a.srv.URL,
		Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{
			SecretRef: apigeev1alpha1.SecretReference{Name: "apigee-token"}}}}
}

// locPointConnection re-points an existing connection at a's organization
// and endpoint (the token works there: every emulator takes the same one)
// and waits until the probe of the new generation says Ready.
func locPointConnection(t *testing.T, ns, name string, a *apigeeOrg) {
	t.Helper()
	eventually(t, "re-point connection "+name, func() (bool, string) {
		c := &apigeev1alpha1.ApigeeConnection{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, c); err != nil {
			return false, err.Error()
		}
		c.Spec.Organization, c.Spec.Endpoint = a.emu.Organization(), a.srv.URL
		if err := k8s.Update(context.Background(), c); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	locWaitConnectionProbed(t, ns, name)
}

// locWaitConnectionProbed waits until the connection's current generation
// has been probed and found Ready.
func locWaitConnectionProbed(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "connection "+name+" probed and Ready", func() (bool, string) {
		c := &apigeev1alpha1.ApigeeConnection{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, c); err != nil {
			return false, err.Error()
		}
		cond := meta.FindStatusCondition(c.Status.Conditions, apigeev1alpha1.ConditionReady)
		if cond == nil || c.Status.ObservedGeneration != c.Generation {
			return false, "not probed yet"
		}
		return cond.Status == metav1.ConditionTrue, cond.Reason + ": " + cond.Message
	})
}

// locNamespace makes another namespace whose connection "prod" reaches a's
// organization: a second tenant of the same Apigee organization.
func locNamespace(t *testing.T, a *apigeeOrg) string {
	t.Helper()
	ns := namespace(t)
	t.Cleanup(func() { releaseKeys(ns) })
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apigee-token"},
		StringData: map[string]string{"token": token}})
	locConnection(t, ns, "prod", a)
	return ns
}

// locEditRejected applies change to the object and returns the API
// server's answer, retrying only write conflicts.
func locEditRejected(t *testing.T, ns, name string, change func(*apigeev1alpha1.DeveloperAppKey)) error {
	t.Helper()
	for range 50 {
		k := get(t, ns, name)
		change(k)
		err := k8s.Update(context.Background(), k)
		if !apierrors.IsConflict(err) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("edit of %s kept conflicting", name)
	return nil
}

// assertMoveRefused checks an edit of spec.app or spec.developer was
// refused by the API server with the message saying how to move a key.
func assertMoveRefused(t *testing.T, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("editing %s was accepted once a key is recorded", what)
	case !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), moveHint):
		t.Errorf("editing %s: got %v, want Invalid saying %q", what, err, moveHint)
	}
}

// locWrites lists the calls that would change Apigee, as operation and
// redacted path (keys appear as fingerprints only).
func locWrites(calls []emulator.Call) []string {
	var out []string
	for _, c := range calls {
		if c.Method != "GET" {
			out = append(out, c.Operation+" "+c.Path)
		}
	}
	return out
}

// locDeletesOf lists the DeleteKey calls for one consumer key.
func locDeletesOf(calls []emulator.Call, consumerKey string) []string {
	var out []string
	suffix := "/keys/" + apigee.Fingerprint(consumerKey)
	for _, c := range calls {
		if c.Operation == emulator.OpDeleteKey && strings.HasSuffix(c.Path, suffix) {
			out = append(out, c.Path)
		}
	}
	return out
}

// assertKeyIntact checks the key is in Apigee with the secret and its
// converged products, without printing either value.
func assertKeyIntact(t *testing.T, a *apigeeOrg, what, consumerKey, secret string) {
	t.Helper()
	got := a.key(t, appName, consumerKey)
	switch {
	case got == nil:
		t.Errorf("%s: key %s is gone", what, apigee.Fingerprint(consumerKey))
	case got.ConsumerSecret != secret:
		t.Errorf("%s: key %s has another secret (re-created?)", what, apigee.Fingerprint(consumerKey))
	case !convergedKey(got):
		t.Errorf("%s: key %s is %s with products %s", what, apigee.Fingerprint(consumerKey), got.Status, products(got))
	}
}

// assertLocation checks status records the key in org at endpoint, on
// the test app and developer.
func assertLocation(t *testing.T, k *apigeev1alpha1.DeveloperAppKey, a *apigeeOrg) {
	t.Helper()
	org := a.emu.Organization()
	l := k.Status.Location
	switch {
	case l == nil:
		t.Errorf("%s: status.location is not recorded", k.Name)
	case l.Organization != org || !strings.EqualFold(strings.TrimRight(l.Endpoint, "/"), a.srv.URL) ||
		l.App != appName || l.Developer != developer:
		t.Errorf("%s: status.location = %+v, want organization %s at %s, %s/%s", k.Name, *l, org, a.srv.URL, developer, appName)
	}
	if k.Status.Organization != org {
		t.Errorf("%s: status.organization = %q, want %q", k.Name, k.Status.Organization, org)
	}
}

// locKey is newKey with a short resync, so a window sees several runs.
func locKey(ns, name, secretName string) *apigeev1alpha1.DeveloperAppKey {
	k := newKey(ns, name, secretName)
	k.Spec.ResyncInterval = &metav1.Duration{Duration: locResync}
	return k
}

// TestLocationHostileTenantCannotTakeKey (problem 2, hostile): the attacker
// namespace imports the victim's consumer key K into its own sandbox
// organization with its own secret, first (its object is the older one).
// The victim then manages K with secret S in organization V. The attacker
//
//	(a) edits spec.app / spec.developer: the API server refuses, saying
//	    how to move a key;
//	(b1) points spec.connectionRef at a second connection reaching V;
//	(b2) points its own connection "prod" at V's organization and endpoint.
//
// Each time its object stops with LocationChanged and V sees no write at
// all. Deleting the object (deletionPolicy Delete) is blocked with
// Deleting, with no DELETE in V; Orphan then releases it. Through all of
// it the victim's key keeps secret S and its products.
func TestLocationHostileTenantCannotTakeKey(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		const stolenKey = "victimConsumerKey"
		sandbox, attacker := setup(t, d)
		victim, victimNS := setup(t, d)

		create(t, credentialsSecret(attacker, "creds", stolenKey, "attackerSecret"))
		create(t, locKey(attacker, "borrowed", "creds"))
		waitConverged(t, attacker, "borrowed")
		time.Sleep(time.Second) // creation times have 1s resolution: the attacker's object is strictly older

		create(t, credentialsSecret(victimNS, "creds", stolenKey, "victimSecret"))
		create(t, newKey(victimNS, "orders", "creds"))
		waitConverged(t, victimNS, "orders")
		assertKeyIntact(t, victim, "victim before", stolenKey, "victimSecret")

		// (a) the location fields cannot be edited once a key is recorded.
		assertMoveRefused(t, "spec.app", locEditRejected(t, attacker, "borrowed", func(k *apigeev1alpha1.DeveloperAppKey) {
			k.Spec.App = "other-app"
		}))
		assertMoveRefused(t, "spec.developer", locEditRejected(t, attacker, "borrowed", func(k *apigeev1alpha1.DeveloperAppKey) {
			k.Spec.Developer = "someone@example.com"
		}))

		// (b1) connectionRef to a connection reaching the victim's org.
		locConnection(t, attacker, "stolen", victim)
		victim.emu.ResetCalls()
		update(t, attacker, "borrowed", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.ConnectionRef.Name = "stolen" })
		k := waitReason(t, attacker, "borrowed", apigeev1alpha1.ReasonLocationChanged)
		assertLocation(t, k, sandbox)
		time.Sleep(locWindow)
		if w := locWrites(victim.emu.CallLog()); len(w) != 0 {
			t.Errorf("connectionRef to the victim's org wrote there: %v", w)
		}
		assertKeyIntact(t, victim, "after connectionRef edit", stolenKey, "victimSecret")

		// Back to its own connection: its own key, converged again.
		update(t, attacker, "borrowed", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.ConnectionRef.Name = "prod" })
		waitConverged(t, attacker, "borrowed")

		// (b2) its own connection re-pointed at the victim's org.
		victim.emu.ResetCalls()
		locPointConnection(t, attacker, "prod", victim)
		k = waitReason(t, attacker, "borrowed", apigeev1alpha1.ReasonLocationChanged)
		assertLocation(t, k, sandbox)
		time.Sleep(locWindow)
		if w := locWrites(victim.emu.CallLog()); len(w) != 0 {
			t.Errorf("the re-pointed connection wrote to the victim's org: %v", w)
		}

		// Deletion with Delete is blocked, not carried out in V.
		deleteKey(t, attacker, "borrowed")
		k = waitReason(t, attacker, "borrowed", apigeev1alpha1.ReasonDeleting)
		if msg := readyCondition(k).Message; !strings.Contains(msg, "deletionPolicy: Orphan") {
			t.Errorf("Deleting message %q does not say how to release the object", msg)
		}
		time.Sleep(locWindow)
		if n := countOp(victim.emu.CallLog(), emulator.OpDeleteKey); n != 0 {
			t.Errorf("deleting the attacker's object sent %d DELETEs to the victim's org", n)
		}
		update(t, attacker, "borrowed", func(k *apigeev1alpha1.DeveloperAppKey) {
			k.Spec.DeletionPolicy = apigeev1alpha1.DeletionPolicyOrphan
		})
		waitGone(t, attacker, "borrowed")

		if w := locWrites(victim.emu.CallLog()); len(w) != 0 {
			t.Errorf("the attacker's object wrote to the victim's org: %v", w)
		}
		assertKeyIntact(t, victim, "at the end", stolenKey, "victimSecret")
		if k := get(t, victimNS, "orders"); readyCondition(k).Reason != apigeev1alpha1.ReasonConverged {
			t.Errorf("the victim's object is %s", readyCondition(k).Reason)
		}
		if sandbox.key(t, appName, stolenKey) == nil {
			t.Errorf("the attacker's own key in its sandbox is gone (Orphan must keep it)")
		}
	})
}

// TestLocationConnectionSwitchedToOrgWithSameKey (problem 2, unlucky): a
// user's connection is switched to another organization that holds the
// same consumer key with another secret. The object stops with
// LocationChanged and neither organization sees a write (no delete, no
// re-create). Switching the connection back converges again with no
// write: it is the same key.
func TestLocationConnectionSwitchedToOrgWithSameKey(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		const sharedKey = "coincidentKey"
		home, ns := setup(t, d)
		other := newApigee(t, d, "org-"+ns+"-other")
		other.preImport(t, appName, sharedKey, "strangerSecret")

		create(t, credentialsSecret(ns, "creds", sharedKey, "userSecret"))
		create(t, locKey(ns, "orders", "creds"))
		waitConverged(t, ns, "orders")
		home.emu.ResetCalls()
		other.emu.ResetCalls()

		locPointConnection(t, ns, "prod", other)
		k := waitReason(t, ns, "orders", apigeev1alpha1.ReasonLocationChanged)
		assertLocation(t, k, home)
		if msg := readyCondition(k).Message; !strings.Contains(msg, home.emu.Organization()) ||
			!strings.Contains(msg, other.emu.Organization()) {
			t.Errorf("LocationChanged message %q should name where the keys live and where the connection reaches", msg)
		}
		time.Sleep(locWindow)
		if w := locWrites(other.emu.CallLog()); len(w) != 0 {
			t.Errorf("the other organization got writes: %v", w)
		}
		if got := other.key(t, appName, sharedKey); got == nil || got.ConsumerSecret != "strangerSecret" {
			t.Errorf("the other organization's key was deleted or re-created")
		}

		locPointConnection(t, ns, "prod", home)
		k = waitConverged(t, ns, "orders")
		assertLocation(t, k, home)
		if w := locWrites(home.emu.CallLog()); len(w) != 0 {
			t.Errorf("switching back wrote to the home organization: %v", w)
		}
		if w := locWrites(other.emu.CallLog()); len(w) != 0 {
			t.Errorf("the other organization got writes: %v", w)
		}
		assertKeyIntact(t, home, "home", sharedKey, "userSecret")
	})
}

// TestLocationAppEditRefusedOnceKeyRecorded (problem 8): spec.app may be
// edited while no key is recorded (the Secret is still missing); once a
// key is recorded the API server refuses spec.app and spec.developer
// edits with a message saying how to move a key, and the key stays where
// it is. The rule is the API server's: one dialect suffices.
func TestLocationAppEditRefusedOnceKeyRecorded(t *testing.T) {
	a, ns := setup(t, emulator.X)
	create(t, newKey(ns, "orders", "creds"))
	waitReason(t, ns, "orders", apigeev1alpha1.ReasonSecretNotFound)

	if err := locEditRejected(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.App = "other-app" }); err != nil {
		t.Fatalf("editing spec.app before any key is recorded: %v", err)
	}
	create(t, credentialsSecret(ns, "creds", "placedKey", "placedSecret"))
	k := waitConverged(t, ns, "orders")
	if k.Status.ConsumerKeyFingerprint == "" || k.Status.Location == nil || k.Status.Location.App != "other-app" {
		t.Fatalf("the key is not recorded on other-app: location %+v", k.Status.Location)
	}

	assertMoveRefused(t, "spec.app", locEditRejected(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
		k.Spec.App = appName
	}))
	assertMoveRefused(t, "spec.developer", locEditRejected(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
		k.Spec.Developer = "someone-else@example.com"
	}))
	if got := get(t, ns, "orders"); got.Spec.App != "other-app" || got.Spec.Developer != developer {
		t.Errorf("the spec changed: %s/%s", got.Spec.Developer, got.Spec.App)
	}
	if a.key(t, "other-app", "placedKey") == nil || a.key(t, appName, "placedKey") != nil {
		t.Errorf("the key moved")
	}
}

// TestLocationConnectionRefEdits (problem 8): spec.connectionRef may move
// to another connection reaching the same endpoint and organization: the
// key stays converged, nothing is re-imported, and deletion with Delete
// then deletes it where it was recorded. A connectionRef to a connection
// reaching elsewhere stops the object with LocationChanged; deleting it
// with Delete is then blocked (Deleting, the message says deletionPolicy:
// Orphan releases it) and the key stays; pointing connectionRef back lets
// the deletion complete and delete the key.
func TestLocationConnectionRefEdits(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		elsewhere := newApigee(t, d, "org-"+ns+"-elsewhere")
		locConnection(t, ns, "prod-alias", a)
		locConnection(t, ns, "elsewhere", elsewhere)

		create(t, credentialsSecret(ns, "moved-creds", "movedKey", "movedSecret"))
		create(t, credentialsSecret(ns, "stranded-creds", "strandedKey", "strandedSecret"))
		create(t, locKey(ns, "moved", "moved-creds"))
		create(t, locKey(ns, "stranded", "stranded-creds"))
		waitConverged(t, ns, "moved")
		waitConverged(t, ns, "stranded")

		// Same endpoint and organization through another connection.
		a.emu.ResetCalls()
		update(t, ns, "moved", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.ConnectionRef.Name = "prod-alias" })
		k := waitConverged(t, ns, "moved")
		assertLocation(t, k, a)
		time.Sleep(locWindow)
		if w := locWrites(a.emu.CallLog()); len(w) != 0 {
			t.Errorf("moving to a connection to the same organization wrote: %v", w)
		}
		assertKeyIntact(t, a, "after connectionRef to the same org", "movedKey", "movedSecret")

		deleteKey(t, ns, "moved")
		waitGone(t, ns, "moved")
		if a.key(t, appName, "movedKey") != nil {
			t.Errorf("deletion after a connectionRef change left the key in Apigee")
		}
		if n := len(locDeletesOf(a.emu.CallLog(), "movedKey")); n != 1 {
			t.Errorf("DELETEs of the moved key = %d, want 1", n)
		}

		// A connection reaching elsewhere.
		update(t, ns, "stranded", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.ConnectionRef.Name = "elsewhere" })
		k = waitReason(t, ns, "stranded", apigeev1alpha1.ReasonLocationChanged)
		assertLocation(t, k, a)
		deleteKey(t, ns, "stranded")
		k = waitReason(t, ns, "stranded", apigeev1alpha1.ReasonDeleting)
		if msg := readyCondition(k).Message; !strings.Contains(msg, "deletionPolicy: Orphan") {
			t.Errorf("Deleting message %q does not say deletionPolicy: Orphan releases it", msg)
		}
		time.Sleep(locWindow)
		assertKeyIntact(t, a, "while deletion is blocked", "strandedKey", "strandedSecret")
		if w := locWrites(elsewhere.emu.CallLog()); len(w) != 0 {
			t.Errorf("the other organization got writes: %v", w)
		}

		update(t, ns, "stranded", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.ConnectionRef.Name = "prod" })
		waitGone(t, ns, "stranded")
		if a.key(t, appName, "strandedKey") != nil {
			t.Errorf("the deletion completed but left the key in Apigee")
		}
		if got := a.key(t, appName, a.autoKey.ConsumerKey); got == nil {
			t.Errorf("the app's other key was deleted too")
		}
	})
}

// locClock is an emulator clock the test sets, to stamp keys at chosen
// times relative to the app's creation.
type locClock struct{ nanos atomic.Int64 }

func newLocClock(t time.Time) *locClock {
	c := &locClock{}
	c.set(t)
	return c
}

func (c *locClock) now() time.Time  { return time.Unix(0, c.nanos.Load()) }
func (c *locClock) set(t time.Time) { c.nanos.Store(t.UnixNano()) }

// TestLocationFailedRunKeepsPeerInPlace (problem 5): object A converged on
// organization O, app X, with a key issued a second after the app (so it
// looks like the key minted with the app to anyone who does not know A
// holds it). A's connectionRef then moves to a connection to another
// organization whose endpoint has become unreachable: status.location and
// status.organization still say O. A neighbour B on the same app with
// autoGeneratedKeys: Delete deletes the app's real auto-generated key but,
// over several resyncs, never A's key.
func TestLocationFailedRunKeepsPeerInPlace(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		created := time.Now()
		clock := newLocClock(created)
		a, ns := setup(t, d, func(o *emulator.Options) { o.Clock = clock.now })
		gone := newApigee(t, d, "org-"+ns+"-gone")
		locConnection(t, ns, "gone", gone)
		gone.srv.Close() // Ready at its last probe, unreachable now

		clock.set(created.Add(time.Second))
		create(t, credentialsSecret(ns, "a-creds", "peerAKey", "peerASecret"))
		create(t, locKey(ns, "a", "a-creds"))
		waitConverged(t, ns, "a")

		update(t, ns, "a", func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.ConnectionRef.Name = "gone" })
		eventually(t, "a's run against the unreachable organization", func() (bool, string) {
			k := get(t, ns, "a")
			c := meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionSynced)
			return c != nil && c.Status == metav1.ConditionFalse && k.Status.ObservedGeneration == k.Generation, "not yet"
		})
		assertLocation(t, get(t, ns, "a"), a)

		clock.set(created.Add(2 * time.Second))
		create(t, credentialsSecret(ns, "b-creds", "peerBKey", "peerBSecret"))
		b := locKey(ns, "b", "b-creds")
		b.Spec.AutoGeneratedKeys = apigeev1alpha1.AutoGeneratedKeysDelete
		create(t, b)
		eventually(t, "b deletes the app's auto-generated key", func() (bool, string) {
			return a.key(t, appName, a.autoKey.ConsumerKey) == nil, "still there"
		})
		waitConverged(t, ns, "b")
		time.Sleep(locWindow)

		if n := len(locDeletesOf(a.emu.CallLog(), "peerAKey")); n != 0 {
			t.Errorf("A's key got %d DELETEs", n)
		}
		assertKeyIntact(t, a, "A's key", "peerAKey", "peerASecret")
		k := get(t, ns, "a")
		assertLocation(t, k, a)
		if r := readyCondition(k).Reason; r != apigeev1alpha1.ReasonLocationChanged {
			t.Errorf("A's Ready reason = %s, want %s", r, apigeev1alpha1.ReasonLocationChanged)
		}
	})
}

// TestLocationConflictMessagesAcrossTenants (problem 12): two namespaces
// share one organization. Namespace 1 manages key K. In namespace 2, K
// with the same secret, K with another secret, a key on this app with
// another secret that no object manages, and a key on another app all get
// KeyConflict with one identical message that names neither namespace 1
// nor its object. A conflict inside namespace 1 still names the object.
func TestLocationConflictMessagesAcrossTenants(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns1 := setup(t, d)
		ns2 := locNamespace(t, a)
		const holder = "tenant-one-holder"
		create(t, credentialsSecret(ns1, "creds", "tenantKey", "tenantSecret"))
		create(t, newKey(ns1, holder, "creds"))
		waitConverged(t, ns1, holder)
		a.preImport(t, appName, "loneKey", "ownerSecret")
		a.preImport(t, "other-app", "elsewhereKey", "elsewhereSecret")
		time.Sleep(time.Second) // the holder is strictly older than every claimant
		a.emu.ResetCalls()

		cases := []struct{ name, key, secret string }{
			{"managed-same-secret", "tenantKey", "tenantSecret"},
			{"managed-other-secret", "tenantKey", "guessedSecret"},
			{"unmanaged-other-secret", "loneKey", "guessedSecret"},
			{"on-another-app", "elsewhereKey", "elsewhereSecret"},
		}
		for _, c := range cases {
			create(t, credentialsSecret(ns2, c.name, c.key, c.secret))
			create(t, newKey(ns2, c.name, c.name))
		}
		create(t, credentialsSecret(ns1, "copy", "tenantKey", "tenantSecret"))
		create(t, newKey(ns1, "copycat", "copy"))

		var first string
		for _, c := range cases {
			msg := readyCondition(waitReason(t, ns2, c.name, apigeev1alpha1.ReasonKeyConflict)).Message
			// The shared organization is named "org-<namespace 1>" by the
			// harness; the organization may be named, the namespace not.
			if rest := strings.ReplaceAll(msg, a.emu.Organization(), "<org>"); strings.Contains(rest, ns1) || strings.Contains(rest, holder) {
				t.Errorf("%s: the message names the other namespace or its object: %q", c.name, msg)
			}
			if first == "" {
				first = msg
			} else if msg != first {
				t.Errorf("%s: message %q differs from %q: it tells which reason holds", c.name, msg, first)
			}
		}
		msg := readyCondition(waitReason(t, ns1, "copycat", apigeev1alpha1.ReasonKeyConflict)).Message
		if !strings.Contains(msg, "DeveloperAppKey "+holder) {
			t.Errorf("a same-namespace conflict should name the holder: %q", msg)
		}

		if n := a.changes(); n != 0 {
			t.Errorf("conflicts changed Apigee: %v", locWrites(a.emu.CallLog()))
		}
		assertKeyIntact(t, a, "the managed key", "tenantKey", "tenantSecret")
		if got := a.key(t, appName, "loneKey"); got == nil || got.ConsumerSecret != "ownerSecret" {
			t.Errorf("the unmanaged key was changed")
		}
		if a.key(t, "other-app", "elsewhereKey") == nil {
			t.Errorf("the other app's key is gone")
		}
	})
}
