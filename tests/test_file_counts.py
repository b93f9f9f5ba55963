"""A file upload's headline puts every row in exactly one count, in resumed runs and beside rows
another upload sent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ameyo_mcp.config import Settings
from ameyo_mcp.errors import SimulatedFailure
from ameyo_mcp.simulator import SimulatorConfig, SimulatorState, SimulatorThread
from tests.conftest import InProcessSimulator, server_of, settings_for, text_of
from tests.test_bulk_exact import plain_file

pytestmark = pytest.mark.anyio
TOOL = "ameyo_upload_contacts_file"
BODY = "phone1,name\n9876500401,Ana\n9876500402,Bo\n9876500403,Cy\n"


def counted_rows(text: str) -> int:
    """The rows the answer's first line and its 'Not sent again: N rows' line account for."""
    head = text.splitlines()[0]
    counts = re.findall(r"(?:before sending|this run|\(not resent\)|not sent) (\d+)", head)
    total = sum(int(n) for n in counts)
    again = re.search(r"^Not sent again: (\d+) rows?", text, re.M)
    return total + (int(again.group(1)) if again else 0)


def thirty_rows(simulator: InProcessSimulator, tmp_path: Path) -> tuple[Settings, dict[str, Any]]:
    """A server's settings with a 30-row file in its upload folder, and the tool's arguments to send
    it in batches of 10, one at a time (none of it asks for a confirmation)."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    plain_file(folder / "f.csv", 30)
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder), AMEYO_CONFIRM_OVER="1000")
    args: dict[str, Any] = {"file": "f.csv", "campaign": 1, "lead_id": 1, "dry_run": False}
    return settings, args | {"batch_size": 10, "concurrency": 1}


@pytest.mark.network
async def test_a_resumed_runs_rows_of_unknown_outcome_are_in_its_headline(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """The batch's answer was lost; the next run resends nothing (no retry_unknown). Its dry run
    counts the rows ('sent earlier without learning the outcome (not sent again) 3'); the real
    run's headline says 'refused 0; sent in this run 0; answered in earlier runs 0' of 3 rows and
    lists them among 'Ameyo's answers' (outcome unknown 3), which this run never asked."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "a.csv").write_text(BODY, encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    args: dict[str, Any] = {"file": "a.csv", "campaign": 1, "lead_id": 21, "dry_run": False}
    async with Client(server_of(simulator, settings)) as client:
        simulator.state.faults.commands = {"uploadContacts"}
        simulator.state.faults.drop_after = 1
        first = await client.call_tool(TOOL, args)
        simulator.state.faults.reset()
        assert first.structured_content is not None, text_of(first)
        assert first.structured_content["counts"] == {"OUTCOME_UNKNOWN": 3}, text_of(first)
        dry = await client.call_tool(TOOL, args | {"dry_run": True})
        again = await client.call_tool(TOOL, args)
    assert "sent earlier without learning the outcome (not sent again) 3" in text_of(dry), text_of(dry)
    assert again.structured_content is not None
    assert again.structured_content["counts"] == {"OUTCOME_UNKNOWN": 3}
    assert counted_rows(text_of(again)) == 3, text_of(again)


