"""infra/terraform/: formatted, no checkov finding left (every skip explained), and shaped as DESIGN.md needs.

No cloud and no provider download: `terraform fmt` works offline, checkov reads the .tf files
statically, and the structural tests read them with checkov's own HCL parser (bc-python-hcl2 in
checkov's venv, `scripts/install-checkov.sh`), so the project's venv needs no extra package.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "infra" / "terraform"
CHECKOV_CONFIG = TERRAFORM_DIR / ".checkov.yaml"
INSTALL_CHECKOV = "scripts/install-checkov.sh"
SERVICES = {"api", "processors", "worker", "intake"}

# checkov calls no vendor API (`skip-download` in the config) and checks PyPI for no update.
OFFLINE_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}

Block = dict[str, Any]


def _checkov_venv() -> Path:
    """The venv of `scripts/install-checkov.sh`: .venv/tools/checkov beside the running venv."""
    beside_venv = Path(sys.executable).parent.parent / "tools" / "checkov"
    candidates = [beside_venv, ROOT / ".venv" / "tools" / "checkov"]
    for venv in candidates:
        if (venv / "bin" / "checkov").exists():
            return venv
    pytest.fail(
        f"checkov is not installed (looked in {', '.join(str(c) for c in candidates)}): "
        f"run {INSTALL_CHECKOV} (make install runs it)",
        pytrace=False,
    )


def _run(args: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=os.environ | OFFLINE_ENV | {"TF_IN_AUTOMATION": "1"},
    )


# --- terraform fmt --------------------------------------------------------------------------


def test_terraform_files_are_formatted() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.fail("terraform is not on PATH: it is needed for `terraform fmt -check`", pytrace=False)
    result = _run([terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)])
    assert result.returncode == 0, (
        f"run `terraform fmt -recursive infra/terraform`; unformatted:\n{result.stdout}{result.stderr}"
    )


# --- checkov --------------------------------------------------------------------------------


@cache
def _checkov_report() -> Block:
    checkov = _checkov_venv() / "bin" / "checkov"
    config, tree = str(CHECKOV_CONFIG), str(TERRAFORM_DIR)
    result = _run([str(checkov), "--config-file", config, "-d", tree, "-o", "json", "--quiet"])
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov did not report (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    assert isinstance(report, dict), "one framework (terraform) gives one report"
    return report


def test_checkov_finds_nothing() -> None:
    report = _checkov_report()
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    hint = "fix these, or skip one on its resource with `#checkov:skip=ID:why`"
    assert not failed, hint + ":\n" + "\n".join(failed)
    assert summary["failed"] == 0
    assert summary["parsing_errors"] == 0
    # It really read the tree: the stack has well over a hundred resources.
    assert summary["resource_count"] > 100
    assert summary["passed"] > 400


def test_checkov_is_the_pinned_version() -> None:
    pinned = re.search(r'^CHECKOV_VERSION="([^"]+)"', (ROOT / INSTALL_CHECKOV).read_text(), re.MULTILINE)
    assert pinned is not None
    assert _checkov_report()["summary"]["checkov_version"] == pinned.group(1), f"re-run {INSTALL_CHECKOV}"


def test_every_inline_skip_is_explained() -> None:
    skip = re.compile(r"(?:#|//)\s*checkov:skip=([^\s:]+)(?::(.*))?")
    found = 0
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for match in skip.finditer(line):
                found += 1
                check_id, reason = match.group(1), (match.group(2) or "").strip()
                where = f"{path.name}:{number}"
                assert re.fullmatch(r"CKV2?_AWS_\d+", check_id), f"{where}: unknown check {check_id}"
                assert len(reason.split()) >= 5, f"{where}: skip of {check_id} needs a reason"
    # checkov counts each skip per resource instance; there is at least one comment per skipped check.
    assert 0 < found <= _checkov_report()["summary"]["skipped"]


def test_every_configured_skip_is_explained() -> None:
    """Checks skipped for the whole tree (`skip-check:` in .checkov.yaml) each carry a comment."""
    lines = CHECKOV_CONFIG.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("skip-check:")), None)
    assert start is not None, "the config says which checks it skips everywhere (`skip-check: []` for none)"
    if lines[start].split(":", 1)[1].split("#")[0].strip() == "[]":
        return
    for line in lines[start + 1 :]:
        if not line.startswith((" ", "-")) or not line.strip():
            break
        entry, _, comment = line.partition("#")
        assert entry.strip().startswith("- CKV"), f"unexpected skip-check entry: {line!r}"
        assert len(comment.split()) >= 5, f"skip needs a one-line reason: {line!r}"


# --- structure ------------------------------------------------------------------------------

_PARSE = """
import json, pathlib, sys
import hcl2
tree = {p.name: hcl2.load(p.open()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.tf"))}
print(json.dumps(tree))
"""


@cache
def _tree() -> dict[str, dict[str, Block]]:
    """Every resource and data source by "type.name" and every local, from checkov's HCL parser.

    bc-python-hcl2 wraps every attribute value in a one-element list and every block in a list
    of its occurrences: `value()` and `blocks()` read them.
    """
    python = _checkov_venv() / "bin" / "python"
    result = _run([str(python), "-c", _PARSE, str(TERRAFORM_DIR)])
    assert result.returncode == 0, result.stderr
    files: dict[str, Block] = json.loads(result.stdout)
    tree: dict[str, dict[str, Block]] = {"resource": {}, "data": {}, "locals": {}, "terraform": {}}
    for parsed in files.values():
        for kind in ("resource", "data"):
            for entry in parsed.get(kind, []):
                for type_, named in entry.items():
                    for name, body in named.items():
                        tree[kind][f"{type_}.{name}"] = body
        for entry in parsed.get("locals", []):
            tree["locals"].update({k: v for k, v in entry.items() if not k.startswith("__")})
        for entry in parsed.get("terraform", []):
            tree["terraform"].update(entry)
    return tree


def resource(address: str) -> Block:
    resources = _tree()["resource"]
    assert address in resources, f"no resource {address}"
    return resources[address]


def data(address: str) -> Block:
    sources = _tree()["data"]
    assert address in sources, f"no data source {address}"
    return sources[address]


def value(block: Block, key: str) -> Any:
    assert key in block, f"missing {key}"
    wrapped = block[key]
    return wrapped[0] if isinstance(wrapped, list) and len(wrapped) == 1 else wrapped


def blocks(block: Block, key: str) -> list[Block]:
    found = block.get(key, [])
    assert isinstance(found, list)
    return found


def resources_of(type_: str) -> dict[str, Block]:
    return {a: b for a, b in _tree()["resource"].items() if a.startswith(f"{type_}.")}


def on_bucket(type_: str, bucket: str) -> Block:
    """The one `type_` resource configuring aws_s3_bucket.`bucket`."""
    bucket_id = f"${{aws_s3_bucket.{bucket}.id}}"
    matching = [b for b in resources_of(type_).values() if value(b, "bucket") == bucket_id]
    assert len(matching) == 1, f"expected one {type_} for bucket {bucket}, found {len(matching)}"
    return matching[0]


def local(name: str) -> Any:
    return value(_tree()["locals"], name)


def statements(document: str) -> list[Block]:
    return blocks(data(f"aws_iam_policy_document.{document}"), "statement")


def actions(statement: Block) -> set[str]:
    """A statement's actions: a list, or an expression of locals and literals (`concat(local.x, [...])`)."""
    raw = value(statement, "actions")
    if isinstance(raw, list):
        return set(raw)
    found = set(re.findall(r"""['"]([a-z0-9-]+:[A-Za-z*]+)['"]""", raw))
    for name in re.findall(r"local\.(\w+)", raw):
        found |= set(local(name))
    return found


def actions_of(document: str) -> set[str]:
    return {a for s in statements(document) for a in actions(s)}


def test_aws_provider_is_pinned() -> None:
    (aws,) = value(_tree()["terraform"], "required_providers")["aws"]
    assert aws["source"] == "hashicorp/aws"
    assert re.fullmatch(r"~> \d+\.\d+", aws["version"])


def test_documents_bucket_is_private_versioned_and_encrypted() -> None:
    access = on_bucket("aws_s3_bucket_public_access_block", "documents")
    blocked = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    for setting in blocked:
        assert value(access, setting) is True, setting

    versioning = on_bucket("aws_s3_bucket_versioning", "documents")
    assert value(blocks(versioning, "versioning_configuration")[0], "status") == "Enabled"

    sse = on_bucket("aws_s3_bucket_server_side_encryption_configuration", "documents")
    default = blocks(blocks(sse, "rule")[0], "apply_server_side_encryption_by_default")[0]
    assert value(default, "sse_algorithm") == "aws:kms"
    assert value(default, "kms_master_key_id") == "${aws_kms_key.documents.arn}"

    lifecycle = on_bucket("aws_s3_bucket_lifecycle_configuration", "documents")
    assert any(blocks(rule, "noncurrent_version_expiration") for rule in blocks(lifecycle, "rule"))

    assert value(on_bucket("aws_s3_bucket_logging", "documents"), "target_bucket") == (
        "${aws_s3_bucket.access_logs.id}"
    )

    denied = [s for s in statements("documents_bucket") if value(s, "effect") == "Deny"]
    tls_only = [s for s in denied if value(blocks(s, "condition")[0], "variable") == "aws:SecureTransport"]
    assert tls_only, "the bucket policy must deny requests without TLS"


def test_bucket_notifies_the_queue_which_has_a_dead_letter_queue() -> None:
    notification = on_bucket("aws_s3_bucket_notification", "documents")
    (queue,) = blocks(notification, "queue")
    assert value(queue, "queue_arn") == "${aws_sqs_queue.s3_events.arn}"
    assert set(value(queue, "events")) == {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}

    events = resource("aws_sqs_queue.s3_events")
    assert "aws_sqs_queue.s3_events_dlq.arn" in value(events, "redrive_policy")
    for address in ("aws_sqs_queue.s3_events", "aws_sqs_queue.s3_events_dlq"):
        assert value(resource(address), "kms_master_key_id") == "${aws_kms_key.documents.arn}", address

    (send,) = [s for s in statements("s3_events_queue") if actions(s) == {"sqs:SendMessage"}]
    source = [c for c in blocks(send, "condition") if value(c, "variable") == "aws:SourceArn"]
    assert [value(c, "values") for c in source] == [["${aws_s3_bucket.documents.arn}"]]


def test_each_service_runs_as_its_own_task_role() -> None:
    assert set(re.findall(r"'(\w+)'", local("service_names"))) == SERVICES

    task_definition = resource("aws_ecs_task_definition.service")
    assert value(task_definition, "for_each") == "${local.service_names}"
    assert value(task_definition, "task_role_arn") == "${aws_iam_role.task[each.key].arn}"
    assert value(task_definition, "execution_role_arn") == "${aws_iam_role.execution[each.key].arn}"

    service = resource("aws_ecs_service.service")
    assert value(service, "for_each") == "${local.service_names}"
    assert value(service, "task_definition") == "${aws_ecs_task_definition.service[each.key].arn}"
    assert value(service, "launch_type") == "FARGATE"
    network = blocks(service, "network_configuration")[0]
    assert value(network, "assign_public_ip") is False

    for role in ("task", "execution"):
        assert value(resource(f"aws_iam_role.{role}"), "for_each") == "${local.service_names}"
        own_role = f"${{aws_iam_role.{role}[each.key].id}}"
        assert value(resource(f"aws_iam_role_policy.{role}"), "role") == own_role
    # One policy document per deployable, none shared.
    policies = local("task_policies")
    assert set(policies) == SERVICES
    assert len(set(policies.values())) == len(SERVICES)


def test_task_roles_grant_only_what_each_service_does() -> None:
    granted = {name: actions_of(f"task_{name}") for name in SERVICES}
    api, processors, worker, intake = (granted[s] for s in ("api", "processors", "worker", "intake"))
    for name, allowed in granted.items():
        assert not {a for a in allowed if a.endswith("*")}, f"{name}: wildcard action"
    assert "s3:DeleteObject" in api
    assert not {"s3:DeleteObject", "s3:PutObject"} & (processors | worker | intake)
    assert {"s3:GetObject", "s3:GetObjectVersion"} <= processors
    assert {"s3:GetObject", "s3:GetObjectVersion"} <= worker
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= intake
    assert not {a for a in api | processors | worker if a.startswith("sqs:")}
    assert not {a for a in intake if a.startswith("s3:")}
    assert "kafka-cluster:ReadData" in processors
    assert not {"kafka-cluster:ReadData", "kafka-cluster:WriteData"} & (api | intake)


def test_execution_roles_read_only_their_services_secrets() -> None:
    (read,) = [s for s in statements("execution") if actions(s) == {"secretsmanager:GetSecretValue"}]
    assert "local.service_secret_keys[each.key]" in value(read, "resources")
    secrets = local("service_secrets")
    assert set(secrets) == SERVICES
    assert secrets["api"] != secrets["intake"]
    assert "api_token" in secrets["api"]
    assert not any("api_token" in keys for name, keys in secrets.items() if name != "api")
    app_secrets = resource("aws_secretsmanager_secret.app")
    assert value(app_secrets, "kms_key_id") == "${aws_kms_key.secrets.arn}"


def test_data_stores_are_private_and_encrypted() -> None:
    db = resource("aws_db_instance.main")
    assert value(db, "publicly_accessible") is False
    assert value(db, "storage_encrypted") is True
    assert value(db, "iam_database_authentication_enabled") is True
    assert value(db, "deletion_protection") == "${var.deletion_protection}"
    assert value(db, "multi_az") == "${var.db_multi_az}"
    assert value(db, "performance_insights_kms_key_id") == "${aws_kms_key.rds.arn}"
    assert value(db, "manage_master_user_password") is True

    msk = resource("aws_msk_cluster.main")
    auth = blocks(msk, "client_authentication")[0]
    assert value(auth, "unauthenticated") is False
    assert value(blocks(auth, "sasl")[0], "iam") is True
    encryption = blocks(msk, "encryption_info")[0]
    assert value(encryption, "encryption_at_rest_kms_key_arn") == "${aws_kms_key.msk.arn}"
    assert value(blocks(encryption, "encryption_in_transit")[0], "client_broker") == "TLS"


def test_every_log_group_is_encrypted_and_expires() -> None:
    groups = resources_of("aws_cloudwatch_log_group")
    assert len(groups) >= 5
    for address, group in groups.items():
        assert value(group, "kms_key_id") == "${aws_kms_key.logs.arn}", address
        assert value(group, "retention_in_days") == "${var.log_retention_days}", address


def test_api_is_served_over_https_only() -> None:
    https = resource("aws_lb_listener.https")
    assert value(https, "protocol") == "HTTPS"
    assert value(https, "ssl_policy").startswith("ELBSecurityPolicy-TLS13")
    http = resource("aws_lb_listener.http_redirect")
    action = blocks(http, "default_action")[0]
    assert value(action, "type") == "redirect"
    assert value(blocks(action, "redirect")[0], "protocol") == "HTTPS"
