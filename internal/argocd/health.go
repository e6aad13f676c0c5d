// Package argocd holds the Argo CD health checks for the operator's kinds, in
// Argo CD's resource customization layout
// (resource_customizations/<group>/<Kind>/health.lua with health_test.yaml and
// testdata/), and runs them the way Argo CD does: in gopher-lua, with only the
// base, table and package libraries, and the object as the global `obj`.
package argocd

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Group is the API group the health checks are for.
const Group = "apigee.keyoperator.io"

// Kinds are the kinds with a health check, in the order the docs list them.
var Kinds = []string{"DeveloperAppKey", "ApigeeConnection", "ClusterApigeeConnection"}

//go:embed resource_customizations
var customizations embed.FS

// Dir is the directory of kind's health check inside Customizations.
func Dir(kind string) string {
	return path.Join("resource_customizations", Group, kind)
}

// Customizations returns the embedded resource_customizations tree.
func Customizations() embed.FS { return customizations }

// HealthScript returns kind's health.lua.
func HealthScript(kind string) (string, error) {
	b, err := customizations.ReadFile(path.Join(Dir(kind), "health.lua"))
	return string(b), err
}

// HealthStatus is what a health script returns, as Argo CD reads it.
type HealthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// validStatuses are the statuses Argo CD accepts from a script.
var validStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

// RunHealth runs script against obj (an object as decoded from JSON or YAML).
func RunHealth(script string, obj map[string]any) (HealthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	if err := openLibs(l); err != nil {
		return HealthStatus{}, err
	}
	// Argo CD gives a script one second; a loop bug must fail, not hang.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)

	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return HealthStatus{}, err
	}
	return fromLua(l.Get(-1))
}

// openLibs opens what Argo CD opens. Notably not string: a script that
// calls string functions works in a plain Lua but fails in Argo CD.
func openLibs(l *lua.LState) error {
	libs := []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	}
	for _, lib := range libs {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return fmt.Errorf("opening Lua library %q: %w", lib.name, err)
		}
	}
	return nil
}

// toLua converts a decoded JSON value to Lua: objects become tables keyed by
// name, arrays tables indexed from 1, numbers LNumber, null nil.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := l.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	case []any:
		t := l.NewTable()
		for i, e := range v {
			t.RawSetInt(i+1, toLua(l, e))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case json.Number:
		f, _ := v.Float64()
		return lua.LNumber(f)
	default:
		return lua.LNil
	}
}

// fromLua reads the returned table like Argo CD: a table with status and
// message, and a status Argo CD knows.
func fromLua(v lua.LValue) (HealthStatus, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return HealthStatus{}, fmt.Errorf("health script returned %s, want a table", v.Type())
	}
	hs := HealthStatus{
		Status:  lua.LVAsString(t.RawGetString("status")),
		Message: lua.LVAsString(t.RawGetString("message")),
	}
	if !validStatuses[hs.Status] {
		return hs, fmt.Errorf("health script returned invalid status %q", hs.Status)
	}
	return hs, nil
}
