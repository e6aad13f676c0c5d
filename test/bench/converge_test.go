package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// convergence is one import: every key created at once, as kubectl apply
// of a directory would, until all are Ready.
type convergence struct {
	budget  int // the organization's calls a minute
	keys    int
	elapsed time.Duration   // first create to last Ready
	readyAt []time.Duration // when each key first became Ready, sorted
	calls   callCounts
	usage   usage
}

// minimum is the time two calls a key take at the budget.
func (c convergence) minimum() time.Duration {
	return time.Duration(float64(2*c.keys) / float64(c.budget) * float64(time.Minute))
}

func (c convergence) ratio() float64 { return c.elapsed.Seconds() / c.minimum().Seconds() }

func (c convergence) callsPerKey() float64 { return float64(c.calls.total) / float64(c.keys) }

func (c convergence) throttled() int { return c.calls.byStatus[429] }

// percentile is when the given share of the keys was Ready.
func (c convergence) percentile(p float64) time.Duration {
	if len(c.readyAt) == 0 {
		return 0
	}
	return c.readyAt[min(len(c.readyAt)-1, int(p*float64(len(c.readyAt))))]
}

// converge creates the namespace's connection and keys and waits until
// every key is Ready. cluster uses a ClusterApigeeConnection whose
// rateLimit gives the organization the whole quota.
func (h *harness) converge(op *operator, o *org, ns string, cluster bool, budget int) convergence {
	h.namespace(ns)
	ref := h.connect(op, o, ns, cluster)
	watch := h.watchReady(ns, h.size.keys)
	res := convergence{budget: budget, keys: h.size.keys}
	calls0, api0, op0 := o.calls.snapshot(), h.apiserverMetrics(), op.metrics(h)

	start := time.Now()
	watch.start(start)
	created := make(chan error, 1)
	go func() { created <- h.createKeys(ns, ref, o.apps) }()
	h.progress("run %s: creating %d keys; the minimum at %d calls/min is %s", op.name, res.keys, budget, res.minimum().Round(time.Second))
	maxLoad := h.waitAllReady(op, o, watch, created, res.minimum())

	res.readyAt = watch.times()
	res.elapsed = res.readyAt[len(res.readyAt)-1]
	res.calls = o.calls.snapshot().since(calls0)
	res.usage = measureUsage(res.elapsed, api0, h.apiserverMetrics(), op0, op.metrics(h))
	res.usage.maxLoad = maxLoad
	h.progress("run %s: all %d keys Ready in %s (%.2f× the minimum), %d Apigee calls (%.2f a key), %d answered 429",
		op.name, res.keys, res.elapsed.Round(time.Second), res.ratio(), res.calls.total, res.callsPerKey(), res.throttled())
	return res
}

// connect creates the token Secret and the connection and waits until the
// connection is Ready.
func (h *harness) connect(op *operator, o *org, ns string, cluster bool) apigeev1alpha1.ConnectionReference {
	if err := h.c.Create(h.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apigee-token"},
		StringData: map[string]string{"token": token}}); err != nil {
		h.b.Fatal(err)
	}
	spec := apigeev1alpha1.ApigeeConnectionSpec{Organization: o.name, Endpoint: o.url,
		Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{
			SecretRef: apigeev1alpha1.SecretReference{Name: "apigee-token"}}}}
	var conn client.Object
	var ref apigeev1alpha1.ConnectionReference
	if cluster {
		spec.Auth.BearerToken.SecretRef.Namespace = ns
		spec.RateLimit = &apigeev1alpha1.RateLimit{RequestsPerMinute: quotaPerMinute, Burst: 20}
		conn = &apigeev1alpha1.ClusterApigeeConnection{ObjectMeta: metav1.ObjectMeta{Name: ns},
			Spec: apigeev1alpha1.ClusterApigeeConnectionSpec{ApigeeConnectionSpec: spec,
				AllowedNamespaces: apigeev1alpha1.AllowedNamespaces{Names: []string{ns}}}}
		ref = apigeev1alpha1.ConnectionReference{Kind: "ClusterApigeeConnection", Name: ns}
	} else {
		conn = &apigeev1alpha1.ApigeeConnection{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apigee"}, Spec: spec}
		ref = apigeev1alpha1.ConnectionReference{Name: "apigee"}
	}
	if err := h.c.Create(h.ctx, conn); err != nil {
		h.b.Fatal(err)
	}
	key := client.ObjectKeyFromObject(conn)
	op.await(h, "connection "+key.String()+" Ready", time.Minute, func() bool {
		if err := h.c.Get(h.ctx, key, conn); err != nil {
			return false
		}
		return meta.IsStatusConditionTrue(apigeev1alpha1.ConnectionConditions(conn), apigeev1alpha1.ConditionReady)
	})
	return ref
}

