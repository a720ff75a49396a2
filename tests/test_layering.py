"""The package's import structure, read from the code: one name for the networks, imports that
flow one way through the layers the README's Layout section names, and no import cycle."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: The layers, lowest first: a module may import its own layer and those below it, never above.
LAYERS = ("networks", "core", "training", "tools", "apps")
MAX_LINES = 400  # one concept per module: past this, it holds two


def module_files() -> dict[str, Path]:
    """Every module of the package by its import name (models/ is installed as style_app.models)."""
    found = {}
    for root, prefix in ((REPO / "style_app", "style_app"), (REPO / "models", "style_app.models")):
        for path in root.rglob("*.py"):
            parts = [prefix, *path.relative_to(root).with_suffix("").parts]
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def layer(module: str) -> str:
    if module.startswith("style_app.models"):
        return "networks"
    if module in ("style_app.cli", "style_app.__main__") or module.startswith("style_app.cli_"):
        return "apps"
    for package, name in (("style_app.training", "training"), ("style_app.tools", "tools"),
                          ("style_app.web", "apps")):
        if module == package or module.startswith(package + "."):
            return name
    return "core"


def imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `module` imports anywhere in its code (inside functions too)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], *filter(None, [base])])
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules and name != module}
    return found


def graph() -> dict[str, set[str]]:
    modules = module_files()
    return {module: imports(module, path, modules) for module, path in modules.items()}


def test_every_import_of_the_networks_is_style_app_models():
    """No module or test imports a top-level `models` (the custom import finder is gone)."""
    files = [*module_files().values(), *(REPO / "tests").glob("*.py"), REPO / "app.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            assert not [n for n in names if n.split(".")[0] == "models"], path
    assert not any(isinstance(node, ast.ClassDef) and "MetaPathFinder" in ast.unparse(node)
                   for path in module_files().values() for node in ast.walk(ast.parse(path.read_text())))


def test_imports_flow_one_way_through_the_layers():
    wrong = [f"{module} ({layer(module)}) imports {target} ({layer(target)})"
             for module, targets in graph().items() for target in targets
             if LAYERS.index(layer(target)) > LAYERS.index(layer(module))]
    assert not wrong, wrong


def test_the_cli_and_the_web_app_do_not_import_each_other():
    """Beside each other on top of the library; `style-app serve` alone starts the web app."""
    edges = graph()
    cli = [m for m in edges if layer(m) == "apps" and not m.startswith("style_app.web")]
    assert not [t for m in cli for t in edges[m] if t.startswith("style_app.web") and t != "style_app.web.launcher"]
    assert not [m for m, targets in edges.items() if m.startswith("style_app.web") and set(cli) & targets]


def test_no_module_is_longer_than_a_few_screens():
    long = {m: n for m, path in module_files().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_no_import_cycle():
    edges, state, cycles = graph(), {}, []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles
