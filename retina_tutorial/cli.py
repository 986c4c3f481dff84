"""The ``retina-tutorial`` command: prepare, train, evaluate, predict.

Each sub-command is a thin shell over the package functions the book uses.
"""

from __future__ import annotations

import argparse
import sys

from retina_tutorial import config, data


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.handler(arguments)
    except (ValueError, OSError) as error:
        # Our errors name the file and the fix: show them without a traceback.
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
    return parser


def _add_data_arguments(parser) -> None:
    parser.add_argument(
        "--data",
        help=f"DRIVE folder or zip (default: ${config.DATA_VARIABLE}; "
        "without either, the synthetic set)",
    )
    parser.add_argument(
        "--synthetic", action="store_true", help="use the synthetic set even if DRIVE is set"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic set")


def _prepare(arguments) -> int:
    from retina_tutorial import cache

    dataset, status = cache.prepare(
        arguments.out, arguments.data, synthetic=arguments.synthetic, seed=arguments.seed
    )
    fov_pixels = int(dataset.test.fov.sum())
    print(
        f"{arguments.out}: {status}. {len(dataset.train)} train + "
        f"{len(dataset.validation)} validation + {len(dataset.test)} test images of "
        f"{dataset.train.images.shape[1:]}; {fov_pixels:,} test FOV pixels; "
        f"2nd manual for {_count_second(dataset.test)} test images."
    )
    return 0


def _count_second(split: data.Split) -> int:
    return 0 if split.vessels_2nd is None else len(split.vessels_2nd)


if __name__ == "__main__":
    sys.exit(main())
