package migrations

import "sort"

// Merge lists every known migration, applied or pending, and every applied
// one the binary does not know (a newer binary ran it), ordered by version.
func Merge(known []Migration, applied []Status) []Status {
	byVersion := make(map[int]Status, len(applied))
	for _, st := range applied {
		byVersion[st.Version] = st
	}
	out := make([]Status, 0, len(known)+len(applied))
	for _, m := range known {
		st, ok := byVersion[m.Version]
		if !ok {
			st = Status{Version: m.Version, Name: m.Name}
		}
		delete(byVersion, m.Version)
		out = append(out, st)
	}
	for _, st := range byVersion {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// Unknown returns the applied migrations newer than every known one.
func Unknown(known []Migration, applied []Status) []Status {
	latest := 0
	for _, m := range known {
		latest = max(latest, m.Version)
	}
	var out []Status
	for _, st := range applied {
		if st.Version > latest {
			out = append(out, st)
		}
	}
	return out
}
