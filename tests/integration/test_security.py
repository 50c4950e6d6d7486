"""Security checks: SQL injection end to end and by static scan, unit boundaries of officers, secrets.

- **Parameterised SQL.** Every free-text field of every procedure's submission, and every free-text message
  (missing items, supplemented items, notes, reasons of a rejection, a reassignment, a withdrawal) carries an SQL
  fragment through the whole lifecycle; the tables must be intact afterwards and the text stored verbatim wherever it
  is stored. A static scan (AST) checks that no ``execute``/``fetch*`` call in ``activities/``, ``cutru/``,
  ``worker.py`` and ``starter.py`` builds its SQL from variables with f-strings, ``format``, ``%`` or ``+``; the few
  identifier cases (which SQL cannot parameterise) are allow-listed with the reason.
- **Unit boundaries.** An officer of another unit cannot decide, by the ``decide`` update, the ``officer_decision``
  signal or the officer's command line (``cutru officer``); a supervisor of another unit cannot
  reassign.
- **Encrypted payloads** are covered by ``tests/integration/test_encryption.py`` (the history on the server holds
  only ``binary/encrypted`` payloads when keys are set); not repeated here.
- **Secrets.** No tracked file holds a real-looking payload key (``CUTRU_PAYLOAD_KEYS`` entry, or any ``id:base64``
  token decoding to 32 bytes) or a PEM private key. That logs never print an ID number is tested in
  ``tests/unit/test_logging.py``.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import binascii
import random
import re
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import asyncpg
import pytest
from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError

from chaos.population import BUILDERS, Population, today_in_vietnam
from cutru.clients.client import DossierClient
from cutru.platform.config import PROJECT_ROOT, Settings
from domain.kinds import Procedure
from domain.models import (
    DecisionKind,
    DossierState,
    OfficerDecision,
    Reassignment,
    Supplement,
    Withdrawal,
)
from domain.procedures.catalogue import PROCEDURES
from tests.cli import cutru_env, run_cutru
from tests.factories import DEMO_UNIT, PAYLOAD_KEY_LINE, head_signs, new_person, new_place, pay, registration
from tests.integration.test_permanent_registration import acted_events, idle, wait_for, wait_state
from tests.oidc import OidcProvider, login_token
from workflows.procedures import WORKFLOWS

pytestmark = pytest.mark.timeout(180)

SUPERVISOR = "CB-00070-00"
FRAGMENT = "'); DROP TABLE people;--"  # closes a quoted literal and a call, drops a table, comments the rest


def injected(tag: str, max_length: int | None = None) -> str:
    """An SQL fragment with a tag of its own, cut to the field's maximum length (the tag is kept)."""
    text = f"{FRAGMENT}{tag}"
    return text[-max_length:] if max_length is not None and len(text) > max_length else text


# ---- free-text fields of the models ------------------------------------------------------------------------


def _max_length(metadata: list[Any]) -> int | None:
    return next((m.max_length for m in metadata if hasattr(m, "max_length")), None)


def _is_free_text(annotation: Any, metadata: list[Any]) -> bool:
    if any(getattr(m, "pattern", None) for m in metadata):
        return False
    options = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
    return options == [str]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for candidate in [annotation, *get_args(annotation)]:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


# Fields the rules match against the population database: an SQL fragment there makes the dossier refused
# before anything is recorded, which would hide the later statements. Names are letters only by the models.
_MATCHED = {("details", "residence", "address_line"), ("details", "place", "address_line")}


def free_text_paths(model: type[BaseModel], data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...],
                                                                                               int | None]]:
    """(path, max length) of every free-text string present in ``data`` (a submission of ``model``)."""
    found: list[tuple[tuple[Any, ...], int | None]] = []
    if not isinstance(data, dict):
        return found
    for name, value in data.items():
        field = model.model_fields.get(name)
        if field is None or value is None and not _is_free_text(field.annotation, field.metadata):
            continue
        path = (*prefix, name)
        if name == "full_name" or name == "applicant" or path in _MATCHED:
            continue
        if _is_free_text(field.annotation, field.metadata):
            found.append((path, _max_length(field.metadata)))
        elif (sub := _model_of(field.annotation)) is not None:
            found += free_text_paths(sub, value, path)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                item_model = next((_model_of(a) for a in get_args(field.annotation) if _model_of(a)), None)
                if item_model is not None:
                    found += free_text_paths(item_model, item, (*path, index))
    return found


