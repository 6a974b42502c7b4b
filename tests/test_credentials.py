"""`pathway credentials add/list` and credentials that follow their file: a token added while
the gateway and the codec server run is accepted at once, without a restart."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from pathway import cli
from pathway.access.credentials import (
    OPERATOR,
    ROLES,
    Credentials,
    CredentialsError,
    Principal,
    add_token,
    ensure_dev_credentials,
    hash_token,
    new_token,
)
from pathway.codec_server import RoleCaseAccess, create_codec_app
from pathway.domain.membership import MemberRole
from pathway.gateway import Authenticator, GatewaySettings, load_authenticator
from pathway.privacy.codec import CaseCodec
from tests import gateway_kit
from tests.keys import DerivedKeyStore

UI_ORIGIN = "http://127.0.0.1:8233"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def entry_toml(name: str, role: str, token: str) -> str:
    return f'[[tokens]]\nname = "{name}"\nrole = "{role}"\nsha256 = "{hash_token(token)}"\n'


@pytest.fixture
def creds_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file `pathway credentials` uses by default here: $PATHWAY_VAR/credentials.toml."""
    monkeypatch.setenv("PATHWAY_VAR", str(tmp_path))
    monkeypatch.delenv("PATHWAY_CREDENTIALS", raising=False)
    return tmp_path / "credentials.toml"


class TestAddToken:
    def test_stores_only_the_hash_in_a_0600_file(self, tmp_path: Path) -> None:
        """The token is returned once; the file (created, mode 0600) holds only its hash."""
        path = tmp_path / "sub" / "credentials.toml"
        entry, token = add_token(path, "caritas")
        text = path.read_text()
        assert token not in text and hash_token(token) in text
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert entry.name == "caritas-1" and entry.role == "caritas"
        assert Credentials.load(path).authenticate(token) == Principal(
            organisation="caritas", name="caritas-1"
        )

    def test_default_names_are_unique_and_existing_entries_stay(self, tmp_path: Path) -> None:
        """Default names count up per role; entries and comments already there are kept."""
        path = tmp_path / "credentials.toml"
        path.write_text("# our comment\n" + entry_toml("caritas-1", "caritas", "old-token"))
        second, token2 = add_token(path, "caritas")
        third, token3 = add_token(path, "caritas")
        operator, token_op = add_token(path, OPERATOR)
        assert [second.name, third.name, operator.name] == ["caritas-2", "caritas-3", "operator-1"]
        text = path.read_text()
        assert text.startswith("# our comment\n")
        credentials = Credentials.load(path)
        assert [(e.name, str(e.role)) for e in credentials.tokens] == [
            ("caritas-1", "caritas"),
            ("caritas-2", "caritas"),
            ("caritas-3", "caritas"),
            ("operator-1", "operator"),
        ]
        for token in ("old-token", token2, token3, token_op):
            assert credentials.authenticate(token) is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_adds_to_the_file_pathway_dev_created(self, tmp_path: Path) -> None:
        """The embedded default's file (with its operator) takes new entries."""
        path, operator_token = ensure_dev_credentials(tmp_path)
        assert operator_token is not None
        _, token = add_token(path, "police", "police-hq")
        credentials = Credentials.load(path)
        assert credentials.authenticate(operator_token) == Principal(
            organisation="operator", name="dev-operator"
        )
        assert credentials.authenticate(token) == Principal(organisation="police", name="police-hq")

    def test_inline_array_is_rewritten_validly(self, tmp_path: Path) -> None:
        """A file written as an inline array cannot be appended to: it is written anew."""
        path = tmp_path / "credentials.toml"
        path.write_text(
            f'tokens = [{{name = "a", role = "uoim", sha256 = "{hash_token("tok-a")}"}}]\n'
        )
        _, token = add_token(path, "uoim")
        credentials = Credentials.load(path)
        assert credentials.authenticate("tok-a") is not None
        assert credentials.authenticate(token) == Principal(organisation="uoim", name="uoim-1")

    def test_unknown_role_lists_the_valid_ones(self, tmp_path: Path) -> None:
        with pytest.raises(CredentialsError, match="valid roles: operator, police") as info:
            add_token(tmp_path / "credentials.toml", "nobody")
        assert all(role in str(info.value) for role in ROLES)
        assert not (tmp_path / "credentials.toml").exists()

    @pytest.mark.parametrize(
        "name", ["bad\nname", " leading-space", "x" * 101, 'quo"te', "back\\slash", "\x1b[31mred"]
    )
    def test_invalid_names_are_refused(self, tmp_path: Path, name: str) -> None:
        path = tmp_path / "credentials.toml"
        with pytest.raises(CredentialsError, match="invalid name"):
            add_token(path, "caritas", name)
        assert not path.exists()

    def test_taken_name_is_refused_and_nothing_changes(self, tmp_path: Path) -> None:
        path = tmp_path / "credentials.toml"
        add_token(path, "caritas", "ngo system")
        before = path.read_bytes()
        with pytest.raises(CredentialsError, match="already in"):
            add_token(path, "kljuc", "ngo system")
        assert path.read_bytes() == before

    def test_a_broken_file_is_left_alone(self, tmp_path: Path) -> None:
        path = tmp_path / "credentials.toml"
        path.write_text("[[tokens]]\nname = 'x'\nrole = 'caritas'\nsha256 = 'not-a-hash'\n")
        before = path.read_bytes()
        with pytest.raises(CredentialsError, match=r"tokens\[0\]\.sha256"):
            add_token(path, "caritas")
        assert path.read_bytes() == before

    def test_concurrent_adds_lose_nothing(self, tmp_path: Path) -> None:
        """Adds at the same moment (threads here, processes alike) each keep their entry."""
        path = tmp_path / "credentials.toml"
        tokens: list[str] = []
        lock = threading.Lock()

        def add(n: int) -> None:
            _, token = add_token(path, "police", f"police-system-{n}")
            with lock:
                tokens.append(token)

        threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        credentials = Credentials.load(path)
        assert len(credentials.tokens) == 8
        assert all(credentials.authenticate(token) is not None for token in tokens)


