"""Is one model better than another? Several training seeds, one paired comparison.

Explained in ``book/07_your_own_data.ipynb`` (fine-tuned against as it is) and
``book/05_evaluation.ipynb`` (the spread of a recipe over seeds).

Two sources of doubt sit under every "model B beats model A":

* **the images**: another sample of test eyes could reverse it. Both models
  are scored on the *same* images, so the comparison is paired: each
  bootstrap draw of test images scores both, and the interval is that of
  their difference, much narrower than two separate intervals suggest;
* **the seed**: training B again with another seed gives another model.
  :func:`train_seeds` trains the same recipe with several seeds, and the
  comparison reports the difference averaged over the seeds, its bootstrap
  interval over images, and beside it the seed spread (each seed's own
  difference, their range and standard deviation).

Each model is scored as :func:`retina_tutorial.evaluate.evaluate_model`
scores it: pooled over the test images' FOV pixels, F1 at its own threshold
chosen on the validation images, so a comparison is between two models as
each would be used.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path

import numpy as np

from retina_tutorial import bootstrap, checks

#: The scores compared: pooled ROC AUC and F1 at each model's own threshold.
SCORES = ("roc_auc", "f1")
SCORE_LABELS = {"roc_auc": "ROC AUC", "f1": "F1"}
#: Each :attr:`PairedComparison.verdict` in a few words.
VERDICT_SHORT = {
    "better": "more than noise",
    "worse": "a loss beyond noise",
    "not distinguishable": "within the noise",
}
#: What each :attr:`PairedComparison.verdict` means, in a sentence.
VERDICT_WORDS = {
    "better": "Every seed gained and the whole interval lies above zero: on these images, "
    "the gain is more than noise.",
    "worse": "Every seed lost and the whole interval lies below zero: on these images, the "
    "candidate is worse.",
    "not distinguishable": "The interval or the seeds reach across zero: these images cannot "
    "tell the two apart.",
}


def train_seeds(profile, dataset, out_dir, seeds, *, init=None, verbose: int = 0) -> list:
    """Train ``profile`` on ``dataset`` once per seed; return the best model of each run.

    Each seed runs in ``out_dir/seed-<seed>``. A finished run there is read
    back rather than trained again, and an interrupted one is resumed, so a
    long series of seeds survives a restart.

    Parameters
    ----------
    profile : retina_tutorial.config.Profile
        The recipe; its ``seed`` is replaced by each of ``seeds``.
    dataset : retina_tutorial.data.Dataset
    out_dir : str or Path
    seeds : sequence of int
    init : optional
        As :func:`retina_tutorial.train.train`'s ``init`` (``"pretrained"``
        to fine-tune the shipped model).

    Returns
    -------
    list of keras.Model
        In the order of ``seeds``.
    """
    from retina_tutorial import model_files, train

    seeds = _check_seeds(seeds)
    models = []
    # Each run builds its own training function, which TensorFlow reports as
    # "retracing"; expected here, so not shown.
    tensorflow_log = logging.getLogger("tensorflow")
    level = tensorflow_log.level
    tensorflow_log.setLevel(logging.ERROR)
    try:
        for seed in seeds:
            folder = Path(out_dir) / f"seed-{seed}"
            if (folder / "summary.json").exists():
                models.append(model_files.load(folder / "best.keras"))
                continue
            run = train.train(
                dataclasses.replace(profile, seed=seed),
                dataset,
                folder,
                init=init,
                resume=(folder / "backup").exists(),
                verbose=verbose,
            )
            models.append(run.model)
    finally:
        tensorflow_log.setLevel(level)
    return models


@dataclasses.dataclass
class PairedComparison:
    """A candidate recipe (several seeds) against a baseline model, on the same test images.

    Attributes
    ----------
    baseline, candidate : str
        What each side is, in words.
    data : str
        Which test images, in words.
    seeds : list of int
        The candidate's training seeds.
    image_ids : list of str
    baseline_scores : dict
        ``roc_auc``, ``f1`` and ``threshold`` of the baseline.
    per_seed : list of dict
        For each seed: ``seed``, its ``roc_auc``, ``f1``, ``threshold`` and
        their differences from the baseline (``roc_auc_difference``,
        ``f1_difference``).
    difference : dict
        Per score: ``value`` (the difference averaged over the seeds),
        ``interval`` (its paired percentile-bootstrap interval over test
        images), ``seed_range`` ([lowest, highest] of the seeds' own
        differences) and ``seed_sd`` (their standard deviation, ``nan`` with
        one seed).
    candidate_scores : dict
        The same for the candidate's own scores (mean over seeds, interval
        of that mean over images, seed range and standard deviation).
    replicates, seed : int
        How the bootstrap drew.
    """

    baseline: str
    candidate: str
    data: str
    seeds: list
    image_ids: list
    baseline_scores: dict
    per_seed: list
    difference: dict
    candidate_scores: dict
    replicates: int = bootstrap.REPLICATES
    seed: int = bootstrap.SEED

    def __str__(self) -> str:
        return self.table()

    def table(self) -> str:
        """The comparison as text: each seed, then the mean with both kinds of spread."""
        lines = [
            f"{self.candidate} against {self.baseline}:",
            f"{len(self.image_ids)} {self.data} test images, {len(self.seeds)} "
            f"seed{'s' if len(self.seeds) != 1 else ''}",
            f"{'':<16}{'ROC AUC':>10}{'F1':>9}{'threshold':>11}{'F1 change':>11}",
            f"{self.baseline[:15]:<16}{self.baseline_scores['roc_auc']:>10.4f}"
            f"{self.baseline_scores['f1']:>9.4f}{self.baseline_scores['threshold']:>11.3f}",
        ]
        for row in self.per_seed:
            lines.append(
                f"{'seed ' + str(row['seed']):<16}{row['roc_auc']:>10.4f}{row['f1']:>9.4f}"
                f"{row['threshold']:>11.3f}{row['f1_difference']:>+11.4f}"
            )
        lines += [
            "Change, averaged over the seeds [95 % interval over the test images,",
            f"{self.replicates} paired bootstrap draws]; the seeds' own changes:",
        ]
        for name in SCORES:
            entry = self.difference[name]
            low, high = entry["interval"]
            first, last = entry["seed_range"]
            spread = "" if math.isnan(entry["seed_sd"]) else f" (SD {entry['seed_sd']:.4f})"
            lines.append(
                f"  {SCORE_LABELS[name]:<8}{entry['value']:+.4f} [{low:+.4f}, {high:+.4f}]"
                f"  seeds {first:+.4f} to {last:+.4f}{spread}"
            )
        return "\n".join(lines)

    @property
    def verdict(self) -> str:
        """``'better'``, ``'worse'`` or ``'not distinguishable'`` on F1, from the interval
        over images and the seeds together: every seed and the whole interval on one side."""
        entry = self.difference["f1"]
        low, high = entry["interval"]
        first, last = entry["seed_range"]
        if low > 0 and first > 0:
            return "better"
        if high < 0 and last < 0:
            return "worse"
        return "not distinguishable"

    def in_words(self) -> str:
        """The F1 change, both spreads and the verdict, as sentences for a page."""
        change = self.difference["f1"]
        low, high = change["interval"]
        first, last = change["seed_range"]
        seeds = len(self.seeds)
        said = (
            f"Averaged over {seeds} seed{'s' if seeds != 1 else ''}, the change in F1 was "
            f"{change['value']:+.4f} (95 % interval over the test images {low:+.4f} to "
            f"{high:+.4f}); the seeds' own changes ran from {first:+.4f} to {last:+.4f}. "
        )
        return said + VERDICT_WORDS[self.verdict]

    def to_dict(self) -> dict:
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: dict) -> PairedComparison:
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})

    def save(self, path) -> Path:
        """Write the comparison as JSON (numbers only: no image, no probability)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=True) + "\n")
        return path

    @classmethod
    def load(cls, path) -> PairedComparison:
        return cls.from_dict(json.loads(Path(path).read_text()))