def _set(data: Any, path: tuple[Any, ...], value: str) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


# ---- the end-to-end injection --------------------------------------------------------------------------------


async def _schema(conn: asyncpg.Connection) -> dict[str, int]:
    tables = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                              " AND table_type = 'BASE TABLE' ORDER BY 1")
    counts = {}
    for row in tables:
        # Table names come from information_schema, not from input: identifiers cannot be parameters.
        counts[row["table_name"]] = await conn.fetchval(f'SELECT count(*) FROM "{row["table_name"]}"')
    return counts


async def _text_columns(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        " AND data_type IN ('text', 'character varying', 'jsonb', 'ARRAY') ORDER BY 1, 2")
    return [(r["table_name"], r["column_name"]) for r in rows]


async def _stored(conn: asyncpg.Connection, columns: list[tuple[str, str]], tag: str) -> list[tuple[str, str]]:
    """Every stored text containing ``tag``, as (table.column, text)."""
    found = []
    for table, column in columns:
        query = f'SELECT "{column}"::text AS value FROM "{table}" WHERE strpos("{column}"::text, $1) > 0'
        found += [(f"{table}.{column}", r["value"]) for r in await conn.fetch(query, tag)]
    return found


async def _drive(dossiers: DossierClient, pool: asyncpg.Pool, code: str, tag: str, *, final: str) -> None:
    """Officer and citizen with injected text at every turn: a supplement round, a reassignment, then ``final``."""
    waiting = (DossierState.AWAITING_DECISION, *[s for s in DossierState if s.final])
    await wait_for(lambda: _in(dossiers, code, waiting), timeout=30)
    status = await dossiers.status(code)
    if status.state.final:
        return
    officer = status.assigned_officer or "CB-00070-01"
    other = "CB-00070-02" if officer != "CB-00070-02" else "CB-00070-03"
    await dossiers.reassign(
        code, Reassignment(supervisor_id=SUPERVISOR, officer_id=other, reason=injected(f"{tag}-reassign")))
    officer = other
    await dossiers.decide(code, OfficerDecision(officer_id=officer, decision=DecisionKind.REQUEST_SUPPLEMENT,
                                                missing_items=(injected(f"{tag}-missing"),)))
    await wait_state(dossiers, code, DossierState.AWAITING_SUPPLEMENT)
    await dossiers.supplement(code, Supplement(provided_items=(injected(f"{tag}-provided"),),
                                               note=injected(f"{tag}-note")))
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    if final == "withdraw":
        applicant = (status.submission or {})["applicant"]["personal_id"]
        await dossiers.withdraw(code, Withdrawal(reason=injected(f"{tag}-withdraw"), applicant_id=applicant))
    elif final == "reject":
        await dossiers.decide(code, OfficerDecision(officer_id=officer, decision=DecisionKind.REJECT,
                                                    reason=injected(f"{tag}-reject")))
    else:
        await dossiers.decide(code, OfficerDecision(officer_id=officer, decision=DecisionKind.APPROVE))
        await head_signs(dossiers, pool, code)
        await wait_for(lambda: _in(dossiers, code, (DossierState.AWAITING_PAYMENT, DossierState.COMPLETED,
                                                    DossierState.RECORDING, DossierState.DELIVERING)), timeout=30)
        if (await dossiers.status(code)).state == DossierState.AWAITING_PAYMENT:
            await pay(dossiers, pool, code)


async def _in(dossiers: DossierClient, code: str, states: tuple[DossierState, ...]) -> bool:
    return (await dossiers.status(code)).state in states


@pytest.fixture
def dossiers(client: Client, settings: Settings, worker: object) -> DossierClient:
    return DossierClient(client, settings.task_queue)


