"""Offline checks of the deployment files in deploy/ (no Docker engine, no cluster, no network).

- compose.yaml against the Compose specification (check-jsonschema's vendored schema) and compose's
  interpolation rules;
- every Kubernetes manifest against the OpenAPI schemas that kubernetes-validate ships, strictly;
- the Dockerfile's supply chain (project files and package registries only), user, entry point and health check;
- every environment variable handed to a cutru process is one that cutru actually reads;
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

# Oldest Kubernetes release the manifests promise to work on; its schemas ship inside kubernetes-validate.
KUBERNETES_VERSION = "1.30.0"
SECRET_TEMPLATE = "secret.template.yaml"
WORKER_METRICS_PORT = 9464

# Read by cutru.platform.codec (KeyRing.from_env); named here as well in case the module is renamed.
CODEC_KEY_VARS = {"CUTRU_PAYLOAD_KEYS", "CUTRU_PAYLOAD_KEY_FILE"}


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
    """Variable names a module reads: the cutru.platform.config ``_ENV`` mapping and ``TEMPORAL_VARIABLES`` (what
    envconfig reads), ``ENV_* = "..."`` constants and string literals passed to os.environ.get / os.getenv /
    os.environ[...]."""
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
            if target.id == "_ENV" and isinstance(value, ast.Dict):
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


def worker_env_names() -> set[str]:
    return config_env_names() | CODEC_KEY_VARS


def codec_server_env_names() -> set[str]:
    names = set(CODEC_KEY_VARS)
    for module in ("platform/codec.py", "service/codec_server.py"):
        path = ROOT / "cutru" / module
        if path.exists():
            names |= _module_env_names(path)
    return names


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
            "CUTRU_PAYLOAD_KEY_FILE"} <= names
    assert "CUTRU_NOT_A_SETTING" not in names


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
    assert {"TEMPORAL_DB_PASSWORD", "CUTRU_DB_PASSWORD", "CUTRU_PAYLOAD_KEYS"} <= required
    example: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            example[name.strip()] = value.strip()
    assert required <= set(example), f"missing from .env.example: {sorted(required - set(example))}"
    secret_like = re.compile(r"(PASSWORD|PAYLOAD_KEYS|CODEC_TOKEN|API_KEY|SECRET)$")
    for name, value in example.items():
        if secret_like.search(name):
            assert value == "" or "REPLACE_ME" in value, f"{name} in .env.example must be a placeholder"
    # Every variable of .env.example is one that compose.yaml uses.
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text(encoding="utf-8")))
    assert set(example) - {"COMPOSE_PROJECT_NAME"} <= used, sorted(set(example) - used)


def test_every_setting_is_documented_in_the_deploy_readme() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    compose_vars = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text(encoding="utf-8")))
    for name in sorted(compose_vars | worker_env_names()):
        assert f"`{name}`" in readme, f"{name} is not in the variable reference of deploy/README.md"


def test_compose_stack_shape() -> None:
    services = load_compose()["services"]
    for name in (
        "temporal-postgresql",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "cutru-postgresql",
        "cutru-migrate",
        "codec-server",
        "cutru-worker",
    ):
        assert name in services, name
    worker = services["cutru-worker"]
    assert worker["deploy"]["replicas"] == "${CUTRU_WORKER_REPLICAS:-2}"
    assert worker["depends_on"]["cutru-migrate"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["temporal-setup"]["condition"] == "service_completed_successfully"
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert "--check" in worker["healthcheck"]["test"]
    assert services["cutru-migrate"]["entrypoint"] == ["python", "-m", "cutru.platform.db.migrate"]
    assert services["codec-server"]["entrypoint"] == ["python", "-m", "cutru.service.codec_server"]
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
    if not entrypoints or json.loads(entrypoints[-1]) != ["python", "worker.py"]:
        problems.append('ENTRYPOINT is not ["python", "worker.py"]')
    healthchecks = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    if not healthchecks or not re.search(r'"python",\s*"worker.py",\s*"--check"', healthchecks[-1]):
        problems.append("HEALTHCHECK does not run `python worker.py --check`")
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
        (
            lambda t: t.replace('ENTRYPOINT ["python", "worker.py"]', 'ENTRYPOINT ["python", "starter.py"]'),
            "ENTRYPOINT",
        ),
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


def kube_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(KUBE_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
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
    }
    assert expected <= kinds, sorted(expected - kinds)
    for filename, doc in docs:
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
        "cutru-migrate": config_env_names(),
        "cutru-codec-server": codec_server_env_names(),
    }
    for kind, name in (("Deployment", "cutru-worker"), ("Job", "cutru-migrate"), ("Deployment", "cutru-codec-server")):
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

    assert container["livenessProbe"]["exec"]["command"] == ["python", "worker.py", "--check"]
    readiness = container["readinessProbe"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports[readiness["httpGet"]["port"]] == WORKER_METRICS_PORT

    names, values = _container_env(deployment)
    assert {"DATABASE_URL", "TEMPORAL_ADDRESS", "CUTRU_PAYLOAD_KEY_FILE"} <= names
    assert values["CUTRU_METRICS_PORT"] == str(WORKER_METRICS_PORT)
    # Writable paths are emptyDirs; secrets are files from Secret volumes.
    assert "emptyDir" in _volume_at(deployment, "/tmp")
    # The database records each issued form's path: the files live on a volume every replica shares and no pod owns.
    documents = _volume_at(deployment, values["CUTRU_DOCUMENT_DIR"])
    claim = _by_kind("PersistentVolumeClaim", documents["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert _volume_at(deployment, values["CUTRU_PAYLOAD_KEY_FILE"])["secret"]["secretName"] == "cutru-payload-keys"
    for var in ("TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"):
        volume = _volume_at(deployment, values[var])
        assert volume["secret"]["secretName"] == "cutru-temporal-tls", var
        assert Path(values[var]).name in _by_kind("Secret", "cutru-temporal-tls")["stringData"], var
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


def test_codec_server_and_migration_job_run_the_same_image() -> None:
    worker = _container(_by_kind("Deployment", "cutru-worker"))
    codec = _container(_by_kind("Deployment", "cutru-codec-server"))
    job = _container(_by_kind("Job", "cutru-migrate"))
    assert worker["image"] == codec["image"] == job["image"]
    assert codec["command"] == ["python", "-m", "cutru.service.codec_server"]
    assert job["command"] == ["python", "-m", "cutru.platform.db.migrate"]
    codec_labels = _by_kind("Deployment", "cutru-codec-server")["spec"]["template"]["metadata"]["labels"]
    assert _by_kind("Service", "cutru-codec-server")["spec"]["selector"].items() <= codec_labels.items()


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
    for metric in SDK_METRICS + BUSINESS_METRICS:
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
