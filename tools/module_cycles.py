#!/usr/bin/env python3
"""Checks that no crate in the workspace has an import cycle between its top-level modules.

A crate's nodes are its top-level modules (the files and folders directly under `src/`) and its
root (`lib.rs` or `main.rs`, named `<root>`); an edge A -> B means a file of A names `crate::B`
(or, for the root's own items, `crate::Item`). Child modules may use their parent freely within a
top-level module; across top-level modules the arrows must run one way. Exits 1 and prints each
cycle when there is one.

Usage: tools/module_cycles.py [crates-dir]   (default: crates)
"""

import pathlib
import re
import sys

CRATE_PATH = re.compile(r"\bcrate::(?:\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
COMMENT = re.compile(r"^\s*//")


def top_level(src: pathlib.Path):
    """The crate's top-level module names and which one each .rs file belongs to."""
    modules = {}
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        if rel.parts[0] in ("lib.rs", "main.rs"):
            modules[path] = "<root>"
        else:
            modules[path] = rel.parts[0].removesuffix(".rs")
    return modules


def edges(modules):
    names = set(modules.values()) - {"<root>"}
    graph = {name: set() for name in set(modules.values())}
    for path, owner in modules.items():
        for line in path.read_text(encoding="utf-8").splitlines():
            if COMMENT.match(line):
                continue
            for group, single in CRATE_PATH.findall(line):
                targets = [single] if single else [t.strip().split("::")[0] for t in group.split(",")]
                for target in targets:
                    target = target.strip()
                    if not target or target == "self":
                        continue
                    node = target if target in names else "<root>"
                    if node != owner:
                        graph[owner].add(node)
    return graph


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main():
    crates = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "crates")
    failed = False
    for src in sorted(crates.glob("*/src")):
        graph = edges(top_level(src))
        for component in cycles(graph):
            failed = True
            print(f"{src.parent.name}: modules import each other: {', '.join(component)}")
            for node in component:
                inside = sorted(n for n in graph[node] if n in component)
                print(f"  {node} -> {', '.join(inside)}")
    if not failed:
        print("no module cycles")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
