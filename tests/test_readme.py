"""The README's walk-throughs, run verbatim against the embedded service, so that the README
cannot drift from what a newcomer sees.

Every ```` ```console ```` block after a ``<!-- walkthrough: NAME -->`` marker belongs to that
walk-through; its ``$ `` lines are commands, the lines after each are what it prints. Each
walk-through runs in one shell (so ``CASE=$(…)`` carries over), in the checkout, against a
``pathway dev`` of its own on free ports. For each command the exit code must be the one the
README states (``# exit N`` at the end of the command; 0 when it states none), and the first
lines printed must be the README's lines, where a case ID stands for any case ID (they depend
on the installation's pepper), ``…`` for any text within a line, and a line of its own ``...``
for any number of lines (the README leaves them out).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.receivers import free_port

pytestmark = pytest.mark.devserver

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DEFAULT_GATEWAY = "127.0.0.1:8080"
BASH = shutil.which("bash") or "/bin/bash"
CASE_ID = re.compile(r"case-[a-z2-7]{24}")


@dataclass
class Command:
    line: str
    exit_code: int
    shown: list[str] = field(default_factory=list)

    @property
    def first_line(self) -> str:
        return next((line for line in self.shown if line.strip()), "")


@dataclass
class Walkthrough:
    name: str
    commands: list[Command] = field(default_factory=list)


def walkthroughs(text: str) -> dict[str, Walkthrough]:
    """The README's walk-throughs, in order, with their commands and expected first lines."""
    found: dict[str, Walkthrough] = {}
    current: Walkthrough | None = None
    in_block = False
    for raw in text.splitlines():
        marker = re.fullmatch(r"<!-- walkthrough: ([\w-]+) -->", raw.strip())
        if marker:
            current = found.setdefault(marker.group(1), Walkthrough(marker.group(1)))
            continue
        if raw.startswith("```"):
            in_block = raw.strip() == "```console" and current is not None
            continue
        if not in_block or current is None:
            continue
        if raw.startswith("$ "):
            command = raw[2:]
            stated = re.search(r"\s+# exit (\d+)$", command)
            current.commands.append(
                Command(
                    line=command[: stated.start()] if stated else command,
                    exit_code=int(stated.group(1)) if stated else 0,
                )
            )
        elif current.commands and (raw.strip() or current.commands[-1].shown):
            current.commands[-1].shown.append(raw)
    return found


#: A README line of its own that stands for any number of lines of output.
ELIDED = frozenset({"...", "…"})


