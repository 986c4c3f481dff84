"""The course kit: nbgrader source notebooks from the book, student editions, real grading."""

import csv
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from retina_tutorial import cli, course

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = course.chapters()


def _code(cells):
    return [c for c in cells if c.cell_type == "code"]


def _grader_cells(notebook, kind):
    return [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get(kind)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_becomes_a_statement_an_answer_and_a_graded_test(chapter):
    exercises = course.exercises_of(course.read(chapter))
    source = course.source_notebook(chapter)
    answers, tests = _code(_grader_cells(source, "solution")), _code(_grader_cells(source, "grade"))
    assert len(answers) == len(tests) == len(exercises) >= 3
    assert all(
        c.metadata["nbgrader"]["locked"] and c.metadata["nbgrader"]["points"] == 1 for c in tests
    )
    assert all(course.BEGIN in c.source and course.END in c.source for c in answers)
    for test, exercise in zip(tests, exercises):
        tag = test.metadata["nbgrader"]["grade_id"][: -len("-test")]
        assert f"exercises.{exercise.checker}(" in test.source
        assert f"grading.hand_in({tag!r}, answer)" in test.source
        assert test.source.endswith(
            'assert result.passed, "Not passed yet: see the feedback above."'
        )
    # Every cell but the answers is read-only, so nbgrader restores it.
    assert all(
        c.metadata["nbgrader"]["locked"] != c.metadata["nbgrader"]["solution"] for c in source.cells
    )
    ids = [c.metadata["nbgrader"]["grade_id"] for c in source.cells]
    assert len(ids) == len(set(ids)) == len(source.cells)
    # A setup line of the book's exercise cell (the values it gives) is its
    # own read-only cell, so a slip in an answer cell cannot lose it.
    for cell in source.cells:
        if "exercises.given(" in cell.source:
            assert cell.metadata["nbgrader"]["grade_id"].endswith("-setup")
    # The folded solutions are not in it; everything else of the chapter is.
    assert not any("hide-cell" in c.metadata.get("tags", []) for c in source.cells)
    assert not any(c.source.startswith("**Solution**") for c in source.cells)
    book = course.read(chapter)
    kept = [
        c.source
        for c in book.cells
        if c.cell_type == "markdown"
        and not c.source.startswith(("**Solution**", "## Exercises", "<details>"))
    ]
    shown = [
        c.source
        for c in source.cells
        if c.cell_type == "markdown" and not c.source.startswith("**Rubric**")
    ]
    assert shown[0] == course.HOW_GRADED and course.EXERCISES_HEADING in shown
    assert kept == [t for t in shown[1:] if t != course.EXERCISES_HEADING]
    assert "folded" not in "\n".join(shown)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_student_versions_hold_no_solution_code(chapter):
    book = course.read(chapter)
    student = course.student_notebook(course.source_notebook(chapter))
    text = "\n".join(c.source for c in student.cells)
    assert course.BEGIN not in text and course.END not in text
    for exercise in course.exercises_of(book):
        worked = book.cells[exercise.solution].source.splitlines()
        worked = worked[: next(i for i, line in enumerate(worked) if line.startswith("result ="))]
        given = book.cells[exercise.stub].source  # setup lines students get anyway
        for line in worked:
            if line.strip() and line not in given and len(line.strip()) > 12:
                answer_cells = [c.source for c in _grader_cells(student, "solution")]
                assert not any(line in source for source in answer_cells), (chapter.stem, line)
    for cell in _code(_grader_cells(student, "solution")):
        assert course.STUB_LINE.search(cell.source.splitlines()[-1]), cell.source


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_a_written_question_graded_by_hand_with_its_rubric(chapter):
    source = course.source_notebook(chapter)
    written = [c for c in _grader_cells(source, "solution") if c.cell_type == "markdown"]
    assert len(written) >= 1
    for cell in written:
        grader = cell.metadata["nbgrader"]
        assert grader["grade"] and grader["points"] == course.QUESTION_POINTS
        assert cell.source.startswith("**Rubric**") and cell.source.count("(1 point)") == 2
    student = course.student_notebook(source)
    assert [
        c.source for c in student.cells if c.metadata["nbgrader"]["grade_id"].endswith("q1-answer")
    ] == [course.ANSWER_STUB]


def test_the_instructors_page_lists_every_exercise_with_its_checker():
    page = (ROOT / "book" / "instructors.md").read_text()
    listed = re.findall(r"^\| (\d\d) \| (\d) \| .+ \| `(check_\w+)` \|$", page, re.MULTILINE)
    expected = [
        (r["chapter"][:2], str(r["exercise"]), r["checker"]) for r in course.exercise_table()
    ]
    assert listed == expected


def test_the_cli_writes_the_course_and_the_student_zip(tmp_path, capsys):
    out, archive = tmp_path / "course", tmp_path / "student.zip"
    assert (
        cli.main(
            ["course", "--out", str(out), "--chapters", "01", "05", "--student-zip", str(archive)]
        )
        == 0
    )
    assert "2 assignments: 01_data_preparation, 05_evaluation" in capsys.readouterr().out
    assert (out / "source" / "05_evaluation" / "05_evaluation.ipynb").is_file()
    config = (out / "nbgrader_config.py").read_text()
    assert (
        'c.ClearSolutions.code_stub = {"python": ""}' in config
        and "c.Execute.timeout = 600" in config
    )
    with zipfile.ZipFile(archive) as files:
        assert sorted(Path(n).name for n in files.namelist()) == sorted(p.name for p in CHAPTERS)
    assert cli.main(["course", "--out", str(out), "--chapters", "09"]) == 2
    assert "No chapter with exercises called '09'" in capsys.readouterr().err


# --- grading a class with nbgrader, for real --------------------------------------


def _nbgrader(course_dir, *arguments):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg")
    environment["PATH"] = os.path.dirname(sys.executable) + os.pathsep + environment["PATH"]
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *arguments],
        cwd=course_dir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _submit(course_dir, assignment, student, answer_for):
    release = course_dir / "release" / assignment / f"{assignment}.ipynb"
    notebook = nbformat.read(release, as_version=4)
    for cell in _grader_cells(notebook, "solution"):
        cell.source = answer_for(cell.metadata["nbgrader"]["grade_id"], cell.source)
    folder = course_dir / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{assignment}.ipynb")


