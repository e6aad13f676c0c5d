package controller

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// orgGates decide when a key's reconcile may talk to its organization, so
// that no worker waits on one organization while other organizations'
// keys are queued.
//
// Why this design: controller-runtime gives a controller one work queue
// and one pool of workers. A reconcile that waited inside an
// organization's rate limiter, or on an endpoint that hangs, held a worker;
// enough of them and every other organization's keys waited too.
// Requeueing after the limiter's delay frees the worker, but every
// throttled key then comes back at the same instant to find the budget
// spent again; worker pools per organization would need a second queue
// beside controller-runtime's. A gate instead keeps, per organization, the
// keys waiting for a turn, in order (changed keys before resyncs), and puts
// them back on the controller's queue when the organization can serve
// them: it answers, it has budget, and fewer than maxActive of its keys are
// being reconciled. Calls still take their tokens from the organization's
// limiter, so its limit holds exactly, and wait at most a second for one.
//
// Shares are also kept by tenant: a namespace's keys, across all of its
// connections and organizations, hold at most maxPerNamespace turns
// (active or invited). Organization names are the tenant's to choose, so
// a share per organization alone would let a tenant with endpoints that
// hang take every worker by naming more organizations.
type orgGates struct {
	maxActive       int
	maxPerNamespace int
	now             func() time.Time
	wake            chan event.GenericEvent

	mu    sync.Mutex
	lanes map[string]*orgLane
	// active maps a key being reconciled to its organization's lane,
	// invited a key woken for its turn.
	active, invited map[types.NamespacedName]*orgLane
	// held counts each namespace's turns, active or invited.
	held map[string]int
	// resyncDue is when each key's resync was scheduled: a key back
	// before that came for a change, and goes first.
	resyncDue map[types.NamespacedName]time.Time
	// waitingKeys, if set, exports how many keys wait in each lane, for
	// the first maxSeries lanes (exported).
	waitingKeys *prometheus.GaugeVec
	exported    int
	maxSeries   int
}

// orgLane is one organization's turns.
type orgLane struct {
	key     string
	limiter *rate.Limiter
	health  *apigee.Health
	active  map[types.NamespacedName]bool
	// invited keys were put back on the queue for their turn, kept until.
	invited map[types.NamespacedName]time.Time
	// changed and resync wait in arrival order; waiting indexes both.
	changed, resync []types.NamespacedName
	waiting         map[types.NamespacedName]bool
	waitingGauge    prometheus.Gauge // nil: not exported
	endpoint, org   string
	timer           *time.Timer
	timerAt         time.Time
}

// wokenKeys enqueues the keys the gates wake at the priority of any
// change, behind the changes already queued: a boost would let one
// organization's woken keys (all of them, when it answers again) pass
// every other organization's changes.
func (g *orgGates) wokenKeys() handler.TypedEventHandler[client.Object, reconcile.Request] {
	return handler.Funcs{GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: e.Object.GetNamespace(), Name: e.Object.GetName()}})
	}}
}

// inviteTTL is how long a woken key's turn is kept for it; a key that
// does not come back (deleted meanwhile) gives its turn to the next.
const inviteTTL = 10 * time.Second

// newOrgGates gives each organization maxActive turns and each namespace
// maxPerNamespace, across its organizations.
func newOrgGates(maxActive, maxPerNamespace int, now func() time.Time) *orgGates {
	return &orgGates{
		maxActive: max(1, maxActive), maxPerNamespace: max(1, maxPerNamespace), now: now, wake: make(chan event.GenericEvent, 1024),
		lanes: map[string]*orgLane{}, active: map[types.NamespacedName]*orgLane{}, invited: map[types.NamespacedName]*orgLane{},
		held: map[string]int{}, resyncDue: map[types.NamespacedName]time.Time{}, maxSeries: apigee.DefaultOrganizationSeries,
	}
}

// enter lets key's reconcile talk to the organization (orgKey, with its
// limiter and health), or parks it and says why. changed says the key's
// spec is not yet observed or it is not Ready; resync says the key came
// for its background check (neither changed nor back before its resync
// was due). A key that enters must leave when its reconcile ends.
func (g *orgGates) enter(orgKey string, limiter *rate.Limiter, health *apigee.Health, key types.NamespacedName, endpoint, org string, changed bool) (resync bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	lane := g.lane(orgKey, limiter, health, endpoint, org)
	now := g.now()
	g.expireInvitations(lane, now)
	urgent := changed || g.early(key, now)
	if _, ok := lane.invited[key]; ok || lane.active[key] {
		g.admit(lane, key)
		return !urgent, nil
	}
	if st := health.Status(); !st.Reachable {
		lane.park(key, urgent)
		g.pump(lane, now) // a trial may be due
		return false, unreachable(org, st)
	}
	if !g.namespaceHasRoom(key.Namespace) {
		lane.park(key, urgent)
		return false, namespaceAtShare(g.maxPerNamespace)
	}
	if lane.hasRoom(g.maxActive) && lane.nobodyAhead(urgent, g.namespaceHasRoom) && lane.tokens(now) >= float64(1+len(lane.invited)) {
		g.admit(lane, key)
		return !urgent, nil
	}
	lane.park(key, urgent)
	g.pump(lane, now)
	return false, waitingForTurn(org)
}

// namespaceHasRoom: the namespace holds fewer turns than its share.
func (g *orgGates) namespaceHasRoom(ns string) bool { return g.held[ns] < g.maxPerNamespace }

// hold and release count a namespace's turns; release says whether the
// namespace was at its share, so its keys waiting elsewhere may go now.
func (g *orgGates) hold(ns string) { g.held[ns]++ }

func (g *orgGates) release(ns string) (wasFull bool) {
	wasFull = !g.namespaceHasRoom(ns)
	if g.held[ns]--; g.held[ns] <= 0 {
		delete(g.held, ns)
	}
	return wasFull
}

// pumpOthers wakes what other lanes can take now that a namespace is
// below its share: its keys may wait in any of them.
func (g *orgGates) pumpOthers(except *orgLane) {
	for _, lane := range g.lanes {
		if lane != except && len(lane.waiting) > 0 {
			g.pump(lane, g.now())
		}
	}
}

// leave ends key's turn; parkAgain keeps it waiting first in line (its
// reconcile stopped for want of budget, not for good). A key woken that
// ended its reconcile without entering (it had nothing to do there) gives
// its turn to the next.
func (g *orgGates) leave(key types.NamespacedName, parkAgain bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if lane, ok := g.invited[key]; ok {
		delete(g.invited, key)
		if _, still := lane.invited[key]; still {
			delete(lane.invited, key)
			if g.release(key.Namespace) {
				g.pumpOthers(lane)
			}
			g.pump(lane, g.now())
		}
	}
	lane, ok := g.active[key]
	if !ok {
		return
	}
	delete(g.active, key)
	delete(lane.active, key)
	if g.release(key.Namespace) {
		g.pumpOthers(lane)
	}
	if g.lanes[lane.key] != lane {
		return // the organization was forgotten meanwhile
	}
	if parkAgain {
		lane.parkFirst(key)
	}
	g.pump(lane, g.now())
}

// resyncAt records when key's resync is due.
func (g *orgGates) resyncAt(key types.NamespacedName, at time.Time) {
	g.mu.Lock()
	g.resyncDue[key] = at
	g.mu.Unlock()
}

// forget drops a deleted key.
func (g *orgGates) forget(key types.NamespacedName) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.resyncDue, key)
	for _, lane := range g.lanes {
		lane.unpark(key)
	}
}

// healthChanged wakes an organization's keys once it answers again, and
// schedules the trial of one that stopped.
func (g *orgGates) healthChanged(orgKey string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if lane, ok := g.lanes[orgKey]; ok {
		g.pump(lane, g.now())
	}
}

// forgetOrganization drops the lane of an organization no connection
// reaches any more, with its gauge. Its waiting keys come back with their
// resync or their connection's change; keys still in their turn leave as
// usual.
func (g *orgGates) forgetOrganization(orgKey string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	lane, ok := g.lanes[orgKey]
	if !ok {
		return
	}
	delete(g.lanes, orgKey)
	if lane.timer != nil {
		lane.timer.Stop()
	}
	for key := range lane.invited {
		delete(g.invited, key)
		g.release(key.Namespace)
	}
	if lane.waitingGauge != nil {
		g.waitingKeys.DeleteLabelValues(lane.endpoint, lane.org)
		g.exported--
	}
}

// early: a key back before its resync was due came for a change (its
// Secret, say). A key with no resync recorded (the operator just started)
// came for its resync.
func (g *orgGates) early(key types.NamespacedName, now time.Time) bool {
	due, ok := g.resyncDue[key]
	return ok && now.Before(due.Add(-time.Second))
}

func (g *orgGates) lane(orgKey string, limiter *rate.Limiter, health *apigee.Health, endpoint, org string) *orgLane {
	lane, ok := g.lanes[orgKey]
	if !ok {
		lane = &orgLane{key: orgKey, endpoint: endpoint, org: org, active: map[types.NamespacedName]bool{},
			invited: map[types.NamespacedName]time.Time{}, waiting: map[types.NamespacedName]bool{}}
		if g.waitingKeys != nil && g.exported < g.maxSeries {
			lane.waitingGauge = g.waitingKeys.WithLabelValues(endpoint, org)
			g.exported++
		}
		g.lanes[orgKey] = lane
	}
	lane.limiter, lane.health = limiter, health
	return lane
}

