"""Grading that a student's code cannot switch off: the course kit's ``grade`` step.

Explained in ``book/instructors.md`` (*What grading guarantees*).

A student's code runs in the same kernel as the graded test cells, so
nothing that runs there can be trusted to grade: it can patch the checkers,
rebind names, rewrite cells before they run. Grading here trusts the kernel
with one thing only, the student's answer:

1. Each graded test cell *hands in* the answer (:func:`hand_in`): it
   writes the value, as plain data, into the cell's output.
2. :func:`grade_assignment` runs each submission alone with ``nbgrader
   autograde`` on a *grading variant* (:func:`variant`): a subset of the
   images that nobody saw while working, and other values for the numbers an
   exercise gives (:func:`retina_tutorial.exercises.given`). A number copied
   from the book, a classmate or a run of one's own is the answer to
   another question. The answers are read right after each run; a program
   the run left behind is killed (and named) before the next one starts.
3. It then checks every handed-in answer in a fresh kernel that runs the
   teacher's source notebook, the chapter and its worked solutions, on the
   same variant; no student code runs there (:func:`reference_notebook`).
4. :mod:`retina_tutorial.audit` reads each submission and names what no
   honest answer does (changing the checkers or the kernel, calling a
   checker, reading files, typing a number where code is asked for). An
   exercise the audit flags scores 0, with the reason as a comment the
   teacher can read and override.

The scores go into nbgrader's gradebook as manual scores, so ``nbgrader
export`` and ``nbgrader generate_feedback`` work as usual.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

#: The environment variable that holds the grading variant (a whole number).
VARIANT_VARIABLE = "RETINA_TUTORIAL_GRADING_VARIANT"
#: Where a reference run finds the answers (a file it deletes once read).
ANSWERS_VARIABLE = "RETINA_TUTORIAL_GRADING_ANSWERS"
#: The MIME type of a handed-in answer in a test cell's output.
ANSWER_MIME = "application/vnd.retina-tutorial.answer+json"
#: The MIME type of a reference run's outcomes.
RESULTS_MIME = "application/vnd.retina-tutorial.results+json"
#: Arrays larger than this are not handed in (the largest answer is one map).
MAX_ELEMENTS = 5_000_000
#: Of each split, the share of images a grading variant keeps (at least 2).
KEPT_SHARE = 0.8


class GradingError(RuntimeError):
    """The grading could not run as asked (see the message for the fix)."""


# --- the grading variant -------------------------------------------------------


def variant() -> int | None:
    """The grading variant in use, or None while students work and in the book.

    Raises
    ------
    GradingError
        If ``RETINA_TUTORIAL_GRADING_VARIANT`` is set but is not a whole number.
    """
    text = os.environ.get(VARIANT_VARIABLE, "").strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{1,18}", text):
        raise GradingError(f"{VARIANT_VARIABLE}={text!r}: set it to a whole number, or unset it.")
    return int(text)


def rng_for(name: str, seed: int) -> np.random.Generator:
    """The random generator of one use of a variant (``name``: an exercise, a split)."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def variant_of(dataset):
    """``dataset`` cut to the grading variant's images; ``dataset`` itself outside grading.

    Each split keeps a random :data:`KEPT_SHARE` of its images (at least 2,
    in their order), so every answer computed from the data differs from the
    one on the full set. The description says so.
    """
    seed = variant()
    if seed is None:
        return dataset
    splits = {}
    for name in ("train", "validation", "test"):
        split = getattr(dataset, name)
        keep = max(2, round(KEPT_SHARE * len(split))) if len(split) > 2 else len(split)
        chosen = sorted(rng_for(f"{dataset.source}:{name}", seed).choice(len(split), keep, False))
        splits[name] = split.select([split.ids[i] for i in chosen])
    counts = ", ".join(f"{len(s)} {n}" for n, s in splits.items())
    description = f"{dataset.description}; grading variant {seed}: {counts} images"
    return dataclasses.replace(dataset, description=description, **splits)


# --- handing in: plain data only ------------------------------------------------