async def test_sql_fragments_in_every_free_text_field_are_stored_verbatim_and_break_nothing(
        dossiers: DossierClient, pool: asyncpg.Pool) -> None:
    run = uuid.uuid4().hex[:6]
    async with pool.acquire() as conn:
        before = await _schema(conn)
        population = Population(conn, random.Random(7), [DEMO_UNIT], today_in_vietnam(datetime.now(UTC)))
        plans: list[tuple[str, Procedure, str, dict[str, str]]] = []  # (code, procedure, final, injected values)
        for index, procedure in enumerate(sorted(WORKFLOWS, key=lambda p: p.value)):
            code = f"HS-SQLI-{run.upper()}-{index:02d}"
            raw = await BUILDERS[procedure](population, code, DEMO_UNIT)
            raw["received_at"] = datetime.now(UTC).isoformat()
            if procedure == Procedure.STAY_NOTIFICATION:
                # A household's notice: a dossier workflow of its own, driven and awaited like the others (a hotel's
                # would go into a stay register; test_stay_register covers that path).
                raw["details"] = {**raw["details"], "host_kind": "household", "arrival": raw["received_at"],
                                  "departure": today_in_vietnam(datetime.now(UTC)).isoformat()}
            values = {}
            for position, (path, max_length) in enumerate(free_text_paths(PROCEDURES[procedure].submission, raw)):
                values[".".join(map(str, path))] = value = injected(f"{run}{index:02d}f{position}", max_length)
                _set(raw, path, value)
            await dossiers.submit(raw)
            plans.append((code, procedure, ("approve", "reject", "withdraw")[index % 3], values))
    await asyncio.gather(*(_drive(dossiers, pool, code, f"{run}{i:02d}", final=final)
                           for i, (code, _, final, _) in enumerate(plans)))
    outcomes = await asyncio.gather(*(asyncio.wait_for(dossiers.result(code), timeout=60) for code, *_ in plans))

    async with pool.acquire() as conn:
        after = await _schema(conn)
        assert set(after) == set(before), "a table appeared or disappeared"
        shrunk = {t: (before[t], after[t]) for t in before if after[t] < before[t]}
        assert not shrunk, f"rows vanished: {shrunk}"
        columns = await _text_columns(conn)
        for (code, procedure, _, values), outcome in zip(plans, outcomes, strict=True):
            assert outcome.state.final, (code, outcome)
            for where, value in values.items():
                tag = value[-8:]
                for column, text in await _stored(conn, columns, tag):
                    assert value in text, f"{procedure.value} {where}: stored altered in {column}: {text[:200]!r}"
            if "delivery.destination" in values and not PROCEDURES[procedure].immediate:
                assert await conn.fetchval("SELECT destination FROM deliveries WHERE dossier_code = $1",
                                           code) == values["delivery.destination"]
        for tag in (f"{run}00-reassign", f"{run}00-missing", f"{run}00-provided"):
            stored = await _stored(conn, columns, tag)
            assert stored and all(injected(tag) in text for _, text in stored), (tag, stored)
        rejected = next(code for code, _, final, _ in plans if final == "reject")
        reason = await conn.fetchval("SELECT outcome_reason FROM dossiers WHERE dossier_code = $1", rejected)
        assert reason is not None and injected(f"{run}01-reject") in reason


async def test_an_apostrophe_in_a_name_is_stored_verbatim(dossiers: DossierClient, pool: asyncpg.Pool) -> None:
    """Names are letters, spaces, hyphens and apostrophes: the apostrophe is SQL's quote."""
    name = "Nguyễn Thị D'Arc-O'Brien"
    async with pool.acquire() as conn:
        person = await new_person(conn, full_name=name)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = registration(person, place)
    await dossiers.submit(submission)
    await wait_state(dossiers, submission["dossier_code"], DossierState.AWAITING_DECISION)
    assert await pool.fetchval("SELECT applicant_name FROM dossiers WHERE dossier_code = $1",
                               submission["dossier_code"]) == name


# ---- static scan ---------------------------------------------------------------------------------------------