class TestCredentialsFollowTheFile:
    def test_a_token_added_later_authenticates(self, tmp_path: Path) -> None:
        """Loaded first, then a token added: the same object accepts it (no reload call)."""
        path = tmp_path / "credentials.toml"
        add_token(path, OPERATOR)
        credentials = Credentials.load(path)
        _, token = add_token(path, "caritas")
        assert credentials.authenticate(token) == Principal(
            organisation="caritas", name="caritas-1"
        )

    def test_a_removed_token_stops_working(self, tmp_path: Path) -> None:
        path = tmp_path / "credentials.toml"
        path.write_text(entry_toml("a", "police", "tok-a") + entry_toml("b", "uoim", "tok-b"))
        credentials = Credentials.load(path)
        assert credentials.authenticate("tok-a") is not None
        path.write_text(entry_toml("b", "uoim", "tok-b"))
        assert credentials.authenticate("tok-a") is None
        assert credentials.authenticate("tok-b") is not None

    def test_a_broken_version_keeps_the_last_valid_one(self, tmp_path: Path) -> None:
        """An invalid edit is logged once and ignored until the file is valid again."""
        path = tmp_path / "credentials.toml"
        path.write_text(entry_toml("a", "police", "tok-a"))
        credentials = Credentials.load(path)
        path.write_text(entry_toml("a", "police", "tok-a") + "[[tokens]\nbroken")
        with capture_logs() as logs:
            assert credentials.authenticate("tok-a") is not None
            assert credentials.authenticate("tok-a") is not None
        errors = [e for e in logs if e["log_level"] == "error"]
        assert len(errors) == 1 and "not valid TOML" in errors[0]["error"]
        assert "tok-a" not in str(logs) and hash_token("tok-a") not in str(logs)
        path.write_text(entry_toml("c", "kljuc", "tok-c"))
        assert credentials.authenticate("tok-c") is not None
        assert credentials.authenticate("tok-a") is None

    def test_built_directly_is_fixed(self) -> None:
        """Credentials made in code (tests, embedding) have no file and never change."""
        credentials = gateway_kit.credentials()
        assert credentials.source is None and credentials.current() is credentials

    async def test_gateway_authenticator_from_the_environment(self, tmp_path: Path) -> None:
        """`pathway gateway`'s authenticator (PATHWAY_CREDENTIALS) accepts a later token."""
        path = tmp_path / "gateway-credentials.toml"
        add_token(path, OPERATOR)
        authenticator = load_authenticator({"PATHWAY_CREDENTIALS": str(path)}, var_dir=tmp_path)
        _, token = add_token(path, "kljuc")
        assert await authenticator.authenticate(token) == Principal(
            organisation="kljuc", name="kljuc-1"
        )

    async def test_pathway_dev_credentials(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """What `pathway dev` loads (var/credentials.toml, created on first start) follows the
        file, both for the gateway's authenticator and for the codec server."""
        from pathway.dev import _credentials

        monkeypatch.delenv("PATHWAY_CREDENTIALS", raising=False)
        credentials = _credentials(tmp_path)
        assert "Operator token" in capsys.readouterr().out
        authenticator = load_authenticator({}, var_dir=tmp_path, credentials=credentials)
        code, out, _ = run(
            "credentials", "add", "caritas", "--file", str(tmp_path / "credentials.toml")
        )
        assert code == 0
        token = out.strip()
        assert await authenticator.authenticate(token) == Principal(
            organisation="caritas", name="caritas-1"
        )

    async def test_running_gateway_app_accepts_a_new_token(self, tmp_path: Path) -> None:
        """Through the gateway app: 401 before the token is added, past the door (503 from the
        absent Temporal) after, with the same app object."""
        path = tmp_path / "credentials.toml"
        add_token(path, OPERATOR)
        app = gateway_kit.gateway(
            await gateway_kit.unreachable_temporal(),
            GatewaySettings(pepper=b"p", temporal_timeout=1),
            Authenticator(Credentials.load(path)),
        )
        token = new_token()
        headers = {"Authorization": f"Bearer {token}"}
        async with gateway_kit.http(app) as client:
            before = await client.get("/v1/cases/case-abc", headers=headers)
            with path.open("a") as fh:  # by hand, as an administrator might
                fh.write("\n" + entry_toml("caritas-by-hand", "caritas", token))
            after = await client.get("/v1/cases/case-abc", headers=headers)
        assert before.status_code == 401
        assert after.status_code == 503

    async def test_running_codec_server_accepts_a_new_token(self, tmp_path: Path) -> None:
        """Through the codec server app: sign-in with a token added after it started."""
        path = tmp_path / "credentials.toml"
        add_token(path, OPERATOR)

        async def nobody(case_id: str, organisation: str) -> frozenset[MemberRole]:
            return frozenset()

        store = DerivedKeyStore()
        app = create_codec_app(
            codec=CaseCodec(store),
            credentials=Credentials.load(path),
            allowed_origin=UI_ORIGIN,
            case_access=RoleCaseAccess(nobody, store),
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://codec.test"
        ) as client:
            _, token = add_token(path, "caritas", "caritas web ui")
            login = await client.post(
                "/login", data={"token": token}, headers={"Origin": "http://codec.test"}
            )
        assert login.status_code == 200
        assert "caritas web ui" in login.text


class TestCli:
    def test_add_prints_only_the_token_on_stdout(self, creds_file: Path) -> None:
        code, out, err = run("credentials", "add", "caritas")
        assert code == 0
        assert out.count("\n") == 1
        token = out.strip()
        assert Credentials.load(creds_file).authenticate(token) == Principal(
            organisation="caritas", name="caritas-1"
        )
        assert token not in err and "caritas-1" in err and "only this once" in err
        assert "no operator token" in err  # the file is new

    def test_add_with_name_and_list(self, creds_file: Path) -> None:
        """list shows names and roles, never a token or a hash."""
        tokens = [
            run("credentials", "add", "operator")[1].strip(),
            run("credentials", "add", "kljuc", "--name", "Ključ case system")[1].strip(),
        ]
        code, out, _ = run("credentials", "list")
        assert code == 0
        assert out.splitlines() == ["operator-1         operator", "Ključ case system  kljuc"]
        for token in tokens:
            assert token not in out and hash_token(token) not in out
        code, out, _ = run("credentials", "list", "--json")
        assert code == 0 and "sha256" not in out
        assert out.count('"role"') == 2

    def test_remove_revokes_a_token_at_once(self, creds_file: Path) -> None:
        """remove takes the entry out in one step: a credentials object following the file (as
        a running server's does) refuses the token at its next check; the others stay."""
        operator = run("credentials", "add", "operator")[1].strip()
        police = run("credentials", "add", "police", "--name", "leaked")[1].strip()
        following = Credentials.load(creds_file)
        assert following.authenticate(police) is not None
        code, out, err = run("credentials", "remove", "leaked")
        assert code == 0 and out == ""
        assert "removed leaked (role police)" in err and police not in err
        assert following.authenticate(police) is None
        assert following.authenticate(operator) is not None
        assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
        assert run("credentials", "list")[1].splitlines() == ["operator-1  operator"]

    def test_remove_follows_a_symlink(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A service may read the file through a symlink: the target is rewritten (0600), not
        the link replaced by a file the service never reads, which would keep the revoked token
        in force (re-check finding F2)."""
        target = tmp_path / "secrets" / "credentials.toml"
        target.parent.mkdir()
        link = tmp_path / "credentials.toml"
        link.symlink_to(target)
        monkeypatch.setenv("PATHWAY_CREDENTIALS", str(link))
        run("credentials", "add", "operator")
        run("credentials", "add", "police", "--name", "leaked")
        target.chmod(0o644)
        assert run("credentials", "remove", "leaked")[0] == 0
        assert link.is_symlink() and "leaked" not in target.read_text()
        assert stat.S_IMODE(target.stat().st_mode) == 0o600

    def test_remove_refuses_an_unknown_name_and_the_last_entry(self, creds_file: Path) -> None:
        run("credentials", "add", "operator")
        before = creds_file.read_text()
        code, _, err = run("credentials", "remove", "nobody")
        assert code == cli.EXIT_BAD_INPUT and "no token named 'nobody'" in err
        code, _, err = run("credentials", "remove", "operator-1")
        assert code == cli.EXIT_BAD_INPUT and "holds the last token" in err
        assert creds_file.read_text() == before

    def test_unknown_role_is_exit_2_with_one_line(self, creds_file: Path) -> None:
        code, out, err = run("credentials", "add", "ngo")
        assert code == cli.EXIT_BAD_INPUT and out == ""
        assert err == ("error: unknown role 'ngo'; valid roles: " + ", ".join(ROLES) + "\n")
        assert not creds_file.exists()

    def test_bad_or_taken_name_is_exit_2(self, creds_file: Path) -> None:
        code, _, err = run("credentials", "add", "police", "--name", "line\nforged")
        assert code == cli.EXIT_BAD_INPUT
        assert err.count("\n") == 1 and "invalid name 'line\\nforged'" in err
        assert run("credentials", "add", "police", "--name", "hq")[0] == 0
        code, _, err = run("credentials", "add", "uoim", "--name", "hq")
        assert code == cli.EXIT_BAD_INPUT and "already in" in err

    def test_credentials_env_and_file_option(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """PATHWAY_CREDENTIALS names the file; --file overrides it."""
        env_file, other = tmp_path / "env.toml", tmp_path / "other.toml"
        monkeypatch.setenv("PATHWAY_CREDENTIALS", str(env_file))
        assert run("credentials", "add", "guardian")[0] == 0
        assert run("credentials", "add", "analyst", "--file", str(other))[0] == 0
        assert [str(e.role) for e in Credentials.load(env_file).tokens] == ["guardian"]
        assert [str(e.role) for e in Credentials.load(other).tokens] == ["analyst"]

    def test_list_without_a_file_is_exit_2(self, creds_file: Path) -> None:
        code, _, err = run("credentials", "list")
        assert code == cli.EXIT_BAD_INPUT and err.count("\n") == 1
        assert "does not exist" in err

    def test_as_a_shell_would_capture_it(self, tmp_path: Path) -> None:
        """TOKEN=$(pathway credentials add caritas): stdout is the token and nothing else."""
        env = {**os.environ, "PATHWAY_VAR": str(tmp_path)}
        env.pop("PATHWAY_CREDENTIALS", None)
        proc = subprocess.run(
            [sys.executable, "-m", "pathway.cli", "credentials", "add", "caritas"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        assert len(proc.stdout.splitlines()) == 1
        token = proc.stdout.strip()
        assert len(token) >= 40 and " " not in token
        assert Credentials.load(tmp_path / "credentials.toml").authenticate(token) is not None
