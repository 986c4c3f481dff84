"""Audit a submitted notebook: name what no honest answer does.

Explained in ``book/instructors.md`` (*What grading guarantees*).

:func:`audit_notebook` reads the cells a student could write (the answer
cells and any cell they added) without running them, and returns
:class:`Finding` rows. Some kinds reach beyond the cell they are in: code
that changes the kernel, a module or the checkers, or that reads files or
the environment, can change how any later test cell behaves, so every
exercise from that cell on scores 0 (:func:`zeroed`). Others concern one
answer: a number typed where the exercise asks for code, or an answer read
from the function that computes it for the checker.

The audit is a static reading: it names what it sees, and the grade
comment quotes it, so a teacher can read the cell and override a score.
Grading does not rely on it alone (:mod:`retina_tutorial.grading` checks
answers outside the student's kernel, on images they never saw).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import re

#: Calls and names that reach into the kernel, run hidden code or bypass names.
KERNEL = {
    "get_ipython": "reaches into the IPython kernel",
    "exec": "runs code built at run time",
    "eval": "runs code built at run time",
    "compile": "runs code built at run time",
    "__import__": "imports by a computed name",
    "globals": "edits the notebook's names directly",
    "locals": "edits the notebook's names directly",
    "vars": "edits the notebook's names directly",
    "setattr": "changes attributes by name",
    "delattr": "changes attributes by name",
    "breakpoint": "stops the kernel",
    "__builtins__": "changes Python's built-in functions",
}
#: Modules whose use in an answer changes the kernel, files or other programs.
MODULES = {
    "IPython": "reaches into the IPython kernel",
    "builtins": "changes Python's built-in functions",
    "sys": "changes the Python interpreter",
    "importlib": "imports by a computed name",
    "inspect": "reads or changes code at run time",
    "gc": "reaches objects behind the notebook's names",
    "ctypes": "changes memory directly",
    "types": "builds functions and modules at run time",
    "os": "uses the operating system (files, environment, processes)",
    "subprocess": "runs other programs",
    "shutil": "changes files",
    "pathlib": "reads or writes files",
    "glob": "lists files",
    "pickle": "loads objects from files",
    "marshal": "loads code",
    "sqlite3": "opens the gradebook or another database",
    "nbformat": "reads notebooks",
    "signal": "changes how the kernel is interrupted",
    "atexit": "runs code when the kernel stops",
    "threading": "runs code beside the graded cells",
    "unittest": "patches objects",
    "pkgutil": "imports by a computed name",
    "runpy": "runs code from files",
    "linecache": "reads files",
    "filecmp": "lists files",
    "fileinput": "reads files",
    "posix": "uses the operating system (files, environment, processes)",
    "nt": "uses the operating system (files, environment, processes)",
    "_thread": "runs code beside the graded cells",
    "concurrent": "runs code beside the graded cells",
    "asyncio": "runs code beside the graded cells",
    "multiprocessing": "runs other programs",
    "codecs": "reads files",
    "io": "reads or writes files",
    "tarfile": "reads or writes files",
    "tempfile": "reads or writes files",
    "zipfile": "reads or writes files",
    "zipimport": "imports code from files",
    "mmap": "reads files",
    "socket": "talks to other programs",
    "code": "runs code built at run time",
    "codeop": "runs code built at run time",
    "trace": "reads or changes code at run time",
    "tracemalloc": "reads or changes code at run time",
    "faulthandler": "changes the Python interpreter",
    "resource": "changes the process's limits",
    "pty": "runs other programs",
    "retina_tutorial.exercises": "uses the checkers",
    "retina_tutorial.grading": "uses the grader",
    "retina_tutorial.audit": "uses the audit",
    "retina_tutorial.course": "uses the course kit",
}
#: Attribute names no answer needs: the machinery behind Python's names.
DUNDERS = {
    "__dict__",
    "__globals__",
    "__code__",
    "__closure__",
    "__builtins__",
    "__base__",
    "__bases__",
    "__mro__",
    "__subclasses__",
    "__getattribute__",
    "__setattr__",
    "__wrapped__",
    "__defaults__",
    "__kwdefaults__",
    "__module__",
    "__self__",
    "__func__",
}
#: Calls that end the kernel: the answers after them are lost, which is
#: named but costs nothing else.
ENDS = {"exit", "quit"}
#: Names of the book's modules that the checkers use, as chapters import them.
CHECKERS = ("exercises", "grading")
#: Strings that name the grading's files: other students' graded notebooks,
#: the gradebook, the reference run's answers.
GRADING_PATHS = ("autograded", "gradebook", "answers.json", "results.jsonl", ".ipynb")
#: The magics an honest answer may use (timing, plotting), taken out before reading.
TIMING_MAGIC = re.compile(
    r"^[ \t]*(%%?(time|timeit)\b[^\S\n]*|%(matplotlib|precision|who|whos|pinfo|pdoc)\b.*$"
    r"|\?.*$|[^#\n]*\?[ \t]*$)",
    re.MULTILINE,
)
#: Attribute names that lead to a module no answer needs, from any object
#: (``data.grading.os``, ``tarfile.os``, ``tempfile._os``), or read files.
REACHES = {
    "os": "uses the operating system (files, environment, processes)",
    "sys": "changes the Python interpreter",
    "builtins": "changes Python's built-in functions",
    "subprocess": "runs other programs",
    "shutil": "changes files",
    "importlib": "imports by a computed name",
    "grading": "uses the grader",
    "exercises": "uses the checkers",
    "audit": "uses the audit",
    "course": "uses the course kit",
    "open": "opens a file",
    "fromfile": "reads files",
    "load": "reads files",
    "loadtxt": "reads files",
    "genfromtxt": "reads files",
    "memmap": "reads files",
    "read_text": "reads files",
    "read_bytes": "reads files",
    "listdir": "lists files",
    "scandir": "lists files",
    "walk": "lists files",
    "glob": "lists files",
    "iglob": "lists files",
    "rglob": "lists files",
    "iterdir": "lists files",
    "system": "runs other programs",
    "popen": "runs other programs",
    "environ": "reads the environment",
    "getenv": "reads the environment",
    "f_locals": "reads another function's variables",
    "f_globals": "reads another function's variables",
    "f_back": "reads another function's variables",
    "f_code": "reads or changes code at run time",
    "f_builtins": "changes Python's built-in functions",
    "gi_frame": "reads another function's variables",
    "cr_frame": "reads another function's variables",
    "tb_frame": "reads another function's variables",
    "setprofile": "watches the checkers run",
    "settrace": "watches the checkers run",
    "resolve_name": "imports by a computed name",
    "import_module": "imports by a computed name",
    "fork": "runs other programs",
    "forkpty": "runs other programs",
    "execv": "runs other programs",
    "execve": "runs other programs",
    "execvp": "runs other programs",
    "execl": "runs other programs",
    "spawnv": "runs other programs",
    "setsid": "runs other programs",
    "readlink": "reads files",
}
#: Built-in calls that keep a typed answer typed (``float("0.7891")``).
TYPED_CALLS = {"float", "int", "round", "tuple", "list", "set", "frozenset", "abs", "str"}


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing the audit saw.

    Attributes
    ----------
    exercise : str or None
        The exercise's tag (``"01-ex2"``) whose cell it is in; None for a cell
        after the last exercise.
    cell : int
        The cell's index in the submitted notebook.
    kind : str
        ``"kernel"``, ``"checker"``, ``"module"``, ``"files"``, ``"typed"``,
        ``"shortcut"``, ``"ends"``, ``"syntax"`` or ``"locked"``.
    detail : str
        What was seen, for people.
    zeroes : str
        ``"everything"`` (every exercise scores 0), ``"from here"`` (this
        exercise and every later one),
        ``"this exercise"`` or ``""`` (named only).
    """

    exercise: str | None
    cell: int
    kind: str
    detail: str
    zeroes: str = ""