// admit gives key its turn; a key that was invited already holds it.
func (g *orgGates) admit(lane *orgLane, key types.NamespacedName) {
	_, invited := lane.invited[key]
	if !invited && !lane.active[key] {
		g.hold(key.Namespace)
	}
	delete(lane.invited, key)
	delete(g.invited, key)
	lane.unpark(key)
	lane.active[key] = true
	g.active[key] = lane
}

// pump wakes waiting keys while the organization can take them, and sets
// a timer for when it can take more. g.mu is held.
func (g *orgGates) pump(lane *orgLane, now time.Time) {
	g.expireInvitations(lane, now)
	var woken []types.NamespacedName
	if st := lane.health.Status(); !st.Reachable {
		woken = g.inviteTrial(lane, st, now)
	}
	for len(lane.waiting) > 0 && lane.hasRoom(g.maxActive) && lane.health.Status().Reachable {
		need := float64(1 + len(lane.invited))
		if tokens := lane.tokens(now); tokens < need {
			g.schedule(lane, now.Add(lane.timeFor(need-tokens)))
			break
		}
		key, ok := lane.next(g.namespaceHasRoom)
		if !ok {
			break // every waiting key's namespace holds its share
		}
		g.invite(lane, key, now)
		woken = append(woken, key)
	}
	if len(lane.invited) > 0 && len(lane.waiting) > 0 {
		g.schedule(lane, lane.firstExpiry())
	}
	if len(woken) > 0 {
		go g.send(woken)
	}
}

// inviteTrial wakes one waiting key of an unreachable organization when
// its next trial is due, so that the trial is a key call (the kind that
// failed) rather than the probe, or schedules the pump for then.
func (g *orgGates) inviteTrial(lane *orgLane, st apigee.HealthStatus, now time.Time) []types.NamespacedName {
	if len(lane.waiting) == 0 || st.Trialing || len(lane.invited)+len(lane.active) > 0 {
		return nil
	}
	if now.Before(st.NextTrial) {
		g.schedule(lane, st.NextTrial)
		return nil
	}
	key, ok := lane.next(g.namespaceHasRoom)
	if !ok {
		return nil
	}
	g.invite(lane, key, now)
	return []types.NamespacedName{key}
}

func (g *orgGates) invite(lane *orgLane, key types.NamespacedName, now time.Time) {
	lane.invited[key] = now.Add(inviteTTL)
	g.invited[key] = lane
	g.hold(key.Namespace)
}

// expireInvitations gives back the turns of woken keys that did not come
// (deleted meanwhile, say). g.invited's entry goes when the key leaves.
func (g *orgGates) expireInvitations(lane *orgLane, now time.Time) {
	for k, until := range lane.invited {
		if now.After(until) {
			delete(lane.invited, k)
			g.release(k.Namespace)
		}
	}
}

func (g *orgGates) send(keys []types.NamespacedName) {
	for _, k := range keys {
		g.wake <- event.GenericEvent{Object: &apigeev1alpha1.DeveloperAppKey{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}}}
	}
}

// schedule makes sure the lane is pumped again at at (or earlier).
func (g *orgGates) schedule(lane *orgLane, at time.Time) {
	if lane.timer != nil && !lane.timerAt.After(at) {
		return
	}
	if lane.timer != nil {
		lane.timer.Stop()
	}
	lane.timerAt = at
	lane.timer = time.AfterFunc(max(at.Sub(g.now()), time.Millisecond), func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		lane.timer = nil
		g.pump(lane, g.now())
	})
}

func (l *orgLane) hasRoom(maxActive int) bool {
	return len(l.active)+len(l.invited) < maxActive
}

// nobodyAhead: no key waits that should go before this one. A key whose
// namespace holds its share goes before no one.
func (l *orgLane) nobodyAhead(urgent bool, mayTake func(namespace string) bool) bool {
	canGo := func(k types.NamespacedName) bool { return mayTake(k.Namespace) }
	return !slices.ContainsFunc(l.changed, canGo) && (urgent || !slices.ContainsFunc(l.resync, canGo))
}

// tokens the organization's budget holds now (Inf: no limit).
func (l *orgLane) tokens(now time.Time) float64 {
	if l.limiter == nil || l.limiter.Limit() == rate.Inf {
		return float64(1 << 30)
	}
	return l.limiter.TokensAt(now)
}