def encode(answer) -> dict:
    """``answer`` as JSON-ready plain data (numbers, strings, containers, arrays).

    Only the exact built-in and NumPy types count (and arrays from TensorFlow,
    Keras, JAX or PyTorch): an object of a class of one's own could compute
    its value when it is handed in, after the checker has run, so it is
    handed in as unreadable.
    """
    kind = type(answer)
    if answer is None or kind in (bool, str):
        return {"type": "plain", "value": answer}
    if kind is int:
        return {"type": "plain", "value": answer}
    if kind is float:
        return {"type": "plain", "value": answer}
    if isinstance(answer, np.generic) and kind.__module__ == "numpy":
        if answer.dtype == object:
            return {"type": "unreadable", "what": "a NumPy object"}
        return {"type": "scalar", "dtype": answer.dtype.str, "value": answer.item()}
    if kind in (tuple, list):
        return {"type": kind.__name__, "items": [encode(a) for a in answer]}
    if kind in (set, frozenset):
        items = sorted((encode(a) for a in answer), key=lambda item: json.dumps(item))
        return {"type": "set", "items": items}
    if kind is np.ndarray or kind.__module__.split(".")[0] in ARRAY_MODULES:
        array = np.asarray(answer)
        if array.dtype == object or array.size > MAX_ELEMENTS:
            return {"type": "unreadable", "what": f"an array of {array.dtype} {array.shape}"}
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        packed = base64.b64encode(zlib.compress(buffer.getvalue(), 6)).decode("ascii")
        return {"type": "array", "npy": packed}
    return {"type": "unreadable", "what": kind.__name__}


#: Libraries whose tensors are handed in as arrays.
ARRAY_MODULES = ("tensorflow", "keras", "jax", "jaxlib", "torch")


class Unreadable:
    """An answer that could not be handed in as data: every checker refuses it."""

    def __init__(self, what: str):
        self.what = what

    def __repr__(self) -> str:
        return f"<{self.what}, not handed in as data>"


def decode(record: dict):
    """The answer :func:`encode` wrote (never unpickles; unknown forms are Unreadable)."""
    try:
        return _decoded(record)
    except Exception:  # a record written by hand: no answer
        return Unreadable("a handed-in record that is not one")


def _decoded(record: dict):
    kind = record.get("type")
    if kind == "plain":
        return record["value"]
    if kind == "scalar":
        return np.dtype(record["dtype"]).type(record["value"])
    if kind in ("tuple", "list", "set"):
        items = [_decoded(item) for item in record["items"]]
        return {"tuple": tuple, "list": list, "set": set}[kind](items)
    if kind == "array":
        raw = zlib.decompress(base64.b64decode(record["npy"]))
        return np.load(io.BytesIO(raw), allow_pickle=False)
    return Unreadable(str(record.get("what", "an answer")))


def hand_in(exercise: str, answer) -> None:
    """Write ``answer`` into the test cell's output for :func:`grade_assignment`."""
    from IPython.display import display

    record = {"exercise": exercise, "answer": encode(answer)}
    summary = "no answer" if answer is None else f"a {type(answer).__name__}"
    display({ANSWER_MIME: record, "text/plain": f"Handed in for grading: {summary}."}, raw=True)


def handed_in(notebook) -> dict:
    """Exercise tag -> encoded answer, from the test cells of an executed submission.

    Only the output of an exercise's own graded test cell counts, and only a
    record for that exercise; the last one wins.
    """
    from retina_tutorial.audit import grade_id_of

    answers = {}
    for cell in notebook.cells:
        grade_id = grade_id_of(cell)
        if cell.get("cell_type") != "code" or not grade_id.endswith("-test"):
            continue
        tag = grade_id[: -len("-test")]
        for output in cell.get("outputs", []):
            data = output.get("data") if isinstance(output, dict) else None
            record = data.get(ANSWER_MIME) if isinstance(data, dict) else None
            if isinstance(record, dict) and record.get("exercise") == tag:
                answer = record.get("answer")
                answers[tag] = answer if isinstance(answer, dict) else {"type": "unreadable"}
    return answers


# --- the reference run -------------------------------------------------------------


#: The answers a reference run checks, read once from the file it was given.
_HANDED_IN: dict = {}


def load_handed_in() -> None:
    """In a reference run: read the class's answers, and delete the file at once."""
    path = Path(os.environ[ANSWERS_VARIABLE])
    _HANDED_IN.clear()
    _HANDED_IN.update(json.loads(path.read_text()))
    path.unlink()


