"""The test setup itself: a failing test is always named, and the run goes on past it.

Found on a busy machine: pytest crashed with ``INTERNALERROR … AST constructor recursion depth
mismatch`` while formatting a failure (CPython 3.11 with pytest's source-parsing traceback
styles), so the failing test was never named and the rest of the suite never ran. The project's
configuration (``pyproject.toml``) reports failures in the native style, which parses no source.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Each test here starts a whole pytest run (with xdist: a controller and workers, each importing
#: the project): on the busy CI machine at 139e724 one took 270 s. Far above that, and above
#: the default 300 s of pytest-timeout, so a slow machine does not fail them.
RUN_BOUND = 900
pytestmark = pytest.mark.timeout(RUN_BOUND + 60)

PLANTED = '''
def test_planted_failure():
    """Fails on purpose."""
    assert 1 + 1 == 3, "planted"


def test_after_the_failure():
    """Runs although the one before it failed."""
    assert True
'''


def run_pytest(tmp_path: Path, test_file: str, *options: str) -> tuple[str, int]:
    """Run pytest in a subprocess on ``tmp_path/test_file`` with the project's configuration
    (and ``options``); return its combined output and exit code."""
    proc = subprocess.run(  # noqa: S603 - our own interpreter and pytest
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "-p",
            "no:cacheprovider",
            *options,
            str(tmp_path / test_file),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_BOUND,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return proc.stdout + proc.stderr, proc.returncode


class TestFailuresAreNamed:
    def test_a_planted_failure_is_named_and_the_run_goes_on(self, tmp_path: Path) -> None:
        """A deliberately failing throwaway test, run with the project's pytest configuration
        in a subprocess, is named in the output with a readable traceback, the next test still
        runs, and the exit code is 1."""
        (tmp_path / "test_planted.py").write_text(PLANTED)
        output, code = run_pytest(tmp_path, "test_planted.py", "-o", "timeout=120")
        assert code == 1, output
        assert "INTERNALERROR" not in output
        assert "FAILED test_planted.py::test_planted_failure" in output
        assert "AssertionError: planted" in output
        assert 'test_planted.py", line 4, in test_planted_failure' in output  # native style
        assert "1 failed, 1 passed" in output


LEAKING = '''
import subprocess


def test_leaves_a_process_running():
    """Starts a process and never stops it."""
    subprocess.Popen(["sleep", "3141"])
'''


class TestNothingOutlivesTheSuite:
    @pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
    def test_a_process_left_running_fails_the_run(self, tmp_path: Path, workers: list[str]) -> None:
        """A test that leaves a process running makes the run fail, names the process, and the
        process is killed (also when the tests run in pytest-xdist workers)."""
        (tmp_path / "test_leaking.py").write_text(LEAKING)
        output, code = run_pytest(tmp_path, "test_leaking.py", "-p", "tests.conftest", *workers)
        assert code == 1, output
        assert "processes left running" in output
        assert "sleep 3141" in output
        alive = [
            p
            for p in Path("/proc").iterdir()
            if p.name.isdigit()
            and (p / "cmdline").exists()
            and _cmdline(p) == "sleep 3141"
            and _state(p) != "Z"
        ]
        assert alive == []


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _state(proc: Path) -> str:
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


DYING = """
import os
import subprocess


def test_dies_leaving_a_process_running():
    \"\"\"Starts a process, then its worker dies (as pytest-timeout's thread method ends it).\"\"\"
    subprocess.Popen(["sleep", "2718"])
    os._exit(1)
"""

HANGING = """
import time


def test_hangs():
    \"\"\"Never finishes by itself.\"\"\"
    time.sleep(3600)


def test_after_the_hang():
    \"\"\"Runs although the one before it hung.\"\"\"
    assert True
"""


class TestAHungTestEnds:
    def test_a_hung_test_is_named_and_the_run_goes_on(self, tmp_path: Path) -> None:
        """A test past its timeout is ended (pytest-timeout's thread method: a hang that
        swallows the signal method's exception cannot stall the run), named, and the run goes
        on with the next test in a new xdist worker and fails."""
        (tmp_path / "test_hanging.py").write_text(HANGING)
        output, code = run_pytest(
            tmp_path, "test_hanging.py", "-p", "tests.conftest", "-n", "1", "-o", "timeout=5"
        )
        assert code == 1, output
        assert "crashed while running 'test_hanging.py::test_hangs'" in output
        assert "1 failed, 1 passed" in output

    def test_what_a_dead_worker_left_running_is_killed(self, tmp_path: Path) -> None:
        """A process started by a test whose xdist worker died (so the worker's own check never
        ran) is found by the controller at the end of the run, named, killed, and fails it."""
        (tmp_path / "test_dying.py").write_text(DYING)
        output, code = run_pytest(tmp_path, "test_dying.py", "-p", "tests.conftest", "-n", "1")
        assert code == 1, output
        assert "processes left running" in output
        assert "sleep 2718" in output
        alive = [
            p
            for p in Path("/proc").iterdir()
            if p.name.isdigit()
            and (p / "cmdline").exists()
            and _cmdline(p) == "sleep 2718"
            and _state(p) != "Z"
        ]
        assert alive == []
