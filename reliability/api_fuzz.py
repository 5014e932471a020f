"""5. schemathesis against the OpenAPI document: with a valid key, then a missing, a wrong and another
account's key. No 5xx, no response that contradicts the schema (status code, content type, body)."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from reliability.harness import Deployment, Postgres, Row, deployment
from reliability.worker_kill import automation

NAME = "5. schemathesis"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "unsupported_method",  # found: a 405 without its Allow header
        "allow_header_conformance",  # found: an Allow header naming only some of the methods of the path
    ]
)
MAX_EXAMPLES = 25
RUN_DEADLINE_S = 600.0


async def schemathesis(deployed: Deployment, key: str | None, report: Path, max_examples: int) -> tuple[int, str]:
    """One schemathesis run with this key (None: no key header); its exit status and output."""
    args = [
        "run",
        f"{deployed.api_url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(max_examples),
        "--seed",
        "1",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--exclude-path-regex",
        "/stream",  # a WebSocket upgrade, not an HTTP operation schemathesis can call
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "--no-color",
    ]
    if key is not None:
        args += ["--header", f"x-api-key: {key}"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=deployed.data_dir,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), RUN_DEADLINE_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, f"schemathesis ran past {RUN_DEADLINE_S:g} s"
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


def server_errors(report: Path) -> int:
    """Responses with a 5xx status in the run's NDJSON events."""
    if not report.exists():
        return 0
    return len(re.findall(r'"status_code":\s*5\d\d', report.read_text(errors="replace")))


def test_cases(output: str) -> int:
    """How many test cases the run sent, from its summary line."""
    found = re.search(r"(\d+) generated", output)
    return int(found.group(1)) if found else 0


def summary(output: str) -> str:
    """The failures section of schemathesis' output, shortened for the report."""
    lines = [line for line in output.splitlines() if line.strip()]
    failures = [line for line in lines if "FAIL" in line or "Server error" in line or "Undocumented" in line]
    return "; ".join(failures[:6]) or "; ".join(lines[-6:])


async def run(postgres: Postgres, work_dir: Path, max_examples: int = MAX_EXAMPLES) -> Row:
    row = Row(NAME)
    async with deployment(postgres, work_dir) as deployed:
        await deployed.start_api()
        await deployed.put_automation("short", automation(deployed.site.url))
        keys = {
            "valid key": deployed.key,
            "missing key": None,
            "wrong key": "rb_0000000000000000000000000000000000000000",
            "other account's key": await deployed.other_account_key(),
        }
        for label, key in keys.items():
            report = deployed.data_dir / f"schemathesis-{label.replace(' ', '-').replace(chr(39), '')}.ndjson"
            status, output = await schemathesis(deployed, key, report, max_examples)
            row.server_errors += server_errors(report)
            row.tasks += test_cases(output)
            row.require(status == 0, f"{label}: {summary(output)}")
            row.notes.append(f"{label}: {test_cases(output)} test cases, schemathesis exit status {status}")
    return row
