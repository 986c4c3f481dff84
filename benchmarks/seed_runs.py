"""One recipe trained with several seeds, compared with a baseline model, paired.

Explained in ``book/07_your_own_data.ipynb`` and ``book/05_evaluation.ipynb``.

Trains ``--profile`` on the data set once per ``--seeds`` (each run resumes
if interrupted, and a finished one is read back), evaluates every run's best
model on the test images as ``retina-tutorial evaluate`` does, and compares
them with the baseline (``--baseline``, the shipped model by default) on the
same images: each seed's scores, the change averaged over the seeds with its
paired bootstrap interval over test images, and the seeds' own spread
(:mod:`retina_tutorial.comparison`). Prints the table; ``--json`` writes it
(numbers only, no image or prediction), as the shipped
``retina_tutorial/weights/finetune_*.json`` and ``seeds_drive.json`` were::

    # fine-tuning the shipped model on CHASE_DB1's 20 training photographs
    python benchmarks/seed_runs.py --data ../shared/data/CHASEDB1 \\
        --profile finetune --init pretrained --out runs/seeds/chase_db1 \\
        --json retina_tutorial/weights/finetune_chase_db1.json
    # the shipped recipe from scratch on DRIVE, shortened to 8 epochs
    python benchmarks/seed_runs.py --data ../shared/data/DRIVE --profile full \\
        --epochs 8 --out runs/seeds/drive --json retina_tutorial/weights/seeds_drive.json

Training is the slow part (the finetune profile takes a few minutes a seed
on 2 CPU cores; the full one about 1.6 minutes an epoch).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from retina_tutorial import comparison, config, data, evaluate, inference, metrics, pretrained


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the data set's folder, archive or CSV")
    parser.add_argument("--profile", default="finetune", help="training recipe (config profile)")
    parser.add_argument("--epochs", type=int, help="shorten the recipe to this many epochs")
    parser.add_argument("--init", help="start from these weights ('pretrained' to fine-tune)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--baseline", default="pretrained", help="model to compare with")
    parser.add_argument("--out", required=True, help="folder for the runs (one per seed)")
    parser.add_argument("--json", help="write the comparison here")
    arguments = parser.parse_args(argv)

    dataset = data.load_dataset(arguments.data)
    profile = config.get_profile(arguments.profile)
    if arguments.epochs:
        profile = dataclasses.replace(profile, epochs=arguments.epochs)
    started = time.perf_counter()
    models = comparison.train_seeds(
        profile, dataset, arguments.out, arguments.seeds, init=arguments.init, verbose=2
    )
    training_minutes = (time.perf_counter() - started) / 60
    baseline = (
        pretrained.load()
        if arguments.baseline == "pretrained"
        else inference.load_model(arguments.baseline)
    )
    baseline_report = evaluate.evaluate_model(baseline, dataset)
    reports = [evaluate.evaluate_model(model, dataset) for model in models]
    recipe = f"{profile.name} profile"
    if arguments.epochs:
        recipe += f" shortened to {profile.epochs} epochs"
    if arguments.init == "pretrained":
        recipe = f"shipped model fine-tuned ({recipe})"
    result = comparison.compare(
        baseline_report,
        reports,
        arguments.seeds,
        baseline="shipped model" if arguments.baseline == "pretrained" else arguments.baseline,
        candidate=recipe,
        data=dataset.name,
    )
    print(result)
    print(f"verdict on F1: {result.verdict}; training took {training_minutes:.1f} min")
    if arguments.json:
        summary = {
            **result.to_dict(),
            "data_description": dataset.description,
            "profile": profile.to_dict(),
            "init": arguments.init,
            "second_observer": baseline_report.second_observer,
            "baseline_intervals": _headline(baseline_report),
            "candidate_intervals": [_headline(report) for report in reports],
            "seed_spread": comparison.seed_spread(reports, arguments.seeds),
            "per_image_f1": {
                "ids": list(dataset.test.ids),
                "baseline": _per_image_f1(baseline_report),
                "seeds": [_per_image_f1(report) for report in reports],
            },
        }
        Path(arguments.json).write_text(json.dumps(summary, indent=1) + "\n")
        print(f"wrote {arguments.json}")
    return 0


def _per_image_f1(report) -> list:
    """Each test image's F1 at the report's threshold."""
    rows = metrics.per_image_metrics(
        report.test_probabilities, report.test.vessels, report.test.fov, report.threshold
    )
    return [row["f1"] for row in rows]


def _headline(report) -> dict:
    """ROC AUC and F1 with their bootstrap intervals, as evaluate reports them."""
    return {
        name: report.intervals["model"][name]
        for name in comparison.SCORES
        if report.intervals and name in report.intervals["model"]
    }


if __name__ == "__main__":
    sys.exit(main())