def compare(
    baseline_report,
    candidate_reports,
    seeds,
    *,
    baseline: str = "as it is",
    candidate: str = "fine-tuned",
    data: str | None = None,
    replicates: int = bootstrap.REPLICATES,
    seed: int = bootstrap.SEED,
) -> PairedComparison:
    """Compare a candidate recipe's seeds with a baseline on the same test images.

    Parameters
    ----------
    baseline_report : retina_tutorial.evaluate.EvaluationReport
        The baseline model's evaluation.
    candidate_reports : sequence of EvaluationReport
        One evaluation per seed of the candidate, on the same test images.
    seeds : sequence of int
        The candidate's seeds, in the order of ``candidate_reports``.
    baseline, candidate, data : str
        Names for the table (``data`` defaults to the report's data set).

    Raises
    ------
    ValueError
        If the reports are not of the same test images, or the seeds do not
        match the reports one to one.
    """
    from retina_tutorial import datasets

    candidate_reports = list(candidate_reports)
    seeds = _check_seeds(seeds)
    if len(seeds) != len(candidate_reports):
        raise ValueError(
            f"compare: {len(candidate_reports)} candidate reports but {len(seeds)} seeds; "
            "give one seed per report."
        )
    ids = list(baseline_report.test.ids)
    for report in candidate_reports:
        if list(report.test.ids) != ids:
            raise ValueError(
                "compare: the reports are not of the same test images "
                f"({list(report.test.ids)} against {ids}); a paired comparison needs both "
                "models scored on the same images."
            )
    reports = [baseline_report, *candidate_reports]
    tallies = [_tally(report) for report in reports]
    count = len(ids)

    def scores(drawn) -> dict:
        values = [_scores(tally, drawn) for tally in tallies]
        result = {}
        for name in SCORES:
            own = np.array([v[name] for v in values[1:]])
            result[("candidate", name)] = float(own.mean())
            result[("difference", name)] = float(own.mean() - values[0][name])
        return result

    everything = np.arange(count)
    full = [_scores(tally, everything) for tally in tallies]
    intervals = bootstrap.percentile_intervals(scores, count, replicates=replicates, seed=seed)
    values = scores(everything)
    per_seed = []
    for index, (seed_value, report) in enumerate(zip(seeds, candidate_reports), start=1):
        row = {"seed": seed_value, **full[index], "threshold": float(report.threshold)}
        for name in SCORES:
            row[f"{name}_difference"] = full[index][name] - full[0][name]
        per_seed.append(row)

    def summary(kind, per_seed_values) -> dict:
        result = {}
        for name in SCORES:
            own = np.array([row[name] for row in per_seed_values])
            result[name] = {
                "value": values[(kind, name)],
                "interval": intervals[(kind, name)],
                "seed_range": [float(own.min()), float(own.max())],
                "seed_sd": float(own.std(ddof=1)) if len(own) > 1 else math.nan,
            }
        return result

    differences = [{name: row[f"{name}_difference"] for name in SCORES} for row in per_seed]
    return PairedComparison(
        baseline=baseline,
        candidate=candidate,
        data=data or datasets.display_name(baseline_report.data_source),
        seeds=seeds,
        image_ids=ids,
        baseline_scores={**full[0], "threshold": float(baseline_report.threshold)},
        per_seed=per_seed,
        difference=summary("difference", differences),
        candidate_scores=summary("candidate", per_seed),
        replicates=replicates,
        seed=seed,
    )


