"""Who may call the gateway: API tokens stored as hashes, OIDC/JWT bearer tokens verified
against a JWKS served on 127.0.0.1, and no default credentials in production."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import RSAAlgorithm
from temporalio.client import Client

from pathway import cli
from pathway.access.credentials import OPERATOR, Principal, hash_token
from pathway.gateway import (
    Authenticator,
    AuthUnavailable,
    GatewayConfigError,
    GatewaySettings,
    JwtSettings,
    JwtVerifier,
    load_authenticator,
)
from pathway.settings import SettingsError
from tests import gateway_kit
from tests.gateway_kit import TOKENS, assert_problem, bearer, credentials, gateway, http

ISSUER = "https://idp.pathway.test/realms/pathway"
AUDIENCE = "pathway-gateway"
ROLE_CLAIM = "pathway_role"


def rsa_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class JwksServer:
    """An identity provider's JWKS endpoint on 127.0.0.1, counting fetches; ``down`` makes it
    answer 503."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.down = False
        self._server: ThreadingHTTPServer | None = None

    def publish(self, key: RSAPrivateKey, kid: str) -> None:
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self.keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/jwks"

    def __enter__(self) -> JwksServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(503 if owner.down else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def signing_key() -> RSAPrivateKey:
    return rsa_key()


@pytest.fixture
def idp(signing_key: RSAPrivateKey) -> Iterator[JwksServer]:
    with JwksServer() as server:
        server.publish(signing_key, "k1")
        yield server


def settings_for(idp: JwksServer, **overrides: Any) -> JwtSettings:
    return JwtSettings(
        jwks_url=idp.url, issuer=ISSUER, audience=AUDIENCE, role_claim=ROLE_CLAIM, **overrides
    )


def token(
    key: RSAPrivateKey,
    *,
    kid: str | None = "k1",
    algorithm: str = "RS256",
    expires_in: float = 300,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "caritas-case-system",
        ROLE_CLAIM: "caritas",
        "iat": now,
        "exp": now + expires_in,
    }
    payload.update(claims)
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(
        {k: v for k, v in payload.items() if v is not None},
        key,
        algorithm=algorithm,
        headers=headers,
    )


@pytest_asyncio.fixture
async def unreachable_temporal() -> Client:
    """A client for a Temporal that is not there: requests that get past authentication and
    authorisation end in 503, the others never reach it."""
    return await gateway_kit.unreachable_temporal()


class TestApiTokens:
    """Organisations' API tokens, stored only as hashes."""

    async def test_known_token_is_its_role(self) -> None:
        """A token from the credentials file authenticates as its role."""
        principal = await Authenticator(credentials()).authenticate(TOKENS["kljuc"])
        assert principal == Principal(organisation="kljuc", name="kljuc-system")

    async def test_unknown_or_empty_token_is_nobody(self) -> None:
        """A made-up, a hash-instead-of-token or an empty token authenticates nobody."""
        authenticator = Authenticator(credentials())
        assert await authenticator.authenticate("made-up-token") is None
        assert await authenticator.authenticate(hash_token(TOKENS["police"])) is None
        assert await authenticator.authenticate("   ") is None

    @pytest.mark.parametrize(
        "header", [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "]
    )
    async def test_401_without_a_valid_token(
        self, unreachable_temporal: Client, header: str | None
    ) -> None:
        """No header, an unknown token or another scheme: 401 problem with WWW-Authenticate."""
        app = gateway(unreachable_temporal, GatewaySettings(pepper=b"p"))
        headers = {"Authorization": header} if header is not None else {}
        async with http(app) as client:
            response = await client.get("/v1/cases/case-abc", headers=headers)
        assert_problem(response, 401, type="urn:pathway:problem:authentication-required")
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_valid_token_gets_past_the_door(self, unreachable_temporal: Client) -> None:
        """A valid token is authenticated: the request goes on to Temporal (here: 503)."""
        app = gateway(unreachable_temporal, GatewaySettings(pepper=b"p", temporal_timeout=1))
        async with http(app) as client:
            response = await client.get("/v1/cases/case-abc", headers=bearer("caritas"))
        assert_problem(response, 503)

    @pytest.mark.parametrize("second", ["valid", "same", "bogus"])
    @pytest.mark.parametrize("route", ["/v1/cases/case-abc", "/v1/obligations"])
    async def test_two_authorization_headers_are_400(
        self, unreachable_temporal: Client, second: str, route: str
    ) -> None:
        """Two Authorization headers (another organisation's token, the same token twice, or a
        made-up one after a valid one) are refused with 400 naming the header: the first does
        not win, and neither is looked at."""
        app = gateway(unreachable_temporal, GatewaySettings(pepper=b"p", temporal_timeout=1))
        other = {
            "valid": bearer("police"),
            "same": bearer("caritas"),
            "bogus": {"Authorization": "Bearer made-up"},
        }[second]
        headers = [*bearer("caritas").items(), *other.items()]
        async with http(app) as client:
            response = await client.get(route, headers=headers)
        body = assert_problem(response, 400, type="urn:pathway:problem:malformed-request")
        assert body["header"] == "Authorization" and "Authorization" in body["detail"]
        assert TOKENS["caritas"] not in response.text


class TestJwt:
    """Bearer JWTs from the deployment's identity provider."""

    async def test_valid_token(self, idp: JwksServer, signing_key: RSAPrivateKey) -> None:
        """A token signed by a published key, for this audience and issuer, names its role."""
        verifier = JwtVerifier(settings_for(idp))
        principal = await verifier.verify(token(signing_key))
        assert principal == Principal(organisation="caritas", name="caritas-case-system")

    @pytest.mark.parametrize(
        "subject", ["ana.novak@caritas.si", "Ana Novak", "O'Brien", "x\nforged line"]
    )
    async def test_a_personal_or_unprintable_subject_is_logged_as_a_pseudonym(
        self, idp: JwksServer, signing_key: RSAPrivateKey, subject: str
    ) -> None:
        """A provider that puts the person in ``sub`` (an e-mail address, a name) does not put
        them in the logs: the principal's name is a stable ``jwt-`` pseudonym (no personal data
        in log lines; the same subject, the same pseudonym)."""
        verifier = JwtVerifier(settings_for(idp))
        first = await verifier.verify(token(signing_key, sub=subject))
        again = await verifier.verify(token(signing_key, sub=subject))
        assert first is not None and again is not None
        assert first.organisation == "caritas" and first.name == again.name
        assert first.name.startswith("jwt-") and len(first.name) == 20
        assert subject not in first.name

    async def test_valid_token_over_http(
        self, idp: JwksServer, signing_key: RSAPrivateKey, unreachable_temporal: Client
    ) -> None:
        """Through the app, a valid JWT is authenticated (the request reaches Temporal)."""
        authenticator = Authenticator(jwt_verifier=JwtVerifier(settings_for(idp)))
        app = gateway(
            unreachable_temporal, GatewaySettings(pepper=b"p", temporal_timeout=1), authenticator
        )
        async with http(app) as client:
            response = await client.get(
                "/v1/cases/case-abc", headers={"Authorization": f"Bearer {token(signing_key)}"}
            )
        assert_problem(response, 503)

    @pytest.mark.parametrize(
        ("claims", "why"),
        [
            ({"expires_in": -120}, "expired (beyond the leeway)"),
            ({"aud": "another-service"}, "wrong audience"),
            ({"iss": "https://evil.test"}, "wrong issuer"),
            ({ROLE_CLAIM: None}, "no role claim"),
            ({ROLE_CLAIM: "superuser"}, "not a role"),
            ({"exp": None}, "no expiry"),
        ],
    )
    async def test_invalid_claims_are_401(
        self,
        idp: JwksServer,
        signing_key: RSAPrivateKey,
        unreachable_temporal: Client,
        claims: dict[str, Any],
        why: str,
    ) -> None:
        """An expired token, another audience or issuer, or no usable role: 401."""
        authenticator = Authenticator(jwt_verifier=JwtVerifier(settings_for(idp)))
        app = gateway(unreachable_temporal, GatewaySettings(pepper=b"p"), authenticator)
        async with http(app) as client:
            response = await client.get(
                "/v1/cases/case-abc",
                headers={"Authorization": f"Bearer {token(signing_key, **claims)}"},
            )
        assert_problem(response, 401)

    async def test_wrong_key_is_refused(self, idp: JwksServer) -> None:
        """A token signed by a key the provider did not publish, under a published key ID,
        is refused."""
        verifier = JwtVerifier(settings_for(idp))
        assert await verifier.verify(token(rsa_key(), kid="k1")) is None

    async def test_symmetric_and_unsigned_tokens_are_refused(
        self, idp: JwksServer, signing_key: RSAPrivateKey
    ) -> None:
        """HS256 (a public key abused as a shared secret) and alg=none are refused."""
        verifier = JwtVerifier(settings_for(idp))
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            ROLE_CLAIM: OPERATOR,
            "exp": int(time.time()) + 60,
        }
        # Made by hand: PyJWT itself refuses to use a public key as an HMAC secret.
        public_pem = signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signing_input = b".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=")
            for part in ({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims)
        )
        mac = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
        hs = (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()
        unsigned = jwt.encode(claims, "", algorithm="none")
        assert await verifier.verify(hs) is None
        assert await verifier.verify(unsigned) is None
        assert await verifier.verify("not.a.jwt") is None

    async def test_keys_are_cached_and_rotation_refetches(
        self, idp: JwksServer, signing_key: RSAPrivateKey
    ) -> None:
        """Keys are fetched once; a token under a new key ID fetches them again."""
        verifier = JwtVerifier(settings_for(idp, jwks_refresh_seconds=0))
        assert await verifier.verify(token(signing_key)) is not None
        assert await verifier.verify(token(signing_key)) is not None
        assert idp.fetches == 1
        rotated = rsa_key()
        idp.publish(rotated, "k2")
        police: dict[str, Any] = {ROLE_CLAIM: "police"}
        principal = await verifier.verify(token(rotated, kid="k2", **police))
        assert principal is not None and principal.role == "police"
        assert idp.fetches == 2

    async def test_unknown_key_ids_do_not_hammer_the_provider(
        self, idp: JwksServer, signing_key: RSAPrivateKey
    ) -> None:
        """Made-up key IDs refetch the keys at most once per refresh interval."""
        verifier = JwtVerifier(settings_for(idp, jwks_refresh_seconds=3600))
        await verifier.verify(token(signing_key))
        for n in range(5):
            assert await verifier.verify(token(signing_key, kid=f"made-up-{n}")) is None
        assert idp.fetches == 1

    async def test_provider_down_is_503(
        self, idp: JwksServer, signing_key: RSAPrivateKey, unreachable_temporal: Client
    ) -> None:
        """When the keys cannot be fetched, the answer is 503 with Retry-After, not 401 (the
        token may well be good)."""
        idp.down = True
        verifier = JwtVerifier(settings_for(idp))
        with pytest.raises(AuthUnavailable):
            await verifier.verify(token(signing_key))
        app = gateway(
            unreachable_temporal, GatewaySettings(pepper=b"p"), Authenticator(jwt_verifier=verifier)
        )
        async with http(app) as client:
            response = await client.get(
                "/v1/cases/case-abc", headers={"Authorization": f"Bearer {token(signing_key)}"}
            )
        assert_problem(response, 503, type="urn:pathway:problem:authentication-unavailable")
        assert response.headers["retry-after"] == "5"

    async def test_api_tokens_still_work_beside_jwt(self, idp: JwksServer) -> None:
        """With both configured, an API token is checked against the credentials file."""
        authenticator = Authenticator(credentials(), JwtVerifier(settings_for(idp)))
        principal = await authenticator.authenticate(TOKENS["police"])
        assert principal is not None and principal.role == "police"
        assert idp.fetches == 0


class TestConfiguration:
    """How the gateway's authentication is configured, and refused."""

    def test_production_without_credentials_refuses_to_start(self, tmp_path: Path) -> None:
        """PATHWAY_MODE=production without a credentials file or JWKS refuses, and creates
        no default credentials."""
        with pytest.raises(GatewayConfigError, match="no default credentials in production"):
            load_authenticator({"PATHWAY_MODE": "production"}, var_dir=tmp_path)
        assert list(tmp_path.iterdir()) == []

    def test_production_with_a_credentials_file(self, tmp_path: Path) -> None:
        """Production starts with PATHWAY_CREDENTIALS."""
        path = tmp_path / "credentials.toml"
        path.write_text(
            f'[[tokens]]\nname = "kljuc-system"\nrole = "kljuc"\n'
            f'sha256 = "{hash_token(TOKENS["kljuc"])}"\n'
        )
        authenticator = load_authenticator(
            {"PATHWAY_MODE": "production", "PATHWAY_CREDENTIALS": str(path)}, var_dir=tmp_path
        )
        assert authenticator.credentials is not None and authenticator.jwt is None

    def test_production_with_jwks_needs_https(self, tmp_path: Path) -> None:
        """Production accepts a JWKS configuration over https only."""
        env = {
            "PATHWAY_MODE": "production",
            "PATHWAY_JWT_ISSUER": ISSUER,
            "PATHWAY_JWT_AUDIENCE": AUDIENCE,
            "PATHWAY_JWT_ROLE_CLAIM": ROLE_CLAIM,
        }
        with pytest.raises(GatewayConfigError, match="https"):
            load_authenticator(
                {**env, "PATHWAY_JWKS_URL": "http://idp.test/jwks"}, var_dir=tmp_path
            )
        authenticator = load_authenticator(
            {**env, "PATHWAY_JWKS_URL": "https://idp.test/jwks"}, var_dir=tmp_path
        )
        assert authenticator.jwt is not None and authenticator.credentials is None

    def test_partial_jwt_configuration_is_refused(self, tmp_path: Path) -> None:
        """A JWKS URL without issuer, audience and role claim is refused, naming them (by the
        settings model, before any authenticator is made)."""
        with pytest.raises(SettingsError, match="missing: PATHWAY_JWT_ISSUER"):
            load_authenticator({"PATHWAY_JWKS_URL": "https://idp.test/jwks"}, var_dir=tmp_path)

    def test_dev_default_creates_an_operator_token(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Outside production, the embedded default's credentials file is created with one
        operator token, printed once."""
        authenticator = load_authenticator({}, var_dir=tmp_path)
        printed = capsys.readouterr().out.split()
        assert authenticator.credentials is not None
        tokens = authenticator.credentials.tokens
        assert [entry.role for entry in tokens] == [OPERATOR]
        assert any(hash_token(word) == tokens[0].sha256 for word in printed)

    def test_cli_refuses_production_without_credentials(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`pathway gateway` in production without credentials exits 2 naming the cause,
        before it connects to anything."""
        monkeypatch.setenv("PATHWAY_MODE", "production")
        monkeypatch.setenv("PATHWAY_VAR", str(tmp_path))
        monkeypatch.delenv("PATHWAY_CREDENTIALS", raising=False)
        out, err = io.StringIO(), io.StringIO()
        code = cli.run(["gateway", "--port", "18080"], out, err)
        assert code == cli.EXIT_BAD_INPUT
        assert "no default credentials in production" in err.getvalue()
