package storage_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// The design lets idp/storage import only the standard library, so every
// backend and consumer can depend on it without pulling a driver.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: idp/storage must import only the standard library", f, path)
			}
		}
	}
}

func TestSigningKeyActive(t *testing.T) {
	k := storage.SigningKey{ID: "k", CreatedAt: time.Now()}
	if !k.Active() {
		t.Error("a key without RetiredAt is not active")
	}
	k.RetiredAt = time.Now()
	if k.Active() {
		t.Error("a retired key is active")
	}
}