def check_handed_in(exercise: str, check) -> None:
    """In a reference run: check every student's answer to ``exercise`` with ``check``.

    ``check(answer)`` returns a checker's Result; its feedback is kept as the
    grade's comment. The outcomes go into the cell's output, which the
    grader reads from the kernel's replies: no file that another program
    could change.
    """
    from IPython.display import display

    results = {}
    for student, handed in _HANDED_IN.items():
        if exercise not in handed:
            results[student] = (False, "No answer was handed in: the test cell did not run.")
            continue
        feedback = io.StringIO()
        try:
            with contextlib.redirect_stdout(feedback):
                result = check(decode(handed[exercise]))
            results[student] = (bool(result.passed), result.message)
        except Exception as error:  # a malformed answer: the student's loss, not the run's
            results[student] = (False, f"The answer could not be checked: {error}")
    record = {"exercise": exercise, "results": results}
    display({RESULTS_MIME: record, "text/plain": f"{exercise}: checked"}, raw=True)


def reference_notebook(source):
    """The teacher's notebook that checks handed-in answers (see the module's docstring).

    Every cell is the source notebook's. Each answer cell runs its worked
    solution (so that the chapter goes on as in the book) and then the
    exercise's locked setup again; each test cell checks every student's
    answer with the same checker call in place of the kernel's own answer.
    """
    import nbformat

    from retina_tutorial import course

    notebook = nbformat.from_dict(source)
    setups = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id", "")
        if cell.cell_type != "code":
            continue
        if grade_id.endswith("-setup"):
            setups[grade_id[: -len("-setup")]] = cell.source
        elif meta.get("solution"):
            tag = grade_id[: -len("-answer")]
            body = cell.source.replace(course.BEGIN + "\n", "").replace("\n" + course.END, "")
            cell.source = body + "\n" + setups.get(tag, "")
        elif meta.get("grade"):
            tag = grade_id[: -len("-test")]
            call = course.checker_call(cell.source)
            cell.source = "\n".join(
                [
                    "from retina_tutorial import grading as _grading",
                    "def _check(answer):",
                    *("    " + line for line in call),
                    "    return result",
                    f"_grading.check_handed_in({tag!r}, _check)",
                ]
            )
    return notebook


def check_answers(source, answers: dict, workdir, *, timeout: int = 600) -> dict:
    """Run :func:`reference_notebook` once for a class: student -> tag -> (passed, feedback).

    ``answers`` maps each student to the encoded answers they handed in.
    The run uses the variant set in the environment.
    """
    import nbformat
    from nbclient import NotebookClient

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    answers_file = workdir / "answers.json"
    answers_file.write_text(json.dumps(answers))
    notebook = reference_notebook(source)
    first = nbformat.v4.new_code_cell(
        "from retina_tutorial import grading as _grading\n_grading.load_handed_in()"
    )
    notebook.cells.insert(0, first)
    with _environment({ANSWERS_VARIABLE: str(answers_file)}):
        NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(workdir)}},
        ).execute()
    nbformat.write(notebook, workdir / "reference.ipynb")
    checked: dict = {student: {} for student in answers}
    tags = _exercise_tags(source)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            entry = output.get("data", {}).get(RESULTS_MIME)
            if isinstance(entry, dict) and entry.get("exercise") in tags:
                for student, outcome in entry["results"].items():
                    if student in checked:
                        checked[student][entry["exercise"]] = tuple(outcome)
    missing = [tag for tag in tags if not any(tag in row for row in checked.values())]
    if answers and missing:
        raise GradingError(
            f"The reference run of {workdir / 'reference.ipynb'} did not check "
            f"{', '.join(missing)}: open it to see which cell failed (the teacher's notebook "
            "must run as it stands on the grading machine's data)."
        )
    return checked


def _exercise_tags(notebook) -> list[str]:
    """The tags of the exercises checked by code (written questions are graded by hand)."""
    return [
        cell.metadata["nbgrader"]["grade_id"][: -len("-test")]
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
    ]


# --- a class ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Grade:
    """One student's grade on one exercise."""

    student: str
    exercise: str
    score: float
    max_score: float
    comment: str


def new_variant() -> int:
    """A fresh variant: nobody can know it before grading."""
    return int.from_bytes(os.urandom(6), "big")


