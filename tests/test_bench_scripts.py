"""The benchmarks are not run by the tests, but they must keep importing as the package changes."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_bench_script_imports(script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}", BENCH / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)  # runs nothing: each script's work is under `if __name__ == "__main__"`


def test_the_bulk_baseline_sends_the_engines_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bare loop the uploader is measured against sends what the engine sends, key for key in
    the same order: a baseline with lighter requests would flatter it, a heavier one would hide
    its cost."""
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_bulk_upload as bench

    from ameyo_mcp.ameyo.models import CampaignInfo
    from ameyo_mcp.rules.phones import PhoneRule
    from ameyo_mcp.writes.bulk.reader import RowReader
    from ameyo_mcp.writes.bulk.validate import Validator
    from ameyo_mcp.writes.plans import plan_upload

    source = tmp_path / "rows.csv"
    bench.write_csv(source, 7)
    zone = ZoneInfo("Asia/Kolkata")
    checker = Validator(
        max_phone_length=20,
        zone=zone,
        now=datetime(2026, 12, 6, 10, tzinfo=zone),
        status="NOT_TRIED",
        rule=PhoneRule("IN", "national"),
        callbacks=False,
        calling_hours=None,
    )
    records = [checker.check(row).record for row in RowReader(source)]
    campaign = CampaignInfo(campaign_name="bench", campaign_id=1)
    for file_batch in (True, False):  # the engine's batch as planned, and as validated the long way
        write = plan_upload(
            "http://ameyo",
            campaign,
            1,
            records,
            status="NOT_TRIED",
            attempts=0,
            update_existing=False,
            migrate_existing=False,
            file_batch=file_batch,
        )
        engine = write.request.model_copy(update={"session_id": "s1"}).wire()
        assert json.dumps(engine) == json.dumps(bench.batch_data("s1", range(7)))
