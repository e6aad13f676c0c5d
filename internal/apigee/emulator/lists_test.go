package emulator

import (
	"slices"
	"testing"
)

// TestAppsListFilters: the apps list answers as its reference reads at its
// most hiding: approved apps, approved keys; X lists credentials only on
// request, Edge's expanded list carries them unless includeCred=false
// (apigee-edge-js AppCredential.find and its real-Edge test).
func TestAppsListFilters(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			f := newFixture(t, nil)
			f.mustDo(t, d, map[Dialect]int{X: 200, Edge: 201}[d], "POST", app1+"/keys/create", `{"consumerKey":"revoked-key","consumerSecret":"s"}`)
			f.mustDo(t, d, map[Dialect]int{X: 200, Edge: 204}[d], "POST", keyPath("revoked-key")+"?action=revoke", "")
			if err := f.emu.SetAppStatus("other@example.com", "app3", "revoked"); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				query string
				apps  []string
				// keys are the statuses of the credentials listed.
				keys []string
			}{
				{"expand=true", []string{"app1", "app2"}, map[Dialect][]string{X: nil, Edge: {"approved", "approved"}}[d]},
				{"expand=true&includeCred=false", []string{"app1", "app2"}, nil},
				{"expand=true&includeCred=true", []string{"app1", "app2"}, []string{"approved", "approved"}},
				{"expand=true&includeCred=true&status=revoked", []string{"app3"}, []string{"approved"}},
				{"expand=true&includeCred=true&keyStatus=revoked", []string{"app1", "app2"}, []string{"revoked"}},
			}
			for _, tc := range cases {
				body := f.mustDo(t, d, 200, "GET", "/apps?"+tc.query, "").json(t)
				apps, _ := body["app"].([]any)
				var names, keys []string
				for _, a := range apps {
					m := a.(map[string]any)
					names = append(names, m["name"].(string))
					creds, _ := m["credentials"].([]any)
					for _, c := range creds {
						keys = append(keys, c.(map[string]any)["status"].(string))
					}
				}
				slices.Sort(names)
				if !slices.Equal(names, tc.apps) || !slices.Equal(keys, tc.keys) {
					t.Errorf("%s: apps %v with keys %v, want %v with %v", tc.query, names, keys, tc.apps, tc.keys)
				}
			}
			f.mustDo(t, d, 400, "GET", "/apps?expand=true&status=pending", "")
		})
	}
}
