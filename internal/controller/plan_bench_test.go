package controller

import (
	"fmt"
	"testing"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// BenchmarkPlanConverged measures the plan of a converged key with 20
// products on an app with 50 keys: the work every resync does.
func BenchmarkPlanConverged(b *testing.B) {
	s := spec(deleteAuto)
	s.APIProducts = nil
	cur := converged()
	cur.Products = nil
	for i := range 20 {
		name := fmt.Sprintf("p%d", i)
		s.APIProducts = append(s.APIProducts, apigeev1alpha1.APIProductRef{Name: name})
		cur.Products = append(cur.Products, apigee.ProductStatus{Name: name, Status: apigee.StatusApproved})
	}
	app := appWith(*cur)
	managed := map[string]bool{}
	for i := range 49 {
		k := fmt.Sprintf("managed%d", i)
		app.Credentials = append(app.Credentials, apigee.Credential{ConsumerKey: k})
		managed[apigee.Fingerprint(k)] = true
	}
	in := planInput{spec: s, secret: cur.ConsumerSecret, current: cur, app: app, managedByOthers: managed}
	b.ReportAllocs()
	for b.Loop() {
		if len(plan(in)) != 0 {
			b.Fatal("not converged")
		}
	}
}
