package controller

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// Field indexes that map Secrets, connections and keys to the objects that
// reference them, so watches and conflict checks never list everything.
const (
	indexSecret      = "apigee.keyoperator.io/secret"      // "namespace/name" of a referenced Secret
	indexConnection  = "apigee.keyoperator.io/connection"  // "Kind/namespace/name" of a key's connection
	indexFingerprint = "apigee.keyoperator.io/fingerprint" // fingerprints a key's status records
	indexApp         = "apigee.keyoperator.io/app"         // spec.app of a key
)

func registerIndexes(ctx context.Context, mgr ctrl.Manager) error {
	c := mgr.GetCache()
	if err := index(ctx, c, &apigeev1alpha1.DeveloperAppKey{}, indexSecret, func(o client.Object) []string {
		k := o.(*apigeev1alpha1.DeveloperAppKey)
		return []string{k.Namespace + "/" + k.Spec.Credentials.SecretRef.Name}
	}); err != nil {
		return err
	}
	if err := index(ctx, c, &apigeev1alpha1.DeveloperAppKey{}, indexConnection, func(o client.Object) []string {
		return []string{connectionIndexValue(o.(*apigeev1alpha1.DeveloperAppKey))}
	}); err != nil {
		return err
	}
	if err := index(ctx, c, &apigeev1alpha1.DeveloperAppKey{}, indexFingerprint, func(o client.Object) []string {
		return recordedFingerprints(o.(*apigeev1alpha1.DeveloperAppKey))
	}); err != nil {
		return err
	}
	if err := index(ctx, c, &apigeev1alpha1.DeveloperAppKey{}, indexApp, func(o client.Object) []string {
		return []string{o.(*apigeev1alpha1.DeveloperAppKey).Spec.App}
	}); err != nil {
		return err
	}
	if err := index(ctx, c, &apigeev1alpha1.ApigeeConnection{}, indexSecret, func(o client.Object) []string {
		return connectionSecretIndex(fromNamespaced(o.(*apigeev1alpha1.ApigeeConnection)))
	}); err != nil {
		return err
	}
	return index(ctx, c, &apigeev1alpha1.ClusterApigeeConnection{}, indexSecret, func(o client.Object) []string {
		return connectionSecretIndex(fromCluster(o.(*apigeev1alpha1.ClusterApigeeConnection)))
	})
}

// index adds a field index to obj's informer that client.MatchingFields
// reads when listing across namespaces, as every lookup here does. It
// files each value once, under "__all_namespaces/<value>" and the name
// controller-runtime looks up ("field:<name>"). The manager's IndexField
// files each value under the object's own namespace too; at 10,000 keys
// that unused copy was about 18 MB of the heap.
func index(ctx context.Context, c cache.Cache, obj client.Object, name string, extract func(client.Object) []string) error {
	inf, err := c.GetInformer(ctx, obj)
	if err != nil {
		return err
	}
	return inf.AddIndexers(toolscache.Indexers{fieldIndexPrefix + name: func(raw any) ([]string, error) {
		o, ok := raw.(client.Object)
		if !ok {
			return nil, fmt.Errorf("object of type %T is not an Object", raw)
		}
		values := extract(o)
		out := make([]string, len(values))
		for i, v := range values {
			out[i] = allNamespaces + v
		}
		return out, nil
	}})
}

func connectionIndexValue(k *apigeev1alpha1.DeveloperAppKey) string {
	ns := k.Namespace
	if k.Spec.ConnectionRef.ConnectionKind() == "ClusterApigeeConnection" {
		ns = ""
	}
	return k.Spec.ConnectionRef.ConnectionKind() + "/" + ns + "/" + k.Spec.ConnectionRef.Name
}

// recordedFingerprints are the keys an object's status records: its
// current key and rotated-out keys in their grace period.
func recordedFingerprints(k *apigeev1alpha1.DeveloperAppKey) []string {
	var out []string
	for _, o := range recordedKeys(k) {
		out = append(out, o.fingerprint)
	}
	return out
}

func connectionSecretIndex(c *connection) []string {
	if key, ok := c.secretKey(); ok {
		return []string{key.String()}
	}
	return nil
}

// secretWatch maps Secret metadata events to the objects that use them.
type secretWatch struct {
	client client.Client
	// connectionSecretChanged is told of each event of a Secret a
	// connection uses (Connections.SecretChanged).
	connectionSecretChanged func(types.NamespacedName)
}

// toKeys maps a Secret to the DeveloperAppKeys whose credentials it holds.
func (w *secretWatch) toKeys() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		list := &apigeev1alpha1.DeveloperAppKeyList{}
		key := types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}.String()
		if err := w.client.List(ctx, list, client.MatchingFields{indexSecret: key}); err != nil {
			return nil
		}
		return keyRequests(list.Items)
	})
}

// toConnections maps a Secret to the connections of one kind using it,
// and tells Connections that their Secret changed.
func (w *secretWatch) toConnections(gvk schema.GroupVersionKind) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		name := types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}
		out := w.connectionsUsing(ctx, gvk.Kind, name.String())
		if len(out) > 0 && w.connectionSecretChanged != nil {
			w.connectionSecretChanged(name)
		}
		return out
	})
}

// connectionsUsing lists the connections of kind whose Secret is key
// ("namespace/name").
func (w *secretWatch) connectionsUsing(ctx context.Context, kind, key string) []reconcile.Request {
	var out []reconcile.Request
	if kind == "ClusterApigeeConnection" {
		list := &apigeev1alpha1.ClusterApigeeConnectionList{}
		if err := w.client.List(ctx, list, client.MatchingFields{indexSecret: key}); err == nil {
			for _, c := range list.Items {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: c.Name}})
			}
		}
		return out
	}
	list := &apigeev1alpha1.ApigeeConnectionList{}
	if err := w.client.List(ctx, list, client.MatchingFields{indexSecret: key}); err == nil {
		for _, c := range list.Items {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Name}})
		}
	}
	return out
}

// connectionToKeys maps a connection to the keys that reference it.
func connectionToKeys(c client.Client, kind string) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		list := &apigeev1alpha1.DeveloperAppKeyList{}
		value := kind + "/" + o.GetNamespace() + "/" + o.GetName()
		// Only names are read: no copy of every key.
		if err := c.List(ctx, list, client.MatchingFields{indexConnection: value}, client.UnsafeDisableDeepCopy); err != nil {
			return nil
		}
		return keyRequests(list.Items)
	})
}

func keyRequests(keys []apigeev1alpha1.DeveloperAppKey) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(keys))
	for _, k := range keys {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: k.Namespace, Name: k.Name}})
	}
	return out
}

// connectionChangedForKeys passes the connection events that change what
// its keys do: creation, deletion, a new spec, and a new status or reason
// of its Ready condition. A rewritten message alone (an unreachable
// organization's next trial time, say) would requeue every key of the
// connection for nothing: its keys are woken by the organization's gate.
func connectionChangedForKeys() predicate.Predicate {
	return predicate.Or(predicate.GenerationChangedPredicate{}, predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return !e.ObjectNew.GetDeletionTimestamp().IsZero() || connectionReadiness(e.ObjectOld) != connectionReadiness(e.ObjectNew)
	}})
}

// connectionReadiness is a connection's Ready status and reason.
func connectionReadiness(o client.Object) string {
	if c := meta.FindStatusCondition(apigeev1alpha1.ConnectionConditions(o), apigeev1alpha1.ConditionReady); c != nil {
		return string(c.Status) + "/" + c.Reason
	}
	return ""
}
