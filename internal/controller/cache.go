package controller

import (
	"unique"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// The manager's cache holds what the controllers read and nothing else, so
// the operator's memory follows the objects it manages, not the cluster:
//
//   - Secret data is never cached (ClientOptions): Secrets are read through
//     the API reader when needed.
//   - Every Secret in the watched namespaces is cached as metadata only (the
//     watch that notices credential changes), cut down by secretMetadataOnly
//     to what the controllers read of it: namespace, name, resourceVersion,
//     and owner references when one names a DeveloperAppKey.
//   - Namespaces (read for a ClusterApigeeConnection's allowedNamespaces
//     selector) keep only their labels.
//   - Every other object loses its managedFields and the
//     kubectl.kubernetes.io/last-applied-configuration annotation, which
//     together are often larger than the object.
//
// Writes stay correct with stripped copies: the operator changes metadata
// only through merge patches computed from the copy it read (a field the
// copy lacks is in neither side of the diff, so the patch leaves it alone)
// and writes status through the status subresource, which ignores
// metadata.

// CacheOptions are the manager's cache options for the given watched
// namespaces (none: all). The operator binary and the test harnesses use
// them, so tests run on the cache production runs on.
func CacheOptions(namespaces ...string) cache.Options {
	o := cache.Options{
		DefaultTransform: stripUnread,
		ByObject: map[client.Object]cache.ByObject{
			secretMetadata():    {Transform: secretMetadataOnly},
			namespaceMetadata(): {Transform: namespaceLabelsOnly},
		},
	}
	if len(namespaces) > 0 {
		o.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}

// ClientOptions are the manager's client options: Secrets are never read
// from the cache, so their data is never cached.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}}
}

// lastApplied is the annotation kubectl apply keeps a copy of the whole
// object in (for a Secret applied with kubectl, its data).
const lastApplied = corev1.LastAppliedConfigAnnotation

// stripUnread removes managedFields and the last-applied annotation.
func stripUnread(in any) (any, error) {
	o, err := meta.Accessor(in)
	if err != nil {
		return in, nil // a tombstone or something without metadata: as is
	}
	if o.GetManagedFields() != nil {
		o.SetManagedFields(nil)
	}
	if a := o.GetAnnotations(); a != nil {
		if _, ok := a[lastApplied]; ok {
			delete(a, lastApplied)
			if len(a) == 0 {
				o.SetAnnotations(nil)
			}
		}
	}
	return in, nil
}

// secretMetadataOnly cuts a Secret's cached metadata down to what the
// controllers read: namespace and name (to map a change to the objects
// using the Secret), resourceVersion (a connection's client is rebuilt when
// its Secret's changes), and owner references (to release a generated
// Secret from garbage collection). Owner references are kept whole or not
// at all: the release rewrites the list with a merge patch, which replaces
// it, so a partial list would drop the others; a Secret none of whose
// owners is a DeveloperAppKey has nothing to release and keeps none. Labels,
// annotations, UID, timestamps, finalizers and managedFields go. The
// namespace is interned: thousands of Secrets share a few namespaces.
func secretMetadataOnly(in any) (any, error) {
	m, ok := in.(*metav1.PartialObjectMetadata)
	if !ok {
		return stripUnread(in)
	}
	var owners []metav1.OwnerReference
	if ownedByKey(m.OwnerReferences) {
		owners = m.OwnerReferences
	}
	m.ObjectMeta = metav1.ObjectMeta{
		Name:            m.Name,
		Namespace:       unique.Make(m.Namespace).Value(),
		ResourceVersion: m.ResourceVersion,
		OwnerReferences: owners,
	}
	return m, nil
}

func ownedByKey(refs []metav1.OwnerReference) bool {
	for _, r := range refs {
		if r.Kind == "DeveloperAppKey" && r.APIVersion == apigeev1alpha1.GroupVersion.String() {
			return true
		}
	}
	return false
}

// namespaceLabelsOnly keeps a Namespace's name, resourceVersion and labels:
// an allowedNamespaces selector reads nothing else.
func namespaceLabelsOnly(in any) (any, error) {
	m, ok := in.(*metav1.PartialObjectMetadata)
	if !ok {
		return stripUnread(in)
	}
	m.ObjectMeta = metav1.ObjectMeta{Name: m.Name, ResourceVersion: m.ResourceVersion, Labels: m.Labels}
	return m, nil
}

// namespaceMetadata is an empty metadata-only Namespace for cached reads.
func namespaceMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	return m
}

var (
	_ toolscache.TransformFunc = stripUnread
	_ toolscache.TransformFunc = secretMetadataOnly
	_ toolscache.TransformFunc = namespaceLabelsOnly
)
