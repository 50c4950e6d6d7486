"""Offline checks of the deployment files in deploy/ (no Docker engine, no cluster, no network).

- compose.yaml against the Compose specification (check-jsonschema's vendored schema) and compose's
  interpolation rules;
- every Kubernetes manifest against the OpenAPI schemas that kubernetes-validate ships, strictly;
- the Dockerfile's supply chain (project files and package registries only), user, entry point and health check;
- every environment variable handed to a cutru process is one that cutru actually reads;
- the production shape (issue 21): only the API and the workers hold the Temporal credentials, the decision keys
  and the database's application role; every pod runs non-root with probes; the codec server verifies tokens; the
  Web UI is read-only; Temporal's JWT authorizer, and the realm that gives the namespace's write permission to the
  cutru-api and cutru-worker service accounts alone;
- the Grafana dashboard and the Prometheus alert rules.

Each checker also runs against a deliberately broken input, so a checker that stopped checking fails too.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cutru.platform.oidc import Role

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose" / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "compose" / ".env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
RUNTIME_LOCK = "requirements/runtime.txt"
DOCKERIGNORE = ROOT / ".dockerignore"
KUBE_DIR = DEPLOY / "kubernetes"
DASHBOARD = DEPLOY / "grafana" / "cutru-dashboard.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
TEMPORAL_DIR = DEPLOY / "temporal"
HELM_VALUES = TEMPORAL_DIR / "values.yaml"
REALM_FILE = DEPLOY / "compose" / "keycloak" / "cutru-realm.json"
PRODUCTION_DOC = ROOT / "docs" / "production.md"

# Oldest Kubernetes release the manifests promise to work on; its schemas ship inside kubernetes-validate.
KUBERNETES_VERSION = "1.30.0"
SECRET_TEMPLATE = "secret.template.yaml"
WORKER_METRICS_PORT = 9464

# Read by cutru.platform.codec (KeyRing.from_env); named here as well in case the module is renamed.
CODEC_KEY_VARS = {"CUTRU_PAYLOAD_KEYS", "CUTRU_PAYLOAD_KEY_FILE"}
API_PORT = 8000


def _bin(name: str) -> str:
    """An executable of the interpreter's environment (the venv), not whatever is first on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    assert found, f"{name} is not installed (pip install -e '.[dev]')"
    return found


# ----------------------------------------------------------------------------------------- what cutru reads


def _module_env_names(path: Path) -> set[str]:
    """Variable names a module reads: the values of ``_ENV``-style mappings (``_ENV``, ``GATEWAY_ENV``, ...) and
    ``TEMPORAL_VARIABLES`` (what envconfig reads), ``ENV_* = "..."`` constants and string literals passed to
    os.environ.get / os.getenv / os.environ[...]."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[object] = set()
    for node in ast.walk(tree):
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and value is not None:
            if target.id.endswith("_ENV") and isinstance(value, ast.Dict):
                found |= {v.value for v in value.values if isinstance(v, ast.Constant)}
            elif target.id == "TEMPORAL_VARIABLES" and isinstance(value, ast.Tuple):
                found |= {v.value for v in value.elts if isinstance(v, ast.Constant)}
            elif target.id.startswith("ENV_") and isinstance(value, ast.Constant):
                found.add(value.value)
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            if ast.unparse(node.func) in {"os.environ.get", "os.getenv", "environ.get"}:
                found.add(node.args[0].value)
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            if ast.unparse(node.value) == "os.environ":
                found.add(node.slice.value)
    return {name for name in found if isinstance(name, str)}


def config_env_names() -> set[str]:
    names = _module_env_names(ROOT / "cutru" / "platform" / "config.py")
    assert "TEMPORAL_ADDRESS" in names and "DATABASE_URL" in names, "cutru/platform/config.py's _ENV mapping not found"
    return names


def _modules_env_names(*modules: str) -> set[str]:
    names: set[str] = set()
    for module in modules:
        path = ROOT / module
        assert path.exists(), f"{module} is gone: say in tests/test_deploy.py which module reads its variables now"
        names |= _module_env_names(path)
    return names


def worker_env_names() -> set[str]:
    """The worker: the core settings, the payload and decision keys, the payment gateway's settings, the store its
    history sweep exports to."""
    return config_env_names() | CODEC_KEY_VARS | _modules_env_names(
        "cutru/platform/codec.py", "cutru/platform/signing.py", "activities/payment.py", "cutru/platform/storage.py")


def api_env_names() -> set[str]:
    """The API: what the worker reads (it starts dossiers and verifies gateway callbacks with the same settings),
    plus its own and the token verifier's."""
    return worker_env_names() | _modules_env_names("cutru/api/settings.py", "cutru/platform/oidc.py")


def codec_server_env_names() -> set[str]:
    """The payload keys, the token verifier's, and the database's (where each decode is recorded)."""
    database = {name for name in config_env_names() if name == "DATABASE_URL" or name.startswith("CUTRU_DATABASE_")}
    return CODEC_KEY_VARS | database | _modules_env_names("cutru/platform/codec.py", "cutru/service/codec_server.py",
                                                          "cutru/service/options.py", "cutru/platform/oidc.py")


