package x

import (
	"context"

	apigeev1 "google.golang.org/api/apigee/v1"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

var _ apigee.Lister = (*Client)(nil)

// ListDevelopers: GET /developers?expand=true&count=&startKey=. The
// reference says expand does not combine with count/startKey; apigeecli's
// developers export sends expand with startKey and relies on the ids, so
// we ask for both and read whatever the page holds.
func (c *Client) ListDevelopers(ctx context.Context, startKey string, count int) ([]apigee.Developer, error) {
	ctx = apigee.WithOperation(ctx, apigee.OpListDevelopers)
	call := c.svc.Organizations.Developers.List(c.orgName()).Expand(true).Count(int64(count))
	if startKey != "" {
		call = call.StartKey(startKey)
	}
	resp, err := call.Context(ctx).Do()
	if err != nil {
		return nil, fail(apigee.OpListDevelopers, err, apigee.Redactor{})
	}
	out := make([]apigee.Developer, 0, len(resp.Developer))
	for _, d := range resp.Developer {
		if d != nil {
			out = append(out, apigee.Developer{ID: d.DeveloperId, Email: d.Email})
		}
	}
	return out, nil
}

// ListApps: GET /apps?expand=true&includeCred=true&status=&keyStatus=&rows=&startKey=
// (OrganizationsAppsService.List), the call apigeecli's apps export pages
// with; each app carries its credentials. status and keyStatus are always
// sent: the reference defaults both to approved.
func (c *Client) ListApps(ctx context.Context, f apigee.AppFilter, startKey string, rows int) ([]apigee.ListedApp, error) {
	ctx = apigee.WithOperation(ctx, apigee.OpListApps)
	call := c.svc.Organizations.Apps.List(c.orgName()).Expand(true).IncludeCred(true).
		Status(f.Status).KeyStatus(f.KeyStatus).Rows(int64(rows))
	if startKey != "" {
		call = call.StartKey(startKey)
	}
	resp, err := call.Context(ctx).Do()
	if err != nil {
		return nil, fail(apigee.OpListApps, err, apigee.Redactor{})
	}
	out := make([]apigee.ListedApp, 0, len(resp.App))
	for _, a := range resp.App {
		if a != nil {
			out = append(out, listedApp(a))
		}
	}
	return out, nil
}

// ListProducts: GET /apiproducts?expand=true&count=&startKey=.
func (c *Client) ListProducts(ctx context.Context, startKey string, count int) ([]apigee.Product, error) {
	ctx = apigee.WithOperation(ctx, apigee.OpListProducts)
	call := c.svc.Organizations.Apiproducts.List(c.orgName()).Expand(true).Count(int64(count))
	if startKey != "" {
		call = call.StartKey(startKey)
	}
	resp, err := call.Context(ctx).Do()
	if err != nil {
		return nil, fail(apigee.OpListProducts, err, apigee.Redactor{})
	}
	out := make([]apigee.Product, 0, len(resp.ApiProduct))
	for _, p := range resp.ApiProduct {
		if p != nil {
			out = append(out, apigee.Product{Name: p.Name, ApprovalType: p.ApprovalType})
		}
	}
	return out, nil
}

func (c *Client) orgName() string { return "organizations/" + c.org }

// listedApp converts the org-level app resource (a different type from
// the developer app, with the same credentials).
func listedApp(a *apigeev1.GoogleCloudApigeeV1App) apigee.ListedApp {
	out := apigee.ListedApp{
		App:            apigee.App{Name: a.Name, AppID: a.AppId, DeveloperID: a.DeveloperId, CreatedAt: millis(a.CreatedAt)},
		DeveloperEmail: a.DeveloperEmail,
		Status:         a.Status,
	}
	for _, cr := range a.Credentials {
		if cr != nil {
			out.Credentials = append(out.Credentials, credentialFromX(cr))
		}
	}
	return out
}