def seed_spread(reports, seeds) -> dict:
    """Each seed's test scores and their spread, for a recipe trained with several seeds.

    Returns
    -------
    dict
        ``seeds``; per score (``roc_auc``, ``f1``): ``values`` (one per seed),
        ``mean``, ``sd`` (``nan`` with one seed) and ``range``; and
        ``thresholds``.
    """
    seeds = _check_seeds(seeds)
    reports = list(reports)
    if len(reports) != len(seeds):
        raise ValueError(f"seed_spread: {len(reports)} reports but {len(seeds)} seeds.")
    result: dict = {"seeds": seeds, "thresholds": [float(r.threshold) for r in reports]}
    for name in SCORES:
        values = np.array([float(report.test_at_threshold[name]) for report in reports])
        result[name] = {
            "values": values.tolist(),
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
            "range": [float(values.min()), float(values.max())],
        }
    return result


def transfer_table(results: dict, drive: dict | None = None) -> str:
    """The shipped model on other cameras, as it is and fine-tuned, as text.

    Parameters
    ----------
    results : dict of str to dict
        Data set name -> what ``benchmarks/seed_runs.py --json`` wrote for
        it (:func:`retina_tutorial.pretrained.transfer_results`).
    drive : dict, optional
        ``{"roc_auc": (value, [low, high]), "f1": ...}`` on DRIVE's own test
        images, shown first for reference.
    """

    def cell(value, interval, signed=False) -> str:
        form = "+.4f" if signed else ".4f"
        return f"{value:{form}} [{interval[0]:{form}}, {interval[1]:{form}}]"

    def row(label, first, second) -> str:
        return f"{label:<23}{first:<28}{second}"

    lines = [row("", "ROC AUC", "F1")]
    if drive is not None:
        lines.append(row("DRIVE, its own camera", cell(*drive["roc_auc"]), cell(*drive["f1"])))
    for name, result in results.items():
        baseline, tuned = result["baseline_intervals"], result["candidate_scores"]
        change = result["difference"]
        seeds = len(result["seeds"])
        lines += [
            f"DRIVE -> {name}, {len(result['image_ids'])} test images",
            row("  as it is", cell(*_pair(baseline["roc_auc"])), cell(*_pair(baseline["f1"]))),
            row(f"  fine-tuned, {seeds} seeds", cell(*_pair(tuned["roc_auc"])),
                cell(*_pair(tuned["f1"]))),
            row("    seed SD", *(f"{tuned[name]['seed_sd']:.4f}" for name in SCORES)),
            row("  change, paired", cell(*_pair(change["roc_auc"]), signed=True),
                cell(*_pair(change["f1"]), signed=True)),
        ]  # fmt: skip
        observer = result.get("second_observer")
        if observer:
            lines.append(row("  2nd annotator", "—", f"{observer['f1']:.4f}"))
    lines += [
        "[95 % bootstrap intervals over the test images; fine-tuned: the mean of",
        "the seeds, and the standard deviation of the seeds' own scores]",
    ]
    return "\n".join(line.rstrip() for line in lines)


