#!/usr/bin/python3
"""tools/layers.py: check the include structure of the C tree.

A module is dir/x.c with dir/x.h (either may be missing, as for main.c).
Module A depends on module B when A's .c or .h has `#include "…"` of
B's header. An include is resolved as the compiler does for quotes: the
including file's own folder first, then the Makefile's -I folders in
their order (-Iprotocol -Idaemon today), then whichever of protocol/,
store/, daemon/, tools/, bench/ is left, in that order.

The rules:
  1. no cycle among modules, in daemon/ or anywhere else;
  2. protocol/ includes only protocol/; store/ only store/ and
     protocol/; tools/ and bench/ no header of daemon/. tests/ is exempt.
A folder that does not exist (store/, for a while) is fine.

Usage: tools/layers.py [--root DIR] [--dot]
Exit 0 when every rule holds, 1 with the list of cycles and breaches
(each with the include lines responsible) otherwise. --dot prints the
module graph for Graphviz instead (folders as clusters, cycle edges red,
breaches dashed) and exits 0: tools/layers.py --dot | dot -Tsvg >g.svg"""

import argparse
import collections
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEARCH = ("protocol", "store", "daemon", "tools", "bench")
# top folder -> (the only top folders it may include, or None; the top
# folders it may not include)
RULES = {
    "protocol": ({"protocol"}, set()),
    "store": ({"store", "protocol"}, set()),
    "tools": (None, {"daemon"}),
    "bench": (None, {"daemon"}),
}
EXEMPT = {"tests"}
SKIP = {"build", "run"}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def makefile_dirs(root):
    """The -I folders of the Makefile's CFLAGS, in order."""
    try:
        with open(os.path.join(root, "Makefile")) as f:
            text = f.read().replace("\\\n", " ")
    except OSError:
        return []
    dirs = []
    for line in text.splitlines():
        if re.match(r"\s*CFLAGS\s*[:+?]?=", line):
            for d in re.findall(r"-I\s*(\S+)", line):
                d = os.path.normpath(d)
                if d not in dirs:
                    dirs.append(d)
    return dirs


def sources(root):
    """Every .c and .h under root, as paths relative to it, sorted."""
    out = []
    for d, subdirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        subdirs[:] = sorted(s for s in subdirs if not s.startswith(".") and
                            not (rel == "." and s in SKIP))
        for f in files:
            if f.endswith((".c", ".h")):
                out.append(os.path.normpath(os.path.join(rel, f)))
    return sorted(out)


def module(path):
    """dir/x.c and dir/x.h -> dir/x."""
    return os.path.splitext(path)[0]


def top(path):
    return path.split(os.sep, 1)[0] if os.sep in path else "."


