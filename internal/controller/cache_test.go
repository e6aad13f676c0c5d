package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

var (
	keyOwner = metav1.OwnerReference{APIVersion: apigeev1alpha1.GroupVersion.String(), Kind: "DeveloperAppKey",
		Name: "orders", UID: "k-1", Controller: new(true)}
	otherOwner = metav1.OwnerReference{APIVersion: "external-secrets.io/v1", Kind: "ExternalSecret", Name: "orders", UID: "e-1"}
	// sameKindOtherGroup is a DeveloperAppKey of someone else's API.
	sameKindOtherGroup = metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "DeveloperAppKey", Name: "orders", UID: "x-1"}
)

// fullMeta is metadata as the API server sends it, with everything a
// Secret in a busy cluster carries.
func fullMeta(owners ...metav1.OwnerReference) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: "orders-creds", Namespace: "team-a", UID: "s-1", ResourceVersion: "42", Generation: 1,
		CreationTimestamp: metav1.Unix(1700000000, 0),
		Labels:            map[string]string{"app": "orders"},
		Annotations:       map[string]string{lastApplied: `{"data":{"consumerSecret":"c2VjcmV0"}}`, "team": "a"},
		OwnerReferences:   owners,
		Finalizers:        []string{"example.com/hold"},
		ManagedFields:     []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate}},
	}
}

func secretMeta(m metav1.ObjectMeta) *metav1.PartialObjectMetadata {
	p := &metav1.PartialObjectMetadata{ObjectMeta: m}
	p.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return p
}

func TestSecretMetadataOnly(t *testing.T) {
	kept := metav1.ObjectMeta{Name: "orders-creds", Namespace: "team-a", ResourceVersion: "42"}
	withOwners := func(refs ...metav1.OwnerReference) metav1.ObjectMeta { m := kept; m.OwnerReferences = refs; return m }
	cases := []struct {
		reason string
		in     metav1.ObjectMeta
		want   metav1.ObjectMeta
	}{
		{"an unrelated Secret keeps only namespace, name and resourceVersion",
			fullMeta(), kept},
		{"owners none of which is a DeveloperAppKey are dropped: nothing to release",
			fullMeta(otherOwner), kept},
		{"a DeveloperAppKey of another API group is not ours",
			fullMeta(sameKindOtherGroup), kept},
		{"a Secret a key owns keeps every owner: the release patch replaces the whole list",
			fullMeta(otherOwner, keyOwner), withOwners(otherOwner, keyOwner)},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			out, err := secretMetadataOnly(secretMeta(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got := out.(*metav1.PartialObjectMetadata)
			if diff := cmp.Diff(tc.want, got.ObjectMeta); diff != "" {
				t.Errorf("%s: cached metadata (-want +got):\n%s", tc.reason, diff)
			}
			if got.GroupVersionKind() != corev1.SchemeGroupVersion.WithKind("Secret") {
				t.Errorf("kind changed to %v", got.GroupVersionKind())
			}
			again, _ := secretMetadataOnly(got.DeepCopy())
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("not idempotent (-once +twice):\n%s", diff)
			}
		})
	}
}

