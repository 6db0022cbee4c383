package web

import (
	"fmt"
	"html/template"
	"slices"
	"text/template/parse"
)

// templateKeys returns the i18n keys a template set uses literally: the string
// argument of {{t .L "key"}} and of {{.L.T "key"}}. Keys built at run time (printf
// "scope.%s") cannot be seen here; templates guard those with .L.Has.
func templateKeys(t *template.Template) []string {
	seen := make(map[string]bool)
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			walkKeys(tt.Tree.Root, seen)
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func walkKeys(n parse.Node, seen map[string]bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkKeys(c, seen)
		}
	case *parse.ActionNode:
		walkKeys(n.Pipe, seen)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walkKeys(c, seen)
		}
	case *parse.CommandNode:
		if key, ok := keyOf(n.Args); ok {
			seen[key] = true
		}
		for _, a := range n.Args {
			walkKeys(a, seen)
		}
	case *parse.IfNode:
		walkBranch(&n.BranchNode, seen)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, seen)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, seen)
	case *parse.TemplateNode:
		walkKeys(n.Pipe, seen)
	}
}

func walkBranch(b *parse.BranchNode, seen map[string]bool) {
	walkKeys(b.Pipe, seen)
	walkKeys(b.List, seen)
	walkKeys(b.ElseList, seen)
}

// keyOf recognises a translation call and returns its literal key.
func keyOf(args []parse.Node) (string, bool) {
	if len(args) < 2 {
		return "", false
	}
	var keyArg parse.Node
	switch f := args[0].(type) {
	case *parse.IdentifierNode: // t .L "key"
		if f.Ident != "t" || len(args) < 3 {
			return "", false
		}
		keyArg = args[2]
	case *parse.FieldNode: // .L.T "key"
		if f.Ident[len(f.Ident)-1] != "T" {
			return "", false
		}
		keyArg = args[1]
	case *parse.VariableNode: // $.L.T "key"
		if len(f.Ident) < 2 || f.Ident[len(f.Ident)-1] != "T" {
			return "", false
		}
		keyArg = args[1]
	default:
		return "", false
	}
	s, ok := keyArg.(*parse.StringNode)
	if !ok {
		return "", false
	}
	return s.Text, true
}

// checkKeys reports literal keys of a template set that the catalog does not have.
func checkKeys(name string, t *template.Template, c *Catalog) error {
	en := c.Localizer(DefaultLang)
	for _, k := range templateKeys(t) {
		if !en.Has(k) {
			return fmt.Errorf("page %s: i18n key %q is not in locales/%s.json", name, k, DefaultLang)
		}
	}
	return nil
}
