package controller

import (
	"context"
	"slices"
	"sync"
	"time"
	"unique"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/watchlist"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// The manager's cache holds what the controllers read and nothing else, so
// the operator's memory follows the objects it manages, not the cluster:
//
//   - Secret data is never cached (ClientOptions): Secrets are read through
//     the API reader when needed. The client reads Secret metadata from the
//     API server too: DisableFor covers the kind, metadata included.
//   - Secrets are watched, metadata only, to notice changes to the ones
//     keys and connections use. The watch sees every Secret, but the cache
//     keeps only those something references when an event for them
//     arrives (usedSecrets): a Secret the operator does not use costs no
//     memory. What it keeps is cut down by secretMetadataOnly.
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
	used := &usedSecrets{}
	o := cache.Options{
		NewInformer:      used.newInformer,
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

// secretMetadataOnly cuts the metadata of a Secret the cache keeps down to
// what the controllers use of it: namespace and name (to map a change to
// the objects using the Secret), resourceVersion (a connection's client is
// rebuilt when its Secret changes), and owner references (to release a
// generated Secret from garbage collection). Owner references are kept
// whole or not at all: the release rewrites the list with a merge patch,
// which replaces it, so a partial list would drop the others; a Secret
// none of whose owners is a DeveloperAppKey has nothing to release and
// keeps none. Labels, annotations, UID, timestamps, finalizers and
// managedFields go. The namespace is interned: Secrets share a few.
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

// usedSecrets keeps the Secrets nobody references out of the cache. It
// filters the Secret metadata watch before the informer stores anything:
// an added or changed Secret passes only if a key or a connection names it
// at that moment (their cached field index on indexSecret says so), a
// changed one that nothing names is passed on as deleted, so the cache
// lets go of a Secret that was used once; deletions always pass. So the
// handlers hear of every change to a Secret in use, and the cache holds
// only Secrets in use. A key that starts using an existing Secret is
// reconciled for that by its own event and reads the Secret from the API
// server; the cache picks the Secret up at its next change. Until the
// cache has an informer for keys and connections with the index (a
// process without the controllers), every Secret passes.
type usedSecrets struct {
	mu        sync.Mutex
	referrers []toolscache.SharedIndexInformer // keys and connections, per namespace
}

// secretFieldIndex and allNamespaces name controller-runtime's field index
// on indexSecret in an informer's indexer: IndexField files each value
// under "__all_namespaces/<value>" as well as under the object's own
// namespace.
const (
	secretFieldIndex = "field:" + indexSecret
	allNamespaces    = "__all_namespaces/"
)

// newInformer is the cache's informer constructor: the standard one, with
// the Secret metadata watch filtered, and the informers of the objects
// that name Secrets noted.
func (u *usedSecrets) newInformer(lw toolscache.ListerWatcher, obj runtime.Object, resync time.Duration, indexers toolscache.Indexers) toolscache.SharedIndexInformer {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok && m.GroupVersionKind() == corev1.SchemeGroupVersion.WithKind("Secret") {
		lw = &usedSecretsOnly{inner: toolscache.ToListerWatcherWithContext(lw), used: u.used,
			noWatchList: watchlist.DoesClientNotSupportWatchListSemantics(lw)}
	}
	inf := toolscache.NewSharedIndexInformer(lw, obj, resync, indexers)
	switch obj.(type) {
	case *apigeev1alpha1.DeveloperAppKey, *apigeev1alpha1.ApigeeConnection, *apigeev1alpha1.ClusterApigeeConnection:
		u.mu.Lock()
		u.referrers = append(u.referrers, inf)
		u.mu.Unlock()
	}
	return inf
}

// used reports whether a key or a connection names the Secret.
func (u *usedSecrets) used(namespace, name string) bool {
	u.mu.Lock()
	referrers := slices.Clone(u.referrers)
	u.mu.Unlock()
	if len(referrers) == 0 {
		return true
	}
	value := allNamespaces + namespace + "/" + name
	for _, inf := range referrers {
		idx := inf.GetIndexer()
		if _, indexed := idx.GetIndexers()[secretFieldIndex]; !indexed {
			return true
		}
		if objs, err := idx.ByIndex(secretFieldIndex, value); err != nil || len(objs) > 0 {
			return true
		}
	}
	return false
}

// usedSecretsOnly is the Secret metadata ListerWatcher with the Secrets
// nothing uses left out.
type usedSecretsOnly struct {
	inner       toolscache.ListerWatcherWithContext
	used        func(namespace, name string) bool
	noWatchList bool // the wrapped ListerWatcher cannot stream its initial list
}

var (
	_ toolscache.ListerWatcher            = (*usedSecretsOnly)(nil)
	_ toolscache.ListerWatcherWithContext = (*usedSecretsOnly)(nil)
)

func (l *usedSecretsOnly) ListWithContext(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	out, err := l.inner.ListWithContext(ctx, opts)
	if list, ok := out.(*metav1.PartialObjectMetadataList); ok {
		list.Items = slices.DeleteFunc(list.Items, func(m metav1.PartialObjectMetadata) bool { return !l.used(m.Namespace, m.Name) })
	}
	return out, err
}

func (l *usedSecretsOnly) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	w, err := l.inner.WatchWithContext(ctx, opts)
	if err != nil {
		return nil, err
	}
	return newFilteredWatch(w, l.filter), nil
}

// IsWatchListSemanticsUnSupported passes on whether the wrapped
// ListerWatcher can stream its initial list (a reflector asks).
func (l *usedSecretsOnly) IsWatchListSemanticsUnSupported() bool { return l.noWatchList }

func (l *usedSecretsOnly) List(opts metav1.ListOptions) (runtime.Object, error) {
	return l.ListWithContext(context.Background(), opts)
}

func (l *usedSecretsOnly) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return l.WatchWithContext(context.Background(), opts)
}

