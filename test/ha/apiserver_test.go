package ha

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// TestAPIServerRestartMidImport stops the kube-apiserver while the leader
// is importing (etcd keeps the data) and brings it back on the same port
// with the same certificates. Imports Apigee answers while it is down
// cannot be recorded; nothing may be imported twice, lost or deleted. Once
// briefly (the leader keeps its lease unless stopping the API server takes
// longer than the renew deadline on a busy machine); once for longer than
// the renew deadline, so the leader gives up its lease and exits
// mid-reconcile and is started again, as the kubelet would.
func TestAPIServerRestartMidImport(t *testing.T) {
	c := startCluster(t)
	t.Run("brief", func(t *testing.T) { restartMidImport(t, c, false) })
	t.Run("longer than the renew deadline", func(t *testing.T) { restartMidImport(t, c, true) })
}

func restartMidImport(t *testing.T, c *cluster, outlastLease bool) {
	a := newApigee(t, 800*time.Millisecond)
	a.emu.InjectFault(emulator.Fault{Operation: emulator.OpCreateKey, Latency: 300 * time.Millisecond})

	replicas := []*replica{startReplica(t, c, "replica-a", true), startReplica(t, c, "replica-b", true)}
	leader, _ := waitLeader(t, c, replicas)

	ns := setupNamespace(t, c, a)
	apps := []string{"app-0", "app-1", "app-2"}
	generated := a.addApps(t, apps)
	keys := batch(36, apps, "app-0")
	createKeys(t, c, ns, keys)

	eventually(t, 90*time.Second, "imports in flight", func() (bool, string) {
		created, pending := a.progress()
		return created >= len(keys)/4 && created < len(keys) && len(pending) > 0,
			fmt.Sprintf("%d of %d keys created, %d answers on their way", created, len(keys), len(pending))
	})
	// The answers on their way arrive once the API server is down: their
	// importers cannot record them.
	release := a.holdAnswers()
	stopped := time.Now()
	if err := c.env.StopAPIServer(); err != nil {
		release()
		t.Fatalf("stopping the API server: %v", err)
	}
	down := time.Now()
	release()
	eventually(t, 30*time.Second, "imports in flight to finish while the API server is down", func() (bool, string) {
		return a.inFlight() == 0, fmt.Sprintf("%d in flight", a.inFlight())
	})
	if outlastLease {
		// A leader that cannot renew its lease within the renew deadline
		// stops at once, whatever it was doing: no two replicas lead.
		eventually(t, renewDeadline+30*time.Second, leader.name+" to give up the lease and exit", func() (bool, string) {
			return len(leader.runs()) > 0 && strings.Contains(leader.out.String(), "leader election lost"),
				fmt.Sprintf("%d runs ended", len(leader.runs()))
		})
	}
	// Keys Apigee created that their importer could not record: answered
	// while the API server was down, or never answered because the leader
	// exited first.
	created, _ := a.progress()
	unrecorded := a.answeredSince(down) + len(a.lostAnswers())
	if err := c.env.StartAPIServer(); err != nil {
		t.Fatalf("starting the API server again: %v", err)
	}
	t.Logf("API server down for %s with %d of %d keys created in Apigee, %d of them unrecordable (answered while it was down or never)",
		time.Since(stopped).Round(time.Millisecond), created, len(keys), unrecorded)
	if unrecorded == 0 {
		t.Error("every key Apigee created could be recorded: the test did not exercise what it is for")
	}

	waitAllReady(t, c, ns, keys, 90*time.Second)
	checkApigee(t, a, apps, keys, generated, map[string]bool{generated["app-0"]: true})
	noneLeaked(t, keys, replicas...)
	for _, r := range replicas {
		if runs := r.runs(); len(runs) > 0 {
			t.Logf("%s exited %d times and was started again (%d times after losing the lease)",
				r.name, len(runs), strings.Count(r.out.String(), "leader election lost"))
		}
	}
	for _, r := range replicas {
		if t.Failed() {
			t.Logf("%s's errors:\n%s", r.name, r.problems(keys))
		}
		r.stop(t) // releasing the lease for the next run
	}
}