// timeFor is how long the budget takes to add n tokens.
func (l *orgLane) timeFor(n float64) time.Duration {
	perSecond := float64(l.limiter.Limit())
	if perSecond <= 0 {
		return time.Minute
	}
	return time.Duration(n / perSecond * float64(time.Second))
}

// park queues key unless it waits already; a change moves a key waiting
// for its resync to the changed line.
func (l *orgLane) park(key types.NamespacedName, urgent bool) {
	if l.waiting[key] {
		if urgent && slices.Contains(l.resync, key) {
			l.resync = slices.DeleteFunc(l.resync, func(k types.NamespacedName) bool { return k == key })
			l.changed = append(l.changed, key)
		}
		return
	}
	l.waiting[key] = true
	if urgent {
		l.changed = append(l.changed, key)
	} else {
		l.resync = append(l.resync, key)
	}
	l.countWaiting()
}

// countWaiting exports how many keys wait.
func (l *orgLane) countWaiting() {
	if l.waitingGauge != nil {
		l.waitingGauge.Set(float64(len(l.waiting)))
	}
}

// parkFirst queues key before every other.
func (l *orgLane) parkFirst(key types.NamespacedName) {
	l.unpark(key)
	l.waiting[key] = true
	l.changed = slices.Insert(l.changed, 0, key)
	l.countWaiting()
}

func (l *orgLane) unpark(key types.NamespacedName) {
	if !l.waiting[key] {
		return
	}
	delete(l.waiting, key)
	match := func(k types.NamespacedName) bool { return k == key }
	l.changed = slices.DeleteFunc(l.changed, match)
	l.resync = slices.DeleteFunc(l.resync, match)
	l.left()
}

// next takes the first waiting key whose namespace may take a turn,
// changed keys first. Keys it passes keep their places.
func (l *orgLane) next(mayTake func(namespace string) bool) (types.NamespacedName, bool) {
	for _, line := range []*[]types.NamespacedName{&l.changed, &l.resync} {
		for i, key := range *line {
			if mayTake(key.Namespace) {
				*line = slices.Delete(*line, i, i+1)
				delete(l.waiting, key)
				l.left()
				return key, true
			}
		}
	}
	return types.NamespacedName{}, false
}

// left follows a key leaving the line. An emptied line lets go of what it
// grew: a Go map never shrinks, and after an import of 10,000 keys the
// line would keep about 1.5 MiB for good.
func (l *orgLane) left() {
	if len(l.waiting) == 0 {
		l.waiting, l.changed, l.resync = map[types.NamespacedName]bool{}, nil, nil
	}
	l.countWaiting()
}

func (l *orgLane) firstExpiry() time.Time {
	var first time.Time
	for _, until := range l.invited {
		if first.IsZero() || until.Before(first) {
			first = until
		}
	}
	return first.Add(time.Millisecond)
}

// waitingForTurn is a key parked until its organization can take it: not
// a failure, so a Ready key stays Ready.
func waitingForTurn(org string) error {
	return &conditionError{reason: apigeev1alpha1.ReasonRateLimited, wait: true, message: fmt.Sprintf(
		"waiting for a turn within organization %s's call budget; keys of other organizations are not held up", org)}
}

// namespaceAtShare is a key parked while its namespace's keys hold their
// share of the workers; like waitingForTurn, not a failure.
func namespaceAtShare(share int) error {
	return &conditionError{reason: apigeev1alpha1.ReasonRateLimited, wait: true, message: fmt.Sprintf(
		"waiting for a turn: this namespace's keys already hold their share of the operator's workers (%d at once, across all of its connections)", share)}
}

// unreachable is a key parked until its organization answers again. When
// only key calls failed, the connection's probe fails at once too (its
// Ready says Unreachable) and the key says so, as any key of a connection
// that is not Ready does; but it waits here, as one of the keys that make
// the trials, rather than for the connection.
func unreachable(org string, st apigee.HealthStatus) error {
	if st.KeyCallTrial {
		return &conditionError{reason: apigeev1alpha1.ReasonConnectionNotReady, wait: true, message: fmt.Sprintf(
			"the connection is not Ready (Unreachable): organization %s is not answering key calls (%d in a row failed; last: %s); "+
				"its keys wait, and one of them makes the next trial call, at %s", org, st.Failures, st.Last, st.NextTrial.UTC().Format(time.RFC3339))}
	}
	return &conditionError{reason: apigeev1alpha1.ReasonUnreachable, wait: true, message: fmt.Sprintf(
		"organization %s is not answering (%d calls in a row failed; last: %s); its keys are retried when a trial call, "+
			"next at %s, succeeds (see the connection's Ready condition)", org, st.Failures, st.Last, st.NextTrial.UTC().Format(time.RFC3339))}
}
