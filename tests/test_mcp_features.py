"""MCP features clients expect, through a real MCP client: completions for prompt and resource
template arguments, and the logging capability (setLevel, warnings as log notifications)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import LoggingMessageNotificationParams, PromptReference, ResourceTemplateReference

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import server_of, settings_for

pytestmark = pytest.mark.anyio

FOLLOW_UP = PromptReference(type="ref/prompt", name="ameyo_campaign_follow_up")
BY_OUTCOME = PromptReference(type="ref/prompt", name="ameyo_contacts_by_outcome")


async def test_completions_for_campaigns_leads_statuses_and_dispositions(client: Client) -> None:
    caps = client.server_capabilities
    assert caps is not None and caps.completions is not None
    campaigns = await client.complete(FOLLOW_UP, {"name": "campaign", "value": "mo"})
    assert campaigns.completion.values == ["MoviStarSurvey", "MOSL_Frenchise"]
    template = ResourceTemplateReference(type="ref/resource", uri="ameyo://campaigns/{campaign}/leads")
    assert (await client.complete(template, {"name": "campaign", "value": "test"})).completion.values == [
        "TestInbound"
    ]
    leads = await client.complete(FOLLOW_UP, {"name": "lead", "value": ""}, {"campaign": "MoviStarSurvey"})
    assert leads.completion.values == ["1", "21", "35", "39"]
    statuses = await client.complete(BY_OUTCOME, {"name": "status", "value": "no"})
    # Those starting with what was typed first, then those containing it.
    assert statuses.completion.values[:2] == ["NOT_TRIED", "NO_ANSWER"]
    assert "CALL_NOT_PICKED" in statuses.completion.values and "BUSY" not in statuses.completion.values
    dispositions = await client.complete(BY_OUTCOME, {"name": "disposition", "value": "d"}, {"campaign": "1"})
    assert dispositions.completion.values[0] == "DNC"
    every = await client.complete(BY_OUTCOME, {"name": "disposition", "value": ""}, {"campaign": "1"})
    assert {"DNC", "Sale", "Callback Requested"} <= set(every.completion.values)
    other = await client.complete(
        PromptReference(type="ref/prompt", name="nope"), {"name": "status", "value": ""}
    )
    assert other.completion.values == []
    # Only the arguments a prompt takes: the follow-up prompt has no status.
    unasked = await client.complete(FOLLOW_UP, {"name": "status", "value": "no"})
    assert unasked.completion.values == []


async def test_warnings_reach_the_client_as_log_notifications(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    # A folder where the store should be: the session cannot be shared, and the login says so.
    (tmp_path / "store").mkdir()
    settings = settings_for(simulator, tmp_path, AMEYO_DATABASE_URL=str(tmp_path / "store"))
    received: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        received.append(params)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK marks logging deprecated for the 2026 protocol
        async with Client(server_of(simulator, settings), mode="legacy", logging_callback=on_log) as client:
            caps = client.server_capabilities
            assert caps is not None and caps.logging is not None
            await client.set_logging_level("warning")
            login = await client.call_tool("ameyo_login", {})
            assert not login.is_error
            assert [(m.level, m.logger) for m in received] == [("warning", "ameyo_mcp.ameyo.session")]
            assert "cannot be shared through the store" in str(received[0].data)
            await client.set_logging_level("error")
            await client.call_tool("ameyo_login", {"new_session": True})
            assert len(received) == 1
        async with Client(
            server_of(simulator, settings), logging_callback=on_log, log_level="warning"
        ) as modern:
            await modern.call_tool("ameyo_login", {})
            assert len(received) == 2 and received[1].level == "warning"
    assert not any(simulator.state.config.password in str(m.data) for m in received)