func TestStripUnread(t *testing.T) {
	key := func(annotations map[string]string) *apigeev1alpha1.DeveloperAppKey {
		m := fullMeta()
		m.Annotations = annotations
		return &apigeev1alpha1.DeveloperAppKey{ObjectMeta: m, Spec: apigeev1alpha1.DeveloperAppKeySpec{App: "orders-app"},
			Status: apigeev1alpha1.DeveloperAppKeyStatus{ConsumerKeyFingerprint: "sha256:1f0c"}}
	}
	cases := []struct {
		reason string
		in     map[string]string
		want   map[string]string
	}{
		{"the last-applied copy goes, annotations the controllers read stay",
			map[string]string{lastApplied: "{}", apigeev1alpha1.PausedAnnotation: "true", apigeev1alpha1.ImportPendingAnnotation: "fp"},
			map[string]string{apigeev1alpha1.PausedAnnotation: "true", apigeev1alpha1.ImportPendingAnnotation: "fp"}},
		{"annotations left empty become none", map[string]string{lastApplied: "{}"}, nil},
		{"no annotations stay none", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			in := key(tc.in)
			want := key(tc.want)
			want.ManagedFields = nil
			out, err := stripUnread(in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("%s: cached object (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
	tomb := toolscache.DeletedFinalStateUnknown{Key: "team-a/orders"}
	if out, err := stripUnread(tomb); err != nil || out != tomb {
		t.Errorf("a tombstone must pass through unchanged, got %v, %v", out, err)
	}
}

func TestNamespaceLabelsOnly(t *testing.T) {
	m := fullMeta()
	m.Namespace = ""
	in := &metav1.PartialObjectMetadata{ObjectMeta: m}
	out, _ := namespaceLabelsOnly(in)
	want := metav1.ObjectMeta{Name: "orders-creds", ResourceVersion: "42", Labels: map[string]string{"app": "orders"}}
	if diff := cmp.Diff(want, out.(*metav1.PartialObjectMetadata).ObjectMeta); diff != "" {
		t.Errorf("cached Namespace (-want +got):\n%s", diff)
	}
}

func TestCacheOptions(t *testing.T) {
	all := CacheOptions()
	if all.DefaultNamespaces != nil {
		t.Errorf("no namespaces must watch all, got %v", all.DefaultNamespaces)
	}
	if all.DefaultTransform == nil {
		t.Error("no default transform: managedFields would be cached")
	}
	if all.NewInformer == nil {
		t.Error("no informer constructor: every Secret in the cluster would be cached")
	}
	byKind := map[string]bool{}
	for obj, by := range all.ByObject {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		if kind == "" {
			kind = fmt.Sprintf("%T", obj)
		}
		byKind[kind] = by.Transform != nil
	}
	want := map[string]bool{"Secret": true, "Namespace": true, "*v1alpha1.DeveloperAppKey": true}
	if diff := cmp.Diff(want, byKind); diff != "" {
		t.Errorf("per-kind transforms (-want +got):\n%s", diff)
	}
	some := CacheOptions("team-a", "team-b")
	if len(some.DefaultNamespaces) != 2 {
		t.Errorf("DefaultNamespaces %v, want team-a and team-b", some.DefaultNamespaces)
	}
	disabled := ClientOptions().Cache.DisableFor
	if len(disabled) != 1 {
		t.Fatalf("DisableFor %v, want Secrets only", disabled)
	}
	if _, ok := disabled[0].(*corev1.Secret); !ok {
		t.Errorf("DisableFor %T, want *corev1.Secret: Secret data must never be cached", disabled[0])
	}
}

// fakeLW lists fixed Secrets and then serves a fake watch; it does not
// stream lists, so the informer lists and watches.
type fakeLW struct {
	list  []metav1.PartialObjectMetadata
	watch *watch.FakeWatcher
}

func (f *fakeLW) List(metav1.ListOptions) (runtime.Object, error) {
	return &metav1.PartialObjectMetadataList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}, Items: slices.Clone(f.list)}, nil
}
func (f *fakeLW) Watch(metav1.ListOptions) (watch.Interface, error) { return f.watch, nil }
func (f *fakeLW) IsWatchListSemanticsUnSupported() bool             { return true }

func secretNamed(ns, name, rv string) *metav1.PartialObjectMetadata {
	return secretMeta(metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv})
}

// keyUsing is a key on the credentials Secret name.
func keyUsing(ns, name, secret string) *apigeev1alpha1.DeveloperAppKey {
	return &apigeev1alpha1.DeveloperAppKey{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: apigeev1alpha1.DeveloperAppKeySpec{Credentials: apigeev1alpha1.CredentialsSource{
			SecretRef: apigeev1alpha1.LocalSecretReference{Name: secret}}}}
}

// secretIndexLikeControllerRuntime indexes keys by Secret the way
// controller-runtime's IndexField files registerIndexes' indexSecret.
var secretIndexLikeControllerRuntime = toolscache.Indexers{secretFieldIndex: func(obj any) ([]string, error) {
	k := obj.(*apigeev1alpha1.DeveloperAppKey)
	v := k.Namespace + "/" + k.Spec.Credentials.SecretRef.Name
	return []string{k.Namespace + "/" + v, allNamespaces + v}, nil
}}

type seen struct {
	kind string // add, update, delete
	name string
}

// TestUsedSecretsOnly runs a Secret metadata informer built by the cache's
// constructor: it stores the Secrets a key uses and nothing else, and
// still tells the handlers of every change to a used Secret.
func TestUsedSecretsOnly(t *testing.T) {
	u := &usedSecrets{}
	keys := u.newInformer(&fakeLW{watch: watch.NewFake()}, &apigeev1alpha1.DeveloperAppKey{}, 0, secretIndexLikeControllerRuntime)
	if err := keys.GetIndexer().Add(keyUsing("team-a", "orders", "creds")); err != nil {
		t.Fatal(err)
	}
	lw := &fakeLW{watch: watch.NewFake(), list: []metav1.PartialObjectMetadata{
		*secretNamed("team-a", "creds", "1"), *secretNamed("team-a", "unrelated", "1"), *secretNamed("team-b", "creds", "1")}}
	secrets := u.newInformer(lw, secretMetadata(), 0, toolscache.Indexers{})
	events := make(chan seen, 10)
	if _, err := secrets.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { events <- seen{"add", toolscache.MetaObjectToName(o.(metav1.Object)).String()} },
		UpdateFunc: func(_, o any) { events <- seen{"update", toolscache.MetaObjectToName(o.(metav1.Object)).String()} },
		DeleteFunc: func(o any) { events <- seen{"delete", toolscache.MetaObjectToName(o.(metav1.Object)).String()} },
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go secrets.RunWithContext(ctx)
	if !toolscache.WaitForCacheSync(ctx.Done(), secrets.HasSynced) {
		t.Fatal("not synced")
	}
	// expect checks what the handlers saw, then what the cache holds.
	expect := func(reason string, stored []string, want ...seen) {
		t.Helper()
		for _, w := range want {
			select {
			case got := <-events:
				if got != w {
					t.Fatalf("%s: handler saw %v, want %v", reason, got, w)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: handler saw nothing, want %v", reason, w)
			}
		}
		got := secrets.GetStore().ListKeys()
		slices.Sort(got)
		if !slices.Equal(got, stored) {
			t.Fatalf("%s: the cache holds %v, want %v", reason, got, stored)
		}
	}
	only := []string{"team-a/creds"}
	expect("the list: only the used Secret is stored and announced", only, seen{"add", "team-a/creds"})

	lw.watch.Add(secretNamed("team-a", "new", "2"))
	lw.watch.Modify(secretNamed("team-a", "unrelated", "3"))
	expect("an unused Secret added is dropped; one changed is passed on as deleted, so a copy once used is let go",
		only, seen{"delete", "team-a/unrelated"})

	lw.watch.Modify(secretNamed("team-a", "creds", "4"))
	lw.watch.Delete(secretNamed("team-b", "creds", "5"))
	expect("changes to a used Secret and every deletion reach the handlers",
		only, seen{"update", "team-a/creds"}, seen{"delete", "team-b/creds"})

	if err := keys.GetIndexer().Add(keyUsing("team-a", "later", "new")); err != nil {
		t.Fatal(err)
	}
	lw.watch.Modify(secretNamed("team-a", "new", "6"))
	expect("a Secret a key starts using is picked up at its next change",
		[]string{"team-a/creds", "team-a/new"}, seen{"add", "team-a/new"})
}

func TestUsedSecretsFailsOpen(t *testing.T) {
	none := &usedSecrets{}
	if !none.used("team-a", "anything") {
		t.Error("without the informers of keys and connections every Secret must count as used")
	}
	unindexed := &usedSecrets{}
	unindexed.newInformer(&fakeLW{watch: watch.NewFake()}, &apigeev1alpha1.DeveloperAppKey{}, 0, toolscache.Indexers{})
	if !unindexed.used("team-a", "anything") {
		t.Error("without the Secret field index (controller-runtime renamed it?) every Secret must count as used")
	}
}

// TestKeySharedInternsWithoutChanging: keys decoded apart share one copy
// of their common strings after the transform, and read the same.
func TestKeySharedInternsWithoutChanging(t *testing.T) {
	const stored = `{"metadata":{"name":"%s","namespace":"team-a","uid":"%s","finalizers":["apigee.keyoperator.io/finalizer"],
"managedFields":[{"manager":"kubectl"}]},
"spec":{"connectionRef":{"kind":"ApigeeConnection","name":"prod"},"developer":"dev@example.com","app":"orders-app",
"credentials":{"secretRef":{"name":"%s"},"consumerKeyField":"consumerKey"},"apiProducts":[{"name":"orders-read","status":"Approved"}],
"status":"Approved","autoGeneratedKeys":"Keep","deletionPolicy":"Delete","managementPolicy":"Manage"},
"status":{"conditions":[{"type":"Ready","status":"True","reason":"Converged","message":"Apigee matches the spec"}],
"organization":"acme","location":{"endpoint":"https://apigee.googleapis.com","organization":"acme","developer":"dev@example.com","developerId":"d-1","app":"orders-app"},
"consumerKeyFingerprint":"sha256:%s","keyStatus":"approved","apiProducts":[{"name":"orders-read","status":"approved"}],
"previousKeys":[{"fingerprint":"sha256:old","location":{"endpoint":"https://apigee.googleapis.com","organization":"acme","developer":"dev@example.com","app":"orders-app"}}],
"deletedKeys":[{"fingerprint":"sha256:auto","reason":"AutoGenerated"}]}}`
	decode := func(name string) *apigeev1alpha1.DeveloperAppKey {
		k := &apigeev1alpha1.DeveloperAppKey{}
		if err := json.Unmarshal(fmt.Appendf(nil, stored, name, "uid-"+name, name, name), k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	a, b := decode("one"), decode("two")
	want := a.DeepCopy()
	want.ManagedFields = nil
	for _, k := range []*apigeev1alpha1.DeveloperAppKey{a, b} {
		if _, err := keyShared(k); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("the transform changed what the key says (-want +got):\n%s", diff)
	}
	same := func(what, x, y string) {
		if unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: two copies of %q", what, x)
		}
	}
	same("namespace", a.Namespace, b.Namespace)
	same("app", a.Spec.App, b.Spec.App)
	same("product", a.Spec.APIProducts[0].Name, b.Status.APIProducts[0].Name)
	same("condition message", a.Status.Conditions[0].Message, b.Status.Conditions[0].Message)
	same("location endpoint", a.Status.Location.Endpoint, b.Status.PreviousKeys[0].Location.Endpoint)
	same("deleted reason", a.Status.DeletedKeys[0].Reason, b.Status.DeletedKeys[0].Reason)
	if unsafe.StringData(a.Name) == unsafe.StringData(b.Name) || a.Status.ConsumerKeyFingerprint == b.Status.ConsumerKeyFingerprint {
		t.Error("strings of one key only must stay their own")
	}
}