def config_search_attributes() -> dict[str, str]:
    tree = ast.parse((ROOT / "cutru" / "platform" / "config.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign | ast.Assign):
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            if isinstance(target, ast.Name) and target.id == "SEARCH_ATTRIBUTES" and node.value is not None:
                value = ast.literal_eval(node.value)
                assert isinstance(value, dict)
                return value
    raise AssertionError("SEARCH_ATTRIBUTES not found in cutru/platform/config.py")


def test_env_name_discovery_reads_the_modules() -> None:
    names = worker_env_names()
    assert {"CUTRU_TASK_QUEUE", "TEMPORAL_TLS_CLIENT_CERT_PATH", "CUTRU_METRICS_PORT",
            "CUTRU_PAYLOAD_KEY_FILE", "CUTRU_DECISION_KEY_FILE", "CUTRU_PAYMENT_HASH_SECRET"} <= names
    assert "CUTRU_NOT_A_SETTING" not in names
    assert {"CUTRU_API_PORT", "CUTRU_OIDC_ISSUER", "CUTRU_OIDC_ROLES_CLAIM"} <= api_env_names()
    assert "CUTRU_OIDC_AUDIENCE" in codec_server_env_names()
    assert not {"TEMPORAL_ADDRESS", "CUTRU_DECISION_KEYS"} & codec_server_env_names()
    assert "DATABASE_URL" in codec_server_env_names()  # its record of each decode


# ------------------------------------------------------------------------------------------------ compose


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_bin("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_matches_the_compose_specification() -> None:
    result = _check_jsonschema(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_rejects_an_invalid_file(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  worker:\n    image: cutru\n    restart_policy: always\n", encoding="utf-8")
    assert _check_jsonschema(bad).returncode != 0


# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}; `$$` is a literal dollar.
_INTERPOLATION = re.compile(r"\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?[-?+])[^}]*)?\}")


def interpolation_errors(text: str) -> list[str]:
    """Dollar signs compose would misread: `$name` is interpolated from the host environment (a shell
    variable meant for the container must be written `$$name`), and a malformed `${...}` is an error."""
    errors = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        rest = _INTERPOLATION.sub("", line)
        if "$" in rest:
            errors.append(f"line {lineno}: {line.strip()}")
    return errors


def test_compose_interpolation_is_well_formed() -> None:
    assert interpolation_errors(COMPOSE_FILE.read_text(encoding="utf-8")) == []
    assert interpolation_errors('command: echo "$HOME"') != []
    assert interpolation_errors("image: ${IMAGE:-cutru}  # $$ok") == []


def _required_compose_vars() -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):\?", COMPOSE_FILE.read_text(encoding="utf-8")))


def test_compose_secrets_come_from_the_env_file_with_placeholders_only() -> None:
    required = _required_compose_vars()
    # Encryption and signing are required: no empty default lets the stack start without them.
    assert {"TEMPORAL_DB_PASSWORD", "CUTRU_DB_PASSWORD", "CUTRU_PAYLOAD_KEYS", "CUTRU_DECISION_KEYS",
            "KEYCLOAK_ADMIN_PASSWORD"} <= required
    example: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            example[name.strip()] = value.strip()
    assert required <= set(example), f"missing from .env.example: {sorted(required - set(example))}"
    secret_like = re.compile(r"(PASSWORD|PAYLOAD_KEYS|DECISION_KEYS|CODEC_TOKEN|API_KEY|SECRET)$")
    for name, value in example.items():
        if secret_like.search(name):
            assert value == "" or "REPLACE_ME" in value, f"{name} in .env.example must be a placeholder"
    # Every variable of .env.example is one that compose.yaml uses.
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text(encoding="utf-8")))
    assert set(example) - {"COMPOSE_PROJECT_NAME"} <= used, sorted(set(example) - used)


def test_every_setting_is_documented_in_the_reference() -> None:
    reference = PRODUCTION_DOC.read_text(encoding="utf-8")
    compose_vars = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text(encoding="utf-8")))
    for name in sorted(compose_vars | api_env_names() | codec_server_env_names()):
        assert f"`{name}`" in reference, f"{name} is not in the variable reference of docs/production.md"