_SQL_METHODS = {"execute", "executemany", "fetch", "fetchrow", "fetchval", "prepare", "cursor", "copy_from_query"}
_SCANNED = ("activities", "cutru", "worker.py", "starter.py")
# Methods that keep a constant string constant when their own arguments are constants.
_PURE_STR_METHODS = {"replace", "strip", "lstrip", "rstrip", "upper", "lower", "join", "items", "keys", "values"}
# (file, function): why building this statement from variables is safe. Kept exact: a stale entry fails the test.
ALLOWED: dict[tuple[str, str], str] = {
    ("cutru/platform/db/migrate.py", "create_database"):
        "CREATE DATABASE takes an identifier, which SQL cannot parameterise; the name comes from the operator's "
        "DATABASE_URL and is double-quoted",
    ("cutru/platform/db/migrate.py", "migrate"):
        "runs the versioned migration files shipped in the package (cutru/platform/db/migrations/*.sql), never input",
}


class _Module:
    """Where a string in a module comes from: constants (safe) or anything else (a variable).

    A name imported from another module of the project (``from activities.facts import PERSON_SQL``) is followed
    into that module, so a statement can be built from another module's constants instead of a copy of them."""

    def __init__(self, tree: ast.Module, root: Path | None = None) -> None:
        self.tree = tree
        self.root = root
        self.imported = {alias.asname or alias.name: (node.module, alias.name) for node in tree.body
                         if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                         for alias in node.names}
        self.functions = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        self.module_names = _bindings([n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef
                                                                              | ast.ClassDef)])
        self.calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]

    def why_variable(self, node: ast.expr, scope: ast.FunctionDef | ast.AsyncFunctionDef | None,
                     seen: frozenset[str] = frozenset()) -> str | None:
        """Why ``node`` is built from something other than constants, or None when it is constant."""
        if isinstance(node, ast.Constant):
            return None
        if isinstance(node, ast.JoinedStr):
            for value in node.values:
                if isinstance(value, ast.FormattedValue) and (why := self.why_variable(value.value, scope, seen)):
                    return f"an f-string of {why}"
            return None
        if isinstance(node, ast.IfExp):  # one of two statements, each judged; the condition chooses, never builds
            return self.why_variable(node.body, scope, seen) or self.why_variable(node.orelse, scope, seen)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
            return self.why_variable(node.left, scope, seen) or self.why_variable(node.right, scope, seen)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return next((w for e in node.elts if (w := self.why_variable(e, scope, seen))), None)
        if isinstance(node, ast.Dict):
            parts = [p for p in (*node.keys, *node.values) if p is not None]
            return next((w for p in parts if (w := self.why_variable(p, scope, seen))), None)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in _PURE_STR_METHODS and not node.keywords:
            parts = [node.func.value, *node.args]
            return next((w for p in parts if (w := self.why_variable(p, scope, seen))), None)
        if isinstance(node, ast.Name):
            return self._why_name(node.id, scope, seen)
        return f"an expression ({ast.unparse(node)[:60]})"

    def _why_name(self, name: str, scope: ast.FunctionDef | ast.AsyncFunctionDef | None,
                  seen: frozenset[str]) -> str | None:
        key = f"{scope.name if scope else ''}.{name}"
        if key in seen:
            return None  # a cycle adds nothing new
        seen = seen | {key}
        if scope is not None:
            local = _bindings(scope.body).get(name)
            if local:
                return next((f"{name!r} ({w})" for v in local if (w := self.why_variable(v, scope, seen))), None)
            params = [a.arg for a in (*scope.args.posonlyargs, *scope.args.args, *scope.args.kwonlyargs)]
            if name in params:
                return self._why_parameter(scope, name, params.index(name), seen)
        bound = self.module_names.get(name)
        if not bound and name in self.imported and self.root is not None:
            module, original = self.imported[name]
            source = self.root / (module.replace(".", "/") + ".py")
            if source.is_file():
                other = _Module(ast.parse(source.read_text(encoding="utf-8")), self.root)
                why = other._why_name(original, None, frozenset(f"{module}:{key}" for key in seen))
                return f"{name!r} of {module} ({why})" if why else None
        if not bound:
            return f"{name!r}, bound to no constant"
        return next((f"{name!r} ({w})" for v in bound if (w := self.why_variable(v, None, seen))), None)

    def _why_parameter(self, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str, index: int,
                       seen: frozenset[str]) -> str | None:
        """A parameter is constant when every call of its function in the module passes a constant."""
        offset = 1 if function.args.args and function.args.args[0].arg in ("self", "cls") else 0
        sites = [c for c in self.calls if (isinstance(c.func, ast.Name) and c.func.id == function.name)
                 or (isinstance(c.func, ast.Attribute) and c.func.attr == function.name)]
        if not sites:
            return f"the parameter {name!r} of {function.name}(), called from no place in its module"
        for call in sites:
            argument = next((k.value for k in call.keywords if k.arg == name), None)
            if argument is None and index - offset < len(call.args):
                argument = call.args[index - offset]
            if argument is None:
                continue  # the default is used
            caller = next((f for f in self.functions.values() if any(n is call for n in ast.walk(f))), None)
            if why := self.why_variable(argument, caller, seen):
                return f"the parameter {name!r} given {why} at line {call.lineno}"
        return None


