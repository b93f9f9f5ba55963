"""3. Context cost: characters of `ameyo_get_contacts`' concise answer against the raw Ameyo JSON for
the same 10, 100 and 1,000 contacts, and the size of all tool schemas together.

    /work/venv/bin/python bench/bench_context.py

Each size is a fresh simulator with `SimulatorConfig(contacts=N)`: campaign 1 then holds N
contacts and, beside them, the document's addCallback customer 112 (N + 1 in all). The concise
answer is `{"campaign": 1}` (the campaign filter, default limit 20): counts by status over all of
them, then one line per contact for the first 20. A full page (`limit=100`) is shown
too. The raw baseline is one getContacts of the whole campaign with the same four columns the tool
asks for (the smallest raw answer that carries the same facts), and with every campaign column.
Schemas: `json.dumps` of each tools/list entry (by alias, no nulls), summed.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ameyo_settings, header, run_async, simulator, table

from ameyo_mcp.ameyo.client import AmeyoClient
from ameyo_mcp.ameyo.columns import CAMPAIGN_COLUMN_PREFIX as CAMPAIGN_COLUMN
from ameyo_mcp.ameyo.columns import CAMPAIGN_COLUMNS as COLUMNS
from ameyo_mcp.server.app import create_server
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread

SIZES = (10, 100, 1000)
SUMMARY_COLUMNS = ("status", "attempts", "disposition", "last_dialed_time")
ANSWER_GOAL = 0.10
FULL_PAGE_GOAL = 0.15
SCHEMA_GOAL = 12_000


async def raw_chars(sim: SimulatorThread, workdir: Path, columns: tuple[str, ...] | list[str]) -> int:
    client = AmeyoClient(ameyo_settings(sim, workdir))
    sid = (await client.login()).session_id
    await client.aclose()
    data = {
        "sessionId": sid,
        "campaignId": 1,
        "otherColumns": {CAMPAIGN_COLUMN + c: c for c in columns},
    }
    async with httpx.AsyncClient() as http:
        response = await http.post(
            sim.command_url, data={"command": "getContacts", "data": json.dumps(data, separators=(",", ":"))}
        )
    return len(response.text)


def wire_chars(result: Any) -> int:
    return len(result.model_dump_json(by_alias=True, exclude_none=True))


async def answers() -> None:
    rows = []
    goal_ratio: float | None = None
    full_ratio, shown = 0.0, 0
    for size in SIZES:
        with simulator(SimulatorConfig(contacts=size)) as sim, tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            raw = await raw_chars(sim, workdir, SUMMARY_COLUMNS)
            raw_all = await raw_chars(sim, workdir, COLUMNS)
            async with Client(create_server(ameyo_settings(sim, workdir)), cache=None) as client:
                before = sim.state.commands["getContacts"]
                concise = await client.call_tool("ameyo_get_contacts", {"campaign": 1})
                pages = sim.state.commands["getContacts"] - before
                full = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "limit": 100})
        # Campaign 1 holds the N contacts and customer 112 (the document's addCallback sample).
        assert not concise.is_error and concise.structured_content["matched"] == size + 1, concise.content
        text = concise.content[0].text
        structured = len(json.dumps(concise.structured_content, ensure_ascii=False, separators=(",", ":")))
        ratio = len(text) / raw
        if size == 100:
            goal_ratio = ratio
            shown = len(full.structured_content["contacts"])
            full_ratio = len(full.content[0].text) / raw
        rows.append(
            (
                size,
                pages,
                f"{raw:,}",
                f"{raw_all:,}",
                f"{len(text):,}",
                f"{ratio:.1%}",
                f"{structured:,}",
                f"{wire_chars(concise):,}",
                f"{len(full.content[0].text):,} ({len(full.structured_content['contacts'])} shown)",
            )
        )
    print("   concise = {'campaign': 1}: counts over all N, lines for the first 20 (default limit)")
    table(
        rows,
        (
            "contacts",
            "getContacts",
            "raw JSON",
            "raw, all cols",
            "answer text",
            "text/raw",
            "structured",
            "whole result",
            "text, limit=100",
        ),
    )
    assert goal_ratio is not None
    verdict = "met" if goal_ratio < ANSWER_GOAL else "MISSED"
    print(f"   at 100 contacts the answer text is {goal_ratio:.1%} of the raw JSON (goal < 10%: {verdict})")
    verdict = "met" if full_ratio <= FULL_PAGE_GOAL and shown == 100 else "MISSED"
    print(
        f"   with limit=100 ({shown} shown) the answer text is {full_ratio:.1%} of the raw JSON of the "
        f"campaign's 101 contacts (goal ≤ 15% with 100 shown: {verdict})"
    )


def size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False))


async def schemas() -> None:
    with simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        async with Client(create_server(ameyo_settings(sim, Path(tmp))), cache=None) as client:
            tools = (await client.list_tools()).tools
    entries = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
    # Icons are shown to people, never to a model: measured apart, as tests/test_server.py does.
    icons = sum(size(e.pop("icons", [])) for e in entries)
    total = sum(size(e) for e in entries)
    rows = []
    fields: list[tuple[int, str]] = []
    for entry in sorted(entries, key=lambda e: -size(e)):
        props = entry.get("inputSchema", {}).get("properties", {})
        for name, schema in props.items():
            fields.append((size(schema), f"{entry['name']}.{name}"))
        rows.append(
            (
                entry["name"],
                f"{size(entry):,}",
                f"{len(entry.get('description', '')):,}",
                f"{size(entry.get('inputSchema', {})):,}",
                f"{size(entry['outputSchema']):,}" if "outputSchema" in entry else "-",
                f"{size(entry.get('annotations', {})):,}",
            )
        )
    table(rows, ("tool", "entry", "description", "inputSchema", "outputSchema", "annotations"))
    outputs = sum(size(e["outputSchema"]) for e in entries if "outputSchema" in e)
    descriptions = sum(len(e.get("description", "")) for e in entries)
    verdict = "met" if total < SCHEMA_GOAL else "MISSED"
    print(
        f"   all {len(entries)} tool entries: {total:,} characters (goal < {SCHEMA_GOAL:,}: {verdict}); "
        f"outputSchemas {outputs:,}, descriptions {descriptions:,}; icons apart, {icons:,}"
    )
    # A client hands the model each tool's name, description and input schema (the Anthropic and
    # OpenAI tool formats have no place for an output schema): that part is the per-turn cost.
    for_model = sum(size({k: v for k, v in e.items() if k != "outputSchema"}) for e in entries)
    verdict = "met" if for_model < SCHEMA_GOAL else "MISSED"
    print(f"   without outputSchemas (what a model is shown): {for_model:,} characters (goal: {verdict})")
    print("   costliest input fields:")
    table([(name, f"{n:,}") for n, name in sorted(fields, reverse=True)[:8]], ("field", "chars"))


async def run() -> None:
    header("context cost: ameyo_get_contacts answer against raw Ameyo JSON; tool schemas")
    await answers()
    await schemas()


if __name__ == "__main__":
    run_async(run)
