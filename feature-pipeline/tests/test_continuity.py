"""The hourly-continuity report: a missing hour is reported, never invented."""

from __future__ import annotations

from energy_features.continuity import continuity_report
from energy_features.transform.consumption import consumption_from_de35
from energy_features.windows import Window

from .support import de35_records, utc


def test_a_complete_batch_is_continuous() -> None:
    frame = consumption_from_de35(de35_records("2023-01-01T00:00", 5))
    report = continuity_report(frame, Window(utc("2023-01-01T00:00"), utc("2023-01-01T05:00")))
    assert report.continuous and report.series == 4 and report.hours_with_data == 5


def test_a_missing_hour_of_one_series_is_reported_by_series_and_hour() -> None:
    records = de35_records("2023-01-01T00:00", 5)
    hole = (
        (records["HourUTC"] == "2023-01-01T02:00:00")
        & (records["PriceArea"] == "DK2")
        & (records["ConsumerType_DE35"] == "112")
    )
    frame = consumption_from_de35(records[~hole])
    report = continuity_report(frame, Window(utc("2023-01-01T00:00"), utc("2023-01-01T05:00")))
    assert not report.continuous
    assert [(g.area, g.consumer_type, g.missing_hours) for g in report.gaps] == [
        ("DK2", "112", ["2023-01-01T02:00:00Z"])
    ]
    assert len(frame) == len(records) - 1  # nothing was filled in


def test_hours_not_yet_published_at_the_window_edge_are_counted_separately() -> None:
    frame = consumption_from_de35(de35_records("2023-01-01T02:00", 2))
    report = continuity_report(frame, Window(utc("2023-01-01T00:00"), utc("2023-01-01T06:00")))
    assert report.continuous
    assert (report.leading_missing_hours, report.trailing_missing_hours) == (2, 2)


def test_the_dst_days_are_continuous_in_utc() -> None:
    for start in ("2022-10-29T22:00", "2023-03-25T23:00"):
        frame = consumption_from_de35(de35_records(start, 25))
        assert continuity_report(frame, Window(utc(start), utc(start).replace(day=utc(start).day + 1))).continuous