def _bindings(body: list[ast.stmt]) -> dict[str, list[ast.expr]]:
    """Names bound in ``body`` (not in nested functions) to the expressions they are bound to."""
    found: dict[str, list[ast.expr]] = {}

    def bind(target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            found.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                bind(element, value)  # each name gets a part of a constant: constant as a whole

    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(node, ast.Assign):
            for target in node.targets:
                bind(target, node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            bind(node.target, node.value)
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            bind(node.target, node.iter)
        stack.extend(ast.iter_child_nodes(node))
    return found


def sql_built_from_variables(files: list[Path] | None = None, root: Path = PROJECT_ROOT
                             ) -> dict[tuple[str, str], list[str]]:
    """(file, function) -> the SQL calls in it whose statement is not built from constants only, with why."""
    if files is None:
        files = [p for name in _SCANNED for p in ((root / name).rglob("*.py") if (root / name).is_dir()
                                                  else [root / name])]
    findings: dict[tuple[str, str], list[str]] = {}
    for path in sorted(files):
        module = _Module(ast.parse(path.read_text(encoding="utf-8")), root)
        for function in module.functions.values():
            for call in [n for n in ast.walk(function) if isinstance(n, ast.Call)]:
                if not (isinstance(call.func, ast.Attribute) and call.func.attr in _SQL_METHODS):
                    continue
                query = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "query"), None)
                if query is None or (why := module.why_variable(query, function)) is None:
                    continue
                key = (str(path.relative_to(root)), function.name)
                findings.setdefault(key, []).append(f"line {call.lineno}: {call.func.attr}() with {why}")
    return findings


def test_every_sql_statement_is_a_constant_with_parameters() -> None:
    findings = sql_built_from_variables()
    unexplained = {key: why for key, why in findings.items() if key not in ALLOWED}
    assert not unexplained, "SQL built from variables (use $1 parameters, or allow-list an identifier case):\n" + \
        "\n".join(f"  {file} {function}(): {'; '.join(why)}" for (file, function), why in unexplained.items())
    stale = sorted(set(ALLOWED) - set(findings))
    assert not stale, f"allow-list entries that no longer match any statement (remove them): {stale}"


def test_the_static_scan_catches_what_it_is_meant_to_catch(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "SAFE = 'SELECT 1 WHERE a = $1'\n"
        "TABLES = ('a', 'b')\n"
        "async def ok(conn, name):\n"
        "    await conn.execute(SAFE, name)\n"
        "    await conn.execute(SAFE.replace('a =', 'b =') + ' LIMIT 1', name)\n"
        "    for table in TABLES:\n"
        "        await conn.fetch(f'SELECT count(*) FROM {table}')\n"
        "    await conn.execute(f'TRUNCATE {\", \".join(TABLES)}')\n"
        "    await _one(conn, 'people')\n"
        "    await conn.execute(SAFE if name else SAFE + ' LIMIT 1', name)\n"
        "async def _one(conn, table):\n"
        "    return await conn.fetchval(f'SELECT count(*) FROM {table}')\n"
        "async def bad(conn, name):\n"
        "    await conn.execute(f'SELECT * FROM t WHERE a = {name}')\n"
        "    await conn.fetch('SELECT %s' % name)\n"
        "    await conn.fetchval('SELECT ' + name)\n"
        "    sql = 'SELECT {}'.format(name)\n"
        "    await conn.fetchrow(sql)\n"
        "    await _one(conn, name)\n"
        "    await conn.execute(SAFE if name else 'SELECT ' + name)\n")
    findings = sql_built_from_variables([source], tmp_path)
    assert set(findings) == {("sample.py", "bad"), ("sample.py", "_one")}, findings
    assert len(findings[("sample.py", "bad")]) == 5, findings


