"""The audit names what no honest answer does, and nothing in honest work."""

import nbformat
import pytest

from retina_tutorial import audit, course

CHAPTERS = course.chapters()
IMPORTS = {"np": "numpy", "exercises": "retina_tutorial.exercises", "evaluate": "x.evaluate"}


def _kinds(code, tag="01-ex1"):
    return [(f.kind, f.zeroes) for f in audit.audit_cell(code, tag, 5, IMPORTS, answer_cell=True)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_worked_solution_passes_the_audit(chapter):
    source = course.source_notebook(chapter)
    submitted = course.student_notebook(source)
    worked = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in submitted.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in worked:
            cell.source = worked[grade_id].replace(course.BEGIN, "").replace(course.END, "")
    assert audit.audit_notebook(submitted, source) == []


@pytest.mark.parametrize(
    "code",
    [
        "answer = dataset.train.fov.mean()",
        "import numpy as np\nanswer = np.mean(dataset.train.fov)",
        "%time answer = dataset.train.fov.mean()",
        "%%time\nanswer = dataset.train.fov.mean()",
        "def share(mask):\n    return mask.sum() / mask.size\nanswer = share(dataset.train.fov)",
        "fov = dataset.train.fov\nprint(fov.shape)\nanswer = float(fov.mean())",
        "data = dataset.train  # a name of my own\nanswer = data.fov.mean()",
        "answer = sum(f.sum() for f in dataset.train.fov) / dataset.train.fov.size",
    ],
)
def test_honest_answers_of_many_styles_are_not_flagged(code):
    assert _kinds(code) == []


@pytest.mark.parametrize(
    "code, kind, zeroes",
    [
        # the cheats
        (
            "exercises.check_fov_fraction = lambda *a, **k: exercises.Result(True, 'ok')",
            "checker",
            "from here",
        ),
        ("import types\nexercises = types.SimpleNamespace()", "checker", "from here"),
        ("get_ipython().input_transformers_cleanup.append(f)", "kernel", "from here"),
        (
            "answer = next(n for n in range(21) if exercises.check_x(n, rows).passed)",
            "checker",
            "from here",
        ),
        ("answer = 0.7891", "typed", "this exercise"),
        ("answer = float('0.7891')", "typed", "this exercise"),
        ("answer = (0.9125, 0.8771)", "typed", "this exercise"),
        ("exercises.evaluation._finish = lambda *a: None", "checker", "from here"),
        # and others
        ("import sys\nsys.excepthook = print", "module", "from here"),
        ("ip = get_ipython()\nip.set_custom_exc((AssertionError,), h)", "kernel", "from here"),
        (
            "from IPython import get_ipython as g\ng().events.register('x', f)",
            "module",
            "from here",
        ),
        ("__builtins__.print = None", "kernel", "from here"),
        ("import builtins\nbuiltins.AssertionError = Exception", "module", "from here"),
        ("f = getattr(exercises, 'check_' + 'fov_fraction')", "checker", "from here"),
        ("exec('an' + 'swer = 0.6878')", "kernel", "from here"),
        ("np.mean = lambda *a, **k: 0.6878", "module", "from here"),
        ("from retina_tutorial.exercises import _core", "module", "from here"),
        ("text = open('../../honest/01_data_preparation/x.ipynb').read()", "files", "from here"),
        ("import os\nseed = os.environ['RETINA_TUTORIAL_GRADING_VARIANT']", "module", "from here"),
        ("import pathlib\npathlib.Path('x').write_text('')", "module", "from here"),
        ("import subprocess\nsubprocess.run(['ls'])", "module", "from here"),
        ("vars()['answer'] = 0.5", "kernel", "from here"),
        ("answer = report.__dict__['threshold']", "kernel", "from here"),
        ("import os\nos._exit(0)", "ends", ""),
        ("raise SystemExit", "ends", ""),
        ("answer = dataset.train.fov.mean(", "syntax", ""),
    ],
)
def test_cheats_are_named(code, kind, zeroes):
    assert (kind, zeroes) in _kinds(code)


@pytest.mark.parametrize(
    "tag, code",
    [
        ("01-ex4", "answer = metrics.second_observer(dataset.test)['f1']"),
        ("01-ex4", "scores = metrics.second_observer(test)\nanswer = scores['f1']"),
        ("05-ex2", "answer = report.threshold"),
        ("05-ex2", "t = metrics.choose_threshold(p, v, f)\nanswer = t"),
        ("02-ex2", "answer = presets['article'].get_layer('b').count_params()"),
        ("06-ex3", "answer = inference.predict(unet, image, tta=True)"),
    ],
)
def test_an_answer_read_from_the_packages_own_computation_is_named(tag, code):
    assert ("shortcut", "this exercise") in _kinds(code, tag)


def test_the_packages_computation_may_be_printed_beside_ones_own():
    code = (
        "answer = 2 * 3\n"
        "package = model.receptive_field(depth, convolutions=convolutions)\n"
        "print(answer, package)"
    )
    assert _kinds(code.replace("2 * 3", "2 * depth"), "02-ex1") == []


def test_a_flag_zeroes_its_exercise_or_every_later_one():
    tags = ["01-ex1", "01-ex2", "01-ex3", "01-ex4"]
    findings = [
        audit.Finding("01-ex2", 7, "typed", "typed", "this exercise"),
        audit.Finding("01-ex3", 9, "kernel", "get_ipython", "from here"),
        audit.Finding("01-ex1", 3, "ends", "exit", ""),
    ]
    assert audit.zeroed(findings, tags) == {
        "01-ex2": "typed",
        "01-ex3": "get_ipython (cell 9)",
        "01-ex4": "get_ipython (cell 9)",
    }


def test_added_cells_and_edited_read_only_cells_are_read_too():
    source = course.source_notebook(CHAPTERS[0])
    submitted = course.student_notebook(source)
    answer_at = next(
        i
        for i, c in enumerate(submitted.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == "01-ex2-answer"
    )
    submitted.cells.insert(answer_at, nbformat.v4.new_code_cell("get_ipython()"))
    submitted.cells[3].source += "\nx = 1"
    findings = audit.audit_notebook(submitted, source)
    assert [(f.exercise, f.kind) for f in findings] == [("01-ex1", "locked"), ("01-ex2", "kernel")]


# --- what a red-team student tried (helper session, this release) --------------------


@pytest.mark.parametrize(
    "code, words",
    [
        (
            "import retina_tutorial as rt\nask = getattr(rt.exercises, 'check_fov_fraction')",
            "checkers",
        ),
        (
            "import retina_tutorial as rt\nanswer = rt.exercises._core._vessel_shares(s)['right']",
            "private",
        ),
        ("data.grading.os.system('sleep 100 &')", "operating system"),
        ("import tempfile\ntempfile._os.listdir('..')", "operating system"),
        ("import tarfile\nnames = tarfile.os.listdir('..')", "operating system"),
        ("raw = np.fromfile('x', dtype=np.uint8)", "reads files"),
        ("record = data.grading.decode(x)", "grader"),
        ("f = getattr(evaluate, '_binary')", "getattr"),
        ("sys_ = getattr(np, 'sys')", "getattr"),
    ],
)
def test_the_red_teams_routes_are_named(code, words):
    findings = audit.audit_cell(code, "01-ex1", 5, IMPORTS, answer_cell=True)
    assert any(words in f.detail and f.zeroes == "from here" for f in findings), findings


@pytest.mark.parametrize(
    "tag, code",
    [
        (
            "01-ex4",
            "from retina_tutorial.evaluate import second_observer as agreement\n"
            "answer = agreement(dataset.test)['f1']",
        ),
        ("01-ex4", "answer = getattr(evaluate, 'second_observer')(dataset.test)['f1']"),
    ],
)
def test_a_shortcut_under_another_name_is_still_named(tag, code):
    assert ("shortcut", "this exercise") in _kinds(code, tag)


@pytest.mark.parametrize(
    "code",
    [
        "answer = dataset.validation.fov.mean()\nprint('submitted:', answer)",
        "check_total = dataset.train.fov.sum()\nanswer = check_total / dataset.train.fov.size",
        "answer = dataset.train.fov.mean()\nprint(f'answer for the grading: {answer}')",
        "answer = dataset.train.fov.mean()\nprint(answer.__class__)",
        "np.mean?\nanswer = np.mean(dataset.train.fov)",
        "?np.mean\nanswer = np.mean(dataset.train.fov)",
        "answer = dataset.train.fov.mean()  # see ../notes",
    ],
)
def test_honest_habits_the_red_team_found_flagged_are_not(code):
    assert _kinds(code) == []


def test_a_shortcut_overwritten_by_ones_own_computation_is_not_named():
    code = (
        "scores = metrics.second_observer(t)\n"
        "print(scores['f1'])\n"
        "scores = metrics.binary_metrics(t.vessels_2nd, t.vessels, t.fov)\n"
        "answer = scores['f1']"
    )
    assert _kinds(code, "01-ex4") == []


def test_the_chapters_own_imports_are_known_despite_its_magics():
    source = course.source_notebook(CHAPTERS[0])
    submitted = course.student_notebook(source)
    answer = next(
        c
        for c in submitted.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == "01-ex1-answer"
    )
    answer.source += "\nnp.mean = lambda *a, **k: 0.5\nanswer = dataset.train.fov.mean()"
    findings = audit.audit_notebook(submitted, source)
    assert [(f.kind, f.zeroes) for f in findings] == [("module", "from here")]


def test_a_cell_disguised_as_a_read_only_one_is_read_and_named():
    source = course.source_notebook(CHAPTERS[0])
    submitted = course.student_notebook(source)
    statement = next(
        c for c in submitted.cells if c.metadata["nbgrader"]["grade_id"] == "01-ex1-statement"
    )
    disguised = nbformat.v4.new_code_cell("cheat = get_ipython()")
    disguised.metadata["nbgrader"] = dict(statement.metadata["nbgrader"])
    submitted.cells.insert(submitted.cells.index(statement), disguised)
    kinds = {(f.kind, f.zeroes) for f in audit.audit_notebook(submitted, source)}
    assert ("kernel", "from here") in kinds and ("locked", "from here") in kinds


@pytest.mark.parametrize(
    "code",
    [
        # the book's exercise cell, copied whole into the course notebook
        "answer = dataset.train.fov.mean()\n"
        "result = exercises.check_fov_fraction(answer, dataset.train)",
        "answer = dataset.train.fov.mean()\n"
        "exercises.check_fov_fraction(answer, dataset.train, verbose=True)\n"
        "assert result.passed",
    ],
)
def test_the_books_own_self_check_may_stay_in_an_answer_cell(code):
    assert _kinds(code) == []


@pytest.mark.parametrize(
    "code",
    [
        # asked before the answer is final, or about other answers: an oracle
        "result = exercises.check_fov_fraction(answer, dataset.train)\nanswer = 0.5",
        "for answer in (0.6, 0.7):\n    result = exercises.check_fov_fraction(answer, s)",
        "result = exercises.check_fov_fraction(0.6878, dataset.train)",
        "answer = 0.5\nok = [exercises.check_fov_fraction(answer, s)]",
    ],
)
def test_any_other_use_of_a_checker_is_named(code):
    assert ("checker", "from here") in _kinds(code)


# --- the second red-team round ------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "from pkgutil import resolve_name\nresolve_name('sys').setprofile(spy)",
        "from tarfile import os",
        "def spy(frame, event, arg):\n    box.update(frame.f_locals)",
        "import linecache\nlines = linecache.getlines(path)",
        "import filecmp\nnames = filecmp.dircmp('a', 'b').left_list",
        "import posix as px\npid = px.fork()",
        "import pandas as pd\nbook = pd.read_json(path)",
    ],
)
def test_the_second_red_teams_routes_are_named(code):
    assert any(zeroes == "from here" for _, zeroes in _kinds(code)), _kinds(code)