def test_compose_stack_shape() -> None:
    services = load_compose()["services"]
    for name in (
        "temporal-postgresql",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "keycloak",
        "cutru-postgresql",
        "cutru-migrate",
        "cutru-api",
        "codec-server",
        "cutru-worker",
    ):
        assert name in services, name
    worker = services["cutru-worker"]
    assert worker["deploy"]["replicas"] == "${CUTRU_WORKER_REPLICAS:-2}"
    assert worker["depends_on"]["cutru-migrate"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["temporal-setup"]["condition"] == "service_completed_successfully"
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    # The image's entry point is `cutru`; each service names its subcommand.
    assert worker["healthcheck"]["test"] == ["CMD", "cutru", "worker", "--check"]
    assert worker["command"] == ["worker"]
    assert services["cutru-migrate"]["command"] == ["migrate"]
    assert services["cutru-api"]["command"] == ["api"]
    assert services["codec-server"]["command"][0] == "codec-server"
    for name in ("cutru-worker", "cutru-migrate", "cutru-api", "codec-server"):
        assert "entrypoint" not in services[name], name
    api = services["cutru-api"]
    assert api["depends_on"]["cutru-migrate"]["condition"] == "service_completed_successfully"
    assert api["depends_on"]["keycloak"]["condition"] == "service_healthy"
    assert api["environment"]["CUTRU_API_PORT"] == str(API_PORT)
    assert any(p.endswith(f":{API_PORT}") for p in api["ports"])
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    ui_env = services["temporal-ui"]["environment"]
    assert "TEMPORAL_CODEC_ENDPOINT" in ui_env
    assert any(p.endswith(":8080") and "8233" in p for p in services["temporal-ui"]["ports"])
    # The two PostgreSQL servers keep Temporal's and the domain's data apart.
    assert services["temporal-postgresql"]["volumes"] != services["cutru-postgresql"]["volumes"]
    # Pinned images, never :latest.
    for name, service in services.items():
        image = service.get("image", "")
        assert image and not image.endswith(":latest"), f"{name}: {image!r}"


def test_compose_schema_job_sets_up_both_temporal_databases() -> None:
    script = load_compose()["services"]["temporal-schema"]["command"][0]
    for db in ("temporal", "temporal_visibility"):
        assert f"--db {db} setup-schema" in script
        assert f"--db {db} update-schema" in script
    assert "/etc/temporal/schema/postgresql/v12" in script
    assert "/temporal/versioned" in script and "/visibility/versioned" in script


def test_compose_registers_the_search_attributes_cutru_uses() -> None:
    script = load_compose()["services"]["temporal-setup"]["command"][0]
    assert "temporal operator search-attribute create" in script
    registered = dict(pair.split(":") for pair in re.findall(r"\b(\w+:(?:Keyword|Datetime|Bool|Int|Text))\b", script))
    assert registered == config_search_attributes()


def test_compose_cutru_services_pass_only_known_variables() -> None:
    services = load_compose()["services"]
    allowed = {
        "cutru-worker": worker_env_names(),
        "cutru-api": api_env_names(),
        "cutru-migrate": config_env_names(),
        "codec-server": codec_server_env_names(),
    }
    for name, known in allowed.items():
        env = services[name]["environment"]
        assert isinstance(env, dict), f"{name}: use the mapping form of environment"
        unknown = set(env) - known
        assert not unknown, f"{name} sets variables cutru does not read: {sorted(unknown)}"
    assert "DATABASE_URL" in services["cutru-worker"]["environment"]
    assert "CUTRU_PAYLOAD_KEYS" in services["cutru-worker"]["environment"]


# ------------------------------------------------------------------------------------------------ Dockerfile


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined, heredoc bodies attached to their
    instruction and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    heredoc_end: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if heredoc_end is not None:
            if line == heredoc_end:
                heredoc_end = None
            else:
                keyword, args = instructions[-1]
                instructions[-1] = (keyword, f"{args}\n{raw}")
            continue
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        heredoc = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", args)
        if heredoc:
            heredoc_end = heredoc.group(1)
    return instructions


def dockerfile_problems(text: str) -> list[str]:
    instructions = dockerfile_instructions(text)
    problems: list[str] = []
    args = {}
    for keyword, rest in instructions:
        if keyword == "ARG" and "=" in rest:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()

    for keyword, rest in instructions:
        if keyword == "ADD" and re.search(r"https?://|git@", rest):
            problems.append(f"ADD from the network: {rest}")
        if keyword == "RUN":
            if re.search(r"\b(curl|wget)\b", rest):
                problems.append(f"download in RUN: {rest}")
            for pip in re.findall(r"pip3?\s+install[^;&|]*", rest):
                if re.search(r"https?://|git\+|--index-url|--extra-index-url|--trusted-host|-i\s", pip):
                    problems.append(f"pip install from outside the registry/project: {pip}")
    pip_installs = [pip for keyword, rest in instructions if keyword == "RUN"
                    for pip in re.findall(r"pip3?\s+install[^;&|]*", rest)]
    # Dependencies come only from the runtime lock, with their hashes; the project itself adds none.
    requirement_files = [file for cmd in pip_installs for file in re.findall(r"(?:-r|--requirement)\s+(\S+)", cmd)]
    if requirement_files != [RUNTIME_LOCK]:
        problems.append(f"dependencies not installed from {RUNTIME_LOCK} alone: {requirement_files}")
    if not any(RUNTIME_LOCK in cmd and "--require-hashes" in cmd for cmd in pip_installs):
        problems.append(f"{RUNTIME_LOCK} installed without --require-hashes")
    projects = [cmd for cmd in pip_installs if re.search(r"\s\.(\s|$)", cmd)]
    if not projects:
        problems.append("the project is not installed with `pip install ... .`")
    for cmd in pip_installs:
        if cmd in projects and "--no-deps" not in cmd.split():
            problems.append(f"the project install resolves dependencies beside the lock: {cmd}")
        elif cmd not in projects and not re.search(r"(?:-r|--requirement)\s", cmd):
            problems.append(f"installs packages beside the lock: {cmd}")
    for cmd in pip_installs:
        if re.search(r"\.\[|local|cutru-local|requirements/dev", cmd):
            problems.append(f"extras or the local stack in the image: {cmd}")

    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    if len(froms) < 2:
        problems.append("not a multi-stage build")
    base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), froms[-1] if froms else "")
    if not base.startswith("python:3.11-slim"):
        problems.append(f"runtime stage is not python:3.11-slim: {base}")

    users = [rest for keyword, rest in instructions if keyword == "USER"]
    if not users:
        problems.append("no USER: the container would run as root")
    else:
        user = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), users[-1]).split(":")[0]
        if user in {"root", "0", ""}:
            problems.append(f"runs as root: USER {users[-1]}")

    entrypoints = [rest for keyword, rest in instructions if keyword == "ENTRYPOINT"]
    if not entrypoints or json.loads(entrypoints[-1]) != ["cutru"]:
        problems.append('ENTRYPOINT is not ["cutru"]')
    cmds = [rest for keyword, rest in instructions if keyword == "CMD"]
    if not cmds or json.loads(cmds[-1]) != ["worker"]:
        problems.append('CMD is not ["worker"]: `docker run IMAGE` must start a worker')
    healthchecks = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    if not healthchecks or not re.search(r'"cutru",\s*"worker",\s*"--check"', healthchecks[-1]):
        problems.append("HEALTHCHECK does not run `cutru worker --check`")
    exposed = " ".join(rest for keyword, rest in instructions if keyword == "EXPOSE").split()
    if str(WORKER_METRICS_PORT) not in exposed:
        problems.append(f"port {WORKER_METRICS_PORT} not exposed")
    return problems


def test_dockerfile_is_small_non_root_and_installs_only_the_project() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("USER ${CUTRU_UID}:${CUTRU_UID}", "USER root"), "runs as root"),
        (lambda t: re.sub(r"\nUSER [^\n]*", "\n", t), "no USER"),
        (lambda t: t + "\nRUN curl -fsSL https://example.com/tool -o /usr/local/bin/tool\n", "download in RUN"),
        (lambda t: t + "\nADD https://example.com/tool.tar.gz /opt/\n", "ADD from the network"),
        (lambda t: t + "\nRUN pip install git+https://example.com/x.git\n", "outside the registry"),
        (lambda t: t.replace('ENTRYPOINT ["cutru"]', 'ENTRYPOINT ["python", "worker.py"]'), "ENTRYPOINT"),
        (lambda t: t.replace('CMD ["worker"]', 'CMD ["api"]'), "CMD"),
        (lambda t: t.replace('"cutru", "worker", "--check"', '"cutru", "--help"'), "HEALTHCHECK"),
        (lambda t: t.replace("EXPOSE 9464", "EXPOSE 8080"), "not exposed"),
        (lambda t: t.replace("requirements/runtime.txt", "requirements/dev.txt"), "not installed from"),
        (lambda t: t.replace("--require-hashes", ""), "without --require-hashes"),
        (lambda t: t.replace("--no-deps --no-build-isolation .", "--no-build-isolation ."), "beside the lock"),
        (lambda t: t.replace("--no-build-isolation .", "--no-build-isolation . ./local"), "the local stack"),
        (lambda t: t.replace("--no-build-isolation .", "--no-build-isolation '.[local]'"), "extras"),
        (lambda t: t + "\nRUN pip install psutil\n", "packages beside the lock"),
    ],
)
def test_dockerfile_checks_catch_regressions(change: Any, expected: str) -> None:
    broken = change(DOCKERFILE.read_text(encoding="utf-8"))
    assert any(expected in problem for problem in dockerfile_problems(broken))


