package grant

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"a", "a", true}, {"a", "ab", false}, {"*", "", true}, {"*", "anything", true},
		{"team-a-*", "team-a-orders", true}, {"team-a-*", "team-b-orders", false},
		{"*@a.example.com", "x@a.example.com", true}, {"*@a.example.com", "x@a.example.com.evil", false},
		{"a*b*c", "abc", true}, {"a*b*c", "aXbYc", true}, {"a*b*c", "acb", false},
		{"ab*ba", "aba", false}, {"a?", "ab", false}, {"[a]", "a", false},
	} {
		if got := Match(c.pattern, c.s); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestSelects(t *testing.T) {
	byName := apigeev1alpha1.AllowedNamespaces{Names: []string{"team-a"}}
	byLabel := apigeev1alpha1.AllowedNamespaces{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}}
	invalid := apigeev1alpha1.AllowedNamespaces{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Bogus"}}}}
	if !Selects(byName, "team-a", nil) || Selects(byName, "team-b", nil) {
		t.Error("names select by name only")
	}
	if !Selects(byLabel, "x", map[string]string{"team": "a"}) || Selects(byLabel, "x", map[string]string{"team": "b"}) {
		t.Error("a selector selects by label")
	}
	if Selects(invalid, "x", map[string]string{"team": "a"}) {
		t.Error("an invalid selector must select nothing")
	}
	if NeedsLabels(byName, []apigeev1alpha1.Grant{{Namespaces: byName}}) || !NeedsLabels(byName, []apigeev1alpha1.Grant{{Namespaces: byLabel}}) {
		t.Error("labels are needed only when some selector is set")
	}
}

func teamA(approval apigeev1alpha1.GrantApproval) apigeev1alpha1.Grant {
	return apigeev1alpha1.Grant{
		Namespaces:  apigeev1alpha1.AllowedNamespaces{Names: []string{"team-a"}},
		Developers:  []string{"*@team-a.example.com"},
		Apps:        []string{"a-*"},
		APIProducts: []string{"a-read", "a-manual"},
		Approval:    approval,
	}
}

func TestDecide(t *testing.T) {
	grants := []apigeev1alpha1.Grant{teamA(""), {
		Namespaces: apigeev1alpha1.AllowedNamespaces{Names: []string{"team-a"}},
		Developers: []string{"ops@team-a.example.com"}, Apps: []string{"a-ops"}, APIProducts: []string{"*"},
		Approval: apigeev1alpha1.GrantApprovalAllowed,
	}}
	a := For(grants, "team-a", nil)
	for _, c := range []struct {
		name    string
		key     Key
		denied  string
		approve bool
	}{
		{"covered, approval denied by default", Key{"Dev@TEAM-A.example.com", "a-orders", []string{"a-read"}}, "", false},
		{"another developer", Key{"dev@team-b.example.com", "a-orders", nil}, "developer dev@team-b.example.com", false},
		{"another app", Key{"dev@team-a.example.com", "payments-app", nil}, "app payments-app", false},
		{"a product outside", Key{"dev@team-a.example.com", "a-orders", []string{"a-read", "orders-admin"}}, "API product orders-admin", false},
		{"the second grant covers and approves", Key{"ops@team-a.example.com", "a-ops", []string{"orders-admin"}}, "", true},
		// Grants do not add up: the first covers this developer and app,
		// the second the product, neither all three.
		{"parts from two grants", Key{"dev@team-a.example.com", "a-ops", []string{"orders-admin"}}, "API product orders-admin", false},
	} {
		d, approve := a.Decide(c.key)
		got := ""
		if d != nil {
			got = d.What + " " + d.Name
		}
		if got != c.denied || approve != c.approve {
			t.Errorf("%s: denial %q approve %v, want %q %v", c.name, got, approve, c.denied, c.approve)
		}
	}
	if d, _ := For(grants, "team-b", nil).Decide(Key{"dev@team-a.example.com", "a-orders", nil}); d == nil || d.What != "developer" {
		t.Errorf("a namespace no grant selects reaches nothing, got %v", d)
	}
	if d, approve := For(nil, "team-b", nil).Decide(Key{"anyone", "any", []string{"any"}}); d != nil || !approve {
		t.Error("no grants is the whole organization")
	}
}
