package emulator

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// The organization's list calls, as the export and plan commands use them
// (docs/emulator.md has the evidence for the shapes):
//
//	GET /developers?expand=true&count=N&startKey=EMAIL
//	GET /apps?expand=true&includeCred=true&status=S&keyStatus=K&rows=N&startKey=APPID
//	GET /apiproducts?expand=true&count=N&startKey=NAME
//
// Pages are ordered by the startKey field and start at startKey inclusive,
// as Apigee's do. Without expand=true X answers names in objects and Edge
// bare names.
//
// The apps list filters as its reference documents, taken at its most
// hiding: status (the app's) defaults to approved, keyStatus defaults to
// approved and keeps only the credentials with that status, and
// credentials come only with includeCred=true. A client that wants every
// key must ask for each status and for credentials (docs/emulator.md).
const (
	OpListDevelopers = "ListDevelopers"
	OpListApps       = "ListApps"
	OpListProducts   = "ListProducts"
)

// maxPage is the documented upper limit of count and rows on both dialects.
const maxPage = 1000

// The list routes are registered here rather than in the tables of
// routes.go and handlers.go so the list calls stay in one file.
func init() {
	operations["developers"][http.MethodGet] = OpListDevelopers
	operations["apiproducts"][http.MethodGet] = OpListProducts
	operations["apps"] = map[string]string{http.MethodGet: OpListApps}
	handlers[OpListDevelopers] = (*Emulator).listDevelopers
	handlers[OpListApps] = (*Emulator).listApps
	handlers[OpListProducts] = (*Emulator).listProducts
}

// page is a parsed count/rows, startKey and expand.
type page struct {
	size   int
	start  string
	expand bool
}

func parsePage(q url.Values, sizeParam string) (page, *apiError) {
	p := page{size: maxPage, start: q.Get("startKey"), expand: q.Get("expand") == "true"}
	if v := q.Get(sizeParam); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			return p, errInvalid("messaging.adaptors.http.flow.InvalidParameter",
				sizeParam+" must be a number from 1 to 1000")
		}
		p.size = n
	}
	return p, nil
}

// window returns the items from start (inclusive) on, at most size of
// them; items must be sorted by key.
func window[T any](items []T, key func(T) string, p page) []T {
	i, _ := slices.BinarySearchFunc(items, p.start, func(it T, s string) int { return cmp.Compare(key(it), s) })
	items = items[i:]
	return items[:min(len(items), p.size)]
}

func (e *Emulator) listDevelopers(wr wire, rt route, _ []byte) (int, any, *apiError) {
	p, err := parsePage(rt.query, "count")
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	all := make([]developerSnapshot, 0, len(e.s.developers))
	for _, d := range e.s.developers {
		all = append(all, d.snapshot())
	}
	e.mu.Unlock()
	email := func(d developerSnapshot) string { return strings.ToLower(d.Email) }
	slices.SortFunc(all, func(a, b developerSnapshot) int { return cmp.Compare(email(a), email(b)) })
	p.start = strings.ToLower(p.start)
	items := make([]any, 0, p.size)
	for _, d := range window(all, email, p) {
		items = append(items, listItem(wr, p.expand, wr.developer(d, e.opts.Organization), "email", d.Email))
	}
	return http.StatusOK, listBody(wr, p.expand, "developer", items), nil
}

func (e *Emulator) listApps(wr wire, rt route, _ []byte) (int, any, *apiError) {
	p, err := parsePage(rt.query, "rows")
	if err != nil {
		return 0, nil, err
	}
	f, err := parseAppFilter(wr.dialect(), rt.query)
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	var all []appSnapshot
	for _, d := range e.s.developers {
		for _, a := range d.apps {
			if s := a.snapshot(); s.Status == f.status {
				all = append(all, f.credentials(s))
			}
		}
	}
	e.mu.Unlock()
	id := func(a appSnapshot) string { return a.AppID }
	slices.SortFunc(all, func(a, b appSnapshot) int { return cmp.Compare(a.AppID, b.AppID) })
	items := make([]any, 0, p.size)
	for _, a := range window(all, id, p) {
		items = append(items, listItem(wr, p.expand, listedApp(wr, a), "appId", a.AppID))
	}
	return http.StatusOK, listBody(wr, p.expand, "app", items), nil
}

// appFilter is the apps list's status, keyStatus and includeCred.
type appFilter struct {
	status, keyStatus string
	includeCred       bool
}

func parseAppFilter(d Dialect, q url.Values) (appFilter, *apiError) {
	f := appFilter{status: cmp.Or(q.Get("status"), "approved"), keyStatus: cmp.Or(q.Get("keyStatus"), "approved"),
		includeCred: includesCredentials(d, q)}
	for _, v := range []string{f.status, f.keyStatus} {
		if v != "approved" && v != "revoked" {
			return f, errInvalid("messaging.adaptors.http.flow.InvalidParameter", "status and keyStatus must be approved or revoked")
		}
	}
	return f, nil
}

// includesCredentials: X lists credentials only with includeCred=true
// (unconfirmed, the cautious reading); Edge's expanded list carries them
// unless includeCred=false (apigee-edge-js AppCredential.find reads
// credentials from GET /apps?expand=true, and its test/appcredential.js
// finds a key that way on real Edge).
func includesCredentials(d Dialect, q url.Values) bool {
	switch q.Get("includeCred") {
	case "true":
		return true
	case "false":
		return false
	}
	return d == Edge && q.Get("expand") == "true"
}

// credentials keeps the app's credentials with the filter's key status,
// or none without includeCred.
func (f appFilter) credentials(a appSnapshot) appSnapshot {
	var kept []apigee.Credential
	for _, c := range a.Credentials {
		if f.includeCred && c.Status == f.keyStatus {
			kept = append(kept, c)
		}
	}
	a.Credentials = kept
	return a
}

func (e *Emulator) listProducts(wr wire, rt route, _ []byte) (int, any, *apiError) {
	p, err := parsePage(rt.query, "count")
	if err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	all := make([]productSnapshot, 0, len(e.s.products))
	for _, pr := range e.s.products {
		all = append(all, pr.snapshot())
	}
	e.mu.Unlock()
	name := func(p productSnapshot) string { return p.Name }
	slices.SortFunc(all, func(a, b productSnapshot) int { return cmp.Compare(a.Name, b.Name) })
	items := make([]any, 0, p.size)
	for _, pr := range window(all, name, p) {
		items = append(items, listItem(wr, p.expand, productBody(wr, pr), "name", pr.Name))
	}
	return http.StatusOK, listBody(wr, p.expand, "apiProduct", items), nil
}

// listedApp is an app in the org's list: the dialect's app resource; X
// also names the developer's email (GoogleCloudApigeeV1App.developerEmail),
// Edge does not.
func listedApp(wr wire, a appSnapshot) any {
	if wr.dialect() == Edge {
		return wr.app(a, true)
	}
	return struct {
		xApp
		DeveloperEmail string `json:"developerEmail,omitempty"`
	}{wr.app(a, true).(xApp), a.DeveloperEmail}
}

// listItem is the expanded resource, or without expand its name: bare on
// Edge, {field: name} on X.
func listItem(wr wire, expand bool, full any, field, name string) any {
	switch {
	case expand:
		return full
	case wr.dialect() == Edge:
		return name
	}
	return map[string]string{field: name}
}

// listBody wraps the items: {"developer": […]} and the like, except an
// unexpanded Edge list, which is a bare array of names.
func listBody(wr wire, expand bool, field string, items []any) any {
	if !expand && wr.dialect() == Edge {
		return items
	}
	return map[string][]any{field: items}
}
