"""Charts of the calls: `ameyo_call_history` with chart=true and the "how did today go" prompt give,
beside their text, a PNG of the calls by hour and outcome whose numbers are the text's. Through a
real MCP client session, with pushes stored by the receiver; the PNG decoded and looked at."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
from datetime import datetime, time, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import ImageContent, TextContent
from PIL import Image

from ameyo_mcp.answers.call_chart import HEIGHT_PX, WIDTH_PX, periods
from ameyo_mcp.config import Settings
from tests.conftest import InProcessSimulator, server_of, settings_for, text_of
from tests.test_fences import IST, TOKEN, receiver

pytestmark = pytest.mark.anyio

# Outcomes pushed yesterday, by hour: (hour, fields, how many).
YESTERDAY = (
    (9, {"dispositionName": "Sale", "dispositionCode": "SALE"}, 3),
    (9, {"systemDisposition": "BUSY"}, 2),
    (11, {"dispositionCode": "SALE"}, 1),  # the same outcome as "Sale", spelt as its code
    (11, {"systemDisposition": "NO_ANSWER"}, 4),
    (16, {"dispositionName": "Not Interested"}, 1),
)
# The colours the chart gives its first outcomes (call_chart._COLOURS), in RGB.
FIRST_COLOURS = ((0x00, 0x72, 0xB2), (0xE6, 0x9F, 0x00), (0x00, 0x9E, 0x73), (0xD5, 0x5E, 0x00))


@pytest.fixture
def pushed_settings(simulator: InProcessSimulator, tmp_path: Path) -> Settings:
    return settings_for(simulator, tmp_path, AMEYO_PUSH_TOKEN=TOKEN)


def decoded(block: ImageContent) -> Image.Image:
    assert block.mime_type == "image/png"
    raw = base64.b64decode(block.data)
    assert raw.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(raw))
    image.load()
    return image.convert("RGB")


def colours_of(image: Image.Image) -> dict[tuple[int, int, int], int]:
    return {colour: n for n, colour in image.getcolors(maxcolors=1 << 20) or []}


async def test_the_chart_is_a_png_of_the_calls_by_hour_whose_numbers_are_the_texts(
    simulator: InProcessSimulator, pushed_settings: Settings
) -> None:
    day = datetime.now(IST).date() - timedelta(days=1)
    async with receiver(pushed_settings) as push:
        for hour, fields, times in YESTERDAY:
            for n in range(times):
                at = datetime.combine(day, time(hour, 10 + n), IST)
                await push(
                    customerId="12458", campaignId="1", callStartTime=f"{at:%Y-%m-%d %H:%M:%S}", **fields
                )
    window = {"since": f"{day}T00:00", "until": f"{day + timedelta(days=1)}T00:00", "limit": 3}
    async with Client(server_of(simulator, pushed_settings)) as client:
        plain = await client.call_tool("ameyo_call_history", window)
        charted = await client.call_tool("ameyo_call_history", {**window, "chart": True})

    assert not charted.is_error, text_of(charted)
    assert [type(b) for b in plain.content] == [TextContent]
    text_block, image_block = charted.content
    assert isinstance(text_block, TextContent) and isinstance(image_block, ImageContent)
    text = text_block.text

    # The numbers: one count object gives the text, the structured content and the chart.
    out = charted.structured_content
    assert out is not None
    assert out["matched"] == 11 and out["by_outcome"] == {
        "NO_ANSWER": 4,
        "Sale": 4,
        "BUSY": 2,
        "Not Interested": 1,
    }
    hours = {f"{h:02d}:00": n for h, n in ((9, 5), (11, 5), (16, 1))}
    assert {k: v for k, v in out["by_period"].items() if v} == hours
    assert list(out["by_period"]) == [f"{h:02d}:00" for h in range(24)]
    assert "By hour: 09:00 5, 11:00 5, 16:00 1 (none in the other 21)" in text
    assert "NO_ANSWER 4, Sale 4, BUSY 2, Not Interested 1" in text
    assert "11 calls, by hour (Asia/Kolkata) and by outcome" in text
    assert text.startswith(text_of(plain).split("\n", 1)[0])  # the same head as without a chart

    # The picture: its size, not blank, and each outcome drawn in its colour.
    image = decoded(image_block)
    assert image.size == (WIDTH_PX, HEIGHT_PX)
    colours = colours_of(image)
    assert len(colours) > 20
    white = colours.get((255, 255, 255), 0)
    assert white < WIDTH_PX * HEIGHT_PX * 0.97, "the chart is (nearly) blank"
    for colour in FIRST_COLOURS:
        assert colours.get(colour, 0) > 50, f"outcome colour {colour} is not drawn"


async def test_a_chart_of_nothing_is_not_drawn_and_says_so(
    simulator: InProcessSimulator, pushed_settings: Settings
) -> None:
    async with Client(server_of(simulator, pushed_settings)) as client:
        empty = await client.call_tool("ameyo_call_history", {"chart": True})
        years = await client.call_tool(
            "ameyo_call_history", {"chart": True, "since": "2020-01-01", "until": "2021-01-01"}
        )
    assert [type(b) for b in empty.content] == [TextContent]
    assert "No chart: no call matches." in text_of(empty)
    assert [type(b) for b in years.content] == [TextContent]
    assert "No chart: a chart draws at most 62 days; narrow since and until." in text_of(years)
    # Its days are counted before any is made: to the last hours of 9999 it ran past the calendar.
    async with Client(server_of(simulator, pushed_settings)) as client:
        ages = await client.call_tool(
            "ameyo_call_history", {"chart": True, "since": "1990-01-01", "until": "9999-12-31T23:00:00"}
        )
    assert "No chart: a chart draws at most 62 days" in text_of(ages), text_of(ages)


async def test_the_how_did_today_go_prompt_shows_todays_chart(
    simulator: InProcessSimulator, pushed_settings: Settings
) -> None:
    async with receiver(pushed_settings) as push:
        for fields in (
            {"systemDisposition": "BUSY"},
            {"dispositionName": "Sale"},
            {"dispositionName": "Sale"},
        ):
            await push(customerId="12458", campaignId="1", **fields)
        await push(customerId="12458", campaignId="2", dispositionName="Sale")  # another campaign
        await push(customerId="99999", dispositionName="Sale")  # no campaign: said beside the chart
    async with Client(server_of(simulator, pushed_settings)) as client:
        prompt = await client.get_prompt("ameyo_how_did_today_go", {"campaign": "MoviStarSurvey"})
        history = await client.call_tool("ameyo_call_history", {"campaign": "1", "chart": True})
    blocks = [m.content for m in prompt.messages]
    assert isinstance(blocks[0], TextContent) and "ameyo_call_history" in blocks[0].text
    chart_texts = [b.text for b in blocks if isinstance(b, TextContent) and "Chart (PNG)" in b.text]
    images = [b for b in blocks if isinstance(b, ImageContent)]
    assert len(chart_texts) == 1 and len(images) == 1
    said = chart_texts[0]
    assert "3 calls, by hour (Asia/Kolkata)" in said and "Sale 2, BUSY 1" in said
    assert "1 call of this span was pushed without a campaignId and is in no campaign's count" in said, said
    # The tool's chart of the same calls says the same.
    assert said.split("\n", 1)[1].rsplit("\n", 1)[0] in text_of(history)
    image = decoded(images[0])
    assert image.size == (WIDTH_PX, HEIGHT_PX) and len(colours_of(image)) > 20


def test_hours_follow_the_zone_and_a_long_range_is_drawn_by_the_day() -> None:
    start = datetime(2026, 3, 7, 22, 30, tzinfo=IST)
    unit, spans = periods(start, start + timedelta(hours=3), IST) or ("", [])
    assert unit == "hour" and [p.label for p in spans] == [
        "03-07 22:00",
        "03-07 23:00",
        "03-08 00:00",
        "03-08 01:00",
    ]
    assert spans[0].start == start and spans[-1].end == start + timedelta(hours=3)
    assert all(a.end == b.start for a, b in pairwise(spans))
    unit, spans = periods(start, start + timedelta(days=10), IST) or ("", [])
    assert unit == "day" and len(spans) == 11 and spans[1].label == "2026-03-08"
    assert periods(start, start + timedelta(days=90), IST) is None
    assert re.fullmatch(r"\d\d:00", periods(start, start + timedelta(minutes=20), IST)[1][0].label)  # type: ignore[index]


def test_the_plotting_library_is_loaded_by_the_first_chart_not_by_a_start_or_the_preload() -> None:
    code = (
        "import sys\n"
        "from ameyo_mcp.server.preload import load_everything\n"
        "from ameyo_mcp.answers.call_chart import CallCounts, chart_png\n"
        "assert load_everything([]) == 0\n"
        "print('matplotlib' in sys.modules, 'numpy' in sys.modules)\n"
        "chart_png(CallCounts('calls', 'UTC', 'hour', ('09:00',), ({'BUSY': 1},)))\n"
        "print('matplotlib' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True"]


async def test_an_outcome_spelt_like_a_formula_is_drawn_as_the_text_pushed(
    simulator: InProcessSimulator, pushed_settings: Settings
) -> None:
    """matplotlib reads `$…$` as a formula: one pushed disposition it cannot parse made every chart of
    a span holding it 'Something unexpected went wrong (ValueError)', and the prompt lost its chart."""
    formula = "$\\undefinedcmd{x}$"
    async with receiver(pushed_settings) as push:
        await push(customerId="12458", campaignId="1", dispositionName="Sale")
        await push(customerId="12459", campaignId="1", dispositionCode=formula)
    async with Client(server_of(simulator, pushed_settings)) as client:
        history = await client.call_tool("ameyo_call_history", {"campaign": "1", "chart": True})
        # Asked for by that outcome, the chart's own title holds it too.
        asked = await client.call_tool(
            "ameyo_call_history", {"campaign": "1", "disposition": formula, "chart": True}
        )
        prompt = await client.get_prompt("ameyo_how_did_today_go", {"campaign": "1"})
    for result in (history, asked):
        assert not result.is_error, text_of(result)
        assert [type(b) for b in result.content] == [TextContent, ImageContent], text_of(result)
        assert formula in text_of(result)
    assert sum(isinstance(m.content, ImageContent) for m in prompt.messages) == 1


@pytest.mark.parametrize(
    "span",
    [
        {"since": "0001-01-01", "until": "0001-01-02"},
        {"since": "9999-12-30", "until": "9999-12-31T23:59:59"},
        {"since": "9999-11-15", "until": "9999-12-31T23:59:59"},
    ],
)
async def test_a_chart_at_the_calendars_edge_is_answered_like_any_other(
    simulator: InProcessSimulator, pushed_settings: Settings, span: dict[str, str]
) -> None:
    """The chart's hours are stepped in UTC, which has no time for the first hours of year 1 in a
    zone east of Greenwich nor past the last of 9999: such a span, answered without a chart, was
    'Something unexpected went wrong (OverflowError). Try again' with one, and again when tried."""
    async with Client(server_of(simulator, pushed_settings)) as client:
        charted = await client.call_tool("ameyo_call_history", {**span, "chart": True})
    assert not charted.is_error, text_of(charted)
    assert "No chart: no call matches." in text_of(charted), text_of(charted)
    since, until = (datetime.fromisoformat(span[k]).replace(tzinfo=IST) for k in ("since", "until"))
    unit, spans = periods(since, until, IST) or ("", [])
    assert unit and spans[0].start == since and spans[-1].end == until
    assert all(a.end == b.start for a, b in pairwise(spans))
