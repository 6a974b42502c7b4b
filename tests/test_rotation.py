"""Master-key rotation while a case is running, on the real dev server: the case goes on under
the new ring, new cases are wrapped by the new key, and after re-wrapping the old master key can
go without losing a single payload."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from pathway import search_attributes
from pathway.domain.events import Identified
from pathway.domain.state import Phase
from pathway.privacy.history import fetch_decoded_history
from pathway.privacy.keys import MasterKeyRing, SqliteKeyStore, create_master_key
from pathway.temporal_binaries import temporal_cli_path
from pathway.temporal_connection import data_converter
from tests.factories import EU_ADULT, event
from tests.harness import bench, receivers
from tests.receivers import DEV_SERVER_STARTUP

pytestmark = pytest.mark.devserver


def store_with(keys_dir: Path, db: Path) -> SqliteKeyStore:
    ring = MasterKeyRing({p.stem: bytes.fromhex(p.read_text()) for p in keys_dir.glob("*.key")})
    return SqliteKeyStore(db, ring)


class TestRotation:
    async def test_case_runs_across_a_master_key_rotation(self, tmp_path: Path) -> None:
        """A case opened under master key 1 keeps running after the workers restart with keys
        1 and 2, a new case is wrapped by key 2, and after `rewrap` both cases decode with
        key 2 alone."""
        keys, db = tmp_path / "mk", tmp_path / "keys.db"
        old_id = create_master_key(keys)
        first = store_with(keys, db)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal_cli_path()),
            dev_server_startup_timeout=DEV_SERVER_STARTUP,
            ui=False,
            data_converter=data_converter(first),
            search_attributes=list(search_attributes.ALL),
        )
        target = env.client.service_client.config.target_host
        async with env, receivers() as wires:
            async with bench(
                env, upsert_search_attributes=True, queue="rotation", wires=wires
            ) as b:
                ident = event(
                    "identified",
                    await b.now(),
                    person=dict(EU_ADULT),
                    subject_ref="before-rotation",
                )
                assert isinstance(ident, Identified)
                running, _ = await b.open(ident)
                await b.settled(running)
            assert first.master_key_use() == {old_id: 1}

            new_id = create_master_key(keys)  # the rotation: workers restart with both keys
            rotated = store_with(keys, db)
            client = await Client.connect(target, data_converter=data_converter(rotated))
            rotated_env = WorkflowEnvironment.from_client(client)
            async with bench(
                rotated_env, upsert_search_attributes=True, queue="rotation", wires=wires
            ) as b:
                result = await b.send(running, event("crisis_accommodation_placed", await b.now()))
                assert result.phase is Phase.REFLECTION
                ident = event(
                    "identified", await b.now(), person=dict(EU_ADULT), subject_ref="after-rotation"
                )
                assert isinstance(ident, Identified)
                fresh, _ = await b.open(ident)
                await b.settled(fresh)
                assert rotated.master_key_use() == {old_id: 1, new_id: 1}
                assert rotated.rewrap_all() == 1
                assert rotated.master_key_use() == {new_id: 2}

            shutil.move(keys / f"{old_id}.key", tmp_path / "retired.key")
            only_new = store_with(keys, db)
            client = await Client.connect(target, data_converter=data_converter(only_new))
            async with bench(
                WorkflowEnvironment.from_client(client),
                upsert_search_attributes=True,
                queue="rotation",
                wires=wires,
            ) as b:
                for case_id in (running, fresh):
                    history = await fetch_decoded_history(b.client, case_id)
                    assert b"eu_citizen" in history.SerializeToString()  # decrypted facts
                done = await b.send(running, event("departed", await b.now(), arbitrary=False))
                assert done.phase is Phase.DECLINED_LEFT
