"""Bringing a ready-made environment (Colab's) up to the package's needs."""

import sys
import tomllib
from pathlib import Path

import pytest

from retina_tutorial import environment

ROOT = Path(__file__).resolve().parents[1]


def test_requirements_are_pyprojects_runtime_dependencies_and_the_books_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = list(project["dependencies"])
    for extra in environment.BOOK_EXTRAS:
        listed += project["optional-dependencies"][extra]
    declared = {r.split(">=")[0].lower(): r.split(">=")[1] for r in listed}
    assert environment.requirements() == declared
    assert environment.requirements()["keras"] == "3.14.0"
    assert environment.requirements()["onnxruntime"] == "1.20.0"
    assert "jupyter-book" not in environment.requirements()  # the other extras stay out


@pytest.mark.parametrize(
    "version, expected",
    [("3.14.1", (3, 14, 1)), ("2.17.0rc1", (2, 17, 0)), ("1.26.4+cpu", (1, 26, 4)), ("8", (8,))],
)
def test_version_tuple(version, expected):
    assert environment.version_tuple(version) == expected


def test_this_environment_meets_every_requirement():
    assert environment.unmet() == {}


def _fake_colab(monkeypatch, before: dict, after: dict):
    """Installed versions that change from ``before`` to ``after`` when pip runs."""
    installed = dict(before)
    calls = []

    def run(command, check):
        calls.append(command)
        installed.update(after)

    monkeypatch.setattr(environment, "requirements", lambda: {"keras": "3.14.0", "fakepkg": "2.0"})
    monkeypatch.setattr(environment, "installed_version", installed.get)
    return run, calls


def test_an_old_keras_that_was_not_imported_is_upgraded_and_named(monkeypatch, capsys):
    run, calls = _fake_colab(
        monkeypatch, {"keras": "3.10.0", "fakepkg": "2.1"}, {"keras": "3.15.1"}
    )
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    changes = environment.install_requirements(run=run)
    (command,) = calls
    assert command[:5] == [sys.executable, "-m", "pip", "install", "-q"]
    assert set(command[5:]) == {"keras>=3.14.0", "fakepkg>=2.0"}
    assert changes == ["keras 3.10.0 -> 3.15.1 (needs >= 3.14.0)"]
    assert "Upgraded for the book: keras 3.10.0 -> 3.15.1" in capsys.readouterr().out


def test_an_upgrade_of_an_imported_package_asks_for_a_restart(monkeypatch):
    run, _ = _fake_colab(monkeypatch, {"keras": "3.10.0", "fakepkg": "2.1"}, {"keras": "3.15.1"})
    import keras  # noqa: F401  (the old Keras is in memory, as on a used runtime)

    with pytest.raises(environment.RestartNeeded, match=r"keras changed .* Restart the runtime"):
        environment.install_requirements(run=run)


def test_a_missing_package_is_installed(monkeypatch, capsys):
    run, calls = _fake_colab(monkeypatch, {"keras": "3.15.1"}, {"fakepkg": "2.3"})
    assert environment.install_requirements(run=run) == ["fakepkg absent -> 2.3 (needs >= 2.0)"]
    assert len(calls) == 1


def test_nothing_is_installed_when_everything_is_new_enough(monkeypatch, capsys):
    run, calls = _fake_colab(monkeypatch, {"keras": "3.15.1", "fakepkg": "2.0"}, {})
    assert environment.install_requirements(run=run) == []
    assert calls == []
    assert "already has what the book needs" in capsys.readouterr().out
