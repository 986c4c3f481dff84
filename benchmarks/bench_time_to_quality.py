"""CPU time to quality: validation AUC inside the FOV against wall time.

Trains a recipe for a fixed wall-time budget on this machine and prints, after
every epoch, the elapsed time and the validation AUC (pooled over the FOV
pixels of the 3 validation images). Target: AUC >= 0.978 within 15 minutes on
2 cores. Uses DRIVE when RETINA_TUTORIAL_DATA is set, else the synthetic set.

    python benchmarks/bench_time_to_quality.py --minutes 15 --csv time_to_quality.csv
    python benchmarks/bench_time_to_quality.py --minutes 15 --preset compact

With ``--csv`` the rows (epoch, minutes, val_auc) are also written to a file;
the training chapter plots the copy in ``retina_tutorial/weights/``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import tempfile
import time

import keras

from retina_tutorial import config, data, train

TARGET_AUC = 0.978
TARGET_MINUTES = 15.0


class WallClock(keras.callbacks.Callback):
    """Records (minutes, val_auc) after each epoch and stops at the budget."""

    def __init__(self, budget_minutes: float):
        super().__init__()
        self.budget = budget_minutes
        self.started = time.perf_counter()
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        minutes = (time.perf_counter() - self.started) / 60.0
        self.rows.append((epoch + 1, minutes, float(logs["val_auc"])))
        print(
            f"  epoch {epoch + 1:3d}  {minutes:6.1f} min  val_auc {logs['val_auc']:.4f}", flush=True
        )
        if minutes >= self.budget:
            self.model.stop_training = True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="full", choices=sorted(config.PROFILES))
    parser.add_argument("--minutes", type=float, default=TARGET_MINUTES, help="wall-time budget")
    parser.add_argument(
        "--epochs", type=int, help="override the profile's epochs (sets the LR schedule)"
    )
    parser.add_argument(
        "--preset", choices=("compact", "wide", "article"), help="override the profile's U-Net"
    )
    parser.add_argument("--csv", help="also write the (epoch, minutes, val_auc) rows to this file")
    args = parser.parse_args()

    profile = config.get_profile(args.profile)
    if args.epochs:
        profile = dataclasses.replace(profile, epochs=args.epochs)
    if args.preset:
        profile = dataclasses.replace(profile, preset=args.preset)
    dataset = data.load_dataset()
    print(profile)
    print(f"{os.cpu_count()} CPU cores; load average before: {os.getloadavg()}")
    clock = WallClock(args.minutes)
    with tempfile.TemporaryDirectory() as run:
        train.train(profile, dataset, run, callbacks=[clock], verbose=0)

    if args.csv:
        with open(args.csv, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["epoch", "minutes", "val_auc"])
            writer.writerows(
                (epoch, f"{minutes:.2f}", f"{auc:.5f}") for epoch, minutes, auc in clock.rows
            )
    reached = [(m, auc) for _, m, auc in clock.rows if auc >= TARGET_AUC]
    first = f"{reached[0][0]:.1f} min" if reached else "never"
    ok = bool(reached) and reached[0][0] <= TARGET_MINUTES
    print(
        f"val_auc >= {TARGET_AUC} first reached after: {first} "
        f"(target <= {TARGET_MINUTES:.0f} min) {'PASS' if ok else 'FAIL'}"
    )
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
