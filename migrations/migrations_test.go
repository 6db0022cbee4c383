package migrations

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// Both dialects must describe the same schema history, or "version N" would
// mean different things on SQLite and PostgreSQL.
func TestDialectsHaveSameVersions(t *testing.T) {
	pg, err := List(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	lite, err := List(SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if len(pg) == 0 {
		t.Fatal("no postgres migrations embedded")
	}
	versions := func(ms []Migration) []int {
		var vs []int
		for _, m := range ms {
			vs = append(vs, m.Version)
		}
		return vs
	}
	if !slices.Equal(versions(pg), versions(lite)) {
		t.Fatalf("postgres versions %v, sqlite versions %v", versions(pg), versions(lite))
	}
	for i := range pg {
		if pg[i].Name != lite[i].Name {
			t.Errorf("version %d: postgres name %q, sqlite name %q", pg[i].Version, pg[i].Name, lite[i].Name)
		}
		// Versions are numbered without gaps, so a missing file shows.
		if pg[i].Version != i+1 {
			t.Errorf("migration %d has version %d, want %d", i, pg[i].Version, i+1)
		}
		if strings.TrimSpace(pg[i].SQL) == "" || strings.TrimSpace(lite[i].SQL) == "" {
			t.Errorf("version %d: empty SQL", pg[i].Version)
		}
	}
}

func TestList(t *testing.T) {
	fsys := fstest.MapFS{
		"0002_second.sql": {Data: []byte("B")},
		"0001_first.sql":  {Data: []byte("A")},
		"README.md":       {Data: []byte("ignored")},
	}
	ms, err := List(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := []Migration{{1, "first", "A"}, {2, "second", "B"}}
	if !slices.Equal(ms, want) {
		t.Fatalf("List = %+v, want %+v", ms, want)
	}
}

func TestListRejectsBadFiles(t *testing.T) {
	for _, name := range []string{
		"1_short.sql", "0001.sql", "0001_.sql", "abcd_x.sql", "0000_zero.sql", "-001_neg.sql",
	} {
		_, err := List(fstest.MapFS{name: {Data: []byte("x")}})
		if err == nil {
			t.Errorf("List accepted %q", name)
		}
	}
	_, err := List(fstest.MapFS{
		"0001_a.sql": {Data: []byte("x")},
		"0001_b.sql": {Data: []byte("y")},
	})
	if err == nil || !strings.Contains(err.Error(), "version 1") {
		t.Errorf("duplicate versions: err = %v", err)
	}
}

func TestMergeAndUnknown(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	known := []Migration{{Version: 1, Name: "init"}, {Version: 2, Name: "more"}}
	applied := []Status{{Version: 3, Name: "future", AppliedAt: at}, {Version: 1, Name: "init", AppliedAt: at}}
	got := Merge(known, applied)
	want := []Status{
		{Version: 1, Name: "init", AppliedAt: at},
		{Version: 2, Name: "more"},
		{Version: 3, Name: "future", AppliedAt: at},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Merge = %+v, want %+v", got, want)
	}
	if !got[0].Applied() || got[1].Applied() {
		t.Errorf("Applied: got %v %v, want true false", got[0].Applied(), got[1].Applied())
	}
	unknown := Unknown(known, applied)
	if len(unknown) != 1 || unknown[0].Version != 3 {
		t.Errorf("Unknown = %+v, want version 3 only", unknown)
	}
}