def grade_assignment(
    course_dir, assignment: str, *, seed: int | None = None, timeout: int = 600
) -> list[Grade]:
    """Grade every submission of ``assignment`` in an nbgrader course folder.

    Runs ``nbgrader autograde`` on a grading variant, checks the handed-in
    answers in a reference run, audits each submission, and writes the
    scores (and the reasons, as comments) into the gradebook. Also writes
    ``grading/<assignment>/grades.csv`` and ``audit.csv``.

    Parameters
    ----------
    course_dir : str or Path
        The course folder (``nbgrader_config.py``, ``source/``, ``submitted/``).
    assignment : str
        The assignment, e.g. ``"01_data_preparation"``.
    seed : int, optional
        The grading variant; a fresh random one by default (it is recorded in
        ``grading/<assignment>/variant.txt``).
    timeout : int
        Seconds a cell may run.
    """
    import nbformat

    from retina_tutorial import audit

    course_dir = Path(course_dir).resolve()
    source_path = course_dir / "source" / assignment / f"{assignment}.ipynb"
    if not source_path.is_file():
        raise GradingError(
            f"No source notebook at {source_path}: run `retina-tutorial course --out "
            f"{course_dir}` and `nbgrader generate_assignment {assignment}` first."
        )
    submitted = sorted(
        path.parent.parent.name
        for path in (course_dir / "submitted").glob(f"*/{assignment}/{assignment}.ipynb")
    )
    if not submitted:
        raise GradingError(
            f"No submissions in {course_dir / 'submitted'}/<student>/{assignment}/: collect "
            "them first (`nbgrader collect`, or copy each student's notebook there)."
        )
    seed = new_variant() if seed is None else int(seed)
    workdir = course_dir / "grading" / assignment
    workdir.mkdir(parents=True, exist_ok=True)
    source = nbformat.read(source_path, as_version=4)
    before = _fingerprint(course_dir)
    started = time.perf_counter()
    answers, left_running, log = {}, {}, []
    hidden = Path(tempfile.mkdtemp(prefix="retina-graded-"))
    with _environment({VARIANT_VARIABLE: str(seed)}), _hidden_until_done(course_dir, hidden):
        for student in submitted:
            # One student at a time: a notebook nbgrader cannot run costs only its
            # own author, and what a run leaves behind is that author's.
            graded = course_dir / "autograded" / student / assignment / f"{assignment}.ipynb"
            with LeftRunning() as leftovers:
                failure = _autograde(course_dir, assignment, student)
            notebook = None if failure or not graded.is_file() else nbformat.read(graded, 4)
            if notebook is None:
                log.append(f"{student}: nbgrader autograde failed ({failure}); run by the kit")
                with LeftRunning() as more_leftovers:
                    notebook = _run_submission(course_dir, assignment, student, source, timeout)
                leftovers.commands += more_leftovers.commands
            if leftovers.commands:
                left_running[student] = leftovers.commands
            answers[student] = handed_in(notebook)  # read now: later runs cannot change it
            # Out of the later submissions' way: they run on the same variant.
            done = course_dir / "autograded" / student
            if done.is_dir():
                shutil.move(str(done), str(hidden / student))
        ran = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="retina-grading-") as private:
            checked = check_answers(source, answers, Path(private), timeout=timeout)
            shutil.copy(Path(private) / "reference.ipynb", workdir / "reference.ipynb")
    checked_at = time.perf_counter()
    (workdir / "variant.txt").write_text(f"{seed}\n")
    (workdir / "log.txt").write_text("".join(line + "\n" for line in log))
    (workdir / "timing.json").write_text(
        json.dumps(
            {
                "submissions": len(submitted),
                "autograde_seconds": round(ran - started, 1),
                "reference_run_seconds": round(checked_at - ran, 1),
            }
        )
    )
    changed = _changed(before, _fingerprint(course_dir))
    if changed:
        raise GradingError(
            f"Files changed while the submissions ran: {', '.join(changed[:5])}. A submission "
            "wrote outside its folder; grade as a user who cannot write there (see the "
            "instructors' page), and check those files."
        )
    findings = {
        student: audit.audit_notebook(
            nbformat.read(
                course_dir / "submitted" / student / assignment / f"{assignment}.ipynb", 4
            ),
            source,
        )
        for student in submitted
    }
    for student, commands in left_running.items():
        findings[student].insert(0, audit.left_running(commands))
    grades = _combine(source, checked, findings)
    _write_gradebook(course_dir, assignment, grades)
    _write_tables(workdir, grades, findings)
    return grades


