package integration

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// lastApplied is what kubectl apply leaves on an object: a copy of it,
// data included for a Secret.
const lastApplied = corev1.LastAppliedConfigAnnotation

// TestCacheHoldsWhatTheControllersRead: the manager's cache, built with the
// operator's options, keeps only the Secrets keys and connections use, and
// of those only what the controllers read; of keys everything but
// managedFields and the last-applied copy. The operator's writes, made
// from those stripped copies, leave what the copies lack alone on the
// server, and releasing an orphaned generated Secret keeps its other
// owners.
func TestCacheHoldsWhatTheControllersRead(t *testing.T) {
	_, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "unused", "cacheKey0", "cacheSecret0"))
	s := credentialsSecret(ns, "creds", "cacheKey1", "cacheSecret1")
	s.Labels = map[string]string{"app": "orders"}
	s.Annotations = map[string]string{lastApplied: `{"kind":"Secret"}`, "team": "a"}
	create(t, s)
	k := newKey(ns, "orders", "creds")
	k.Annotations = map[string]string{lastApplied: `{"kind":"DeveloperAppKey"}`, "team": "a"}
	create(t, k)
	gen := newKey(ns, "generated", "generated")
	gen.Spec.Credentials.Generate = true
	gen.Spec.DeletionPolicy = apigeev1alpha1.DeletionPolicyOrphan
	create(t, gen)
	waitConverged(t, ns, "orders")
	waitConverged(t, ns, "generated")

	// A Secret nothing uses is never cached, changed or not.
	touchSecret(t, ns, "unused")
	// A Secret a key uses, once it changes: namespace, name and
	// resourceVersion only.
	touchSecret(t, ns, "creds")
	onServer := getSecret(t, ns, "creds")
	eventually(t, "the cached creds Secret", func() (bool, string) {
		got, found := cachedSecret(t, ns, "creds")
		want := metav1.ObjectMeta{Name: "creds", Namespace: ns, ResourceVersion: onServer.ResourceVersion}
		diff := cmp.Diff(want, got.ObjectMeta)
		return found && diff == "", diff
	})
	if _, found := cachedSecret(t, ns, "unused"); found {
		t.Error("a Secret no key or connection uses is in the cache")
	}

	// A generated Secret also held by someone else keeps every owner.
	holder := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "holder"}}
	create(t, holder)
	other := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "holder", UID: holder.UID}
	changeSecret(t, ns, "generated", func(s *corev1.Secret) { s.OwnerReferences = append(s.OwnerReferences, other) })
	eventually(t, "both owners of the generated Secret in the cache", func() (bool, string) {
		got, _ := cachedSecret(t, ns, "generated")
		return len(got.OwnerReferences) == 2, cmp.Diff(getSecret(t, ns, "generated").OwnerReferences, got.OwnerReferences)
	})

	// Keys: no managedFields, no last-applied copy, the rest as stored.
	cachedKey := &apigeev1alpha1.DeveloperAppKey{}
	if err := cached.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "orders"}, cachedKey); err != nil {
		t.Fatal(err)
	}
	if cachedKey.ManagedFields != nil {
		t.Errorf("the cached key keeps managedFields")
	}
	if _, kept := cachedKey.Annotations[lastApplied]; kept || cachedKey.Annotations["team"] != "a" {
		t.Errorf("cached key annotations %v: want the last-applied copy gone and the others kept", cachedKey.Annotations)
	}
	if !slices.Contains(cachedKey.Finalizers, apigeev1alpha1.Finalizer) || cachedKey.Status.ConsumerKeyFingerprint == "" {
		t.Errorf("the cached key lost what the controllers read: finalizers %v, fingerprint %q",
			cachedKey.Finalizers, cachedKey.Status.ConsumerKeyFingerprint)
	}

	// The operator's finalizer, import-intent and status writes kept what
	// its copies lacked.
	stored := get(t, ns, "orders")
	if stored.Annotations[lastApplied] == "" || stored.Annotations["team"] != "a" || len(stored.ManagedFields) == 0 {
		t.Errorf("the operator's writes dropped metadata its cache does not hold: annotations %v, %d managedFields",
			stored.Annotations, len(stored.ManagedFields))
	}

	// Orphan releases the generated Secret from the key only; once
	// nothing uses it, its next change lets the cache forget it.
	deleteKey(t, ns, "generated")
	waitGone(t, ns, "generated")
	if diff := cmp.Diff([]metav1.OwnerReference{other}, getSecret(t, ns, "generated").OwnerReferences); diff != "" {
		t.Errorf("owners of the released Secret (-want +got):\n%s", diff)
	}
	touchSecret(t, ns, "generated")
	eventually(t, "the released Secret gone from the cache", func() (bool, string) {
		_, found := cachedSecret(t, ns, "generated")
		return !found, "still cached"
	})

	// Namespaces: labels only (an allowedNamespaces selector reads them).
	nsMeta := &metav1.PartialObjectMetadata{}
	nsMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := cached.Get(context.Background(), types.NamespacedName{Name: ns}, nsMeta); err != nil {
		t.Fatal(err)
	}
	if nsMeta.Labels[corev1.LabelMetadataName] != ns || nsMeta.ManagedFields != nil || nsMeta.UID != "" {
		t.Errorf("cached Namespace %+v: want its labels and name only", nsMeta.ObjectMeta)
	}
}

// cachedSecret reads a Secret's metadata from the manager's cache.
func cachedSecret(t *testing.T, ns, name string) (*metav1.PartialObjectMetadata, bool) {
	t.Helper()
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err := cached.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, m)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return m, err == nil
}

// TestIndexesFileEachValueOnce: the operator only looks its field indexes
// up across namespaces, so each value is filed once, under
// "__all_namespaces/", not also under the key's namespace (at 10,000 keys
// that copy was about 18 MB); the lookups they serve (a Secret's keys, a
// fingerprint claimed in another namespace, a connection's keys) are
// covered by the Secret, conflict and connection tests.
func TestIndexesFileEachValueOnce(t *testing.T) {
	_, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "creds", "indexKey1", "indexSecret1"))
	create(t, newKey(ns, "orders", "creds"))
	waitConverged(t, ns, "orders")
	inf, err := cached.GetInformer(context.Background(), &apigeev1alpha1.DeveloperAppKey{})
	if err != nil {
		t.Fatal(err)
	}
	indexer := inf.(toolscache.SharedIndexInformer).GetIndexer()
	for _, field := range []string{"apigee.keyoperator.io/secret", "apigee.keyoperator.io/connection", "apigee.keyoperator.io/fingerprint", "apigee.keyoperator.io/app"} {
		values := indexer.ListIndexFuncValues("field:" + field)
		if len(values) == 0 {
			t.Errorf("index %s holds nothing", field)
		}
		for _, v := range values {
			if !strings.HasPrefix(v, "__all_namespaces/") {
				t.Errorf("index %s files %q: a value under a namespace nothing looks up", field, v)
			}
		}
	}
}