// createKeys creates each key's Secret and then the key, round robin over
// the apps, several at a time.
func (h *harness) createKeys(ns string, ref apigeev1alpha1.ConnectionReference, apps int) error {
	return h.tryParallel(h.size.keys, func(ctx context.Context, i int) error {
		name := fmt.Sprintf("key-%d", i)
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			StringData: map[string]string{"consumerKey": fmt.Sprintf("bench%sKey%d", strings.ReplaceAll(ns, "-", ""), i),
				"consumerSecret": fmt.Sprintf("benchSecret%d", i)}}
		if err := h.c.Create(ctx, s); err != nil {
			return err
		}
		return h.c.Create(ctx, &apigeev1alpha1.DeveloperAppKey{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: apigeev1alpha1.DeveloperAppKeySpec{
				ConnectionRef: ref, Developer: developer, App: appName(i % apps),
				Credentials: apigeev1alpha1.CredentialsSource{SecretRef: apigeev1alpha1.LocalSecretReference{Name: name}},
				APIProducts: []apigeev1alpha1.APIProductRef{{Name: "p1"}, {Name: "p2"}},
			},
		})
	})
}

// waitAllReady waits for every key, printing progress every 30 s, and
// returns the highest load average seen. It gives up after ten times the
// minimum plus ten minutes.
func (h *harness) waitAllReady(op *operator, o *org, watch *readyWatch, created chan error, minimum time.Duration) float64 {
	deadline := time.After(10*minimum + 10*time.Minute)
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	last, lastAt := o.calls.snapshot(), time.Now()
	maxLoad := loadAverage()
	for {
		select {
		case <-watch.done:
			return max(maxLoad, loadAverage())
		case err := <-created:
			if err != nil {
				h.b.Fatalf("creating keys: %v", err)
			}
			h.progress("run %s: every key created", op.name)
		case <-op.exited:
			h.b.Fatalf("operator %s exited (%v); log tail:\n%s", op.name, op.exitErr, op.log.tail())
		case <-deadline:
			h.b.Fatalf("run %s: %d of %d keys Ready; not Ready by reason: %v", op.name, watch.count(), watch.want, watch.pending())
		case now := <-tick.C:
			calls := o.calls.snapshot()
			d := calls.since(last)
			m := op.metrics(h)
			load := loadAverage()
			maxLoad = max(maxLoad, load)
			h.progress("run %s: %d/%d Ready; %.0f calls/min (%d answered 429); queue %0.f, %0.f workers busy; load %.1f; %s",
				op.name, watch.count(), watch.want, float64(d.total)/now.Sub(lastAt).Minutes(), d.byStatus[429],
				m.sum("workqueue_depth", map[string]string{"name": "developerappkey"}),
				m.sum("controller_runtime_active_workers", map[string]string{"controller": "developerappkey"}), load, op.memoryNow(h))
			last, lastAt = calls, now
		}
	}
}

// readyWatch notes when each key first becomes Ready, from a watch (an
// informer) rather than lists, which would load the API server.
type readyWatch struct {
	mu      sync.Mutex
	began   time.Time
	want    int
	readyAt map[types.NamespacedName]time.Duration
	reasons map[types.NamespacedName]string
	done    chan struct{}
}

