package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// productSnapshot is a copy of a product, safe to render outside the lock.
type productSnapshot struct {
	productRequest
	CreatedAt time.Time
}

func (p *product) snapshot() productSnapshot {
	r := p.details
	r.Name, r.ApprovalType, r.Scopes = p.name, p.approval, slices.Clone(p.scopes)
	if r.DisplayName == "" {
		r.DisplayName = p.name
	}
	return productSnapshot{productRequest: r, CreatedAt: p.createdAt}
}

// productBody is the product as answered: what the client sent, with
// createdAt and lastModifiedAt in the dialect's integer form; Edge sends
// empty lists as [] (apigee-client-php
// tests/offline-test-data/v1/organizations/phpunit/apiproducts/POST.json),
// X omits them.
func productBody(wr wire, p productSnapshot) any {
	if wr.dialect() == X {
		created := fmt.Sprint(millis(p.CreatedAt))
		return struct {
			productRequest
			CreatedAt      string `json:"createdAt"`
			LastModifiedAt string `json:"lastModifiedAt"`
		}{p.productRequest, created, created}
	}
	r := p.productRequest
	return struct {
		Name           string      `json:"name"`
		DisplayName    string      `json:"displayName"`
		Description    string      `json:"description,omitempty"`
		ApprovalType   string      `json:"approvalType"`
		APIResources   []string    `json:"apiResources"`
		Environments   []string    `json:"environments"`
		Proxies        []string    `json:"proxies"`
		Scopes         []string    `json:"scopes"`
		Attributes     []attribute `json:"attributes"`
		Quota          string      `json:"quota,omitempty"`
		QuotaInterval  string      `json:"quotaInterval,omitempty"`
		QuotaTimeUnit  string      `json:"quotaTimeUnit,omitempty"`
		CreatedAt      int64       `json:"createdAt"`
		LastModifiedAt int64       `json:"lastModifiedAt"`
	}{r.Name, r.DisplayName, r.Description, r.ApprovalType, nonNil(r.APIResources), nonNil(r.Environments),
		nonNil(r.Proxies), nonNil(r.Scopes), nonNil(r.Attributes), r.Quota, r.QuotaInterval, r.QuotaTimeUnit,
		millis(p.CreatedAt), millis(p.CreatedAt)}
}

// getProduct is GET /apiproducts/{p}.
func (e *Emulator) getProduct(wr wire, rt route, _ []byte) (int, any, *apiError) {
	e.mu.Lock()
	p, ok := e.s.products[rt.product]
	var snap productSnapshot
	if ok {
		snap = p.snapshot()
	}
	e.mu.Unlock()
	if !ok {
		return 0, nil, errProductMissing(rt.product)
	}
	return http.StatusOK, productBody(wr, snap), nil
}

// deleteProduct is DELETE /apiproducts/{p}: it answers the deleted
// product. A product still on a key is refused (409): whether Apigee
// refuses or detaches it is not on record, and refusing loses nothing.
func (e *Emulator) deleteProduct(wr wire, rt route, _ []byte) (int, any, *apiError) {
	e.mu.Lock()
	snap, err := e.s.deleteProduct(rt.product)
	e.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, productBody(wr, snap), nil
}

func (s *store) deleteProduct(name string) (productSnapshot, *apiError) {
	p, ok := s.products[name]
	if !ok {
		return productSnapshot{}, errProductMissing(name)
	}
	if s.productInUse(name) {
		return productSnapshot{}, errAlreadyExists("keymanagement.service.ApiProductInUse",
			fmt.Sprintf("API Product [%s] is associated with app keys; remove it from them first", name))
	}
	delete(s.products, name)
	return p.snapshot(), nil
}

// productInUse: some key of some app carries the product.
func (s *store) productInUse(name string) bool {
	for _, a := range s.keys {
		for _, c := range a.creds {
			for _, p := range c.Products {
				if p.Name == name {
					return true
				}
			}
		}
	}
	return false
}
