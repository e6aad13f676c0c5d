package edge

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

var _ apigee.Lister = (*Client)(nil)

// Edge's list answers: {"developer":[…]}, {"app":[…]}, {"apiProduct":[…]}
// with expand=true (without it, bare names).
type wireDevelopers struct {
	Developer []struct {
		DeveloperID string `json:"developerId"`
		Email       string `json:"email"`
	} `json:"developer"`
}

type wireListedApp struct {
	wireApp
	Status string `json:"status"`
}

type wireApps struct {
	App []wireListedApp `json:"app"`
}

type wireProducts struct {
	APIProduct []struct {
		Name         string `json:"name"`
		ApprovalType string `json:"approvalType"`
	} `json:"apiProduct"`
}

// ListDevelopers: GET /developers?expand=true&count=&startKey=.
func (c *Client) ListDevelopers(ctx context.Context, startKey string, count int) ([]apigee.Developer, error) {
	var resp wireDevelopers
	if err := c.list(ctx, apigee.OpListDevelopers, "/developers", "count", startKey, count, &resp); err != nil {
		return nil, err
	}
	out := make([]apigee.Developer, 0, len(resp.Developer))
	for _, d := range resp.Developer {
		out = append(out, apigee.Developer{ID: d.DeveloperID, Email: d.Email})
	}
	return out, nil
}

// ListApps: GET /apps?expand=true&includeCred=true&status=&keyStatus=&rows=&startKey=
// (startKey an app id). Edge's expanded apps carry credentials (with
// includeCred=true) and developerId, not the email.
func (c *Client) ListApps(ctx context.Context, f apigee.AppFilter, startKey string, rows int) ([]apigee.ListedApp, error) {
	var resp wireApps
	filter := url.Values{"includeCred": {"true"}, "status": {f.Status}, "keyStatus": {f.KeyStatus}}
	if err := c.list(ctx, apigee.OpListApps, "/apps", "rows", startKey, rows, &resp, filter); err != nil {
		return nil, err
	}
	out := make([]apigee.ListedApp, 0, len(resp.App))
	for _, a := range resp.App {
		out = append(out, apigee.ListedApp{App: *a.domain(), Status: a.Status})
	}
	return out, nil
}

// ListProducts: GET /apiproducts?expand=true&count=&startKey=.
func (c *Client) ListProducts(ctx context.Context, startKey string, count int) ([]apigee.Product, error) {
	var resp wireProducts
	if err := c.list(ctx, apigee.OpListProducts, "/apiproducts", "count", startKey, count, &resp); err != nil {
		return nil, err
	}
	out := make([]apigee.Product, 0, len(resp.APIProduct))
	for _, p := range resp.APIProduct {
		out = append(out, apigee.Product{Name: p.Name, ApprovalType: p.ApprovalType})
	}
	return out, nil
}

// list makes one expanded list call; sizeParam is count or rows; extra
// adds parameters.
func (c *Client) list(ctx context.Context, op, path, sizeParam, startKey string, size int, out any, extra ...url.Values) error {
	q := url.Values{"expand": {"true"}, sizeParam: {strconv.Itoa(size)}}
	for _, e := range extra {
		for k, v := range e {
			q[k] = v
		}
	}
	if startKey != "" {
		q.Set("startKey", startKey)
	}
	ctx = apigee.WithOperation(ctx, op)
	return c.do(ctx, request{op: op, method: http.MethodGet, path: path + "?" + q.Encode()}, out)
}