#: Exercise tag -> (whether the answer must be computed, calls whose value the
#: answer must not come from: the package's own computation of it).
RULES = {
    "01-ex1": (True, ()),
    "01-ex2": (True, ()),
    "01-ex3": (True, ()),
    "01-ex4": (True, ("second_observer", "second_observer_per_image")),
    "02-ex1": (True, ("receptive_field",)),
    "02-ex2": (True, ("count_params",)),
    "02-ex3": (True, ()),
    "02-ex4": (True, ()),
    "03-ex1": (True, ()),
    "03-ex2": (True, ()),
    "03-ex3": (False, ("GEOMETRIC_TRANSFORMS",)),
    "03-ex4": (True, ()),
    "04-ex1": (True, ("masked_bce",)),
    "04-ex2": (True, ("masked_dice_loss",)),
    "04-ex3": (True, ("best_epoch",)),
    "04-ex4": (True, ()),
    "05-ex1": (True, ()),
    "05-ex2": (True, ("choose_threshold", "threshold")),
    "05-ex3": (True, ()),
    "05-ex4": (True, ()),
    "05-ex5": (True, ("reliability", "calibration_error", "tallies")),
    "05-ex6": (True, ("percentile_intervals",)),
    "06-ex1": (True, ()),
    "06-ex2": (True, ("tile_layout", "tile_count", "tile_origins")),
    "06-ex3": (True, ("tta",)),
    "06-ex4": (True, ("resize_factor", "factor_to_model")),
    "06-ex5": (True, ("tree_metrics", "tree_counts", "metrics_from_counts")),
    "07-ex1": (True, ("resize_factor", "factor_to_model")),
    "07-ex2": (True, ("second_observer", "second_observer_per_image")),
    "07-ex3": (True, ()),
    "07-ex4": (True, ()),
    "07-ex5": (True, ()),
}