def _combine(source, checked, findings) -> list[Grade]:
    from retina_tutorial import audit

    points = {
        cell.metadata["nbgrader"]["grade_id"][: -len("-test")]: float(
            cell.metadata["nbgrader"].get("points", 1)
        )
        for cell in source.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
    }
    grades = []
    for student, results in checked.items():
        flagged = audit.zeroed(findings[student], list(points))
        for tag, most in points.items():
            passed, feedback = results.get(tag, (False, "No answer was handed in."))
            if tag in flagged:
                grades.append(Grade(student, tag, 0.0, most, f"Audit: {flagged[tag]}"))
            else:
                grades.append(Grade(student, tag, most if passed else 0.0, most, feedback))
    return grades


def _autograde(course_dir: Path, assignment: str, student: str) -> str:
    """``nbgrader autograde`` of one submission; what went wrong, or ``""``."""
    # Output to a file, not a pipe: a program the submission leaves running
    # would hold a pipe open and keep the grading waiting for ever.
    with tempfile.TemporaryFile("w+") as output:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "nbgrader",
                "autograde",
                assignment,
                "--student",
                student,
                "--create",
                "--force",
            ],
            cwd=course_dir,
            env=_nbgrader_environment(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
        output.seek(0)
        text = output.read()
    if done.returncode == 0:
        return ""
    errors = [line for line in text.splitlines() if "ERROR" in line or "Error" in line]
    lines = errors or text.splitlines() or [f"exit status {done.returncode}"]
    return lines[-1][:300]


class LeftRunning:
    """Find and stop what the code run inside the block leaves running (Linux).

    While the block runs, this process is the "child subreaper" of its
    descendants (``prctl(PR_SET_CHILD_SUBREAPER)``): a program that a
    notebook starts in the background, and whose parents end, is adopted by
    this process instead of process 1. On leaving the block, every process
    that descends from this one and did not before is such a leftover. A
    kernel still shutting down gets ``grace`` seconds to end; the others are
    killed, and the command lines of those that are not a Jupyter kernel are
    kept in :attr:`commands`, for the audit. The user's other programs, and
    whatever they start meanwhile, never descend from this process: they
    are left alone. Where Linux's ``prctl`` is missing it finds nothing.

    Attributes
    ----------
    commands : list of str
        The command lines killed on leaving the block, in process order.
    """

    def __init__(self, grace: float = 3.0):
        self.grace = grace
        self.commands: list[str] = []
        self._before: set = set()
        self._previous: bool | None = None

    def __enter__(self) -> LeftRunning:
        self.commands = []
        self._previous = _set_subreaper(True)
        if self._previous is not None:
            self._before = _descendants(os.getpid(), _processes())
        return self

    def __exit__(self, *exc_info) -> bool:
        if self._previous is None:
            return False
        try:
            self.commands = self._stop_new()
        finally:
            _set_subreaper(self._previous)
        return False

    def _new(self) -> set:
        """The live processes that descend from this one and did not before."""
        table = _processes()  # one reading of /proc for the three questions
        _reap(table, self._before)
        new = _descendants(os.getpid(), table) - self._before
        return {pid for pid in new if table[pid][1] != "Z"}

    def _stop_new(self) -> list[str]:
        deadline = time.monotonic() + self.grace
        left = self._new()
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = self._new()
        commands = []
        for _ in range(5):  # what a killed process started meanwhile is adopted too
            if not left:
                break
            for pid in sorted(left):
                with contextlib.suppress(OSError):
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                    os.kill(pid, signal.SIGKILL)
                    text = command.replace(b"\0", b" ").strip().decode(errors="replace")
                    if "ipykernel_launcher" not in text:
                        commands.append(text[:200] or f"process {pid}")
            time.sleep(0.1)
            left = self._new()
        _reap(_processes(), self._before)
        return commands


def _set_subreaper(on: bool) -> bool | None:
    """Make this process its descendants' subreaper or not; the previous setting.

    None where Linux's ``prctl`` is not available.
    """
    import ctypes

    get_subreaper, set_subreaper = 37, 36  # PR_GET_/PR_SET_CHILD_SUBREAPER
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    previous = ctypes.c_int(0)
    if prctl(get_subreaper, ctypes.byref(previous), 0, 0, 0) != 0:
        return None
    if prctl(set_subreaper, int(on), 0, 0, 0) != 0:
        return None
    return bool(previous.value)


def _reap(table: dict, keep: set) -> None:
    """Collect the exit status of this process's ended adopted children.

    ``table`` is :func:`_processes`' reading. Children in ``keep`` were there
    before and belong to whoever started them.
    """
    me = os.getpid()
    for pid, (parent, state) in table.items():
        if parent == me and state == "Z" and pid not in keep:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)