func (h *harness) watchReady(ns string, want int) *readyWatch {
	w := &readyWatch{want: want, readyAt: map[types.NamespacedName]time.Duration{},
		reasons: map[types.NamespacedName]string{}, done: make(chan struct{})}
	c, err := cache.New(h.cfg, cache.Options{Scheme: h.env.Scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		h.b.Fatal(err)
	}
	inf, err := c.GetInformer(h.ctx, &apigeev1alpha1.DeveloperAppKey{})
	if err != nil {
		h.b.Fatal(err)
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    w.observe,
		UpdateFunc: func(_, o any) { w.observe(o) },
	}); err != nil {
		h.b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	h.b.Cleanup(cancel)
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		h.b.Fatal("the bench's key watch did not sync")
	}
	return w
}

func (w *readyWatch) start(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.began = t
}

func (w *readyWatch) observe(obj any) {
	k, ok := obj.(*apigeev1alpha1.DeveloperAppKey)
	if !ok {
		return
	}
	name := client.ObjectKeyFromObject(k)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, seen := w.readyAt[name]; seen {
		return
	}
	c := meta.FindStatusCondition(k.Status.Conditions, apigeev1alpha1.ConditionReady)
	if c == nil {
		w.reasons[name] = "no Ready condition yet"
		return
	}
	if c.Status != metav1.ConditionTrue {
		w.reasons[name] = c.Reason
		return
	}
	delete(w.reasons, name)
	w.readyAt[name] = time.Since(w.began)
	if len(w.readyAt) == w.want {
		close(w.done)
	}
}

func (w *readyWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.readyAt)
}

// pending counts the keys not Ready yet by their last Ready reason.
func (w *readyWatch) pending() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for _, r := range w.reasons {
		out[r]++
	}
	if unseen := w.want - len(w.readyAt) - len(w.reasons); unseen > 0 {
		out["not created or not seen"] = unseen
	}
	return out
}

func (w *readyWatch) times() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]time.Duration, 0, len(w.readyAt))
	for _, t := range w.readyAt {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// resyncReads is what converged keys cost over whole resync intervals.
type resyncReads struct {
	apps, cycles int
	calls        callCounts
	usage        usage
	// firstReads is GET app calls per app in the interval right after the
	// import, when the resyncs held behind the import run and then the
	// app's slot comes round; the cycles measured follow it.
	firstReads float64
}

// readsPerApp is GET app calls per app per resync interval.
func (r resyncReads) readsPerApp() float64 {
	return float64(r.calls.byOp[emulator.OpGetApp]) / float64(r.apps) / float64(r.cycles)
}

// watchResync counts Apigee calls over cycles resync intervals, after the
// first interval once every key is Ready.
func (h *harness) watchResync(op *operator, o *org, cycles int) resyncReads {
	window := time.Duration(cycles) * resync
	h.progress("watching the first resync interval after the import, then %d more (%s)", cycles, window)
	first := o.calls.snapshot()
	op.sleep(h, resync)
	r := resyncReads{apps: o.apps, cycles: cycles,
		firstReads: float64(o.calls.snapshot().since(first).byOp[emulator.OpGetApp]) / float64(o.apps)}
	h.progress("resync: %.2f GET app per app in the first interval after the import", r.firstReads)
	calls0, api0, op0 := o.calls.snapshot(), h.apiserverMetrics(), op.metrics(h)
	op.sleep(h, window) // the measurement window itself
	r.calls = o.calls.snapshot().since(calls0)
	r.usage = measureUsage(window, api0, h.apiserverMetrics(), op0, op.metrics(h))
	r.usage.maxLoad = loadAverage()
	h.progress("resync: %d Apigee calls %v over %s: %.2f GET app per app per interval", r.calls.total, r.calls.byOp, window, r.readsPerApp())
	return r
}