def test_package_data_ships_every_data_file() -> None:
    """`pip install .` (the image) only installs the data files pyproject.toml declares; an editable install
    (development, CI) finds them in the source tree regardless, so only this check sees a missing one."""
    setuptools_cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    include = setuptools_cfg["packages"]["find"]["include"]
    package_data: dict[str, list[str]] = setuptools_cfg.get("package-data", {})
    top_level = [d for d in ROOT.iterdir() if (d / "__init__.py").exists() and any(fnmatch(d.name, p) for p in include)]
    assert top_level, "no packages found"
    undeclared = []
    for package_dir in top_level:
        for path in package_dir.rglob("*"):
            if not path.is_file() or path.suffix in {".py", ".pyc"} or "__pycache__" in path.parts:
                continue
            declared = False
            for package, patterns in package_data.items():
                base = ROOT / package.replace(".", "/") if package not in {"", "*"} else None
                for pattern in patterns:
                    if base is None:
                        declared |= fnmatch(path.name, pattern)
                    elif path.is_relative_to(base):
                        declared |= fnmatch(path.relative_to(base).as_posix(), pattern)
            if not declared:
                undeclared.append(path.relative_to(ROOT).as_posix())
    assert not undeclared, f"declare in [tool.setuptools.package-data]: {undeclared}"


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_context() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".git", ".venv", ".cutru", "**/__pycache__", "tests", "local", "**/.env"):
        assert required in patterns, required
    # The build needs the package sources and metadata.
    for needed in ("cutru", "domain", "workflows", "activities", "pyproject.toml", "worker.py", "*.py", "requirements",
                   "LICENSE"):
        assert needed not in patterns, needed


# ------------------------------------------------------------------------------------------------ Kubernetes


def kube_documents(directory: Path = KUBE_DIR) -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name in {"kustomization.yaml", HELM_VALUES.name}:
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                docs.append((path.name, doc))
    return docs


def _by_kind(kind: str, name: str) -> dict[str, Any]:
    for _, doc in kube_documents():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"{kind}/{name} not found in {KUBE_DIR}")


