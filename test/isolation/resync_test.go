package isolation

import (
	"context"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

// TestOneReadPerAppPerResync: 200 converged keys in 20 apps resync every
// 8 seconds. Over two cycles the operator reads each app about once a
// cycle (the keys of an app come due together and share the read made in
// their app's slot), and writes nothing to Apigee or to Kubernetes once the
// first resync after the import has recorded each key's developer ID.
func TestOneReadPerAppPerResync(t *testing.T) {
	const apps, perApp, cycles = 20, 10, 2
	interval := 8 * time.Second
	env := testenv.Start(t)
	o := newOrg(t, "resync", apps)
	ns := env.Namespace(t, nil)
	// A snapshot serves other reads for a millisecond only: the keys of an
	// app share a resync's read because it was made in their slot.
	startManager(t, env, controller.Options{ResyncInterval: interval, SnapshotTTL: time.Millisecond, Tenancy: fastBudget})
	o.connect(t, env.Client, ns)
	createKeys(t, env.Client, ns, "k", apps*perApp, apps)
	waitAllReady(t, env.Client, ns, apps*perApp, 5*time.Minute)
	// A key's first resync after its import records its developer's ID
	// (the import's answer does not carry it): one status write, once.
	time.Sleep(interval + time.Second)

	before := versions(t, env.Client, ns)
	o.emu.ResetCalls()
	time.Sleep(cycles * interval) // the resyncs of two cycles are what is measured
	calls := o.emu.CallLog()
	reads := gets(calls)
	perAppCycle := float64(reads) / float64(apps*cycles)
	t.Logf("%d GET app for %d apps over %d cycles: %.2f per app per cycle; %d calls in all", reads, apps, cycles, perAppCycle, len(calls))
	if perAppCycle > 1.1 || reads == 0 {
		t.Errorf("%.2f reads per app per resync cycle; want about one (at most 1.1)", perAppCycle)
	}
	for _, c := range calls {
		if c.Method != "GET" {
			t.Errorf("a resync of converged keys wrote to Apigee: %s %s", c.Method, c.Operation)
		}
	}
	after := versions(t, env.Client, ns)
	for name, rv := range before {
		if after[name] != rv {
			t.Errorf("%s was written during resyncs (resourceVersion %s → %s)", name, rv, after[name])
		}
	}
}

// versions maps the namespace's keys to their resourceVersions.
func versions(t *testing.T, c client.Client, ns string) map[string]string {
	t.Helper()
	list := &apigeev1alpha1.DeveloperAppKeyList{}
	must(t, c.List(context.Background(), list, client.InNamespace(ns)))
	out := map[string]string{}
	for _, k := range list.Items {
		out[k.Name] = k.ResourceVersion
	}
	return out
}
