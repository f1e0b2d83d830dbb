// Package layout checks how a package's files depend on each other, so that
// an engine made of parts stays that way: no two files may reference each
// other's declarations both ways. Its one function is called from tests.
package layout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"sort"
	"strings"
)

// TwoWayPairs type-checks the non-test files of the package in dir and
// returns each pair of files that reference each other, as "a.go <-> b.go".
func TwoWayPairs(dir string) ([]string, error) {
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	refs := fileRefs(fset, files)
	var out []string
	for r := range refs {
		if r[0] < r[1] && refs[[2]string{r[1], r[0]}] {
			out = append(out, r[0]+" <-> "+r[1])
		}
	}
	sort.Strings(out)
	return out, nil
}

type stubImporter struct{}

func (stubImporter) Import(path string) (*types.Package, error) {
	pkg := types.NewPackage(path, filepath.Base(path))
	pkg.MarkComplete()
	return pkg, nil
}

// fileRefs returns, for one package's files, which file uses a declaration
// of which other file.
func fileRefs(fset *token.FileSet, files []*ast.File) map[[2]string]bool {
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	// Only the package's own declarations matter: imports are empty stubs and
	// the errors they cause are ignored, so no dependency is type-checked.
	conf := types.Config{Importer: stubImporter{}, Error: func(error) {}}
	pkg, _ := conf.Check("", fset, files, info)
	refs := map[[2]string]bool{}
	add := func(at token.Pos, obj types.Object) {
		if obj == nil || obj.Pkg() != pkg || !obj.Pos().IsValid() {
			return
		}
		from, to := filepath.Base(fset.File(at).Name()), filepath.Base(fset.File(obj.Pos()).Name())
		if from != to {
			refs[[2]string{from, to}] = true
		}
	}
	for id, obj := range info.Uses {
		add(id.Pos(), obj)
	}
	for sel, s := range info.Selections {
		add(sel.Pos(), s.Obj())
	}
	return refs
}
