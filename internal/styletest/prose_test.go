package styletest

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// proseFields are the fields and variables that hold our own prose: a
// verdict's or a decision's reason, the decision line a member publishes,
// why a member is held. Their wording is for people; another package (or
// another sentinel, of another version) that acts on it must use a typed
// field instead (readiness.Class, the decision's action).
var proseFields = map[string]bool{"Reason": true, "Decision": true, "Hold": true, "Why": true}

// proseVars are local names that, by the house's naming, hold the same.
var proseVars = map[string]bool{"reason": true, "decision": true}

// textFuncs are the functions that look into a string's wording.
var textFuncs = map[string]bool{
	"HasPrefix": true, "HasSuffix": true, "Contains": true, "ContainsAny": true, "ContainsRune": true,
	"ContainsFunc": true, "Cut": true, "CutPrefix": true, "CutSuffix": true, "Index": true, "IndexAny": true,
	"IndexByte": true, "IndexRune": true, "LastIndex": true, "Split": true, "SplitN": true, "SplitAfter": true,
	"Fields": true, "TrimPrefix": true, "TrimSuffix": true, "EqualFold": true, "Count": true,
}

// knownProse are the sites that still branch on prose, each with what
// removes it. An entry that no longer matches fails the test: delete it.
var knownProse = map[string]string{
	// A sentinel of the release before the typed action sends the prose
	// alone, and that release always began it with the action's name:
	// reading it is reading another version's wire format, kept for a
	// rolling upgrade (force-bootstrap against an old member).
	`cmd/galera-sentinel/forcebootstrap.go: strings.Cut(st.Decision, ":")`: "the previous release's wire format",
}

// TestNoBranchingOnProse: no product code looks into the wording of our
// own reasons and decisions (strings.HasPrefix(v.Reason, ...), a
// comparison with a literal, a class cut from the text): rewording a
// sentence must never change what the sentinel, another sentinel or a
// user's alert does. Parsing outside formats (mariadbd's output, file
// names, addresses) is not touched: those values are not in fields or
// variables named for our prose.
func TestNoBranchingOnProse(t *testing.T) {
	root := moduleRoot(t)
	found := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, site := range proseSites(f) {
			key := filepath.ToSlash(rel) + ": " + render(fset, site)
			if _, ok := knownProse[key]; ok {
				found[key] = true
				continue
			}
			t.Errorf("%s: branches on the wording of our own prose: %s (use a typed field: readiness.Class, a typed action)",
				fset.Position(site.Pos()), render(fset, site))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key, why := range knownProse {
		if !found[key] {
			t.Errorf("known site gone (%s): delete its entry from knownProse: %s", why, key)
		}
	}
}

// proseSites are the expressions of f that look into our prose: a text
// function of package strings or bytes over a prose value, a comparison
// or switch of one against a non-empty literal, a call of ReasonClass.
func proseSites(f *ast.File) []ast.Node {
	var sites []ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "ReasonClass" {
					sites = append(sites, n)
				}
				return true
			}
			if sel.Sel.Name == "ReasonClass" {
				sites = append(sites, n)
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "strings" || pkg.Name == "bytes") && textFuncs[sel.Sel.Name] {
				for _, a := range n.Args {
					if isProse(a) {
						sites = append(sites, n)
						break
					}
				}
			}
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ) &&
				(isProse(n.X) && isText(n.Y) || isProse(n.Y) && isText(n.X)) {
				sites = append(sites, n)
			}
		case *ast.SwitchStmt:
			if n.Tag != nil && isProse(n.Tag) {
				for _, c := range n.Body.List {
					for _, e := range c.(*ast.CaseClause).List {
						if isText(e) {
							sites = append(sites, n.Tag)
						}
					}
				}
			}
		}
		return true
	})
	return sites
}

// isProse reports an expression that is one of our prose values, or a
// piece or conversion of one.
func isProse(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.ParenExpr:
		return isProse(e.X)
	case *ast.SliceExpr:
		return isProse(e.X)
	case *ast.CallExpr: // string(x), []byte(x)
		if len(e.Args) == 1 {
			if id, ok := e.Fun.(*ast.Ident); ok && id.Name == "string" {
				return isProse(e.Args[0])
			}
			if at, ok := e.Fun.(*ast.ArrayType); ok && at.Len == nil {
				return isProse(e.Args[0])
			}
		}
	case *ast.SelectorExpr:
		return proseFields[e.Sel.Name]
	case *ast.Ident:
		return proseVars[e.Name]
	}
	return false
}

// isText reports a non-empty string literal: comparing a prose value with
// "" asks whether there is one, not what it says.
func isText(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.STRING && lit.Value != `""` && lit.Value != "``"
}

func render(fset *token.FileSet, n ast.Node) string {
	var b bytes.Buffer
	_ = printer.Fprint(&b, fset, n)
	return b.String()
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// TestProseSites: the rule finds what it must and leaves outside formats
// alone.
func TestProseSites(t *testing.T) {
	src := `package p
func f() {
	_ = strings.HasPrefix(st.Decision, "refuse")
	_, _, _ = strings.Cut(v.Reason, ": ")
	_ = strings.Contains(string(w.Reason[:4]), "x")
	_ = v.Reason == "maintenance"
	_ = "stale" != v.Reason
	_ = health.ReasonClass(r)
	switch reason { case "a": }
	_ = bytes.HasPrefix([]byte(d.Why), nil)

	_ = v.Reason == ""
	_ = o.Hold != ""
	_ = v.Reason != w.Reason
	_ = strings.HasPrefix(line, "[ERROR]")
	_ = strings.HasSuffix(name, ".cnf")
	_, _, _ = strings.Cut(addr, ":")
	_ = strings.Join(strings.Fields(err.Error()), " ")
	_ = "x: " + v.Reason
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range proseSites(f) {
		got = append(got, render(fset, s))
	}
	want := []string{
		`strings.HasPrefix(st.Decision, "refuse")`, `strings.Cut(v.Reason, ": ")`,
		`strings.Contains(string(w.Reason[:4]), "x")`, `v.Reason == "maintenance"`, `"stale" != v.Reason`,
		`health.ReasonClass(r)`, `reason`, `bytes.HasPrefix([]byte(d.Why), nil)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
