"""deployments/prefect.yaml: one deployment per flow, each naming a flow that exists, with its
schedule in a time zone or its event trigger passing ids from the event."""

from __future__ import annotations

from flows.serve import deployment_specs, load_flow, runner_deployment

FLOWS = {
    "flows.lifecycle:initial_contact",
    "flows.lifecycle:safety_assessment",
    "flows.lifecycle:planning_meeting",
    "flows.lifecycle:discharge",
    "flows.lifecycle:follow_up",
    "flows.sweep:reassessment_sweep",
    "flows.relay:deliver_notifications",
}


def test_one_deployment_per_flow_on_the_process_pool() -> None:
    specs = deployment_specs()
    assert {s["entrypoint"] for s in specs} == FLOWS and len(specs) == len(FLOWS)
    for spec in specs:
        assert spec["enforce_parameter_schema"] is True
        assert spec["work_pool"]["name"] == "harbour"
        assert hasattr(load_flow(spec["entrypoint"]), "to_deployment")


def test_schedules_have_a_zone_and_triggers_pass_ids() -> None:
    for spec in deployment_specs():
        for schedule in spec.get("schedules", []):
            assert schedule["timezone"] == "America/New_York"
        for trigger in spec.get("triggers", []):
            assert trigger["match"]["prefect.resource.id"] == "harbour.case.*"
            assert all(v.startswith("{{ event.payload.") for v in trigger["parameters"].values())
            flow = load_flow(spec["entrypoint"])
            assert set(trigger["parameters"]) == set(flow.parameters.properties)


def test_every_assessment_point_starts_exactly_one_flow() -> None:
    """Each flow an assessment can start has one deployment whose trigger matches it."""
    from harbour import events
    from harbour.domain.vocab import AssessmentPoint
    from harbour.orchestration.pipeline import flow_of

    started = []
    for spec in deployment_specs():
        for trigger in spec.get("triggers", []):
            if trigger["expect"] == ["harbour.assessment.submitted"]:
                started.append(trigger["match"]["harbour.flow"])
                assert spec["entrypoint"].endswith(f":{started[-1]}")
    flows = {flow_of(events.ASSESSMENT_SUBMITTED, point) for point in AssessmentPoint}
    assert sorted(started) == sorted(flows)


def test_served_deployments_take_the_agency_zone() -> None:
    built = [runner_deployment(s, "Europe/Paris") for s in deployment_specs()]
    zones = {d.schedules[0].schedule.timezone for d in built if d.schedules}
    assert zones == {"Europe/Paris"}
    assert all(d.enforce_parameter_schema for d in built)
