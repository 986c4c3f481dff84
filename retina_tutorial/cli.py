"""The ``retina-tutorial`` command: prepare, train, evaluate, predict.

Each sub-command is a thin shell over the package functions the book uses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from retina_tutorial import config, data, public_sets


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.handler(arguments)
    except (ValueError, OSError, ImportError) as error:
        # Our errors name the file and the fix (or the extra to install): show
        # them without a traceback.
        print(f"retina-tutorial {arguments.command}: error: {error}", file=sys.stderr)
        return 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retina-tutorial",
        description="Retinal vessel segmentation with a Keras 3 U-Net on DRIVE.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    prepare = commands.add_parser(
        "prepare", help="write the native-resolution HDF5 cache of the three splits"
    )
    _add_data_arguments(prepare)
    prepare.add_argument("--out", required=True, help="HDF5 file to write, e.g. drive.h5")
    prepare.set_defaults(handler=_prepare)

    train = commands.add_parser("train", help="train a U-Net and keep the best checkpoint")
    train.add_argument(
        "--profile",
        choices=sorted(config.PROFILES),
        help=f"run size (default: quick or ${config.PROFILE_VARIABLE})",
    )
    _add_data_arguments(train)
    train.add_argument("--out", required=True, help="run folder (checkpoints, history, summary)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    train.add_argument(
        "--init",
        help="start from these weights: 'pretrained' or a .keras file (fine-tuning; "
        "use --profile finetune with the shipped model)",
    )
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser(
        "evaluate", help="metrics on the test set, inside the FOV, at native resolution"
    )
    evaluate.add_argument("--model", required=True, help="a .keras or .onnx file, or 'pretrained'")
    _add_data_arguments(evaluate)
    evaluate.add_argument("--out", required=True, help="folder for metrics, figures, probabilities")
    evaluate.add_argument("--tta", action="store_true", help="average over flipped copies")
    evaluate.set_defaults(handler=_evaluate)

    predict = commands.add_parser(
        "predict", help="segment any fundus photograph, resized to the model's scale"
    )
    predict.add_argument("images", nargs="+", help="PNG, JPEG or TIFF fundus images")
    predict.add_argument("--model", required=True, help="a .keras or .onnx file, or 'pretrained'")
    predict.add_argument("--out", required=True, help="folder for the probability and binary PNGs")
    predict.add_argument("--fov", help="FOV mask for a single image (estimated when omitted)")
    predict.add_argument("--threshold", type=float, default=0.5, help="binary threshold in [0, 1]")
    predict.add_argument("--tta", action="store_true", help="average over flipped copies")
    predict.add_argument(
        "--field-of-view",
        type=float,
        default=45.0,
        metavar="DEGREES",
        help="the camera's field angle (default 45; STARE 35, CHASE_DB1 30)",
    )
    predict.add_argument(
        "--fov-diameter",
        type=float,
        metavar="PIXELS",
        help="FOV diameter in pixels (default: measured from the FOV mask)",
    )
    predict.add_argument(
        "--native-size",
        action="store_true",
        help="predict at the size given, without resizing to the model's scale",
    )
    predict.set_defaults(handler=_predict)
    export = commands.add_parser(
        "export", help="write a Keras model as an ONNX file, to run without TensorFlow"
    )
    export.add_argument("--model", required=True, help="a .keras file, or 'pretrained'")
    export.add_argument("--out", required=True, help="the .onnx file to write")
    export.add_argument(
        "--precision",
        choices=["fp32", "fp16", "int8"],
        default="fp32",
        help="fp32 (as Keras), fp16 (half the file) or int8 (faster on CPUs; calibrated "
        "on training images of --data)",
    )
    _add_data_arguments(export)
    export.set_defaults(handler=_export)
    course = commands.add_parser(
        "course", help="write an nbgrader course kit (source notebooks, config) from the book"
    )
    course.add_argument("--out", required=True, help="course folder to write")
    course.add_argument(
        "--chapters",
        nargs="+",
        help="chapters to include, e.g. 01 05 (default: all with exercises)",
    )
    course.add_argument("--book", help="the book's folder (default: book/ of this checkout)")
    course.add_argument(
        "--student-zip",
        help="also write every chapter's student version (no solutions) to this zip",
    )
    course.add_argument(
        "--course-id", default="retina-unet-book", help="the course's id on JupyterHub"
    )
    course.add_argument(
        "--exchange", help="the exchange folder for release_assignment/collect (JupyterHub)"
    )
    course.add_argument("--due", help='due date of the chapters written, "2026-12-18 17:00 UTC"')
    course.add_argument(
        "--late-penalty",
        choices=["none", "zero"],
        default="none",
        help="what a submission after the due date scores (default: none, as usual)",
    )
    course.set_defaults(handler=_course)
    grade = commands.add_parser(
        "grade",
        help="grade a course assignment: nbgrader autograde on a grading variant, answers "
        "checked outside the students' kernels, submissions audited",
    )
    grade.add_argument("assignment", help="the assignment, e.g. 01_data_preparation")
    grade.add_argument("--course", default=".", help="the course folder (default: here)")
    grade.add_argument(
        "--variant", type=int, help="the grading variant (default: a fresh random one)"
    )
    grade.add_argument("--timeout", type=int, default=600, help="seconds a cell may run")
    grade.set_defaults(handler=_grade)
    audit = commands.add_parser(
        "audit", help="name what a submitted notebook does that no honest answer does"
    )
    audit.add_argument("notebooks", nargs="+", help="submitted notebooks")
    audit.add_argument(
        "--course", default=".", help="the course folder with source/ (default: here)"
    )
    audit.set_defaults(handler=_audit)
    return parser


def _add_data_arguments(parser) -> None:
    parser.add_argument(
        "--data",
        help="folder or archive of DRIVE, STARE, CHASE_DB1 or HRF, or a CSV of your own "
        f"images (default: ${config.DATA_VARIABLE}; without either, the synthetic set)",
    )
    parser.add_argument(
        "--dataset",
        choices=["drive", *public_sets.KINDS],
        help="which data set --data holds (default: recognised from its layout)",
    )
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="use the synthetic set even if a data set is configured",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic set")


def _prepare(arguments) -> int:
    from retina_tutorial import cache

    dataset, status = cache.prepare(
        arguments.out,
        arguments.data,
        kind=arguments.dataset,
        synthetic=arguments.synthetic,
        seed=arguments.seed,
    )
    fov_pixels = int(dataset.test.fov.sum())
    print(
        f"{arguments.out}: {status}. {len(dataset.train)} train + "
        f"{len(dataset.validation)} validation + {len(dataset.test)} test images of "
        f"{_sizes(dataset.test)}; {fov_pixels:,} test FOV pixels; "
        f"2nd manual for {_count_second(dataset.test)} test images."
    )
    return 0


def _train(arguments) -> int:
    from retina_tutorial import train

    profile = config.get_profile(arguments.profile)
    dataset = _dataset(arguments)
    print(profile)
    train.train(profile, dataset, arguments.out, resume=arguments.resume, init=arguments.init)
    return 0


def _load(model_argument):
    if model_argument == "pretrained":
        from retina_tutorial import pretrained

        return pretrained.load(), pretrained.MODEL_FILE
    from retina_tutorial import inference

    return inference.load_model(model_argument), model_argument


def _evaluate(arguments) -> int:
    from retina_tutorial import evaluate
    from retina_tutorial.report import write_report

    model, model_path = _load(arguments.model)
    # The training images play no part: left unread, and photographs kept in 8 bits.
    dataset = _dataset(arguments, splits=("validation", "test"), eight_bit=True)
    report = evaluate.evaluate_model(model, dataset, tta=arguments.tta)
    write_report(report, arguments.out, model_path=model_path)
    chosen = report.test_at_threshold
    print(
        f"Test, pooled inside the FOV at threshold {report.threshold:.3f} (chosen on "
        f"validation): AUC {chosen['roc_auc']:.4f}, F1 {chosen['f1']:.4f}, accuracy "
        f"{chosen['accuracy']:.4f}. Written to {arguments.out}"
    )
    return 0


def _predict(arguments) -> int:
    from retina_tutorial import inference

    if not 0.0 <= arguments.threshold <= 1.0:
        raise ValueError(f"--threshold must lie in [0, 1], got {arguments.threshold}.")
    if arguments.fov and len(arguments.images) > 1:
        raise ValueError("--fov belongs to one image: give a single IMAGE with it.")
    model, _ = _load(arguments.model)
    for image_path in arguments.images:
        written = inference.predict_file(
            model,
            image_path,
            arguments.out,
            fov_path=arguments.fov,
            threshold=arguments.threshold,
            tta=arguments.tta,
            field_degrees=arguments.field_of_view,
            fov_diameter=arguments.fov_diameter,
            native_size=arguments.native_size,
            verbose=True,
        )
        print(f"{image_path} -> {', '.join(str(p) for p in written)}")
    return 0


def _export(arguments) -> int:
    from retina_tutorial import onnx_model

    out = Path(arguments.out)
    if out.suffix.lower() != ".onnx":
        raise ValueError(f"--out {out}: an ONNX file's name ends in .onnx.")
    if Path(arguments.model).suffix.lower() == ".onnx":
        raise ValueError(f"--model {arguments.model} is already an ONNX file: give a .keras file.")
    model, _ = _load(arguments.model)
    images, names = None, None
    if arguments.precision == "int8":
        dataset = _dataset(arguments)
        images, names = onnx_model.calibration_images(dataset, model)
        print(f"Calibrating int8 on {len(names)} training images of {dataset.source}.")
    onnx_model.export(
        model, out, precision=arguments.precision, calibration_images=images, calibrated_on=names
    )
    print(f"{out}: {arguments.precision} ONNX model, {out.stat().st_size / 1e6:.1f} MB.")
    return 0


def _course(arguments) -> int:
    from retina_tutorial import course

    book = Path(arguments.book) if arguments.book else course.BOOK
    if not book.is_dir():
        raise ValueError(
            f"{book}: no book folder here. Clone the book's repository and run this in it, "
            "or pass --book PATH/TO/book."
        )
    out = course.write_course(
        arguments.out,
        arguments.chapters,
        book=book,
        course_id=arguments.course_id,
        exchange=arguments.exchange,
        due=arguments.due,
        late_penalty=arguments.late_penalty,
    )
    names = sorted(p.name for p in (out / "source").iterdir())
    print(f"{out}: nbgrader course with {len(names)} assignments: {', '.join(names)}")
    if arguments.student_zip:
        print(f"{course.write_student_zip(arguments.student_zip, book=book)}: student notebooks")
    return 0


def _grade(arguments) -> int:
    from collections import defaultdict

    from retina_tutorial import grading

    grades = grading.grade_assignment(
        arguments.course, arguments.assignment, seed=arguments.variant, timeout=arguments.timeout
    )
    totals, most, flagged = defaultdict(float), defaultdict(float), defaultdict(list)
    for grade in grades:
        totals[grade.student] += grade.score
        most[grade.student] += grade.max_score
        if grade.comment.startswith("Audit:"):
            flagged[grade.student].append(grade.exercise)
    for student in sorted(totals):
        note = f"  audit: 0 on {', '.join(flagged[student])}" if flagged[student] else ""
        print(f"{student}: {totals[student]:g} / {most[student]:g}{note}")
    folder = Path(arguments.course) / "grading" / arguments.assignment
    print(f"Scores are in the gradebook (nbgrader export); details in {folder}/")
    return 0


def _audit(arguments) -> int:
    import nbformat

    from retina_tutorial import audit

    for name in arguments.notebooks:
        path = Path(name)
        source = Path(arguments.course) / "source" / path.stem / path.name
        if not source.is_file():
            raise ValueError(
                f"{path}: no source notebook at {source}. Run this in the course folder, or "
                "pass --course PATH."
            )
        findings = audit.audit_notebook(
            nbformat.read(path, as_version=4), nbformat.read(source, as_version=4)
        )
        print(f"{path}: {len(findings) or 'nothing'} found")
        for finding in findings:
            zeroes = f" [0 {finding.zeroes}]" if finding.zeroes else ""
            print(f"  cell {finding.cell} ({finding.exercise or '-'}): {finding.detail}{zeroes}")
    return 0


def _dataset(arguments, **options) -> data.Dataset:
    return data.load_dataset(
        arguments.data,
        kind=arguments.dataset,
        synthetic=arguments.synthetic,
        seed=arguments.seed,
        **options,
    )


def _sizes(split: data.Split) -> str:
    if split.shapes is None:
        return f"{split.images.shape[1]} x {split.images.shape[2]}"
    heights, widths = zip(*split.shapes)
    return f"{min(heights)}-{max(heights)} x {min(widths)}-{max(widths)}"


def _count_second(split: data.Split) -> int:
    return 0 if split.vessels_2nd is None else len(split.vessels_2nd)


if __name__ == "__main__":
    sys.exit(main())