def test_the_static_scan_follows_constants_into_the_module_they_come_from(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "shared.py").write_text("BASE = 'SELECT 1 WHERE a = $1'\nname = input()\n")
    source = tmp_path / "user.py"
    source.write_text(
        "from pkg.shared import BASE, name\n"
        "async def ok(conn):\n"
        "    await conn.execute(BASE.replace('$1', '$2'), 1, 2)\n"
        "async def bad(conn):\n"
        "    await conn.execute('SELECT ' + name)\n")
    findings = sql_built_from_variables([source], tmp_path)
    assert set(findings) == {("user.py", "bad")}, findings


# ---- unit boundaries -----------------------------------------------------------------------------------------


async def _outsiders(pool: asyncpg.Pool) -> tuple[str, str]:
    """An active officer and the supervisor of another unit (from the seeded rosters)."""
    row = await pool.fetchrow(
        "SELECT o.officer_id, s.officer_id AS supervisor FROM officers o JOIN officers s"
        " ON s.unit_code = o.unit_code AND s.role = 'supervisor' WHERE o.unit_code <> $1 AND o.role = 'officer'"
        " AND o.active ORDER BY o.officer_id LIMIT 1", DEMO_UNIT)
    assert row is not None, "the seed has a single police unit"
    return row["officer_id"], row["supervisor"]


def _officer_cli(settings: Settings, tmp_path: Path, api: str, token: str, *args: str,
                 ) -> subprocess.CompletedProcess[str]:
    env = cutru_env(settings, tmp_path, CUTRU_API_URL=api, CUTRU_API_TOKEN=token)
    return run_cutru(env, "officer", *args)


async def test_an_officer_of_another_unit_cannot_decide_by_any_path(
        dossiers: DossierClient, client: Client, settings: Settings, pool: asyncpg.Pool, tmp_path: Path,
        api_process: str, oidc_provider: OidcProvider) -> None:
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = registration(person, place)
    code = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    outsider, outside_supervisor = await _outsiders(pool)
    handle = dossiers.handle(code)
    await wait_for(lambda: idle(handle))
    events_before = await acted_events(handle)

    # 1. The validated update: refused before anything enters the history.
    for decision in (DecisionKind.APPROVE, DecisionKind.REJECT):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await dossiers.decide(code, OfficerDecision(officer_id=outsider, decision=decision, reason="x"))
        assert f"not an officer of {DEMO_UNIT}" in str(refused.value.cause)
    assert await acted_events(handle) == events_before
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await dossiers.reassign(code, Reassignment(supervisor_id=outside_supervisor, officer_id="CB-00070-02",
                                                   reason="x"))
    assert f"is not the active supervisor of {DEMO_UNIT}" in str(refused.value.cause)

    # 2. The signal: recorded as refused in the audit trail, never acted on.
    await dossiers.signal_decision(code, OfficerDecision(officer_id=outsider, decision=DecisionKind.APPROVE))

    async def refused_in_audit() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM audit_events WHERE dossier_code = $1"
                                        " AND action = 'decision_refused' AND actor = $2", code, outsider))

    await wait_for(refused_in_audit)

    # 3. The officer's command, through the API with the outsiders' own tokens: a decision and a reassignment are
    # refused (exit 1), a look finds nothing (exit 3).
    as_outsider = login_token(oidc_provider, outsider)
    approve = await asyncio.to_thread(_officer_cli, settings, tmp_path, api_process, as_outsider, "approve", code)
    assert approve.returncode == 1 and f"does not cover police unit {DEMO_UNIT}" in approve.stderr, approve
    show = await asyncio.to_thread(_officer_cli, settings, tmp_path, api_process, as_outsider, "show", code)
    assert show.returncode == 3 and f"No dossier {code}" in show.stderr, show
    reassign = await asyncio.to_thread(_officer_cli, settings, tmp_path, api_process,
                                       login_token(oidc_provider, outside_supervisor),
                                       "reassign", code, "--to", "CB-00070-02", "--reason", "x")
    assert reassign.returncode == 1 and f"does not cover police unit {DEMO_UNIT}" in reassign.stderr, reassign

    status = await dossiers.status(code)
    assert status.state == DossierState.AWAITING_DECISION
    assert not any(e.action in ("approved", "proposed", "refused") for e in status.trail)
    # The unit's own officer still can.
    await dossiers.decide(code, OfficerDecision(officer_id=status.assigned_officer or "CB-00070-01",
                                                decision=DecisionKind.APPROVE))
    await head_signs(dossiers, pool, code)
    await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)