@pytest.mark.parametrize(
    "code",
    [
        # the chapter's own idiom, and harmless magics and inspection
        "fractions = {}\nfor name in ('train', 'validation'):\n"
        "    fractions[name] = getattr(dataset, name).fov.mean()\n"
        "answer = fractions['train']",
        "%precision 4\nanswer = dataset.train.fov.mean()",
        "%whos\nanswer = dataset.train.fov.mean()",
        "print(vars(dataset.train).keys())\nanswer = dataset.train.fov.mean()",
        # self-checks in other shapes, after the answer
        "answer = dataset.train.fov.mean()\n"
        "print(exercises.check_fov_fraction(answer, dataset.train))",
        "answer = dataset.train.fov.mean()\n"
        "res = exercises.check_fov_fraction(answer, dataset.train)",
    ],
)
def test_honest_code_the_second_red_team_saw_flagged_is_not(code):
    assert _kinds(code) == []


@pytest.mark.parametrize("metadata", [{"grade_id": 5}, "x", {"grade_id": None}])
def test_malformed_nbgrader_metadata_does_not_stop_the_audit(metadata):
    source = course.source_notebook(CHAPTERS[0])
    submitted = course.student_notebook(source)
    added = nbformat.v4.new_markdown_cell("notes")
    added.metadata["nbgrader"] = metadata
    submitted.cells.insert(5, added)
    assert audit.audit_notebook(submitted, source) == []
