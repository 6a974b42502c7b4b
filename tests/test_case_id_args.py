"""Where a case is meant, only a case ID is taken (review of issues 11 and 12): an episode's
address ``<case>/e<N>`` or a stray string is refused with exit 2 naming the argument, and erasure
refuses it before touching anything (it once destroyed a running episode's key)."""

from __future__ import annotations

import pytest

from pathway import cli
from pathway.domain.ids import NotACaseId, case_id_for, is_case_id
from pathway.privacy.erasure import erase_case
from pathway.privacy.keys import SqliteKeyStore
from tests.test_cli_input import process
from tests.test_privacy_keys import store

__all__ = ["store"]  # the fixture

CASE = case_id_for("someone", b"pepper" * 6)


class TestTheShape:
    def test_case_ids_made_here_have_it(self) -> None:
        assert is_case_id(CASE)

    @pytest.mark.parametrize(
        "value",
        [f"{CASE}/e2", f"{CASE}/e0", f"{CASE}/e1", "case-", "CASE-ABC", "x", "", "case-a b"],
    )
    def test_anything_else_is_not(self, value: str) -> None:
        assert not is_case_id(value)


class TestTheCli:
    @pytest.mark.parametrize(
        "argv",
        [
            ("case", "erase", f"{CASE}/e2"),
            ("case", "show", f"{CASE}/e0"),
            ("case", "history", f"{CASE}/e1"),
            ("case", "episodes", "not-a-case"),
        ],
    )
    def test_an_episode_address_is_refused_with_exit_2(self, argv: tuple[str, ...]) -> None:
        proc = process(*argv)
        assert proc.returncode == cli.EXIT_BAD_INPUT, proc.stderr
        assert "argument case_id: not a case ID" in proc.stderr
        assert proc.stdout == "" and "Traceback" not in proc.stderr


class TestErasure:
    async def test_an_episode_address_is_refused_and_nothing_is_touched(
        self, store: SqliteKeyStore
    ) -> None:
        store.open_episode(CASE, after=0)
        store.open_episode(CASE, after=1)
        with pytest.raises(NotACaseId):
            # No client is needed: the refusal comes first.
            await erase_case(None, store, f"{CASE}/e2", by="dpo", why="request")  # type: ignore[arg-type]
        assert [(e.number, e.erased) for e in store.episodes(CASE)] == [(1, False), (2, False)]
