"""Compare trained models on the 3 validation images only, with and without TTA.

How the `full` profile's recipe and its test-time augmentation were chosen.
This script reads no test image (the model card says how often the test
images were scored during development). For each model, prints the
validation ROC AUC, PR AUC and the F1 at the threshold that maximises it
there, pooled over the FOV pixels, once as predicted and once averaged over
the four flips.

    python benchmarks/compare_on_validation.py runs/a/best.keras runs/b/best.keras pretrained

Uses DRIVE when RETINA_TUTORIAL_DATA is set, else the synthetic set.
"""

from __future__ import annotations

import argparse

from retina_tutorial import data, inference, metrics, pretrained


def validation_scores(model, split, *, tta: bool) -> dict:
    """Pooled validation metrics at the F1-maximising threshold."""
    probabilities = inference.predict(model, split.images, tta=tta)
    threshold = metrics.choose_threshold(probabilities, split.vessels, split.fov)
    scores = metrics.pixel_metrics(probabilities, split.vessels, split.fov, threshold)
    return {"threshold": threshold, **scores}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help=".keras files, or 'pretrained'")
    arguments = parser.parse_args()

    split = data.load_dataset().validation
    print(f"{'model':<40} {'TTA':<4} {'ROC AUC':>8} {'PR AUC':>8} {'F1':>8} {'threshold':>10}")
    for name in arguments.models:
        model = pretrained.load() if name == "pretrained" else inference.load_model(name)
        for tta in (False, True):
            scores = validation_scores(model, split, tta=tta)
            print(
                f"{name[-40:]:<40} {'yes' if tta else 'no':<4} {scores['roc_auc']:>8.4f} "
                f"{scores['pr_auc']:>8.4f} {scores['f1']:>8.4f} {scores['threshold']:>10.3f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