def _processes() -> dict:
    """Process id -> (its parent's id, its state letter), for every process (Linux)."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = entry.read_text().rsplit(")", 1)[1].split()
            found[int(entry.parent.name)] = (int(fields[1]), fields[0])
    return found


def _descendants(pid: int, table: dict) -> set:
    """The ids of ``pid``'s descendants in ``table`` (:func:`_processes`' reading)."""
    children: dict = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _nbgrader_environment() -> dict:
    environment = dict(os.environ)
    environment["PATH"] = os.path.dirname(sys.executable) + os.pathsep + environment["PATH"]
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return environment


def _run_submission(course_dir, assignment, student, source, timeout):
    """Run a submission that nbgrader could not, its locked cells restored, to the end."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    path = course_dir / "submitted" / student / assignment / f"{assignment}.ipynb"
    notebook = restored(nbformat.read(path, as_version=4), source)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    with contextlib.suppress(DeadKernelError, RuntimeError):
        client.execute()
    return notebook


def restored(notebook, source):
    """``notebook`` with every locked cell as the source has it (as nbgrader restores them)."""
    import nbformat

    from retina_tutorial.audit import grade_id_of, locked_sources

    locked = locked_sources(source)
    notebook = nbformat.from_dict(notebook)
    for cell in notebook.cells:
        grade_id = grade_id_of(cell)
        if grade_id in locked:
            cell.source = locked[grade_id]
    return notebook


@contextlib.contextmanager
def _hidden_until_done(course_dir: Path, hidden: Path):
    """Put back the graded notebooks moved to ``hidden`` once every submission has run."""
    try:
        yield
    finally:
        for folder in sorted(hidden.iterdir()):
            target = course_dir / "autograded" / folder.name
            if target.exists():
                shutil.rmtree(target)
            shutil.move(str(folder), str(target))
        shutil.rmtree(hidden, ignore_errors=True)


@contextlib.contextmanager
def _environment(values: dict):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _fingerprint(course_dir: Path) -> dict:
    """Hashes of what a submission must not change: the package, the data, the sources."""
    from retina_tutorial import config

    roots = [Path(__file__).resolve().parent, course_dir / "source", course_dir / "submitted"]
    for location in (config.data_location(), config.own_data_location()):
        if location is not None and location.exists():
            roots.append(location)
    hashes = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" not in path.parts:
                hashes[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def _changed(before: dict, after: dict) -> list[str]:
    return sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))


def _write_gradebook(course_dir: Path, assignment: str, grades: list[Grade]) -> None:
    from nbgrader.api import MissingEntry

    from retina_tutorial import course

    with course.gradebook(course_dir) as gradebook:
        for grade in grades:
            try:
                row = gradebook.find_grade(
                    f"{grade.exercise}-test", assignment, assignment, grade.student
                )
            except MissingEntry:
                gradebook.update_or_create_student(grade.student)
                gradebook.add_submission(assignment, grade.student)
                row = gradebook.find_grade(
                    f"{grade.exercise}-test", assignment, assignment, grade.student
                )
            row.manual_score = grade.score
            row.needs_manual_grade = False
            with contextlib.suppress(MissingEntry):
                comment = gradebook.find_comment(
                    f"{grade.exercise}-answer", assignment, assignment, grade.student
                )
                comment.manual_comment = grade.comment
        gradebook.db.commit()


def _write_tables(workdir: Path, grades: list[Grade], findings: dict) -> None:
    with open(workdir / "grades.csv", "w", newline="") as table:
        writer = csv.writer(table)
        writer.writerow(["student", "exercise", "score", "max_score", "comment"])
        for grade in grades:
            writer.writerow(
                [grade.student, grade.exercise, grade.score, grade.max_score, grade.comment]
            )
    with open(workdir / "audit.csv", "w", newline="") as table:
        writer = csv.writer(table)
        writer.writerow(["student", "exercise", "cell", "kind", "zeroes", "detail"])
        for student, rows in findings.items():
            for finding in rows:
                writer.writerow(
                    [
                        student,
                        finding.exercise or "",
                        finding.cell,
                        finding.kind,
                        finding.zeroes,
                        finding.detail,
                    ]
                )
