package storecalls_test

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/serverless-signin/signin/internal/storecalls"
	"github.com/serverless-signin/signin/pkg/store"
)

// Every method the tables name is a store method with known permissions.
func TestTablesNameStoreMethods(t *testing.T) {
	perms := store.Permissions()
	for name, table := range map[string]map[string][]string{"Functions": storecalls.Functions, "Policies": storecalls.Policies} {
		for id, methods := range table {
			if len(methods) == 0 {
				t.Errorf("%s[%s] is empty", name, id)
			}
			for _, m := range methods {
				if _, ok := perms[m]; !ok {
					t.Errorf("%s[%s] names %q; want a key of store.Permissions()", name, id, m)
				}
			}
		}
	}
	for id, policies := range storecalls.Attached {
		if _, ok := storecalls.Functions[id]; ok {
			t.Errorf("%s is in Functions and Attached; want one", id)
		}
		for _, p := range policies {
			if _, ok := storecalls.Policies[p]; !ok {
				t.Errorf("Attached[%s] names %q; want one of Policies", id, p)
			}
		}
	}
}

// The Recorder records each store method under its own name.
func TestRecorder(t *testing.T) {
	r := &storecalls.Recorder{Next: store.NewMemory()}
	ctx := context.Background()
	v := reflect.ValueOf(r)
	st := reflect.TypeFor[store.Store]()
	var all []string
	for i := range st.NumMethod() {
		name := st.Method(i).Name
		all = append(all, name)
		m := v.MethodByName(name)
		args := []reflect.Value{reflect.ValueOf(ctx)}
		for j := 1; j < m.Type().NumIn(); j++ {
			args = append(args, reflect.Zero(m.Type().In(j)))
		}
		m.Call(args) // errors are expected: only the record matters
		if got := r.Take(); !slices.Equal(got, []string{name}) {
			t.Errorf("%s recorded %q; want [%s]", name, got, name)
		}
	}
	if got := slices.Sorted(maps.Keys(store.Permissions())); !slices.Equal(got, all) {
		t.Errorf("store.Permissions() = %q; want the Store methods %q", got, all)
	}
}