async def test_an_inactive_officer_of_the_unit_cannot_decide(dossiers: DossierClient, pool: asyncpg.Pool) -> None:
    inactive = f"CB-00070-{random.Random(uuid.uuid4().int).randrange(50, 99)}"
    await pool.execute("INSERT INTO officers (officer_id, full_name, unit_code, role, active)"
                       " VALUES ($1, 'Cán bộ nghỉ hưu', $2, 'officer', false) ON CONFLICT DO NOTHING",
                       inactive, DEMO_UNIT)
    try:
        async with pool.acquire() as conn:
            person = await new_person(conn)
            place = await new_place(conn, owner_id=person.personal_id)
        submission = registration(person, place)
        await dossiers.submit(submission)
        await wait_state(dossiers, submission["dossier_code"], DossierState.AWAITING_DECISION)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await dossiers.decide(submission["dossier_code"],
                                  OfficerDecision(officer_id=inactive, decision=DecisionKind.APPROVE))
        assert "inactive" in str(refused.value.cause)
    finally:
        await pool.execute("DELETE FROM officers WHERE officer_id = $1", inactive)


# ---- secrets -------------------------------------------------------------------------------------------------

_KEY_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=_-])([A-Za-z0-9][A-Za-z0-9._-]{0,63}):([A-Za-z0-9+/_-]{42,44}={0,2})"
                        r"(?![A-Za-z0-9+/=_-])")
_ENV_ENTRY = re.compile(r"CUTRU_PAYLOAD_KEYS\s*[=:]\s*[\"']?([^\s\"'#]+)")
_PEM = re.compile("-----BEGIN" + r" (?:[A-Z0-9]+ )*PRIVATE KEY-----")


def _decodes_to_a_key(text: str) -> bool:
    normalized = text.replace("-", "+").replace("_", "/")
    normalized += "=" * (-len(normalized) % 4)
    try:
        return len(base64.b64decode(normalized, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def secrets_in(text: str) -> list[str]:
    found = [f"PEM private key at offset {m.start()}" for m in _PEM.finditer(text)]
    for match in _ENV_ENTRY.finditer(text):
        for entry in match.group(1).split(","):
            _, _, key = entry.partition(":")
            if _decodes_to_a_key(key):
                found.append(f"CUTRU_PAYLOAD_KEYS entry with a 32-byte key: {entry[:12]}…")
    found += [f"key-like token {m.group(1)}:{m.group(2)[:6]}…" for m in _KEY_TOKEN.finditer(text)
              if _decodes_to_a_key(m.group(2))]
    return found


def test_the_secret_scan_recognises_keys() -> None:
    key = base64.urlsafe_b64encode(bytes(range(32))).decode()
    assert secrets_in(f"CUTRU_PAYLOAD_KEYS=k1:{key}")
    assert secrets_in(f"keys: prod-2026:{key},")
    assert secrets_in("-----BEGIN" + " EC PRIVATE KEY-----\nMHcCAQEE\n")
    assert not secrets_in("CUTRU_PAYLOAD_KEYS=REPLACE_ME:REPLACE_ME  CUTRU_PAYLOAD_KEYS=k2025b:BASE64KEY")


def test_no_tracked_file_holds_a_secret() -> None:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True
                             ).stdout.decode().split("\0")
    leaks = {}
    for name in filter(None, tracked):
        path = PROJECT_ROOT / name
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary: fonts, images
        # The recorded histories' key is public on purpose (tests/factories.py): it protects no data.
        if found := secrets_in(text.replace(PAYLOAD_KEY_LINE, "")):
            leaks[name] = found
    assert not leaks, f"secrets in tracked files: {leaks}"
