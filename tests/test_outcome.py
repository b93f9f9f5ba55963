"""A record's outcome is one shape: the tool's answer, the result file, the journal and the file
upload's failures are all made from it, and a journal line read back gives the same outcome."""

from __future__ import annotations

import csv
import io
import json

from ameyo_mcp.writes.outcome import REASON_CAP, RESULT_COLUMNS, Outcome


def test_an_outcome_in_each_of_its_forms() -> None:
    row = Outcome(
        7, "9876543210", "DUPLICATE_NOT_ADDED", True, 42, "left as it was", None, "2026-01-02 10:00"
    )
    assert row.callback_scheduled
    written = io.StringIO()
    csv.writer(written).writerows([RESULT_COLUMNS, row.csv_row()])
    assert written.getvalue().splitlines() == [
        "line,phone1,result,ok,customer_id,reason,callback_id,callback_time",
        "7,9876543210,DUPLICATE_NOT_ADDED,yes,42,left as it was,,2026-01-02 10:00",
    ]
    # A journal line holds the row without its phone, which the file has.
    kept = json.loads(json.dumps(row.journal_row()))
    assert kept == [7, "DUPLICATE_NOT_ADDED", True, 42, "left as it was", None, "2026-01-02 10:00"]
    assert Outcome.from_journal(kept, "9876543210") == row
    out = row.record_out()
    assert (out.position, out.phone, out.result, out.callback_time) == (
        7,
        "9876543210",
        row.result,
        row.callback_time,
    )
    failure = Outcome(3, "98765\x1b[31m", "REFUSED", False, reason="x" * 300).failure_out()
    assert failure.line == 3 and failure.phone is not None and "\x1b" not in failure.phone
    assert failure.reason is not None and len(failure.reason) <= REASON_CAP + 1
    # A long reason is cut between words, never inside one ("each with a callbac…").
    words = Outcome(3, None, "NOT_SENT", False, reason="x " + "callbacks " * 30).failure_out().reason
    assert words is not None and len(words) <= REASON_CAP and words.endswith(" callbacks…"), words


def test_a_journal_row_of_the_earlier_format_reads_back() -> None:
    # As `_journal_row` wrote answered rows before there was one outcome type.
    line = '{"key":"k","t":"answer","batch":"p1","rows":[[2,"ADDED",true,9,null,null,null]]}'
    [kept] = json.loads(line)["rows"]
    again = Outcome.from_journal(kept, "9812300001")
    assert again == Outcome(2, "9812300001", "ADDED", True, 9)
    assert not again.callback_scheduled and again.csv_row()[3] == "yes"


def test_a_files_first_failures_are_its_first_lines_whatever_order_batches_settle_in() -> None:
    """Batches in flight together settle in any order: the first 20 settled had been listed as the
    file's "First failures", lines 502 on where the first batch answered last."""
    from ameyo_mcp.writes.bulk.report import MAX_FAILURES, Tally

    tally = Tally()
    batches = [
        [Outcome(line, "9876500000", "FAILED", False, reason="x") for line in range(start, start + 10)]
        for start in (2, 12, 22, 32)
    ]
    for batch in reversed(batches):
        tally.add_all(batch)
    assert [f.line for f in tally.failures] == list(range(2, 2 + MAX_FAILURES))
