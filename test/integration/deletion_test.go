package integration

import (
	"context"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// finalizerAtFirstWrite records, when Apigee receives its first write,
// whether the key object already had the finalizer.
type finalizerAtFirstWrite struct {
	ns   string
	once sync.Once
	seen chan bool
}

func (f *finalizerAtFirstWrite) onCall(c emulator.Call) {
	if c.Method == "GET" {
		return
	}
	f.once.Do(func() {
		k := &apigeev1alpha1.DeveloperAppKey{}
		err := k8s.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: "orders"}, k)
		f.seen <- err == nil && controllerutil.ContainsFinalizer(k, apigeev1alpha1.Finalizer)
	})
}

// TestFinalizerBeforeFirstWrite: the finalizer is on the object before
// Apigee sees the first write, so the key cannot be forgotten.
func TestFinalizerBeforeFirstWrite(t *testing.T) {
	hook := &finalizerAtFirstWrite{seen: make(chan bool, 1)}
	a, ns := setup(t, emulator.X, func(o *emulator.Options) { o.OnCall = hook.onCall })
	hook.ns = ns
	create(t, credentialsSecret(ns, "creds", "finKey", "finSecret"))
	create(t, newKey(ns, "orders", "creds"))
	waitConverged(t, ns, "orders")
	if !<-hook.seen {
		t.Errorf("Apigee got a write before the object had finalizer %s", apigeev1alpha1.Finalizer)
	}
	if a.key(t, appName, "finKey") == nil {
		t.Fatal("not imported")
	}
}

// TestDeletionDeletesKey: deletionPolicy Delete (the default) deletes the
// key and releases the object.
func TestDeletionDeletesKey(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		create(t, credentialsSecret(ns, "creds", "goneKey", "goneSecret"))
		create(t, newKey(ns, "orders", "creds"))
		waitConverged(t, ns, "orders")

		deleteKey(t, ns, "orders")
		waitGone(t, ns, "orders")
		if a.key(t, appName, "goneKey") != nil {
			t.Errorf("the key is still in Apigee")
		}
		if a.key(t, appName, a.autoKey.ConsumerKey) == nil {
			t.Errorf("deleted the app's other key too")
		}
	})
}

// TestDeletionKeyAlreadyGone: a key deleted in Apigee already is success;
// so is a credentials Secret that is gone (deletion does not need it).
func TestDeletionKeyAlreadyGone(t *testing.T) {
	a, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "creds", "earlyKey", "earlySecret"))
	create(t, newKey(ns, "orders", "creds"))
	waitConverged(t, ns, "orders")
	ref := apigee.KeyRef{Developer: developer, App: appName, ConsumerKey: "earlyKey"}
	if err := a.raw(t).DeleteKey(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	deleteObject(t, getSecret(t, ns, "creds"))

	deleteKey(t, ns, "orders")
	waitGone(t, ns, "orders")
}

// TestDeletionOrphanKeepsKey: deletionPolicy Orphan leaves the key.
func TestDeletionOrphanKeepsKey(t *testing.T) {
	dialects(t, func(t *testing.T, d emulator.Dialect) {
		a, ns := setup(t, d)
		create(t, credentialsSecret(ns, "creds", "keepKey", "keepSecret"))
		k := newKey(ns, "orders", "creds")
		k.Spec.DeletionPolicy = apigeev1alpha1.DeletionPolicyOrphan
		create(t, k)
		waitConverged(t, ns, "orders")
		a.emu.ResetCalls()

		deleteKey(t, ns, "orders")
		waitGone(t, ns, "orders")
		if got := a.key(t, appName, "keepKey"); got == nil || !convergedKey(got) {
			t.Errorf("Orphan changed the key in Apigee")
		}
		if a.writes() != 0 {
			t.Errorf("Orphan wrote to Apigee: %v", a.emu.CallLog())
		}
	})
}

// TestDeletionWithoutConnection: with the connection gone the object is
// not wedged silently: it says why and how to release it, and Orphan
// releases it.
func TestDeletionWithoutConnection(t *testing.T) {
	a, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "creds", "strandedKey", "strandedSecret"))
	create(t, newKey(ns, "orders", "creds"))
	waitConverged(t, ns, "orders")
	deleteObject(t, &apigeev1alpha1.ApigeeConnection{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prod"}})
	a.emu.ResetCalls()

	deleteKey(t, ns, "orders")
	k := waitReason(t, ns, "orders", apigeev1alpha1.ReasonDeleting)
	msg := readyCondition(k).Message
	if !strings.Contains(msg, apigeev1alpha1.ReasonConnectionNotFound) || !strings.Contains(msg, "deletionPolicy: Orphan") {
		t.Errorf("Deleting message %q should say why and how to release", msg)
	}
	if a.key(t, appName, "strandedKey") == nil {
		t.Fatal("the key is gone although the connection was missing")
	}

	update(t, ns, "orders", func(k *apigeev1alpha1.DeveloperAppKey) {
		k.Spec.DeletionPolicy = apigeev1alpha1.DeletionPolicyOrphan
	})
	waitGone(t, ns, "orders")
	if a.key(t, appName, "strandedKey") == nil || a.writes() != 0 {
		t.Errorf("releasing with Orphan changed Apigee: %v", a.emu.CallLog())
	}
}
