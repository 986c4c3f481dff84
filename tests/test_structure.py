"""The package's layers, as its docstring lists them, are the ones its imports follow."""

import ast
import re
from pathlib import Path

import retina_tutorial

PACKAGE = Path(retina_tutorial.__file__).parent


def _layers() -> list:
    """The docstring's bullet list: one set of module names per layer, in order."""
    text = retina_tutorial.__doc__
    listing = text[text.index("\n- ") : text.index("\n\n", text.index("\n- "))]
    layers = []
    for bullet in listing.split("\n- ")[1:]:
        names = re.sub(r"\([^)]*\)", "", bullet.split(":", 1)[-1])  # not the remarks
        layers.append(set(re.findall(r"``(\w+)``", names)))
    return layers


def _module_level_imports(path: Path) -> set:
    """The package modules a file imports when it is imported (not inside functions)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("retina_tutorial"):
            parts = node.module.split(".")
            found |= {alias.name for alias in node.names} if len(parts) == 1 else {parts[1]}
        elif isinstance(node, ast.Import):
            found |= {
                a.name.split(".")[1] for a in node.names if a.name.startswith("retina_tutorial.")
            }
    return found


def _modules() -> dict:
    files = {path.stem: [path] for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    files["exercises"] = sorted((PACKAGE / "exercises").glob("*.py"))
    return files


def test_every_module_is_in_exactly_one_layer():
    layers = _layers()
    listed = [name for layer in layers for name in layer]
    assert len(layers) == 7
    assert sorted(listed) == sorted(_modules()), "the docstring's layers and the modules differ"


def test_modules_import_only_from_their_own_layer_and_above():
    rank = {name: index for index, layer in enumerate(_layers()) for name in layer}
    wrong = []
    for name, paths in _modules().items():
        for path in paths:
            for imported in _module_level_imports(path) & set(rank):
                if imported != name and rank[imported] > rank[name]:
                    wrong.append(f"{path.name} imports {imported}")
    assert not wrong, wrong


def test_the_first_layer_imports_nothing_of_the_package():
    for name in _layers()[0]:
        (path,) = _modules()[name]
        assert not _module_level_imports(path) & set(_modules()), name
