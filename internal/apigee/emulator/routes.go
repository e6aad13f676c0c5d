package emulator

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// Operation names, identical in both dialects; Calls counts by these.
const (
	OpGetOrganization     = "GetOrganization"
	OpGetDeveloper        = "GetDeveloper"
	OpGetApp              = "GetApp"
	OpCreateApp           = "CreateApp"
	OpGetKey              = "GetKey"
	OpCreateKey           = "CreateKey"
	OpUpdateKey           = "UpdateKey"
	OpReplaceKey          = "ReplaceKey"
	OpDeleteKey           = "DeleteKey"
	OpDeleteKeyProduct    = "DeleteKeyProduct"
	OpSetKeyStatus        = "SetKeyStatus"
	OpSetKeyProductStatus = "SetKeyProductStatus"
	OpCreateDeveloper     = "CreateDeveloper"
	OpCreateProduct       = "CreateProduct"
	OpSetKeyAttributes    = "SetKeyAttributes" // Edge only: POST K/attributes
	OpUnknown             = "Unknown"

	// The rest of the developer, app and product lifecycle, served for
	// migration tools and other clients (routes_lifecycle.go).
	OpDeleteDeveloper    = "DeleteDeveloper"
	OpSetDeveloperStatus = "SetDeveloperStatus" // POST /developers/{d}?action=active|inactive
	OpListDeveloperApps  = "ListDeveloperApps"
	OpDeleteApp          = "DeleteApp"
	OpUpdateApp          = "UpdateApp"    // PUT app
	OpGenerateKey        = "GenerateKey"  // POST app without ?action=
	OpSetAppStatus       = "SetAppStatus" // POST app?action=approve|revoke
	OpGetAppByID         = "GetAppByID"   // GET /apps/{id}
	OpGetProduct         = "GetProduct"
	OpDeleteProduct      = "DeleteProduct"
)

// route is a parsed request: the operation and the names in its path.
type route struct {
	op      string
	status  int // for OpUnknown: 404 unknown path, 405 known path with another method
	org     string
	ref     keyRef     // developer, app, key as far as the path names them
	product string     // the product of K/apiproducts/{p} and /apiproducts/{p}
	appID   string     // the id of /apps/{id}
	action  string     // ?action= on status calls
	query   url.Values // the list calls' paging (lists.go)
	// logPath is the request path with the consumer key replaced by its
	// fingerprint, safe for the call log.
	logPath string
}

// parseRoute maps a request to an operation. X serves /v1/organizations/{org};
// Edge also the /v1/o/{org} alias.
func parseRoute(d Dialect, r *http.Request) route {
	segs := splitPath(r.URL)
	rt := route{op: OpUnknown, status: http.StatusNotFound, logPath: redactedPath(segs)}
	if len(segs) < 3 || segs[0] != "v1" || !(segs[1] == "organizations" || (d == Edge && segs[1] == "o")) {
		return rt
	}
	rt.org = segs[2]
	rest := segs[3:]
	rt.query = r.URL.Query()
	rt.action = rt.query.Get("action")
	rt.op, rt.status = matchOperation(r.Method, rest, rt.action != "")
	rt.op, rt.status = dialectOperation(d, pathShape(rest), rt.op, rt.status)
	switch {
	case len(rest) == 2 && rest[0] == "apiproducts":
		rt.product = rest[1]
		return rt
	case len(rest) == 2 && rest[0] == "apps":
		rt.appID = rest[1]
		return rt
	}
	if len(rest) >= 2 {
		// As written: whether a path finds an email in another case is
		// decided against the store (Emulator.resolveDeveloper).
		rt.ref.developer = rest[1]
	}
	if len(rest) >= 4 {
		rt.ref.app = rest[3]
	}
	if len(rest) >= 6 && rest[4] == "keys" && rt.op != OpCreateKey {
		rt.ref.key = rest[5]
	}
	if len(rest) == 8 && rest[6] == "apiproducts" {
		rt.product = rest[7]
	}
	return rt
}

// dialectOperation narrows the shared table to one dialect: Edge imports
// only through keys/create (POST .../keys is an X alias), and only Edge has
// a key attributes route.
func dialectOperation(d Dialect, shape, op string, status int) (string, int) {
	switch {
	case d == Edge && shape == "developers/*/apps/*/keys":
		return OpUnknown, http.StatusNotFound
	case d == X && op == OpSetKeyAttributes:
		return OpUnknown, http.StatusNotFound
	}
	return op, status
}

// redactedPath rebuilds the path with the segment after
// .../apps/{app}/keys/ replaced by its fingerprint (keys/create stays).
func redactedPath(segs []string) string {
	out := slices.Clone(segs)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == "keys" && i >= 2 && out[i-2] == "apps" && out[i+1] != "create" {
			out[i+1] = apigee.Fingerprint(out[i+1])
		}
	}
	return "/" + strings.Join(out, "/")
}

// matchOperation decides the operation from the path below the org.
func matchOperation(method string, rest []string, hasAction bool) (string, int) {
	shape := pathShape(rest)
	byMethod, known := operations[shape]
	if !known {
		return OpUnknown, http.StatusNotFound
	}
	op, ok := byMethod[method]
	if !ok {
		return OpUnknown, http.StatusMethodNotAllowed
	}
	// POST K or POST app with ?action= approves or revokes instead of
	// updating the key or generating one.
	if actionOp, ok := withAction[op]; ok && hasAction {
		op = actionOp
	}
	return op, 0
}

// withAction: the operation a POST becomes with ?action=.
var withAction = map[string]string{OpUpdateKey: OpSetKeyStatus, OpGenerateKey: OpSetAppStatus}

// pathShape replaces names with "*" so paths can be matched against a table:
// developers/*/apps/*/keys/*.
func pathShape(rest []string) string {
	shape := make([]string, len(rest))
	for i, s := range rest {
		if i%2 == 0 {
			shape[i] = s
		} else {
			shape[i] = "*"
		}
	}
	// keys/create is the import alias, not a key named "create" (for POST).
	if len(rest) == 6 && rest[4] == "keys" && rest[5] == "create" {
		shape[5] = "create"
	}
	return strings.Join(shape, "/")
}

var operations = map[string]map[string]string{
	"":                                {http.MethodGet: OpGetOrganization},
	"developers":                      {http.MethodPost: OpCreateDeveloper},
	"developers/*":                    {http.MethodGet: OpGetDeveloper, http.MethodDelete: OpDeleteDeveloper, http.MethodPost: OpSetDeveloperStatus},
	"apiproducts":                     {http.MethodPost: OpCreateProduct},
	"apiproducts/*":                   {http.MethodGet: OpGetProduct, http.MethodDelete: OpDeleteProduct},
	"apps/*":                          {http.MethodGet: OpGetAppByID},
	"developers/*/apps":               {http.MethodPost: OpCreateApp, http.MethodGet: OpListDeveloperApps},
	"developers/*/apps/*":             {http.MethodGet: OpGetApp, http.MethodDelete: OpDeleteApp, http.MethodPut: OpUpdateApp, http.MethodPost: OpGenerateKey},
	"developers/*/apps/*/keys":        {http.MethodPost: OpCreateKey},
	"developers/*/apps/*/keys/create": {http.MethodPost: OpCreateKey, http.MethodGet: OpGetKey, http.MethodDelete: OpDeleteKey, http.MethodPut: OpReplaceKey},
	"developers/*/apps/*/keys/*":      {http.MethodGet: OpGetKey, http.MethodPost: OpUpdateKey, http.MethodPut: OpReplaceKey, http.MethodDelete: OpDeleteKey},
	"developers/*/apps/*/keys/*/apiproducts/*": {http.MethodDelete: OpDeleteKeyProduct, http.MethodPost: OpSetKeyProductStatus},
	"developers/*/apps/*/keys/*/attributes":    {http.MethodPost: OpSetKeyAttributes},
}

// splitPath splits the escaped path and unescapes each segment, so an
// escaped "/" or "@" inside a name stays within its segment.
func splitPath(u *url.URL) []string {
	raw := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	out := make([]string, 0, len(raw))
	for _, s := range raw {
		if v, err := url.PathUnescape(s); err == nil {
			s = v
		}
		out = append(out, s)
	}
	return out
}
