package controller

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller/grant"
)

// checkGrant stops a key its connection's grants do not cover, before any
// Apigee call, and says whether its grant lets it approve. The answer is
// the one a missing developer, app or product gets (scopedNotFound), so
// it tells a tenant nothing of what exists outside its grant.
func checkGrant(conn *connection, k *apigeev1alpha1.DeveloperAppKey) (approve bool, err error) {
	d, approve := conn.scope.Decide(grant.Key{Developer: k.Spec.Developer, App: k.Spec.App, Products: productNames(&k.Spec)})
	if d == nil {
		return approve, nil
	}
	return false, notGranted(conn, k.Namespace, d.What, quoted(d.Name))
}

// checkDeleteGranted stops the deletion of keys at a developer's app the
// grants no longer cover: the operator deletes only inside the grant.
func checkDeleteGranted(conn *connection, k *apigeev1alpha1.DeveloperAppKey, loc apigeev1alpha1.KeyLocation) error {
	d, _ := conn.scope.Decide(grant.Key{Developer: loc.Developer, App: loc.App})
	if d == nil {
		return nil
	}
	return notGranted(conn, k.Namespace, d.What, quoted(d.Name))
}

// reasonNotFound is the reason of a missing (or not granted) part.
var reasonNotFound = map[string]string{
	"developer":   apigeev1alpha1.ReasonDeveloperNotFound,
	"app":         apigeev1alpha1.ReasonAppNotFound,
	"API product": apigeev1alpha1.ReasonProductNotFound,
}

// notGranted is the one message for a part of a key that Apigee lacks or
// the grants leave out: the two must read alike.
func notGranted(conn *connection, namespace, what, names string) error {
	return terminal(reasonNotFound[what], fmt.Sprintf(
		"%s %s: not found in organization %s, or not granted to namespace %s by ClusterApigeeConnection %s (spec.grants); "+
			"check the name, or ask the connection's administrator for a grant",
		what, names, conn.spec.Organization, namespace, conn.object.GetName()))
}

// scopedNotFound gives Apigee's "not found" answers on a connection with
// grants the message checkGrant gives a part outside them.
func scopedNotFound(conn *connection, k *apigeev1alpha1.DeveloperAppKey, err error) error {
	if err == nil || conn.scope.Whole() {
		return err
	}
	reason, ok := notFoundReason(err)
	if !ok {
		return err
	}
	switch reason {
	case apigeev1alpha1.ReasonDeveloperNotFound:
		return notGranted(conn, k.Namespace, "developer", quoted(k.Spec.Developer))
	case apigeev1alpha1.ReasonAppNotFound:
		return notGranted(conn, k.Namespace, "app", quoted(k.Spec.App))
	}
	names := productNames(&k.Spec)
	if len(names) == 1 {
		return notGranted(conn, k.Namespace, "API product", quoted(names[0]))
	}
	return notGranted(conn, k.Namespace, "API product", "(one of "+quotedList(names)+")")
}

func productNames(spec *apigeev1alpha1.DeveloperAppKeySpec) []string {
	out := make([]string, 0, len(spec.APIProducts))
	for _, p := range spec.APIProducts {
		out = append(out, p.Name)
	}
	return out
}

func quoted(s string) string { return fmt.Sprintf("%q", s) }

func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoted(n)
	}
	return strings.Join(q, ", ")
}

// scopedCondition says what a ClusterApigeeConnection grants; a
// namespaced connection has no such condition.
func scopedCondition(conn *connection) (metav1.Condition, bool) {
	if conn.allowed == nil {
		return metav1.Condition{}, false
	}
	if conn.grants == nil {
		return condition(apigeev1alpha1.ConditionScoped, metav1.ConditionFalse, apigeev1alpha1.ReasonWholeOrganization,
			"no spec.grants: every allowed namespace reaches every developer, app and API product of the organization, "+
				"and may approve; add spec.grants to scope each namespace"), true
	}
	return condition(apigeev1alpha1.ConditionScoped, metav1.ConditionTrue, apigeev1alpha1.ReasonGranted,
		fmt.Sprintf("spec.grants (%d) scope what each allowed namespace reaches", len(conn.grants))), true
}