def group_f1(result: dict, members) -> dict:
    """Mean per-image F1 of the images in ``members`` and of the others.

    ``result`` is what ``benchmarks/seed_runs.py --json`` wrote (its
    ``per_image_f1``). Returns ``{"members": ..., "others": ...}``, each
    ``{"images", "baseline", "tuned"}`` (the tuned value is the mean over
    seeds; both ``nan`` for a group without images).
    """
    per_image = result["per_image_f1"]
    baseline = np.asarray(per_image["baseline"], float)
    tuned = np.mean(np.asarray(per_image["seeds"], float), axis=0)
    inside = np.array([image_id in set(members) for image_id in per_image["ids"]])
    groups = {}
    for name, chosen in (("members", inside), ("others", ~inside)):
        groups[name] = {
            "images": int(chosen.sum()),
            "baseline": float(baseline[chosen].mean()) if chosen.any() else math.nan,
            "tuned": float(tuned[chosen].mean()) if chosen.any() else math.nan,
        }
    return groups


def by_group(result: dict, members, names=("in the group", "the others")) -> str:
    """:func:`group_f1` as a small table, the groups called ``names``."""
    groups = group_f1(result, members)
    lines = [f"{'':<26}{'images':>7}{'as it is':>11}{'fine-tuned':>12}  (mean per-image F1)"]
    for name, group in zip(names, groups.values()):
        lines.append(
            f"{name:<26}{group['images']:>7}{group['baseline']:>11.4f}{group['tuned']:>12.4f}"
        )
    return "\n".join(lines)


def _pair(entry) -> tuple:
    return entry["value"], entry["interval"]


def _tally(report) -> dict:
    """Per-image counts at the report's threshold and ranking histograms."""
    test = report.test
    probabilities = np.asarray(report.test_probabilities)
    predicted = probabilities >= report.threshold
    confusion = []
    for mask, truth, fov in zip(predicted, test.vessels, test.fov):
        tp = int(np.count_nonzero(mask & truth & fov))
        fp = int(np.count_nonzero(mask & fov)) - tp
        fn = int(np.count_nonzero(truth & fov)) - tp
        confusion.append((tp, fp, fn, int(np.count_nonzero(fov)) - tp - fp - fn))
    return {
        "confusion": np.array(confusion, np.int64),
        "ranking": bootstrap.ranking_histograms(probabilities, test.vessels, test.fov),
    }


def _scores(tally: dict, drawn) -> dict:
    tp, fp, fn, _ = (int(count) for count in tally["confusion"][drawn].sum(axis=0))
    ranking = bootstrap.ranking_metrics(tally["ranking"][drawn].sum(axis=0))
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan
    return {"roc_auc": ranking["roc_auc"], "f1": f1}


def _check_seeds(seeds) -> list:
    seeds = [checks.integer(seed, "each seed") for seed in seeds]
    if not seeds:
        raise ValueError("seeds must be a non-empty list of integers, got none.")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must differ from one another, got {seeds!r}.")
    return seeds


def _plain(value):
    """JSON-ready: NumPy scalars and arrays as Python numbers and lists."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
