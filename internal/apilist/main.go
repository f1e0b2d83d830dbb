// Command apilist prints the public API of Go packages, as go/types sees
// it: every exported constant, variable, function and type, each type's
// exported fields, and every exported method a user can call on it —
// aliased types' included, so that what an alias publishes shows. One per
// line, sorted, with its signature and without comments: an API change is
// a visible diff in review (api.txt, checked by make api-check), and the
// last line counts the public names the same way each time (top-level names
// and methods; fields apart).
//
// Run it in the module whose packages it lists (it type-checks them from
// source there):
//
//	go run ./internal/apilist github.com/fxtools/background/fxasync
package main

import (
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"os"
	"sort"
	"strings"
)

func main() {
	imp := importer.ForCompiler(token.NewFileSet(), "source", nil)
	var all, counts []string
	for _, path := range os.Args[1:] {
		pkg, err := imp.Import(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "apilist:", err)
			os.Exit(1)
		}
		names, fields := list(pkg)
		all = append(append(all, names...), fields...)
		counts = append(counts, fmt.Sprintf("# %s: %d public names (top-level and methods), %d fields",
			pkg.Name(), len(names), len(fields)))
	}
	sort.Strings(all)
	for _, l := range append(all, counts...) {
		fmt.Println(l)
	}
}

// list returns pkg's public names and its types' public fields.
func list(pkg *types.Package) (names, fields []string) {
	q := func(p *types.Package) string {
		if p == pkg {
			return ""
		}
		return p.Name()
	}
	prefix := pkg.Name() + ": "
	for _, name := range pkg.Scope().Names() {
		o := pkg.Scope().Lookup(name)
		if !o.Exported() {
			continue
		}
		names = append(names, prefix+types.ObjectString(o, q))
		tn, ok := o.(*types.TypeName)
		if !ok {
			continue
		}
		if st, ok := tn.Type().Underlying().(*types.Struct); ok {
			for i := 0; i < st.NumFields(); i++ {
				if f := st.Field(i); f.Exported() {
					fields = append(fields, prefix+name+"\t."+f.Name()+" "+types.TypeString(f.Type(), q))
				}
			}
		}
		ms := types.NewMethodSet(types.NewPointer(tn.Type()))
		if types.IsInterface(tn.Type()) {
			ms = types.NewMethodSet(tn.Type())
		}
		for i := 0; i < ms.Len(); i++ {
			if m := ms.At(i).Obj(); m.Exported() {
				names = append(names, prefix+name+"."+m.Name()+strings.TrimPrefix(types.TypeString(m.Type(), q), "func"))
			}
		}
	}
	return names, fields
}
