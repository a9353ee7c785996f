"""What leaves Harbour for an orchestrator: the public events, with ids and codes only."""

from __future__ import annotations

from pathlib import Path

from harbour import events
from harbour.app import App
from harbour.orchestration.publishing import PUBLIC, mark_published, take_unpublished
from tests.orchestration.helpers import assess, in_mode, lifecycle_events, refer


def test_public_events_carry_ids_only_and_are_taken_once(seeded: App, tmp_path: Path) -> None:
    case = refer(in_mode(seeded, "prefect"), tmp_path, "PUBMARK")
    ids, public = take_unpublished(seeded)
    assert len(ids) == len(lifecycle_events(seeded))  # the private ones too, to mark them
    assert [item.name for item in public] == [events.CASE_REFERRED]
    item = public[0]
    assert item.resource == {"prefect.resource.id": f"harbour.case.{case.id}"}
    assert item.payload == {"case_id": case.id, "subject_id": case.id}
    assert "PUBMARK" not in repr(item)
    mark_published(seeded, ids)
    assert take_unpublished(seeded) == ([], [])


def test_an_assessment_event_names_its_flow_never_its_point(seeded: App, tmp_path: Path) -> None:
    """A youth who just left or is considering leaving is at their most exposed: the label the
    triggers route on is the flow the assessment starts, the same for every unscheduled point."""
    from tests.cli.helpers import answers_file

    prefect = in_mode(seeded, "prefect")
    case = refer(prefect, tmp_path)
    mark_published(seeded, take_unpublished(seeded)[0])
    answers = answers_file(seeded, tmp_path, "a")
    for point in ("just_left", "considering_leaving"):
        assess(prefect, case.reference, point, answers, actor="sup")
    shown = [item for item in take_unpublished(seeded)[1] if item.flow is not None]
    assert [item.resource.get("harbour.flow") for item in shown] == ["safety_assessment"] * 2
    assert not any(point in repr(item) for item in shown for point in ("just_left", "leaving"))


def test_the_published_names_are_the_issue_s_six_and_the_field_s_three() -> None:
    assert sorted(PUBLIC) == sorted(
        [
            "harbour.case.referred",
            "harbour.assessment.submitted",
            "harbour.assessment.completed",
            "harbour.case.escalated",
            "harbour.alert.acknowledged",
            "harbour.case.discharged",
            "harbour.case.missing_opened",
            "harbour.case.missing_closed",
            "harbour.visit.overdue",
        ]
    )


def test_work_already_done_in_process_is_not_emitted(seeded: App, tmp_path: Path) -> None:
    refer(seeded, tmp_path)  # inline: processed at once, before any server appears
    ids, public = take_unpublished(seeded)
    assert ids and public == []