RIGHT = {
    "01-ex1": "answer = dataset.train.fov.mean()",
    "01-ex2": "train = dataset.train\nanswer = np.mean(train.vessels[train.fov])",
    "01-ex3": (
        "v, f = dataset.validation.vessels, dataset.validation.fov\n"
        "answer = (1 - v.mean(), 1 - v[f].mean())"
    ),
    "01-ex4": (
        "t = dataset.test\nanswer = metrics.binary_metrics(t.vessels_2nd, t.vessels, t.fov)['f1']"
    ),
}
#: Student -> answers. Each cheat is one the issue lists or one like it; the
#: numbers typed are those the book and README publish for DRIVE.
CLASS = {
    "honest": RIGHT,
    # Honest too: each answer as the book's exercise cell has it, the
    # chapter's own self-check included.
    "book_cells": {
        tag: f"{code}\nresult = exercises.{checker}(answer, dataset.{split})"
        for (tag, code), (checker, split) in zip(
            RIGHT.items(),
            [
                ("check_fov_fraction", "train"),
                ("check_vessel_fraction", "train"),
                ("check_background_accuracy", "validation"),
                ("check_observer_agreement", "test"),
            ],
        )
    },
    "mistakes": {
        "01-ex1": "answer = 1 - dataset.train.fov.mean()",
        "01-ex2": "answer = dataset.train.vessels.mean()",
        "01-ex3": (
            "v, f = dataset.validation.vessels, dataset.validation.fov\n"
            "answer = (1 - v[f].mean(), 1 - v.mean())"
        ),
        "01-ex4": (
            "t = dataset.test\nanswer = np.mean([metrics.binary_metrics(\n"
            "    t.vessels_2nd[i], t.vessels[i], t.fov[i])['f1'] for i in range(len(t))])"
        ),
    },
    "blank": {},
    "early_typo": {**RIGHT, "01-ex1": "answer = dataset.train.fov.mean(("},
    "kernel_killer": {**RIGHT, "01-ex3": "import os\nos._exit(1)"},
    "patcher": {
        "01-ex1": (
            "exercises.check_fov_fraction = lambda *a, **k: exercises.Result(True, 'Correct!')\n"
            "answer = 0.5"
        ),
        "01-ex2": (
            "import types\nexercises = types.SimpleNamespace(check_vessel_fraction=lambda "
            "*a, **k: types.SimpleNamespace(passed=True))\nanswer = 0.5"
        ),
        "01-ex3": (
            "get_ipython().input_transformers_cleanup.append(\n"
            '    lambda lines: [\'result = type("R", (), {"passed": True})()\\n\'])\n'
            "answer = (0.5, 0.5)"
        ),
        "01-ex4": (
            "from retina_tutorial.exercises import _core\n"
            "_core._finish = lambda passed, message, verbose, answered=True: "
            "_core.Result(True, message)\nanswer = 0.5"
        ),
    },
    "copier": {
        "01-ex1": (
            "answer = next(x / 10000 for x in range(6000, 7500)\n"
            "              if exercises.check_fov_fraction(x / 10000, dataset.train,\n"
            "                                              verbose=False).passed)"
        ),
        "01-ex2": "answer = 0.1271",
        "01-ex3": "answer = (0.9125, 0.8771)",
        "01-ex4": "answer = 0.7891",
    },
    "hooker": {
        "01-ex1": (
            "ip = get_ipython()\nip.set_custom_exc((AssertionError,), lambda *a, **k: None)\n"
            "answer = dataset.train.fov.mean()"
        ),
        "01-ex2": "import json\nanswer = json.load(open('../../honest/answers.json'))['ex2']",
        "01-ex3": RIGHT["01-ex3"],
        "01-ex4": "answer = metrics.second_observer(dataset.test)['f1']",
    },
    "internals": {
        "01-ex1": (
            "import retina_tutorial as rt\n"
            "ask = getattr(rt.exercises, 'check_fov_fraction')\n"
            "answer = next(x / 10000 for x in range(6000, 7500)\n"
            "              if ask(x / 10000, dataset.train, verbose=False).passed)"
        ),
        "01-ex2": (
            "import retina_tutorial as rt\n"
            "answer = rt.exercises._core._vessel_shares(dataset.train)['right']"
        ),
        "01-ex3": (
            "import retina_tutorial as rt\n"
            "shares = rt.exercises._core._vessel_shares(dataset.validation)\n"
            "answer = (1 - shares['all pixels'], 1 - shares['right'])"
        ),
        "01-ex4": (
            "from retina_tutorial.evaluate import second_observer as agreement\n"
            "answer = agreement(dataset.test)['f1']"
        ),
    },
    "disguised": {tag: f"answer = cheat_{tag[-1]}" for tag in RIGHT},
}
#: The disguised student's extra cell: it copies the statement's nbgrader id,
#: so that it would not be restored, and computes every answer with the
#: checkers' help.
DISGUISED = (
    "ip = get_ipython()\n"
    "shares = exercises._core._vessel_shares\n"
    "cheat_1 = dataset.train.fov.mean()\n"
    "cheat_2 = shares(dataset.train)['right']\n"
    "cheat_3 = (1 - shares(dataset.validation)['all pixels'],\n"
    "           1 - shares(dataset.validation)['right'])\n"
    "cheat_4 = metrics.second_observer(dataset.test)['f1']"
)
#: Student -> the score of each exercise, and what the audit names.
EXPECTED = {
    "honest": ([1, 1, 1, 1], []),
    "book_cells": ([1, 1, 1, 1], []),
    "mistakes": ([0, 0, 0, 0], []),
    "blank": ([0, 0, 0, 0], []),
    "early_typo": ([0, 1, 1, 1], ["does not run"]),
    "kernel_killer": ([1, 1, 0, 0], ["imports os", "ends the kernel"]),
    "patcher": (
        [0, 0, 0, 0],
        ["check_fov_fraction", "rebinds exercises", "get_ipython", "exercises._core"],
    ),
    "copier": ([0, 0, 0, 0], ["check_fov_fraction", "typed"]),
    "hooker": ([0, 0, 0, 0], ["get_ipython", "opens a file"]),
    # A red-team session's routes: the checkers reached through the package,
    # and a code cell disguised as the read-only statement before exercise 1.
    "internals": ([0, 0, 0, 0], ["checkers", "private parts"]),
    "disguised": ([0, 0, 0, 0], ["disguised as another", "get_ipython"]),
}