async def test_rows_answered_in_an_earlier_run_are_not_counted_twice(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """b.csv holds a.csv's rows: its first run sends none (SENT_EARLIER, by the ledger). Its next
    run says 'answered in earlier runs (not resent) 3' and also 'Not sent again: 3 rows that an
    earlier upload already sent': 6 rows of 3. The dry run takes the earlier runs' rows out of
    that line (by_ledger); the real run does not."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "a.csv").write_text(BODY, encoding="utf-8")
    (folder / "b.csv").write_text(BODY, encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    args: dict[str, Any] = {"campaign": 1, "lead_id": 21, "dry_run": False}
    async with Client(server_of(simulator, settings)) as client:
        a = await client.call_tool(TOOL, args | {"file": "a.csv"})
        assert "added 3" in text_of(a), text_of(a)
        b = await client.call_tool(TOOL, args | {"file": "b.csv"})
        assert counted_rows(text_of(b)) == 3, text_of(b)
        dry = await client.call_tool(TOOL, args | {"file": "b.csv", "dry_run": True})
        assert counted_rows(text_of(dry).replace("Would not be sent again", "Not sent again")) in (0, 3)
        b_again = await client.call_tool(TOOL, args | {"file": "b.csv"})
    assert counted_rows(text_of(b_again)) == 3, text_of(b_again)


async def test_a_resumed_run_tells_its_answers_apart_from_an_earlier_runs_unknown_outcomes(
    simulator: InProcessSimulator, tmp_path: Path
) -> None:
    """The first batch was answered with a 502 page (outcome unknown) and the run stopped; the
    next run sent the other 20 rows and said "sent in this run 20" beside "Ameyo's answers: added
    20, …, outcome unknown 10", as if 10 of this run's rows had gone unanswered. The 10 are told as
    an earlier sending's, and the answers as this run's."""
    settings, args = thirty_rows(simulator, tmp_path)
    async with Client(server_of(simulator, settings)) as client:
        simulator.state.faults.commands, simulator.state.faults.html_502 = {"uploadContacts"}, 1
        first = await client.call_tool(TOOL, args)
        simulator.state.faults.reset()
        resumed = await client.call_tool(TOOL, args)
        again = await client.call_tool(TOOL, args)
    answers = "Ameyo's answers{}: added {}, updated 0, duplicates left unchanged 0, failed 0"
    assert answers.format("", 0) + ", outcome unknown 10." in text_of(first), text_of(first)
    text = text_of(resumed)
    assert "sent in this run 20;" in text, text
    told = "; from an earlier sending, outcome unknown 10 (not resent)."
    assert answers.format(" (in this run)", 20) + told in text, text
    assert counted_rows(text) == 30, text
    assert answers.format(" (in this run and earlier ones)", 20) + told in text_of(again), text_of(again)


class RefusesFirstUpload(SimulatorState):
    """Ameyo refusing one uploadContacts whole ({"result": "Failed."}), as for a lead taken out of
    the campaign meanwhile: the command is not run."""

    refused = False

    def upload_contacts(self, *args: Any, **kwargs: Any) -> Any:
        if not self.refused:
            self.refused = True
            raise SimulatedFailure("CustomerManager.lead.not.in.camp.11", 1, 1)
        return super().upload_contacts(*args, **kwargs)


async def test_a_batch_ameyo_refused_whole_is_counted_as_sent_in_this_run(tmp_path: Path) -> None:
    """Its rows were counted nowhere in the headline, so they read as "of unknown outcome since an
    earlier sending (not resent) 10" beside "sent in this run 0", in a first run, though Ameyo had
    answered them (failed 10) and did not run them."""
    config = SimulatorConfig(password="pw-5ec2e7-simulated")
    simulator = InProcessSimulator(config, RefusesFirstUpload(config))
    settings, args = thirty_rows(simulator, tmp_path)
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool(TOOL, args)
    text = text_of(first)
    assert "sent in this run 10; answered in earlier runs (not resent) 0; not sent 20." in text, text
    assert "failed 10." in text and "unknown" not in text.splitlines()[0], text
    assert counted_rows(text) == 30, text


async def test_a_resent_batch_ameyo_refused_whole_is_not_said_to_be_not_resent(tmp_path: Path) -> None:
    """The first batch was answered with a 502 page (outcome unknown); retry_unknown resent it and
    Ameyo refused it whole: the run said "sent in this run 0 … of unknown outcome since an earlier
    sending (not resent) 10" and "from an earlier sending, outcome unknown 10 (not resent)", beside
    each row's "resent as asked, but … (Ameyo did not run it)". Resent in this run, it counts so."""
    config = SimulatorConfig(password="pw-5ec2e7-simulated")
    state = RefusesFirstUpload(config)
    state.refused = True  # (the 502 comes first)
    simulator = InProcessSimulator(config, state)
    settings, args = thirty_rows(simulator, tmp_path)
    async with Client(server_of(simulator, settings)) as client:
        state.faults.commands, state.faults.html_502 = {"uploadContacts"}, 1
        await client.call_tool(TOOL, args)
        state.faults.reset()
        state.refused = False
        resent = await client.call_tool(TOOL, args | {"retry_unknown": True})
    text = text_of(resent)
    assert "line 2: 9700000000: outcome unknown: resent as asked, but" in text, text
    assert "sent in this run 10; answered in earlier runs (not resent) 0; not sent 20." in text, text
    assert "not resent) 10" not in text and "outcome unknown 10." in text, text
    assert counted_rows(text) == 30, text