def block_matches(expected: list[str], actual: list[str]) -> bool:
    """Every line of ``actual`` is matched, in order, by a line of ``expected`` (:func:`matches`),
    or falls in an elided stretch (a line of :data:`ELIDED`)."""
    expected = [line for line in expected if line.strip()]
    actual = [line for line in actual if line.strip()]

    @functools.cache
    def fits(i: int, j: int) -> bool:
        if i == len(expected):
            return j == len(actual)
        if expected[i].strip() in ELIDED:
            return any(fits(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and matches(expected[i], actual[j]) and fits(i + 1, j + 1)

    return fits(0, 0)


def matches(expected: str, actual: str) -> bool:
    """``actual`` is what the README shows, with any case ID for a case ID and any text for
    ``…``."""
    pattern = ""
    for i, part in enumerate(re.split(r"(case-[a-z2-7]{24}|…)", expected)):
        if i % 2 == 0:
            pattern += re.escape(part)
        else:
            pattern += CASE_ID.pattern if part.startswith("case-") else ".*"
    return re.fullmatch(pattern, actual.rstrip()) is not None


@dataclass
class Service:
    """A running ``pathway dev`` (what ``bin/serve`` starts) on free ports."""

    env: dict[str, str]
    gateway: str


@contextlib.contextmanager
def service(var: Path) -> Iterator[Service]:
    ports = {name: free_port() for name in ("port", "ui-port", "codec-port", "gateway-port")}
    env = {
        **os.environ,
        "PATHWAY_VAR": str(var),
        "PATHWAY_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['port']}",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("PATHWAY_CREDENTIALS", None)
    gateway = f"127.0.0.1:{ports['gateway-port']}"
    log = (var.parent / "pathway-dev.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [
            sys.executable,
            "-m",
            "pathway.cli",
            "dev",
            "--var",
            str(var),
            *(f"--{name}={port}" for name, port in ports.items()),
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (var.parent / "pathway-dev.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{gateway}/readyz", timeout=10).status_code == 200:
                    break
            assert time.monotonic() < deadline, "pathway dev did not become ready in 180 s"
            time.sleep(0.2)
        yield Service(env=env, gateway=gateway)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def run(walkthrough: Walkthrough, svc: Service, work: Path) -> list[tuple[int, str]]:
    """Run the commands in one bash session; returns (exit code, output) per command."""
    script = ["cd " + str(ROOT)]
    for i, command in enumerate(walkthrough.commands):
        line = command.line.replace(DEFAULT_GATEWAY, svc.gateway)
        script.append(f"{{ {line}\n}} >{work}/out.{i} 2>&1; echo $? >{work}/rc.{i}")
    subprocess.run(  # noqa: S603 - bash with the README's own commands
        [BASH, "-c", "\n".join(script)],
        env=svc.env,
        check=False,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    results = []
    for i in range(len(walkthrough.commands)):
        rc = work / f"rc.{i}"
        code = int(rc.read_text()) if rc.exists() else -1
        output = (work / f"out.{i}").read_text() if (work / f"out.{i}").exists() else ""
        results.append((code, output))
    return results


WALKTHROUGHS = walkthroughs(README.read_text())


class TestReadmeParsing:
    def test_the_readme_has_the_walkthroughs(self) -> None:
        """The adult, child and gateway walk-throughs are found, each with its commands."""
        assert set(WALKTHROUGHS) >= {"adult", "child", "gateway"}
        assert all(len(w.commands) >= 3 for w in WALKTHROUGHS.values())

    def test_matching_allows_only_case_ids_and_ellipses(self) -> None:
        """A README line matches output that differs only in a case ID or where it shows …."""
        line = "accepted x case-lmkbcqwdt2x4rfg2xbvau54r  phase: … (R1)"
        assert matches(line, "accepted x case-aaaaaaaaaaaaaaaaaaaaaaaa  phase: open (R1)")
        assert not matches(line, "accepted y case-aaaaaaaaaaaaaaaaaaaaaaaa  phase: open (R1)")
        assert not matches(line, "accepted x case-short  phase: open (R1)")

    def test_every_line_shown_must_be_printed(self) -> None:
        """All the output is compared, not only its first line: a README line that the command
        no longer prints fails, and ``...`` stands for lines left out."""
        assert block_matches(["a", "b"], ["a", "b"])
        assert not block_matches(["a", "b"], ["a", "c"])
        assert not block_matches(["a"], ["a", "b"])
        assert not block_matches(["a", "b"], ["a"])
        assert block_matches(["a", "...", "d"], ["a", "b", "c", "d"])
        assert block_matches(["a", "..."], ["a"])
        assert not block_matches(["a", "...", "d"], ["a", "b", "c"])


class TestReadme:
    @pytest.mark.timeout(900)
    @pytest.mark.parametrize("name", sorted(WALKTHROUGHS))
    def test_walkthrough_runs_as_written(self, name: str, tmp_path: Path) -> None:
        """Each command of the walk-through exits as the README says and prints the README's
        lines."""
        walkthrough = WALKTHROUGHS[name]
        with service(tmp_path / "var") as svc:
            results = run(walkthrough, svc, tmp_path)
        problems = []
        for command, (code, output) in zip(walkthrough.commands, results, strict=True):
            if code != command.exit_code or not block_matches(command.shown, output.splitlines()):
                shown = "\n".join(command.shown)
                problems.append(
                    f"$ {command.line}\n  README: exit {command.exit_code}\n{shown}\n"
                    f"  got: exit {code}\n{output}"
                )
        assert not problems, "\n".join(problems)