def audit_notebook(submitted, source) -> list[Finding]:
    """What the student-written cells of ``submitted`` do that no honest answer does.

    Parameters
    ----------
    submitted : NotebookNode
        The student's notebook as handed in (before it runs).
    source : NotebookNode
        The course's source notebook (``source/<chapter>/<chapter>.ipynb``).

    Returns
    -------
    list of Finding
        In cell order.
    """
    locked = locked_sources(source)
    imported = _module_names(source)
    findings = []
    pending = []  # added cells before the next exercise's answer cell
    seen = set()
    for index, cell in enumerate(submitted.cells):
        grade_id = grade_id_of(cell)
        if grade_id and grade_id in seen:
            findings.append(
                Finding(
                    _tag(grade_id),
                    index,
                    "locked",
                    f"two cells carry the id {grade_id!r}: a cell disguised as another",
                    "from here",
                )
            )
        seen.add(grade_id)
        if grade_id in locked:
            if cell.source != locked[grade_id]:
                findings.append(
                    Finding(
                        _tag(grade_id),
                        index,
                        "locked",
                        "edited a read-only cell (restored before grading)",
                    )
                )
                if cell.cell_type == "code":  # what it would have run, read all the same
                    findings.extend(
                        f
                        for f in audit_cell(cell.source, None, index, imported, answer_cell=False)
                        if f.kind != "syntax"
                    )
            continue
        if cell.cell_type != "code":
            continue
        tag = _tag(grade_id) if grade_id.endswith("-answer") else None
        if tag is None:
            pending.append((index, cell.source))
            continue
        for added_index, added in pending:
            findings.extend(audit_cell(added, tag, added_index, imported, answer_cell=False))
        pending = []
        findings.extend(audit_cell(cell.source, tag, index, imported, answer_cell=True))
    for added_index, added in pending:
        findings.extend(audit_cell(added, None, added_index, imported, answer_cell=False))
    # A finding outside an answer cell counts against the next exercise.
    answers = [
        (index, _tag(grade_id_of(cell)))
        for index, cell in enumerate(submitted.cells)
        if grade_id_of(cell).endswith("-answer")
    ]
    return sorted(
        (
            finding
            if finding.exercise is not None
            else dataclasses.replace(
                finding,
                exercise=next((tag for at, tag in answers if at > finding.cell), None),
            )
            for finding in findings
        ),
        key=lambda finding: finding.cell,
    )