@pytest.mark.slow
def test_a_class_is_graded_by_what_it_answered_not_by_what_its_code_did(tmp_path):
    """The issue's bar on chapter 01: honest work full marks, every mistake and cheat 0."""
    pytest.importorskip("nbgrader")
    assignment = "01_data_preparation"
    course_dir = course.write_course(tmp_path / "course", ["01"])
    _nbgrader(course_dir, "generate_assignment", assignment, "--force")
    for student, answers in CLASS.items():
        _submit(
            course_dir,
            assignment,
            student,
            lambda gid, stub, answers=answers: stub + "\n" + answers.get(gid[:-7], ""),
        )
    disguised_path = course_dir / "submitted" / "disguised" / assignment / f"{assignment}.ipynb"
    notebook = nbformat.read(disguised_path, 4)
    statement = next(
        i
        for i, c in enumerate(notebook.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == "01-ex1-statement"
    )
    disguise = nbformat.v4.new_code_cell(DISGUISED)
    disguise.metadata["nbgrader"] = dict(notebook.cells[statement].metadata["nbgrader"])
    notebook.cells.insert(statement, disguise)
    nbformat.write(notebook, disguised_path)
    status = cli.main(["grade", assignment, "--course", str(course_dir), "--variant", "3"])
    assert status == 0
    table = course_dir / "grading" / assignment
    with open(table / "grades.csv", newline="") as rows:
        scores = {}
        for row in csv.DictReader(rows):
            scores.setdefault(row["student"], []).append(int(float(row["score"])))
    audit_text = (table / "audit.csv").read_text()
    for student, (expected, named) in EXPECTED.items():
        assert scores[student] == expected, student
        lines = [line for line in audit_text.splitlines() if line.startswith(student + ",")]
        for words in named:
            assert any(words in line for line in lines), (student, words)
        if not named:
            assert not lines, (student, lines)
    # The gradebook holds the same scores: nbgrader's own export reads them.
    _nbgrader(course_dir, "export")
    with open(course_dir / "grades.csv", newline="") as exported:
        totals = {row["student_id"]: float(row["score"]) for row in csv.DictReader(exported)}
    assert totals == {student: sum(score) for student, (score, _) in EXPECTED.items()}
    # The variant the students' notebooks ran on: a subset of DRIVE's (or the
    # synthetic set's) images, said in the data line.
    graded = nbformat.read(
        course_dir / "autograded" / "honest" / assignment / f"{assignment}.ipynb", 4
    )
    text = "".join(o.get("text", "") for c in graded.cells for o in c.get("outputs", []))
    assert "grading variant 3" in text
    # Left as it is, a notebook runs on the variant to the end: the only cells
    # that fail are the graded tests of the unanswered exercises.
    blank = nbformat.read(
        course_dir / "autograded" / "blank" / assignment / f"{assignment}.ipynb", 4
    )
    for cell in blank.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        graded = cell.cell_type == "code" and cell.metadata["nbgrader"].get("grade")
        assert bool(errors) == bool(graded), cell.source[:200]


def test_a_course_on_jupyterhub_releases_collects_and_shows_its_due_date(tmp_path, monkeypatch):
    """The exchange route (release_assignment, fetch, submit, collect) with a course id."""
    pytest.importorskip("nbgrader")
    assignment, exchange = "01_data_preparation", tmp_path / "exchange"
    exchange.mkdir()
    course_dir = course.write_course(
        tmp_path / "course",
        ["01"],
        course_id="bio-101",
        exchange=exchange,
        due="2026-12-18 17:00 UTC",
        late_penalty="zero",
    )
    config = (course_dir / "nbgrader_config.py").read_text()
    assert "c.CourseDirectory.course_id = 'bio-101'" in config
    assert "c.LateSubmissionPlugin.penalty_method = 'zero'" in config
    _nbgrader(course_dir, "generate_assignment", assignment, "--force")
    _nbgrader(course_dir, "release_assignment", assignment)
    student = tmp_path / "student"
    student.mkdir()
    where = ["--course", "bio-101", f"--Exchange.root={exchange}"]
    _nbgrader(student, "fetch_assignment", assignment, *where)
    fetched = nbformat.read(student / assignment / f"{assignment}.ipynb", 4)
    assert "**Due 2026-12-18 17:00 UTC**; late work scores 0." in fetched.cells[0].source
    assert course.BEGIN not in nbformat.writes(fetched)
    _nbgrader(student, "submit", assignment, *where)
    _nbgrader(course_dir, "collect", assignment)
    collected = list((course_dir / "submitted").glob(f"*/{assignment}/{assignment}.ipynb"))
    assert len(collected) == 1
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        assert str(gradebook.find_assignment(assignment).duedate) == "2026-12-18 17:00:00"


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"late_penalty": "half"}, "late_penalty='half'"),
        ({"course_id": "bio 101"}, "course_id='bio 101'"),
        ({"due": "next Friday"}, "2026-12-18 17:00 UTC"),
    ],
)
def test_course_settings_are_checked_before_anything_is_written(tmp_path, settings, words):
    with pytest.raises(course.CourseError, match=re.escape(words)):
        course.write_course(tmp_path / "course", ["01"], **settings)
    assert not (tmp_path / "course").exists()