// filter passes deletions, bookmarks and errors, and additions and changes
// of used Secrets; a change to an unused Secret becomes a deletion.
func (l *usedSecretsOnly) filter(e watch.Event) (watch.Event, bool) {
	if e.Type != watch.Added && e.Type != watch.Modified {
		return e, true
	}
	m, ok := e.Object.(metav1.Object)
	if !ok || l.used(m.GetNamespace(), m.GetName()) {
		return e, true
	}
	if e.Type == watch.Modified {
		return watch.Event{Type: watch.Deleted, Object: e.Object}, true
	}
	return e, false
}

// filteredWatch passes a watch's events through a filter. Unlike
// watch.Filter, its goroutine ends on Stop even while an event waits for
// a reader.
type filteredWatch struct {
	in     watch.Interface
	out    chan watch.Event
	stop   chan struct{}
	once   sync.Once
	filter func(watch.Event) (watch.Event, bool)
}

func newFilteredWatch(in watch.Interface, filter func(watch.Event) (watch.Event, bool)) *filteredWatch {
	w := &filteredWatch{in: in, out: make(chan watch.Event), stop: make(chan struct{}), filter: filter}
	go w.loop()
	return w
}

func (w *filteredWatch) ResultChan() <-chan watch.Event { return w.out }

func (w *filteredWatch) Stop() {
	w.once.Do(func() {
		close(w.stop)
		w.in.Stop()
	})
}

func (w *filteredWatch) loop() {
	defer close(w.out)
	for {
		select {
		case <-w.stop:
			return
		case e, ok := <-w.in.ResultChan():
			if !ok {
				return
			}
			if e, keep := w.filter(e); keep {
				select {
				case w.out <- e:
				case <-w.stop:
					return
				}
			}
		}
	}
}

var (
	_ toolscache.TransformFunc = stripUnread
	_ toolscache.TransformFunc = secretMetadataOnly
	_ toolscache.TransformFunc = namespaceLabelsOnly
)
