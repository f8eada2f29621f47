package docs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/chunkdiff/chunkdiff"

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every package of the module has a row in ARCHITECTURE.md's package table.
func TestArchitectureListsEveryPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "exclude_graphdriver_btrfs", module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	arch := read(t, "ARCHITECTURE.md")
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(arch, -1) {
		rows[m[1]] = true
	}
	for _, pkg := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		if !rows[rel] {
			t.Errorf("docs/ARCHITECTURE.md's package table has no row for %s", rel)
		}
	}
}

// Names a document defines: a backquoted name opening a bullet or a table
// row.
func defined(doc string) map[string]bool {
	names := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^(?:- |\\| )`([a-z0-9:-]+)`").FindAllStringSubmatch(doc, -1) {
		names[m[1]] = true
	}
	return names
}

// Comments cite rules and format facts by name; each name must be defined,
// and no comment may cite the old section or row numbers of documents
// outside the repository.
func TestCitedRulesExist(t *testing.T) {
	rules, facts := defined(read(t, "BEHAVIOUR.md")), defined(read(t, "FORMATS.md"))
	// Section titles are citable too.
	facts["zstd:chunked"], facts["tar-split"], facts["eStargz"] = true, true, true
	rules["Decision matrix"] = true
	// BEHAVIOUR.md "a", FORMATS.md "b", "c", rule "d", rules "e" and "f",
	// docs/BEHAVIOUR.md, "Decision matrix" (a \" inside a string literal
	// counts as a quote).
	cite := regexp.MustCompile(`(BEHAVIOUR\.md|FORMATS\.md|\brules?),? ((?:\\?"[^"\\]+\\?"(?:, | and )?)+)`)
	quoted := regexp.MustCompile(`"([^"\\]+)\\?"`)
	old := regexp.MustCompile(`(BEHAVIOUR|FORMATS)(\.md)? §|\brows? [0-9]+\b`)
	root := filepath.Join("..", "..")
	var n int
	err := filepath.WalkDir(root, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (e.Name() == ".git" || e.Name() == "out") {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(b)
		if strings.HasSuffix(path, "docs_test.go") {
			return nil
		}
		if loc := old.FindStringIndex(src); loc != nil {
			t.Errorf("%s cites %q: cite a rule name of docs/BEHAVIOUR.md or docs/FORMATS.md", path, src[loc[0]:loc[1]])
		}
		for _, m := range cite.FindAllStringSubmatch(src, -1) {
			known := rules
			if m[1] == "FORMATS.md" {
				known = facts
			}
			for _, q := range quoted.FindAllStringSubmatch(m[2], -1) {
				n++
				if !known[q[1]] {
					t.Errorf("%s cites %s %q, which docs/ does not define", path, m[1], q[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d citations checked", n)
	if n < 60 {
		t.Errorf("found only %d citations; the pattern no longer matches the comments", n)
	}
}
