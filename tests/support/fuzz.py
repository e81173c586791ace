"""The contract fuzzer's harness: a real `kameng serve` on a demo shop, signed-in callers, and
schemathesis (``st run``) against the served OpenAPI document, once per caller.

Used by ``tests/test_contract_fuzz.py`` (in ``make test``) and ``make fuzz`` (more examples).
The reviewed exceptions live in ``tests/fuzz/schemathesis.toml``, each with its reason.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "fuzz" / "schemathesis.toml"
# failures accepted for a while (schemathesis' own format); none today: keep it that way
BASELINE = ROOT / "tests" / "fuzz" / "baseline.json"
ST = Path(sys.executable).with_name("st")
DEMO_PASSWORD = "Kameng-Demo-2026!"

# who the fuzzer is, as (name, demo login)
CALLERS = [
    ("customer", "customer@demo.kameng.example"),
    ("operator", "operator@demo.kameng.example"),
    ("super_admin", "admin@demo.kameng.example"),
]


@dataclass
class FuzzResult:
    caller: str
    exit_code: int
    operations: int
    cases: int
    failures: int
    output: str


def sign_in(base: str, login: str, *, with_2fa: bool) -> str:
    """An access token for ``login``; with 2FA enrolled and a fresh step-up on its session
    when asked (sensitive permissions need both)."""
    with httpx.Client(base_url=base, timeout=30) as http:
        r = http.post("/api/v1/auth/login", json={"login": login, "password": DEMO_PASSWORD})
        r.raise_for_status()
        token = str(r.json()["access_token"])
        if not with_2fa:
            return token
        auth = {"Authorization": f"Bearer {token}"}
        setup = http.post("/api/v1/me/2fa/setup", headers=auth)
        setup.raise_for_status()
        totp = pyotp.TOTP(setup.json()["secret"])
        enabled = http.post("/api/v1/me/2fa/enable", headers=auth, json={"code": totp.now()})
        enabled.raise_for_status()
        recovery = enabled.json()["recovery_codes"][0]
        # a TOTP code is accepted once: step up with a recovery code
        http.post(
            "/api/v1/auth/step-up", headers=auth, json={"recovery_code": recovery}
        ).raise_for_status()
        return token


def _figure(pattern: str, text: str) -> int:
    m = re.search(pattern, text)
    return int(m.group(1)) if m else 0


def run_schemathesis(
    base: str, caller: str, token: str, *, examples: int, seed: int, report_dir: Path
) -> FuzzResult:
    report_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(ST),
        "--no-color",
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(seed),
        # no example database: a run depends on the seed alone, here as in a clean clone
        "--generation-database",
        "none",
        "--max-examples",
        str(examples),
        # one worker: Hypothesis is not thread-safe (two workers met a KeyError in its
        # lambda-source cache, reported as a flaky error of the run)
        "--workers",
        "1",
        *(["--baseline", str(BASELINE)] if BASELINE.exists() else []),
        "--report",
        "junit",
        "--report-dir",
        str(report_dir / caller),
    ]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    out = proc.stdout + proc.stderr
    out += f"\n[{caller}: {time.monotonic() - started:.0f} s]\n"
    return FuzzResult(
        caller=caller,
        exit_code=proc.returncode,
        operations=_figure(r"Tested:\s+(\d+)", out),
        cases=_figure(r"(\d+) generated", out),
        failures=_figure(r"(\d+) failures?\b", out.split("SUMMARY")[-1]),
        output=out,
    )
