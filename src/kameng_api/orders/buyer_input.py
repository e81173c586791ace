"""The buyer input a product asks for (game account, region …): each field checked against
its rules, unknown keys refused, every problem named in one 422."""

from __future__ import annotations

import re
from typing import Any

from kameng_api.core.errors import FieldProblem
from kameng_api.orders.errors import OrderRefused


def check_buyer_input(fields: list[dict[str, Any]], data: dict[str, Any]) -> dict[str, str]:
    """The product's buyer fields (game account, region …) filled in, or a 422 naming each
    problem. Unknown keys are refused too: nothing unexpected reaches the delivery."""
    problems: list[FieldProblem] = []
    out: dict[str, str] = {}
    known = {f["key"] for f in fields}
    for key in data:
        if key not in known:
            problems.append(
                FieldProblem(
                    loc=["body", "buyer_input", key], msg="未知字段 (unknown field)", type="unknown"
                )
            )
    for f in fields:
        raw = data.get(f["key"])
        value = "" if raw is None else str(raw).strip()
        loc: list[str | int] = ["body", "buyer_input", f["key"]]
        if not value:
            if f.get("required", True):
                problems.append(
                    FieldProblem(loc=loc, msg=f"请填写{f['label']} (required)", type="missing")
                )
            continue
        if len(value) > int(f.get("max_length", 64)):
            problems.append(FieldProblem(loc=loc, msg="太长 (too long)", type="too_long"))
        elif f.get("type") == "number" and not re.fullmatch(r"-?\d+(\.\d+)?", value):
            problems.append(FieldProblem(loc=loc, msg="须为数字 (a number)", type="number"))
        elif f.get("type") == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            problems.append(FieldProblem(loc=loc, msg="邮箱格式不对 (an email)", type="email"))
        elif f.get("type") == "phone" and not re.fullmatch(r"\+?[0-9 -]{5,20}", value):
            problems.append(
                FieldProblem(loc=loc, msg="手机号格式不对 (a phone number)", type="phone")
            )
        elif f.get("type") == "select" and value not in f.get("options", []):
            problems.append(
                FieldProblem(loc=loc, msg="不在可选项中 (not an option)", type="option")
            )
        elif f.get("pattern") and not re.fullmatch(f["pattern"], value):
            problems.append(FieldProblem(loc=loc, msg="格式不对 (wrong format)", type="pattern"))
        else:
            out[f["key"]] = value
    if problems:
        raise OrderRefused(
            "下单信息有误 (check the buyer input)", code="bad_buyer_input", errors=problems
        )
    return out