class Tree:
    """The modules of a tree, their dependencies and the include lines
    behind each."""

    def __init__(self, root):
        self.root = root
        files = sources(root)
        have = set(files)
        search = makefile_dirs(root)
        search += [d for d in SEARCH if d not in search]
        self.modules = sorted({module(f) for f in files})
        # (a, b) -> ["daemon/a.c:12: #include \"b.h\"", ...]
        self.lines = collections.OrderedDict()
        self.unresolved = []
        for f in files:
            with open(os.path.join(root, f), errors="replace") as fh:
                for n, line in enumerate(fh, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    where = "%s:%d: %s" % (f, n, line.strip())
                    dest = None
                    for d in [os.path.dirname(f)] + search:
                        p = os.path.normpath(os.path.join(d, m.group(1)))
                        if p in have:
                            dest = p
                            break
                    if dest is None:
                        self.unresolved.append(where)
                    elif module(dest) != module(f):
                        self.lines.setdefault((module(f), module(dest)),
                                              []).append(where)
        self.deps = collections.defaultdict(set)
        for a, b in self.lines:
            self.deps[a].add(b)

    def components(self):
        """The strongly connected components of more than one module
        (Tarjan), each sorted, in the order of their first module."""
        index, low, stack, on, out = {}, {}, [], set(), []

        def visit(v):
            index[v] = low[v] = len(index)
            stack.append(v)
            on.add(v)
            for w in sorted(self.deps[v]):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))

        sys.setrecursionlimit(max(1000, 4 * len(self.modules) + 100))
        for v in self.modules:
            if v not in index:
                visit(v)
        return sorted(out)

    def cycles(self):
        """Cycles enough to show every dependency that closes one: for
        each edge a -> b inside a component, b's shortest way back to a.
        Each cycle is a list of modules starting and ending with its
        smallest, without repeats."""
        seen, out = set(), []
        for comp in self.components():
            found = []
            inside = set(comp)
            for a in comp:
                for b in sorted(self.deps[a] & inside):
                    path = self._shortest(b, a, inside)
                    cyc = [a] + path[:-1]
                    i = cyc.index(min(cyc))
                    cyc = cyc[i:] + cyc[:i]
                    if tuple(cyc) not in seen:
                        seen.add(tuple(cyc))
                        found.append(cyc + [cyc[0]])
            out += sorted(found, key=lambda c: (len(c), c))
        return out

    def _shortest(self, src, dst, inside):
        """The shortest path src .. dst within inside (breadth first)."""
        prev, queue = {src: None}, collections.deque([src])
        while queue:
            v = queue.popleft()
            if v == dst:
                break
            for w in sorted(self.deps[v] & inside):
                if w not in prev:
                    prev[w] = v
                    queue.append(w)
        path, v = [], dst
        while v is not None:
            path.append(v)
            v = prev[v]
        return path[::-1]

    def breaches(self):
        """[(a, b, why)] for each dependency a layer rule forbids."""
        out = []
        for a, b in self.lines:
            ta, tb = top(a), top(b)
            if ta in EXEMPT or ta not in RULES:
                continue
            only, never = RULES[ta]
            if only is not None and tb not in only:
                why = "%s/ may include only %s" % (
                    ta, ", ".join(sorted(d + "/" for d in only)))
            elif tb in never:
                why = "%s/ may not include %s/ headers" % (ta, tb)
            else:
                continue
            out.append((a, b, why))
        return out

    def dot(self):
        """The module graph in Graphviz form."""
        bad_cycle = {(c[i], c[i + 1]) for c in self.cycles()
                     for i in range(len(c) - 1)}
        bad_layer = {(a, b) for a, b, _ in self.breaches()}
        out = ["digraph modules {", "  rankdir=LR;",
               "  node [shape=box, fontsize=10];"]
        by_dir = collections.defaultdict(list)
        for m in self.modules:
            by_dir[os.path.dirname(m)].append(m)
        for i, (d, mods) in enumerate(sorted(by_dir.items())):
            out.append('  subgraph cluster_%d {' % i)
            out.append('    label="%s/";' % d)
            for m in mods:
                out.append('    "%s" [label="%s"];'
                           % (m, os.path.basename(m)))
            out.append("  }")
        for a, b in sorted(self.lines):
            attrs = []
            if (a, b) in bad_cycle:
                attrs.append("color=red")
            if (a, b) in bad_layer:
                attrs.append("style=dashed, color=orange")
            out.append('  "%s" -> "%s"%s;' % (
                a, b, " [%s]" % ", ".join(attrs) if attrs else ""))
        out.append("}")
        return "\n".join(out)

    def report(self):
        """(text, ok): what check() prints and whether all rules hold."""
        cycles, breaches = self.cycles(), self.breaches()
        out = []
        if cycles:
            comps = self.components()
            out.append("cycles: %d, among %d modules in %d group(s):" % (
                len(cycles), sum(len(c) for c in comps), len(comps)))
            for c in comps:
                out.append("  group: %s" % " ".join(c))
            for c in cycles:
                out.append("")
                out.append("  " + " -> ".join(c))
                for a, b in zip(c, c[1:]):
                    for where in self.lines[(a, b)]:
                        out.append("    " + where)
        if breaches:
            if out:
                out.append("")
            out.append("layer breaches: %d" % len(breaches))
            for a, b, why in breaches:
                out.append("")
                out.append("  %s -> %s: %s" % (a, b, why))
                for where in self.lines[(a, b)]:
                    out.append("    " + where)
        ok = not cycles and not breaches
        if ok:
            out.append("layers: %d modules, %d dependencies: no cycle, "
                       "no layer breach" % (len(self.modules),
                                            len(self.lines)))
        else:
            out.append("")
            out.append("layers: %d modules, %d dependencies: %d cycle(s), "
                       "%d layer breach(es)" % (len(self.modules),
                                                len(self.lines),
                                                len(cycles), len(breaches)))
        return "\n".join(out), ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=ROOT,
                    help="the tree to check (default: this repository)")
    ap.add_argument("--dot", action="store_true",
                    help="print the module graph for Graphviz")
    a = ap.parse_args(argv)
    tree = Tree(a.root)
    if a.dot:
        print(tree.dot())
        return 0
    for where in tree.unresolved:
        print("note: not found in the tree: " + where, file=sys.stderr)
    text, ok = tree.report()
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
