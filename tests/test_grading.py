"""Grading a student's code cannot switch off: variants, handing in, the reference run."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from retina_tutorial import course, data, exercises, grading, synthetic

CHAPTERS = {path.stem[:2]: path for path in course.chapters()}


def _worked(tag):
    """The setup and worked solution of one exercise, from the book."""
    chapter = CHAPTERS[tag[:2]]
    book = course.read(chapter)
    exercise = course.exercises_of(book)[int(tag.split("ex")[1]) - 1]
    stub = book.cells[exercise.stub].source.splitlines()
    at = next(i for i, line in enumerate(stub) if course.STUB_LINE.match(line))
    return "\n".join(stub[:at]), book.cells[exercise.solution].source


@pytest.mark.parametrize("tag", sorted(set(exercises.VARIANTS) - {"06-ex2"}))
@pytest.mark.parametrize("seed", [1, 2, 3, 41])
def test_the_worked_solution_passes_every_variant_and_the_books_values_do_not(
    tag, seed, monkeypatch, capsys
):
    from retina_tutorial import config, losses, model

    setup, solution = _worked(tag)
    book_values = {"np": np, "exercises": exercises, "model": model, "config": config}
    exec(setup, book_values)
    monkeypatch.setenv(grading.VARIANT_VARIABLE, str(seed))
    namespace = {"np": np, "exercises": exercises, "model": model, "config": config}
    namespace["losses"] = losses
    exec(setup, namespace)
    exec(solution, namespace)  # ends with `assert result.passed`
    changed = [k for k in namespace if k in book_values and k not in ("np", "exercises", "model")]
    assert any(
        not np.array_equal(np.asarray(namespace[k], object), np.asarray(book_values[k], object))
        for k in changed
    ), "the variant gave the book's own values"


def test_a_variant_keeps_a_subset_of_every_split_and_says_so(monkeypatch, synthetic_dataset):
    # The set is the session's (made once, 7 s); what is tested is the variant
    # that load_dataset cuts from it.
    monkeypatch.setattr(synthetic, "make_dataset", lambda seed=0, reason="": synthetic_dataset)
    full = data.load_dataset(synthetic=True, verbose=False)
    monkeypatch.setenv(grading.VARIANT_VARIABLE, "7")
    first = data.load_dataset(synthetic=True, verbose=False)
    again = data.load_dataset(synthetic=True, verbose=False)
    monkeypatch.setenv(grading.VARIANT_VARIABLE, "8")
    other = data.load_dataset(synthetic=True, verbose=False)
    assert (len(first.train), len(first.validation), len(first.test)) == (14, 2, 16)
    assert first.test.ids == again.test.ids != other.test.ids
    assert set(first.test.ids) < set(full.test.ids)
    assert "grading variant 7: 14 train, 2 validation, 16 test images" in first.description
    monkeypatch.setenv(grading.VARIANT_VARIABLE, "seven")
    with pytest.raises(grading.GradingError, match="whole number"):
        grading.variant()


@pytest.mark.parametrize(
    "answer",
    [
        None,
        True,
        3,
        0.6878123,
        np.float32(0.25),
        np.int64(4),
        "01",
        (0.91, 0.88),
        [1, 2],
        {"flip", "zoom"},
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.array([[True, False]]),
    ],
)
def test_answers_travel_as_plain_data(answer):
    back = grading.decode(json.loads(json.dumps(grading.encode(answer))))
    assert type(back) is type(answer)
    if isinstance(answer, np.ndarray):
        assert back.dtype == answer.dtype and np.array_equal(back, answer)
    else:
        assert back == answer


def test_what_cannot_travel_as_data_is_refused_by_every_checker(synthetic_dataset):
    back = grading.decode(grading.encode(lambda: 0.5))
    assert isinstance(back, grading.Unreadable)
    split = synthetic_dataset.train
    assert not exercises.check_fov_fraction(back, split, verbose=False).passed
    # A forged record never unpickles: an object array is not an answer.
    assert grading.encode(np.array([object()]))["type"] == "unreadable"


def test_only_the_exercises_own_test_cell_hands_in_its_answer():
    def cell(grade_id, *records):
        outputs = [
            nbformat.v4.new_output("display_data", data={grading.ANSWER_MIME: record})
            for record in records
        ]
        made = nbformat.v4.new_code_cell("", outputs=outputs)
        made.metadata["nbgrader"] = {"grade_id": grade_id}
        return made

    right = {"exercise": "01-ex1", "answer": grading.encode(0.5)}
    forged = {"exercise": "01-ex2", "answer": grading.encode(0.9)}
    notebook = nbformat.v4.new_notebook(
        cells=[
            cell("01-ex1-answer", {"exercise": "01-ex1", "answer": grading.encode(0.1)}),
            cell("01-ex1-test", right, forged),
            cell("01-ex2-test"),
        ]
    )
    assert grading.handed_in(notebook) == {"01-ex1": grading.encode(0.5)}


def _running(command: str) -> list[int]:
    """The ids of the processes whose command line is ``command``."""
    wanted = command.replace(" ", "\0").encode() + b"\0"
    found = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if entry.read_bytes() == wanted:
                found.append(int(entry.parent.name))
    return found


LINUX = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="grading finds leftovers on Linux only"
)


@LINUX
def test_a_program_left_running_by_a_submission_is_killed_and_named():
    # What a notebook's os.system("... &") leaves: a process whose parents
    # have ended, in a session of its own.
    with grading.LeftRunning() as leftovers:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import subprocess; subprocess.Popen(['sleep', '97'], start_new_session=True)",
            ],
            check=True,
        )
    assert leftovers.commands == ["sleep 97"]
    assert _running("sleep 97") == []


@LINUX
def test_what_the_users_other_programs_start_while_grading_is_left_alone(tmp_path):
    go = tmp_path / "go"
    # A program of the user's that grading did not start (its parent is
    # process 1 once this launcher ends): when told, it starts a background
    # job of its own while the block runs.
    program = f"while [ ! -e {go} ]; do sleep 0.05; done; setsid sleep 98 &"
    launcher = (
        f"import subprocess; subprocess.Popen(['sh', '-c', {program!r}], start_new_session=True)"
    )
    subprocess.run([sys.executable, "-c", launcher], check=True)
    child = subprocess.Popen(["sleep", "99"])  # one of ours, started before
    try:
        with grading.LeftRunning() as leftovers:
            go.touch()
            for _ in range(100):
                if _running("sleep 98"):
                    break
                time.sleep(0.05)
        assert leftovers.commands == []
        assert _running("sleep 98") and child.poll() is None
    finally:
        child.kill()
        child.wait()
        for pid in _running("sleep 98"):
            os.kill(pid, signal.SIGKILL)


def test_an_answer_of_a_class_of_ones_own_is_not_read():
    class Later(float):  # a number that could look its value up when handed in
        def __float__(self):
            return 0.6878

    assert grading.encode(Later(0.5)) == {"type": "unreadable", "what": "Later"}
    assert grading.encode((Later(0.5), 1.0))["items"][0]["type"] == "unreadable"


def test_a_hand_written_record_is_no_answer_and_no_crash():
    nested = {"type": "list", "items": []}
    for _ in range(5000):
        nested = {"type": "list", "items": [nested]}
    for record in (nested, {"type": "set", "items": [{"type": "list", "items": []}]}, {}):
        assert isinstance(grading.decode(record), grading.Unreadable)


def test_a_reference_run_checks_every_students_answer_and_keeps_no_file(tmp_path):
    """The reference run in small: one exercise, three students, no nbgrader."""
    pytest.importorskip("nbclient")  # comes with nbgrader, the course extra

    def cell(source, **grader):
        made = nbformat.v4.new_code_cell(source)
        made.metadata["nbgrader"] = {"grade_id": grader.pop("grade_id"), **grader}
        return made

    source = nbformat.v4.new_notebook(
        cells=[
            cell("from retina_tutorial import exercises", grade_id="09-cell000", locked=True),
            cell(
                "answer = None  # your code here\n### BEGIN SOLUTION\nanswer = 4\n### END SOLUTION",
                grade_id="09-ex1-answer",
                solution=True,
            ),
            cell(
                "from retina_tutorial import grading\n"
                "result = exercises.check_skipped_batches(answer, 2, 2, 16)\n"
                "grading.hand_in('09-ex1', answer)\n"
                'assert result.passed, "Not passed yet: see the feedback above."',
                grade_id="09-ex1-test",
                grade=True,
                locked=True,
                points=1,
            ),
        ]
    )
    answers = {
        "right": {"09-ex1": grading.encode(4)},
        "wrong": {"09-ex1": grading.encode(5)},
        "none": {},
    }
    checked = grading.check_answers(source, answers, tmp_path, timeout=120)
    assert {student: row["09-ex1"][0] for student, row in checked.items()} == {
        "right": True,
        "wrong": False,
        "none": False,
    }
    assert "did not run" in checked["none"]["09-ex1"][1]
    assert not (tmp_path / "answers.json").exists()  # read once, then gone