def left_running(commands: list[str]) -> Finding:
    """The finding for a submission that left programs running (grading killed them)."""
    shown = "; ".join(commands[:3])
    return Finding(
        None,
        0,
        "process",
        f"left a program running after its notebook ended (killed: {shown})",
        "everything",
    )


def zeroed(findings: list[Finding], tags: list[str]) -> dict[str, str]:
    """Exercise tag -> the audit's reason, for each exercise the findings give 0."""
    reasons: dict[str, str] = {}
    for finding in findings:
        if finding.zeroes == "everything":
            for tag in tags:
                reasons.setdefault(tag, finding.detail)
        elif finding.zeroes == "this exercise" and finding.exercise in tags:
            reasons.setdefault(finding.exercise, finding.detail)
        elif finding.zeroes == "from here":
            start = tags.index(finding.exercise) if finding.exercise in tags else len(tags)
            for tag in tags[start:]:
                reasons.setdefault(tag, f"{finding.detail} (cell {finding.cell})")
    return reasons


def audit_cell(
    code: str, tag: str | None, index: int, imported: dict, *, answer_cell: bool
) -> list[Finding]:
    """The findings of one student-written cell (see :func:`audit_notebook`)."""
    from IPython.core.inputtransformer2 import TransformerManager

    def found(kind, detail, zeroes="from here"):
        return Finding(tag, index, kind, detail, zeroes)

    try:
        tree = ast.parse(TransformerManager().transform_cell(TIMING_MAGIC.sub("", code)))
    except SyntaxError as error:
        return [found("syntax", f"does not run: {error.msg} (line {error.lineno})", "")]
    findings = []
    aliases = dict(imported)
    allowed = _self_checks(tree)
    # vars(x) only reads x's attributes; vars() alone is the notebook's names.
    reading = {
        id(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "vars"
        and node.args
    }
    for node in ast.walk(tree):
        if id(node) in allowed:
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            for alias in node.names:
                full = f"{module}.{alias.name}" if module else alias.name
                reason = _module_reason(full)
                if reason:
                    findings.append(found("module", f"imports {full}: {reason}"))
                aliases[(alias.asname or alias.name).split(".")[0]] = full
                if module and alias.name in REACHES and not reason:
                    findings.append(found("module", f"imports {full}: {REACHES[alias.name]}"))
                if alias.name.startswith("_"):
                    findings.append(found("module", f"imports {full}: a private part"))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in KERNEL and id(node) not in reading:
                findings.append(found("kernel", f"{node.id}: {KERNEL[node.id]}"))
            elif node.id in ENDS:
                findings.append(found("ends", f"{node.id}() ends the kernel", ""))
            elif node.id in CHECKERS or node.id in _checker_names() or node.id == "Result":
                findings.append(found("checker", f"uses the checkers ({node.id})"))
            elif node.id == "open":
                findings.append(found("files", "opens a file"))
            elif aliases.get(node.id) and _module_reason(aliases[node.id]):
                findings.append(found("module", f"{node.id}: {_module_reason(aliases[node.id])}"))
        elif isinstance(node, ast.Attribute):
            if node.attr in DUNDERS:
                findings.append(found("kernel", f"{node.attr}: reaches behind Python's names"))
            elif node.attr in _checker_names() or node.attr == "_finish":
                findings.append(found("checker", f"uses the checkers ({node.attr})"))
            elif node.attr in ("exit", "_exit", "kill", "abort"):
                findings.append(found("ends", f"{node.attr}() ends the kernel", ""))
            elif node.attr.startswith("read_") and node.attr != "read_":
                findings.append(found("files", f".{node.attr}: reads files"))
            elif node.attr.lstrip("_") in REACHES:
                reason = REACHES[node.attr.lstrip("_")]
                findings.append(found("module", f".{node.attr}: {reason}"))
            elif node.attr.startswith("_") and not node.attr.endswith("__"):
                findings.append(found("module", f".{node.attr}: uses a module's private parts"))
            elif node.attr in ("write_text", "write_bytes", "unlink", "rmdir", "rename"):
                findings.append(found("files", f".{node.attr}: changes files"))
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                root = _root(node)
                if root in aliases or root in CHECKERS:
                    findings.append(
                        found("module", f"changes {ast.unparse(node)}, part of a module")
                    )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) > 1
            and not isinstance(node.args[1], ast.Constant)
            and (
                not isinstance(node.args[0], ast.Name)
                or node.args[0].id in aliases
                or node.args[0].id in CHECKERS
            )
        ):
            findings.append(found("kernel", f"{node.func.id}: gets attributes by a computed name"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and (
                node.args[1].value in _checker_names()
                or (node.args[1].value.startswith("_") and not node.args[1].value.endswith("__"))
                or node.args[1].value in DUNDERS
                or node.args[1].value.lstrip("_") in REACHES
            )
        ):
            findings.append(found("module", f"getattr(..., {node.args[1].value!r})"))
        elif isinstance(node, ast.Raise) and node.exc is not None:
            name = _root(node.exc.func if isinstance(node.exc, ast.Call) else node.exc)
            if name in ("SystemExit", "KeyboardInterrupt"):
                findings.append(found("ends", f"raises {name}, which ends the kernel", ""))
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for name in _bound_names(target):
                    if name in CHECKERS:
                        findings.append(
                            found("checker", f"rebinds {name}, which the graded cells use")
                        )
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in CHECKERS:
            findings.append(found("checker", f"rebinds {node.name}, which the graded cells use"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            hint = next((word for word in GRADING_PATHS if word in node.value), None)
            if hint:
                findings.append(found("files", f"names {hint!r}, a path of the grading"))
    if answer_cell and tag in RULES:
        findings.extend(_answer_findings(tree, tag, index))
    return _unique(findings)


def _answer_findings(tree, tag: str, index: int) -> list[Finding]:
    computed, names = RULES[tag]
    shortcuts = set(names)
    for node in ast.walk(tree):  # an alias of a shortcut is one too
        if isinstance(node, ast.ImportFrom):
            shortcuts.update(a.asname for a in node.names if a.name in shortcuts and a.asname)
    steps = sorted(
        (
            node
            for node in ast.walk(tree)
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value
        ),
        key=lambda node: (node.lineno, node.col_offset),
    )
    findings, tainted, answered = [], set(), []
    read_off = False
    for node in steps:
        names_bound = [name for target in _targets(node) for name in _bound_names(target)]
        uses = _uses(node.value, tainted, shortcuts) or (
            isinstance(node, ast.AugAssign) and any(n in tainted for n in names_bound)
        )
        for name in names_bound:
            if name == "answer":
                read_off = uses
                if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                    answered.append(node.value)
            elif uses:
                tainted.add(name)
            else:
                tainted.discard(name)
    if computed and answered and all(_typed(value) for value in answered):
        findings.append(
            Finding(
                tag,
                index,
                "typed",
                "the answer is typed, not computed: it is graded on other images and values, "
                "so only code that computes it can pass",
                "this exercise",
            )
        )
    if shortcuts and read_off:
        findings.append(
            Finding(
                tag,
                index,
                "shortcut",
                "the answer is read from "
                f"{' / '.join(names)}, the computation the exercise asks you to do",
                "this exercise",
            )
        )
    return findings


def _typed(node) -> bool:
    """True when an expression holds no name: literals, arithmetic and built-in casts only."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and inner.id not in TYPED_CALLS:
            return False
        if isinstance(inner, ast.Attribute):
            return False
    return True


def _uses(node, tainted: set, shortcuts: set) -> bool:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and (inner.id in tainted or inner.id in shortcuts):
            return True
        if isinstance(inner, ast.Attribute) and inner.attr in shortcuts:
            return True
        if isinstance(inner, ast.Constant) and inner.value in shortcuts:
            return True
        if isinstance(inner, ast.keyword) and inner.arg in shortcuts:
            value = inner.value
            if not (isinstance(value, ast.Constant) and value.value in (False, None)):
                return True
    return False


def _targets(node) -> list:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


def _bound_names(target) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in _bound_names(element)]
    if isinstance(target, ast.Starred):
        return _bound_names(target.value)
    return []


def _root(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _module_reason(full: str) -> str:
    for name, reason in MODULES.items():
        if full == name or full.startswith(name + "."):
            return reason
    return ""


def _module_names(notebook) -> dict:
    """Name -> module, for the names the notebook's own cells import (np, evaluate...)."""
    names = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tree = _parsed(cell.source)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update({(a.asname or a.name).split(".")[0]: a.name for a in node.names})
            elif isinstance(node, ast.ImportFrom):
                names.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
    return names


def locked_sources(source) -> dict:
    """Grade id -> source of every read-only cell of a course's source notebook."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("locked")
    }


def grade_id_of(cell) -> str:
    """A submitted cell's nbgrader id, or "" (metadata a student wrote may be anything)."""
    meta = cell.get("metadata", {})
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    value = meta.get("grade_id", "") if isinstance(meta, dict) else ""
    return value if isinstance(value, str) else ""


def _self_checks(tree) -> set:
    """The nodes of the book's own self-check, which an answer cell may keep.

    A chapter's exercise cell ends with ``result = exercises.check_...(answer,
    ...)``; a student who copies it into a course notebook checks an answer
    already given, once, which asks the checker nothing. Allowed: that call
    as a statement of its own, at the cell's top level, after the last
    assignment to ``answer``, with ``answer`` itself as its first argument.
    """
    last_answer = max(
        (
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign))
            and "answer" in [n for t in _targets(node) for n in _bound_names(t)]
        ),
        default=0,
    )
    allowed = set()
    for statement in tree.body:
        call = statement.value if isinstance(statement, (ast.Assign, ast.Expr)) else None
        if (  # print(exercises.check_...(answer, ...))
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "print"
            and len(call.args) == 1
        ):
            call = call.args[0]
        if (
            isinstance(call, ast.Call)
            and statement.lineno > last_answer
            and call.args
            and isinstance(call.args[0], ast.Name)
            and call.args[0].id == "answer"
            and not any(isinstance(a, ast.Starred) for a in call.args)
            and _is_checker(call.func)
            and (
                isinstance(statement, ast.Expr)
                or len([n for t in statement.targets for n in _bound_names(t)]) == 1
            )
        ):
            allowed.update({id(call.func), id(getattr(call.func, "value", None))})
            allowed.update(id(node) for node in ast.walk(call.func))
    return allowed


def _is_checker(func) -> bool:
    if isinstance(func, ast.Name):
        return func.id in _checker_names()
    return (
        isinstance(func, ast.Attribute)
        and func.attr in _checker_names()
        and isinstance(func.value, ast.Name)
        and func.value.id == "exercises"
    )


def _parsed(code: str):
    """The syntax tree of a cell as IPython runs it (magics made calls), or None."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(TIMING_MAGIC.sub("", code)))
    except SyntaxError:
        return None


@functools.cache
def _checker_names() -> frozenset:
    """The checkers' names, as ``retina_tutorial.exercises`` exports them."""
    from retina_tutorial import exercises

    return frozenset(name for name in exercises.__all__ if name.startswith("check_"))


def _tag(grade_id: str) -> str | None:
    parts = grade_id.split("-")
    return "-".join(parts[:2]) if len(parts) >= 3 and parts[1].startswith("ex") else None


def _unique(findings: list[Finding]) -> list[Finding]:
    seen, kept = set(), []
    for finding in findings:
        key = (finding.kind, finding.detail)
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return kept
