"""What grading a class costs: seconds per notebook for each chapter, with the course kit.

Explained in ``book/instructors.md`` (*How long grading takes*).

Writes the course kit for the chosen chapters, hands in ``--students``
copies of the worked solutions, and grades each chapter with
``retina-tutorial grade`` as a teacher would: every submission runs once
under ``nbgrader autograde``, then one reference run checks the whole
class's answers. Prints, per chapter, the seconds per submission and the
reference run's seconds, and what 100 students would cost::

    RETINA_TUTORIAL_DATA=../shared/data/DRIVE python benchmarks/grading_time.py \\
        --out runs/grading-time --students 2

Run it with the machine to itself: the times are wall-clock seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import nbformat

from retina_tutorial import course, data, grading


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="course folder to write (new)")
    parser.add_argument("--chapters", nargs="+", help="e.g. 01 05 (default: all)")
    parser.add_argument("--students", type=int, default=2, help="submissions per chapter")
    arguments = parser.parse_args(argv)
    os.environ.setdefault("RETINA_TUTORIAL_PROFILE", "quick")
    print(f"Data: {data.configured_source()}; {arguments.students} students a chapter")
    course_dir = course.write_course(arguments.out, arguments.chapters)
    environment = dict(os.environ)
    environment["PATH"] = os.path.dirname(sys.executable) + os.pathsep + environment["PATH"]
    print(f"{'chapter':<22}{'s / notebook':>14}{'reference s':>13}{'100 students, min':>19}")
    for source_path in sorted((course_dir / "source").glob("*/*.ipynb")):
        assignment = source_path.stem
        subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"],
            cwd=course_dir,
            env=environment,
            check=True,
            capture_output=True,
        )
        worked = nbformat.read(source_path, as_version=4)
        for number in range(arguments.students):
            folder = course_dir / "submitted" / f"student{number + 1:02d}" / assignment
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(worked, folder / source_path.name)
        grades = grading.grade_assignment(course_dir, assignment)
        timing = json.loads((course_dir / "grading" / assignment / "timing.json").read_text())
        per_notebook = timing["autograde_seconds"] / timing["submissions"]
        reference = timing["reference_run_seconds"]
        hundred = (100 * per_notebook + reference) / 60
        full_marks = all(grade.score == grade.max_score for grade in grades)
        note = "" if full_marks else "  (not every worked solution passed: see grades.csv)"
        print(f"{assignment:<22}{per_notebook:>14.0f}{reference:>13.0f}{hundred:>19.0f}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
