// Package grant decides what a namespace's keys may reach through a
// ClusterApigeeConnection: which namespaces a selector takes in, and
// whether one grant covers a key's developer, app and products. It is
// pure: callers bring the namespace's labels.
package grant

import (
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// Selects reports whether sel takes in the namespace (by name, or by its
// labels). An invalid selector takes in nothing.
func Selects(sel apigeev1alpha1.AllowedNamespaces, namespace string, nsLabels map[string]string) bool {
	if slices.Contains(sel.Names, namespace) {
		return true
	}
	if sel.Selector == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel.Selector)
	return err == nil && s.Matches(labels.Set(nsLabels))
}

// NeedsLabels reports whether deciding for a namespace other than those
// named needs its labels.
func NeedsLabels(allowed apigeev1alpha1.AllowedNamespaces, grants []apigeev1alpha1.Grant) bool {
	if allowed.Selector != nil {
		return true
	}
	return slices.ContainsFunc(grants, func(g apigeev1alpha1.Grant) bool { return g.Namespaces.Selector != nil })
}

// Scope is what one namespace may reach through one connection.
type Scope struct {
	whole  bool
	grants []apigeev1alpha1.Grant
}

// WholeOrganization is the scope of a connection without grants (and of
// a namespace's own ApigeeConnection).
func WholeOrganization() Scope { return Scope{whole: true} }

// For is the scope the grants give a namespace: the grants selecting it.
// No grants at all is the whole organization.
func For(grants []apigeev1alpha1.Grant, namespace string, nsLabels map[string]string) Scope {
	if grants == nil {
		return WholeOrganization()
	}
	s := Scope{grants: []apigeev1alpha1.Grant{}}
	for _, g := range grants {
		if Selects(g.Namespaces, namespace, nsLabels) {
			s.grants = append(s.grants, g)
		}
	}
	return s
}

// Whole reports whether the scope is the whole organization.
func (s Scope) Whole() bool { return s.whole }

// Denial names the first part of a key no grant covers.
type Denial struct {
	// What is "developer", "app" or "API product".
	What string
	Name string
}

// Key is what one key asks for.
type Key struct {
	// Developer is the developer as the spec names it (email or ID).
	Developer string
	App       string
	Products  []string
}

// Decide says whether one grant covers the whole key, and whether a
// grant that covers it lets it approve. The denial names the first part
// (developer, then app, then product) that no grant covering the parts
// before it covers.
func (s Scope) Decide(k Key) (denial *Denial, approve bool) {
	if s.whole {
		return nil, true
	}
	var byDeveloper, byApp []apigeev1alpha1.Grant
	for _, g := range s.grants {
		if slices.ContainsFunc(g.Developers, func(p string) bool { return Match(strings.ToLower(p), strings.ToLower(k.Developer)) }) {
			byDeveloper = append(byDeveloper, g)
		}
	}
	if len(byDeveloper) == 0 {
		return &Denial{What: "developer", Name: k.Developer}, false
	}
	for _, g := range byDeveloper {
		if matchesAny(g.Apps, k.App) {
			byApp = append(byApp, g)
		}
	}
	if len(byApp) == 0 {
		return &Denial{What: "app", Name: k.App}, false
	}
	covered := false
	for _, g := range byApp {
		if !slices.ContainsFunc(k.Products, func(p string) bool { return !matchesAny(g.APIProducts, p) }) {
			covered = true
			approve = approve || g.Approval == apigeev1alpha1.GrantApprovalAllowed
		}
	}
	if covered {
		return nil, approve
	}
	for _, p := range k.Products {
		if !matchesAny(byApp[0].APIProducts, p) {
			return &Denial{What: "API product", Name: p}, false
		}
	}
	return nil, false // unreachable: byApp[0] misses some product
}

func matchesAny(patterns []string, s string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return Match(p, s) })
}

// Match reports whether s matches pattern, where "*" stands for any run
// of characters (none included) and every other character for itself.
func Match(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