def test_every_kubernetes_manifest_validates_strictly() -> None:
    docs = kube_documents()
    kinds = {doc["kind"] for _, doc in docs}
    expected = {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Job",
        "PersistentVolumeClaim",
        "NetworkPolicy",
        "Ingress",
    }
    assert expected <= kinds, sorted(expected - kinds)
    # The manifests applied beside the Temporal Helm release, in its namespace.
    temporal_docs = kube_documents(TEMPORAL_DIR)
    assert {doc["kind"] for _, doc in temporal_docs} == {"NetworkPolicy"}
    for filename, doc in docs + temporal_docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{filename}: {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_kubernetes_validation_rejects_a_broken_manifest() -> None:
    deployment = json.loads(json.dumps(_by_kind("Deployment", "cutru-worker")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    deployment = json.loads(json.dumps(_by_kind("Deployment", "cutru-worker")))
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "metrics"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((KUBE_DIR / "kustomization.yaml").read_text(encoding="utf-8"))
    files = {p.name for p in KUBE_DIR.glob("*.yaml")} - {"kustomization.yaml", SECRET_TEMPLATE}
    assert set(kustomization["resources"]) == files
    assert kustomization["namespace"] == "cutru"
    for _, doc in kube_documents():
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "cutru", doc["metadata"]["name"]


def test_secret_template_holds_placeholders_only() -> None:
    for filename, doc in kube_documents():
        if doc["kind"] != "Secret":
            continue
        assert filename == SECRET_TEMPLATE, f"Secret {doc['metadata']['name']} outside the template"
        assert "data" not in doc, "base64 data in the template; use stringData placeholders"
        for key, value in doc.get("stringData", {}).items():
            assert value == "" or "REPLACE_ME" in value, f"{doc['metadata']['name']}.{key} is not a placeholder"


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]["template"]["spec"]
    assert len(spec["containers"]) == 1
    return spec["containers"][0]


def _container_env(doc: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
    """All variable names a container receives, and the literal values of those that have one."""
    container = _container(doc)
    names: set[str] = set()
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data = _by_kind("ConfigMap", source["configMapRef"]["name"]).get("data", {})
        else:
            data = _by_kind("Secret", source["secretRef"]["name"]).get("stringData", {})
        names |= set(data)
        values.update(data)
    for var in container.get("env", []):
        names.add(var["name"])
        if "value" in var:
            values[var["name"]] = var["value"]
    return names, values


def _mounts(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """mountPath -> the volume mounted there."""
    volumes = {v["name"]: v for v in doc["spec"]["template"]["spec"].get("volumes", [])}
    return {m["mountPath"]: volumes[m["name"]] for m in _container(doc).get("volumeMounts", [])}


def _volume_at(doc: dict[str, Any], path: str) -> dict[str, Any]:
    for mount_path, volume in _mounts(doc).items():
        if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
            return volume
    raise AssertionError(f"{path} is not on a mounted volume")


def test_kubernetes_workloads_pass_only_known_variables() -> None:
    known = {
        "cutru-worker": worker_env_names(),
        "cutru-api": api_env_names(),
        "cutru-migrate": config_env_names(),
        "cutru-codec-server": codec_server_env_names(),
    }
    for kind, name in (("Deployment", "cutru-worker"), ("Deployment", "cutru-api"), ("Job", "cutru-migrate"),
                       ("Deployment", "cutru-codec-server")):
        names, _ = _container_env(_by_kind(kind, name))
        unknown = names - known[name]
        assert not unknown, f"{kind}/{name} sets variables cutru does not read: {sorted(unknown)}"


def test_worker_deployment_is_hardened_and_wired() -> None:
    deployment = _by_kind("Deployment", "cutru-worker")
    pod = deployment["spec"]["template"]["spec"]
    container = _container(deployment)
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"] and container["resources"]["limits"]

    assert container["command"] == ["cutru", "worker"]
    assert container["livenessProbe"]["exec"]["command"] == ["cutru", "worker", "--check"]
    readiness = container["readinessProbe"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports[readiness["httpGet"]["port"]] == WORKER_METRICS_PORT

    names, values = _container_env(deployment)
    assert {"DATABASE_URL", "TEMPORAL_ADDRESS", "CUTRU_PAYLOAD_KEY_FILE", "CUTRU_DECISION_KEY_FILE"} <= names
    assert values["CUTRU_METRICS_PORT"] == str(WORKER_METRICS_PORT)
    # Writable paths are emptyDirs; secrets are files from Secret volumes.
    assert "emptyDir" in _volume_at(deployment, "/tmp")
    # The database records each issued form's path: the files live on a volume every replica shares and no pod owns.
    documents = _volume_at(deployment, values["CUTRU_DOCUMENT_DIR"])
    claim = _by_kind("PersistentVolumeClaim", documents["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    _assert_service_secrets_mounted(deployment, "cutru-worker")


def _assert_service_secrets_mounted(deployment: dict[str, Any], service: str) -> None:
    """The key files and the service's own Temporal client certificate are where the variables say."""
    _, values = _container_env(deployment)
    assert _volume_at(deployment, values["CUTRU_PAYLOAD_KEY_FILE"])["secret"]["secretName"] == "cutru-payload-keys"
    assert _volume_at(deployment, values["CUTRU_DECISION_KEY_FILE"])["secret"]["secretName"] == "cutru-decision-keys"
    for var in ("TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"):
        volume = _volume_at(deployment, values[var])
        assert volume["secret"]["secretName"] == f"{service}-temporal-tls", var
        assert Path(values[var]).name in _by_kind("Secret", f"{service}-temporal-tls")["stringData"], var
    database = next(v for v in _container(deployment)["env"] if v["name"] == "DATABASE_URL")
    assert database["valueFrom"]["secretKeyRef"]["name"] == "cutru-database"
    api_key = next(v for v in _container(deployment)["env"] if v["name"] == "TEMPORAL_API_KEY")
    assert api_key["valueFrom"]["secretKeyRef"]["name"] == f"{service}-temporal"
    assert "DATABASE_URL" not in values or "REPLACE_ME" in values["DATABASE_URL"]


def test_worker_autoscaling_disruption_budget_and_metrics_service_select_the_workers() -> None:
    labels = _by_kind("Deployment", "cutru-worker")["spec"]["template"]["metadata"]["labels"]
    hpa = _by_kind("HorizontalPodAutoscaler", "cutru-worker")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cutru-worker"}
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    pdb = _by_kind("PodDisruptionBudget", "cutru-worker")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = _by_kind("Service", "cutru-worker-metrics")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["port"] == WORKER_METRICS_PORT


def test_every_workload_runs_the_same_image_with_its_cutru_subcommand() -> None:
    commands = {
        ("Deployment", "cutru-worker"): ["cutru", "worker"],
        ("Deployment", "cutru-api"): ["cutru", "api"],
        ("Deployment", "cutru-codec-server"): ["cutru", "codec-server"],
        ("Job", "cutru-migrate"): ["cutru", "migrate"],
    }
    assert {(doc["kind"], doc["metadata"]["name"]) for doc in _workloads()} == set(commands)
    for (kind, name), command in commands.items():
        container = _container(_by_kind(kind, name))
        assert container["image"] == "cutru:0.1.0", name
        assert container["command"] == command, name
    codec_labels = _by_kind("Deployment", "cutru-codec-server")["spec"]["template"]["metadata"]["labels"]
    assert _by_kind("Service", "cutru-codec-server")["spec"]["selector"].items() <= codec_labels.items()


def test_api_deployment_probes_scaling_and_service() -> None:
    deployment = _by_kind("Deployment", "cutru-api")
    container = _container(deployment)
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == API_PORT
    _, values = _container_env(deployment)
    assert values["CUTRU_API_PORT"] == str(API_PORT) and values["CUTRU_API_HOST"] == "0.0.0.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    _assert_service_secrets_mounted(deployment, "cutru-api")
    # It serves the result documents the workers write: the same claim, read-only.
    documents = _volume_at(deployment, values["CUTRU_DOCUMENT_DIR"])
    assert documents["persistentVolumeClaim"]["claimName"] == "cutru-documents"
    assert next(m for m in container["volumeMounts"] if m["name"] == documents["name"])["readOnly"] is True
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    hpa = _by_kind("HorizontalPodAutoscaler", "cutru-api")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cutru-api"}
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert _by_kind("PodDisruptionBudget", "cutru-api")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = _by_kind("Service", "cutru-api")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    ingress = _by_kind("Ingress", "cutru-api")
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "cutru-api"


# ------------------------------------------------------------------------------------------- production shape

# The Secrets that let a process act on dossiers: Temporal credentials, the decision keys, the database's
# application role. Only the API and the workers may hold any of them, each its own Temporal credential.
TEMPORAL_SECRETS = {"cutru-api-temporal", "cutru-api-temporal-tls", "cutru-worker-temporal",
                    "cutru-worker-temporal-tls"}
WRITE_SECRETS = TEMPORAL_SECRETS | {"cutru-decision-keys", "cutru-database", "cutru-payment-gateway"}
SECRET_HOLDERS = {
    "cutru-api": {"cutru-api-temporal", "cutru-api-temporal-tls", "cutru-decision-keys", "cutru-database",
                  "cutru-payment-gateway", "cutru-payload-keys"},
    "cutru-worker": {"cutru-worker-temporal", "cutru-worker-temporal-tls", "cutru-decision-keys", "cutru-database",
                     "cutru-payment-gateway", "cutru-payload-keys"},
    "cutru-codec-server": {"cutru-payload-keys", "cutru-codec-database"},
    "cutru-migrate": {"cutru-database-owner"},
}
CREDENTIAL_VARS = {"TEMPORAL_API_KEY", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_CLIENT_KEY_DATA",
                   "CUTRU_DECISION_KEYS", "CUTRU_DECISION_KEY_FILE"}


def _workloads(docs: list[tuple[str, dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    return [doc for _, doc in (docs if docs is not None else kube_documents())
            if doc["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet", "CronJob"}]


def secrets_used(workload: dict[str, Any]) -> set[str]:
    """Every Secret a workload's pods can read: env, envFrom and volumes (projected ones included)."""
    pod = workload["spec"]["template"]["spec"]
    used: set[str] = set()
    for container in pod.get("initContainers", []) + pod["containers"]:
        used |= {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
        used |= {v["valueFrom"]["secretKeyRef"]["name"] for v in container.get("env", [])
                 if "secretKeyRef" in v.get("valueFrom", {})}
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            used.add(volume["secret"]["secretName"])
        for source in volume.get("projected", {}).get("sources", []):
            if "secret" in source:
                used.add(source["secret"]["name"])
    return used


def credential_problems(docs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    problems = []
    for workload in _workloads(docs):
        name = workload["metadata"]["name"]
        used = secrets_used(workload)
        expected = SECRET_HOLDERS.get(name)
        if expected is None:
            problems.append(f"{name}: a workload the production shape does not know")
        elif used != expected:
            problems.append(f"{name} reads Secrets {sorted(used)}, expected {sorted(expected)}")
        if name not in {"cutru-api", "cutru-worker"}:
            if used & WRITE_SECRETS:
                problems.append(f"{name} holds {sorted(used & WRITE_SECRETS)}")
            env = {v["name"] for c in workload["spec"]["template"]["spec"]["containers"] for v in c.get("env", [])}
            if env & CREDENTIAL_VARS:
                problems.append(f"{name} is given {sorted(env & CREDENTIAL_VARS)}")
    return problems


def test_only_the_api_and_the_workers_hold_temporal_credentials_and_decision_keys() -> None:
    docs = kube_documents()
    assert credential_problems(docs) == []
    # The checker sees a credential slipped into the codec server, as a volume or as a variable.
    for change in (
        lambda pod: pod["volumes"].append({"name": "t", "secret": {"secretName": "cutru-worker-temporal-tls"}}),
        lambda pod: pod["containers"][0]["env"].append({"name": "CUTRU_DECISION_KEYS", "value": "k:AAAA"}),
    ):
        broken = json.loads(json.dumps(docs))
        codec = next(doc for _, doc in broken if doc["metadata"]["name"] == "cutru-codec-server"
                     and doc["kind"] == "Deployment")
        change(codec["spec"]["template"]["spec"])
        assert any("cutru-codec-server" in problem for problem in credential_problems(broken))


def test_every_deployment_runs_non_root_read_only_with_probes() -> None:
    for workload in _workloads():
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert security.get("runAsUser", 1) != 0, name
            assert container["resources"]["requests"] and container["resources"]["limits"], name
            if workload["kind"] == "Deployment":
                assert container.get("livenessProbe") and container.get("readinessProbe"), name
    # The namespace enforces the same for anything else started in it.
    assert _by_kind("Namespace", "cutru")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_codec_server_requires_a_token_from_the_identity_provider() -> None:
    deployment = _by_kind("Deployment", "cutru-codec-server")
    names, values = _container_env(deployment)
    assert values["CUTRU_OIDC_ISSUER"].startswith("https://"), "the codec server must verify tokens"
    assert values["CUTRU_OIDC_AUDIENCE"], "the codec server must check the tokens' audience"
    # No static token: identity comes from the provider's signed tokens only.
    assert not any("CODEC_TOKEN" in name for name in names)
    assert not [n for n in names if n.startswith("TEMPORAL_")], "the codec server never talks to Temporal"
    # Its database login may only append its record of each decode.
    assert values["CUTRU_DATABASE_ROLE"] == "cutru_codec"
    assert _egress_ports(_policies()["cutru-codec-server"]) == {443, 5432}
    compose_codec = load_compose()["services"]["codec-server"]["environment"]
    assert compose_codec["CUTRU_DATABASE_ROLE"] == "cutru_codec"
    assert compose_codec["CUTRU_OIDC_ISSUER"] and compose_codec["CUTRU_OIDC_AUDIENCE"]
    assert not any("CODEC_TOKEN" in name for name in compose_codec)
    assert "CODEC_TOKEN" not in COMPOSE_FILE.read_text(encoding="utf-8")


def _policies() -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in kube_documents() if doc["kind"] == "NetworkPolicy"}


def _egress_ports(policy: dict[str, Any]) -> set[int]:
    return {port["port"] for rule in policy["spec"].get("egress", []) for port in rule.get("ports", [])}


def test_network_policies_let_only_the_api_and_the_workers_reach_temporal() -> None:
    policies = _policies()
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    # Every workload has its own policy; only the API's and the workers' reach the Temporal frontend.
    for workload in _workloads():
        name = workload["metadata"]["name"]
        policy = policies[name]
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= \
            workload["spec"]["template"]["metadata"]["labels"].items(), name
        reaches_temporal = 7233 in _egress_ports(policy)
        assert reaches_temporal == (name in {"cutru-api", "cutru-worker"}), name
    assert _egress_ports(policies["cutru-migrate"]) == {5432}
    for name, policy in policies.items():
        if name not in {"cutru-api", "cutru-worker"}:
            assert 7233 not in _egress_ports(policy), name
    # The API is reached from the ingress controller's and the portal's namespaces (and Prometheus) only.
    sources = {value for rule in policies["cutru-api"]["spec"]["ingress"] for peer in rule["from"]
               for value in _namespace_names(peer)}
    assert sources == {"ingress-nginx", "cutru-portal", "monitoring"}
    # Beside the Temporal release: its frontend admits cutru's API and workers only, of all of cutru's pods.
    (_, frontend), = kube_documents(TEMPORAL_DIR)
    cutru_peers = [peer for rule in frontend["spec"]["ingress"] for peer in rule["from"]
                   if "cutru" in _namespace_names(peer)]
    assert [sorted(p["podSelector"]["matchExpressions"][0]["values"]) for p in cutru_peers] == \
        [["cutru-api", "cutru-worker"]]


def _namespace_names(peer: dict[str, Any]) -> set[str]:
    selector = peer.get("namespaceSelector", {})
    names = {selector.get("matchLabels", {}).get("kubernetes.io/metadata.name")}
    for expression in selector.get("matchExpressions", []):
        if expression["key"] == "kubernetes.io/metadata.name" and expression["operator"] == "In":
            names |= set(expression["values"])
    return {name for name in names if name}


# ----------------------------------------------------------------- Temporal's authorizer and the identity provider


def load_helm_values() -> dict[str, Any]:
    data = yaml.safe_load(HELM_VALUES.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def load_realm() -> dict[str, Any]:
    data = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _web_env(values: dict[str, Any]) -> dict[str, str]:
    return {var["name"]: var["value"] for var in values["web"]["additionalEnv"]}


def test_helm_values_turn_on_the_jwt_authorizer_with_the_issuers_keys() -> None:
    values = load_helm_values()
    server = values["server"]
    authorization = server["config"]["authorization"]
    assert authorization["authorizer"] == "default"
    assert authorization["claimMapper"] == "default"
    assert authorization["permissionsClaimName"]
    issuer = _by_kind("ConfigMap", "cutru-oidc")["data"]["CUTRU_OIDC_ISSUER"]
    uris = authorization["jwtKeyProvider"]["keySourceURIs"]
    assert uris and all(uri.startswith(issuer + "/") for uri in uris), "Temporal must trust the API's issuer alone"
    # mTLS on the frontend; the system worker through the internal frontend, not an all-powerful token.
    assert server["tls"]["frontend"]["enabled"] is True
    assert server["tls"]["frontend"]["requireClientAuth"] is True
    assert server["internal-frontend"]["enabled"] is True
    namespaces = [ns["name"] for ns in server["config"]["namespaces"]["namespace"]]
    assert namespaces == [_by_kind("ConfigMap", "cutru-config")["data"]["TEMPORAL_NAMESPACE"]]


def test_web_ui_is_read_only_and_forwards_its_users_token_to_the_codec_server() -> None:
    web = _web_env(load_helm_values())
    assert web["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    assert web["TEMPORAL_AUTH_ENABLED"] == "true"
    assert web["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true"
    codec_host = _by_kind("Ingress", "cutru-codec-server")["spec"]["rules"][0]["host"]
    assert web["TEMPORAL_CODEC_ENDPOINT"] == f"https://{codec_host}"
    issuer = _by_kind("ConfigMap", "cutru-oidc")["data"]["CUTRU_OIDC_ISSUER"]
    assert web["TEMPORAL_AUTH_ISSUER_URL"] == issuer
    codec_env = _container_env(_by_kind("Deployment", "cutru-codec-server"))[1]
    ui_origin = web["TEMPORAL_AUTH_CALLBACK_URL"].removesuffix("/auth/sso/callback")
    assert codec_env["CUTRU_CODEC_ALLOWED_ORIGINS"] == ui_origin
    compose_ui = load_compose()["services"]["temporal-ui"]["environment"]
    assert compose_ui["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true", "a literal, not a variable that could turn it off"
    assert compose_ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true"
    assert compose_ui["TEMPORAL_AUTH_ENABLED"] == "true"


def namespace_writers(realm: dict[str, Any], permission: str) -> set[str]:
    """Who holds a Temporal permission (``<namespace>:<role>``) in the realm: users (service accounts included)
    and groups with the role of the client whose roles the permissions mapper emits, and clients whose mappers
    would add the claim whatever their user holds."""
    holders = set()
    for user in realm.get("users", []):
        if permission in user.get("clientRoles", {}).get("temporal", []):
            holders.add(user["username"])
    for group in realm.get("groups", []):
        if permission in group.get("clientRoles", {}).get("temporal", []):
            holders.add(f"group:{group['name']}")
    for role in realm["roles"].get("realm", []):
        if permission in role.get("composites", {}).get("client", {}).get("temporal", []):
            holders.add(f"realm-role:{role['name']}")
    claim = load_helm_values()["server"]["config"]["authorization"]["permissionsClaimName"]
    for client in realm["clients"]:
        for mapper in client.get("protocolMappers", []):
            if mapper["config"].get("claim.name") == claim and mapper["protocolMapper"] != \
                    "oidc-usermodel-client-role-mapper":
                holders.add(f"client:{client['clientId']}")
    return holders


def test_only_the_api_and_worker_clients_may_write_the_namespace() -> None:
    realm = load_realm()
    values = load_helm_values()
    namespace = values["server"]["config"]["namespaces"]["namespace"][0]["name"]
    claim = values["server"]["config"]["authorization"]["permissionsClaimName"]
    # Temporal's default claim mapper reads `<namespace>:<read|write|worker|admin>`.
    roles = {role["name"] for role in realm["roles"]["client"]["temporal"]}
    assert roles == {f"{namespace}:read", f"{namespace}:write"}
    assert namespace_writers(realm, f"{namespace}:write") == {"service-account-cutru-api",
                                                             "service-account-cutru-worker"}
    assert namespace_writers(realm, f"{namespace}:admin") == set()
    clients = {client["clientId"]: client for client in realm["clients"]}
    for client_id in ("cutru-api", "cutru-worker"):
        mappers = clients[client_id]["protocolMappers"]
        assert [m["config"]["claim.name"] for m in mappers] == [claim], client_id
        assert clients[client_id]["serviceAccountsEnabled"] is True
        assert clients[client_id]["standardFlowEnabled"] is False
    # The claim is the client roles of `temporal`, nothing hard-coded.
    for client in realm["clients"]:
        for mapper in client.get("protocolMappers", []):
            if mapper["config"].get("claim.name") == claim:
                assert mapper["config"]["usermodel.clientRoleMapping.clientId"] == "temporal", client["clientId"]
    # The checker sees a writer added anywhere.
    broken = json.loads(json.dumps(realm))
    next(u for u in broken["users"] if u["username"] == "service-account-cutru-portal")["clientRoles"] = {
        "temporal": [f"{namespace}:write"]}
    assert "service-account-cutru-portal" in namespace_writers(broken, f"{namespace}:write")


def test_realm_issues_the_claims_the_api_reads() -> None:
    realm = load_realm()
    oidc = _by_kind("ConfigMap", "cutru-oidc")["data"]
    assert {role["name"] for role in realm["roles"]["realm"]} == {role.value for role in Role}
    compose = load_compose()
    compose_oidc = compose["services"]["cutru-api"]["environment"]
    keycloak_env = compose["services"]["keycloak"]["environment"]
    issuer_origin = re.fullmatch(r"\$\{KEYCLOAK_URL:-([^}]+)\}", keycloak_env["KC_HOSTNAME"])
    assert issuer_origin, "KC_HOSTNAME must be the KEYCLOAK_URL the API's issuer is built from"
    assert compose_oidc["CUTRU_OIDC_ISSUER"] == f"${{KEYCLOAK_URL:-{issuer_origin.group(1)}}}/realms/{realm['realm']}"
    assert oidc["CUTRU_OIDC_ISSUER"].endswith(f"/realms/{realm['realm']}")
    for key in ("CUTRU_OIDC_AUDIENCE", "CUTRU_OIDC_ROLES_CLAIM", "CUTRU_OIDC_UNITS_CLAIM",
                "CUTRU_OIDC_PROCEDURES_CLAIM", "CUTRU_OIDC_OFFICER_CLAIM"):
        assert compose_oidc[key] == oidc[key], key
    clients = {client["clientId"]: client for client in realm["clients"]}
    people = {"cutru-desk", "cutru-cli"}
    for client_id in ("cutru-portal", "cutru-payment-gateway", "cutru-operator", "temporal-ui", *people):
        mappers = clients[client_id]["protocolMappers"]
        audiences = {m["config"].get("included.custom.audience") for m in mappers}
        assert oidc["CUTRU_OIDC_AUDIENCE"] in audiences, client_id
        claims = {m["config"].get("claim.name") for m in mappers}
        assert oidc["CUTRU_OIDC_ROLES_CLAIM"] in claims, client_id
        if client_id in people:
            assert {oidc["CUTRU_OIDC_UNITS_CLAIM"], oidc["CUTRU_OIDC_PROCEDURES_CLAIM"],
                    oidc["CUTRU_OIDC_OFFICER_CLAIM"]} <= claims, client_id
            # Browsers and the CLI are public clients: authorization code with PKCE.
            assert clients[client_id]["publicClient"] is True
            assert clients[client_id]["attributes"]["pkce.code.challenge.method"] == "S256"
            assert clients[client_id]["directAccessGrantsEnabled"] is False
    # The Temporal writers' tokens are not for the API.
    for client_id in ("cutru-api", "cutru-worker"):
        audiences = {m["config"].get("included.custom.audience") for m in clients[client_id]["protocolMappers"]}
        assert oidc["CUTRU_OIDC_AUDIENCE"] not in audiences, client_id
    # The units, procedures and officer id are set by administrators only.
    profile = json.loads(realm["components"]["org.keycloak.userprofile.UserProfileProvider"][0]["config"][
        "kc.user.profile.config"][0])
    attributes = {a["name"]: a for a in profile["attributes"]}
    for claim in ("police_units", "cutru_procedures", "officer_id"):
        assert attributes[claim]["permissions"]["edit"] == ["admin"], claim


def test_realm_secrets_are_placeholders_that_compose_requires() -> None:
    realm_text = REALM_FILE.read_text(encoding="utf-8")
    placeholders = set(re.findall(r"\$\{([A-Z0-9_]+)\}", realm_text))
    for client in load_realm()["clients"]:
        if "secret" in client:
            assert re.fullmatch(r"\$\{CUTRU_KC_[A-Z_]+\}", client["secret"]), client["clientId"]
    keycloak_env = load_compose()["services"]["keycloak"]["environment"]
    required = _required_compose_vars()
    secrets = {name for name in placeholders if name.endswith(("_SECRET", "_PASSWORD"))}
    assert secrets, "no secret placeholders found"
    for name in secrets:
        assert keycloak_env.get(name) == f"${{{name}:?set {name} in .env}}", name
        assert name in required, name
    # The others (addresses) are always set: a placeholder Keycloak cannot resolve would be imported literally.
    for name in placeholders - secrets:
        assert re.fullmatch(r"\$\{[A-Z_]+:-[^}]+\}", keycloak_env.get(name, "")), name
    ui = next(c for c in load_realm()["clients"] if c["clientId"] == "temporal-ui")
    ui_url = keycloak_env[ui["webOrigins"][0].strip("${}")]
    callback = load_compose()["services"]["temporal-ui"]["environment"]["TEMPORAL_AUTH_CALLBACK_URL"]
    assert callback == f"{ui_url}/auth/sso/callback"


# ------------------------------------------------------------------------------------------------ observability

SDK_METRICS = (
    "temporal_workflow_completed",
    "temporal_activity_execution_failed",
    "temporal_workflow_task_schedule_to_start_latency_bucket",
    "temporal_activity_schedule_to_start_latency_bucket",
)
BUSINESS_METRICS = (
    "cutru_dossiers_started_total",
    "cutru_dossiers_finished_total",
    "cutru_dossiers_overdue",
    "cutru_fees_collected_vnd_total",
    "cutru_activity_failures_total",
)
API_METRICS = ("cutru_api_requests_total", "cutru_api_request_seconds_bucket")


def test_grafana_dashboard_parses_and_covers_the_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    exprs = []
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        exprs += [t["expr"] for t in panel["targets"]]
    text = "\n".join(exprs)
    for metric in SDK_METRICS + BUSINESS_METRICS + API_METRICS:
        assert re.search(rf"\b{metric}\b", text), metric


def load_alert_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"] if "alert" in rule]


def alert_problems(rules: list[dict[str, Any]]) -> list[str]:
    problems = []
    for rule in rules:
        annotations = rule.get("annotations", {})
        if not annotations.get("summary"):
            problems.append(f"{rule['alert']}: no summary")
        if not re.fullmatch(r"docs/runbook\.md#[a-z0-9-]+", annotations.get("runbook", "")):
            problems.append(f"{rule['alert']}: no runbook link to docs/runbook.md#<section>")
        if not rule.get("expr"):
            problems.append(f"{rule['alert']}: no expr")
    return problems


def test_alert_rules_have_summary_and_runbook() -> None:
    rules = load_alert_rules()
    assert alert_problems(rules) == []
    names = {rule["alert"] for rule in rules}
    assert len(names) == len(rules), "duplicate alert names"
    text = ALERTS.read_text(encoding="utf-8")
    for needle in (
        "up{",
        "temporal_activity_execution_failed",
        "cutru_dossiers_overdue",
        "temporal_workflow_task_schedule_to_start_latency_bucket",
        "temporal_workflow_task_execution_failed",
        'up{job=~"cutru-api',
        "cutru_api_requests_total",
    ):
        assert needle in text, needle
    assert alert_problems([{"alert": "X", "expr": "up == 0", "annotations": {"summary": "s"}}]) != []
    assert alert_problems([{"alert": "X", "expr": "up == 0", "annotations": {"runbook": "docs/runbook.md#x"}}]) != []


def test_alert_rules_pass_promtool_when_available() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus); the YAML checks above still ran")
    result = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
