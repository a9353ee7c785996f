"""Harbour's tables. Identifying fields are sealed (``*_sealed``); everything else is operational.

Relationships use ``lazy="raise"`` so that no query hides behind an attribute access.

No ``from __future__ import annotations`` here: every command maps these classes, and with the
annotations kept as strings SQLAlchemy evaluates each column's with ``eval`` (about a tenth of the
mapping's cost); a class not defined yet is named in quotes instead.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    and_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from harbour.db.base import (
    AGENCY_CONFIDENTIAL,
    FAMILY_PII,
    STAFF_SECRET,
    YOUTH_PII,
    Base,
    id_column,
    new_id,
    sealed,
)

CODE = 40  # length of every enum-valued column


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(80), unique=True)  # an operator-chosen handle
    timezone: Mapped[str] = mapped_column(String(64))
    assignment_rule: Mapped[str] = mapped_column(String(CODE), default="least_loaded")
    address_sealed: Mapped[str | None] = sealed(AGENCY_CONFIDENTIAL)
    phone_sealed: Mapped[str | None] = sealed(AGENCY_CONFIDENTIAL)
    # Its mail and chat settings (Apprise URLs holding a login or a webhook token), from which
    # each staff member's email and chat address make their routes (harbour.notify.directory).
    mail_url_sealed: Mapped[str | None] = sealed(AGENCY_CONFIDENTIAL)
    chat_url_sealed: Mapped[str | None] = sealed(AGENCY_CONFIDENTIAL)
    created_at: Mapped[datetime]


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[str] = id_column()
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)  # also the Apprise routing tag
    role: Mapped[str] = mapped_column(String(CODE))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    on_call: Mapped[bool] = mapped_column(Boolean, default=False)
    # An admin who is also one of the installation's operators (store-wide operations).
    operator: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where they are reached, through their agency's mail and chat settings.
    email_sealed: Mapped[str | None] = sealed(AGENCY_CONFIDENTIAL)
    chat_sealed: Mapped[str | None] = sealed(AGENCY_CONFIDENTIAL)
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("agency_id", "intake_key"),
        # With the id: the sweep's search for cases with no open assessment reads no case row.
        Index("ix_cases_due", "next_due_at", "status", "id"),
        # The agency's cases, and everything the program report counts of them (status, risk,
        # whether the latest plan is final, referral, first assessment) in the index itself:
        # the report walks the agency's range of it and reads no case row, nor any
        # assessment or plan (harbour/cases/report.py).
        Index(
            "ix_cases_agency",
            "agency_id",
            "status",
            "risk_level",
            "latest_plan_final",
            "created_at",
            "first_assessed_at",
        ),
    )

    id: Mapped[str] = id_column()
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))  # ix_cases_agency
    caseworker_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"), index=True)
    status: Mapped[str] = mapped_column(String(CODE))
    risk_level: Mapped[str | None] = mapped_column(String(CODE))
    # Where the youth stands (in the situation, considering leaving, just left, stabilizing):
    # no query needs it (a plan is composed from it within the case's own transaction), and it
    # tells what the answers were, so sealed like them (``harbour.cases.reads.situation``).
    situation_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    # Who besides the youth is at risk: the referral's or the latest assessment's answers, so
    # sealed like them (a JSON list of codes).
    persons_at_risk_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    # The case's secret for the opaque keys of its plan items drawn from sealed answers (the risk
    # rules that fired, strategies only a risk answer draws): ``harbour.plans.opaque``. Sealed,
    # so a key rotation re-seals it and the keys it made stay as they are.
    item_secret_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    next_due_at: Mapped[datetime | None]
    # What the program report reads of the case's assessments and plans, kept on its row in
    # the transaction that changes it (``harbour.cases.milestones``, its only writer): when
    # its first assessment was completed, and whether the plan version of its latest one is
    # final (a new assessment's plan is a draft: no longer, until that one is finalised).
    first_assessed_at: Mapped[datetime | None]
    latest_plan_final: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    intake_key: Mapped[str | None] = mapped_column(String(128))
    intake_digest_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    referral_source_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    people: Mapped[list["Person"]] = relationship(lazy="raise", order_by="Person.position")
    threats: Mapped[list["ThreatSource"]] = relationship(
        lazy="raise", order_by="ThreatSource.position"
    )

    __mapper_args__ = {"version_id_col": version}


class YouthIndex(Base):
    """A case's blind index: a keyed HMAC of its youth's loose name and birth date (see
    ``harbour.cases.duplicates``), to find likely duplicates within the agency without unsealing
    every case. The HMAC key is derived from key ``key_id`` of the keyring, which never enters
    the database; a key rotation recomputes every index under the new key. One row per case,
    its id the case's."""

    __tablename__ = "youth_index"
    __table_args__ = (Index("ix_youth_index_agency_digest", "agency_id", "digest"),)

    id: Mapped[str] = id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), unique=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    key_id: Mapped[int] = mapped_column(BigInteger, index=True)
    digest: Mapped[str] = mapped_column(String(64))

    # Never loaded (lazy="raise"): it tells the unit of work that the case's INSERT comes first,
    # so a new case and its youth index are written by one flush.
    case: Mapped[Case] = relationship(lazy="raise")


class Person(Base):
    """The youth, family members or caretakers, and contacts the youth trusts."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("case_id", "idempotency_key"),)

    id: Mapped[str] = id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))  # the unique constraint's lead
    kind: Mapped[str] = mapped_column(String(CODE))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # The key of the add that made it after referral: repeated with it, that add is this person.
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    non_offending: Mapped[bool] = mapped_column(Boolean, default=False)
    approved_by_youth: Mapped[bool] = mapped_column(Boolean, default=False)
    name_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    preferred_name_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    relationship_sealed: Mapped[str | None] = sealed(FAMILY_PII)
    phone_sealed: Mapped[str | None] = sealed(FAMILY_PII)
    address_sealed: Mapped[str | None] = sealed(FAMILY_PII)
    date_of_birth_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    notes_sealed: Mapped[str | None] = sealed(YOUTH_PII)


# A person's sealed fields, in column order (the order a case's details show them).
PERSON_FIELDS = tuple(
    column.name.removesuffix("_sealed") for column in Person.__table__.columns if column.info
)


class ThreatSource(Base):
    __tablename__ = "threat_sources"
    __table_args__ = (UniqueConstraint("case_id", "idempotency_key"),)

    id: Mapped[str] = id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))  # the unique constraint's lead
    kind: Mapped[str] = mapped_column(String(CODE))
    position: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))  # as a person's
    name_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    description_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    protective_order: Mapped[bool] = mapped_column(Boolean, default=False)
    protective_order_expires_on: Mapped[date | None] = mapped_column(Date)
    protective_order_details_sealed: Mapped[str | None] = sealed(YOUTH_PII)


class CaseCover(Base):
    """A caseworker covering a colleague's case for a while (break-glass): who, until when, and
    why (sealed). It ends at ``ends_at``, or earlier when ended (``ended_at``)."""

    __tablename__ = "case_covers"
    __table_args__ = (
        UniqueConstraint("case_id", "idempotency_key"),
        Index("ix_case_covers_staff_case", "staff_id", "case_id"),
    )

    id: Mapped[str] = id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))  # the unique constraint's lead
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))  # ix_case_covers_staff_case
    # The key of the form (or command) that started it: sent again with it, that start is this
    # cover (``harbour.cases.cover``), as a person's add is that person.
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(64))  # a handle
    reason_sealed: Mapped[str | None] = sealed(YOUTH_PII)


class Assessment(Base):
    """One safety assessment at one point of one case: opened when due, completed when answered."""

    __tablename__ = "assessments"
    __table_args__ = (
        UniqueConstraint("case_id", "idempotency_key"),
        # Open assessments by due time; with their case, so that the report's overdue figures
        # read the index alone.
        Index("ix_assessments_open_due", "status", "due_at", "case_id"),
        # A case's assessments by status ("has it one open?"): with only case_id indexed,
        # SQLite's planner answers that per case through ix_assessments_open_due, a scan of
        # every open assessment, and a pass over all cases turns quadratic. With completed_at
        # and id, a case's latest completed assessment is one seek (an override's).
        Index("ix_assessments_case_status", "case_id", "status", "completed_at", "id"),
    )

    id: Mapped[str] = id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))  # ix_assessments_case_status
    point: Mapped[str] = mapped_column(String(CODE))
    status: Mapped[str] = mapped_column(String(CODE))
    due_at: Mapped[datetime | None]
    opened_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    submitted_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    instrument_version: Mapped[str | None] = mapped_column(String(CODE))
    # The answers (self-harm, violence, running away...) are sealed; in clear only what queries
    # and the schedule need: point, status, levels, times.
    answers_sealed: Mapped[str | None] = sealed(YOUTH_PII)  # JSON: yes/no, choices, numbers
    free_text_sealed: Mapped[str | None] = sealed(YOUTH_PII)  # JSON of free-text answers
    answers_digest_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    computed_level: Mapped[str | None] = mapped_column(String(CODE))
    override_level: Mapped[str | None] = mapped_column(String(CODE))
    override_reason_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    override_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    overridden_at: Mapped[datetime | None]
    reasons_sealed: Mapped[str | None] = sealed(YOUTH_PII)  # JSON: the rules that raised the level
    version: Mapped[int] = mapped_column(Integer, default=1)

    # Never loaded (lazy="raise"): it tells the unit of work that the case's INSERT comes first,
    # so a new case and its initial assessment are written by one flush.
    case: Mapped[Case] = relationship(lazy="raise")

    __mapper_args__ = {"version_id_col": version}

    @property
    def level(self) -> str | None:
        return self.override_level or self.computed_level


class AssessmentDraft(Base):
    """One person's unfinished answers to an assessment of a case, saved to come back to: sealed
    like the answers, one per case, point and author (a later save replaces it), removed when
    the assessment at that point is submitted (``harbour.assessments.submit``)."""

    __tablename__ = "assessment_drafts"
    __table_args__ = (UniqueConstraint("case_id", "point", "author_id"),)

    id: Mapped[str] = id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))  # the unique constraint's lead
    point: Mapped[str] = mapped_column(String(CODE))
    author_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    # The open assessment the draft answers, when one was opened for the point (an incident's
    # is opened by its submission).
    assessment_id: Mapped[str | None] = mapped_column(ForeignKey("assessments.id"), index=True)
    answers_sealed: Mapped[str | None] = sealed(YOUTH_PII)  # JSON of the answers given so far
    saved_at: Mapped[datetime]


class Plan(Base):
    """One version of a case's safety plan; immutable once final."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("case_id", "version_number"),)

    id: Mapped[str] = id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    version_number: Mapped[int] = mapped_column(Integer)
    # The assessment a version was drafted from: its own, and later one per override to
    # imminent that found it final without the emergency protocol.
    assessment_id: Mapped[str | None] = mapped_column(ForeignKey("assessments.id"), index=True)
    status: Mapped[str] = mapped_column(String(CODE))
    risk_level: Mapped[str | None] = mapped_column(String(CODE))
    point: Mapped[str | None] = mapped_column(String(CODE))
    youth_title_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    # A final version's threat sources and contacts as they were when it was finalised (JSON).
    people_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    hide_hotlines: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    finalized_at: Mapped[datetime | None]
    finalized_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    # The next assessment due when this version was composed: an old version renders the same.
    next_due_at: Mapped[datetime | None]
    # The position the next item added takes: it only goes up, so the number of an item staff
    # withdrew (its row deleted) is never given to another.
    next_position: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)

    items: Mapped[list["PlanItem"]] = relationship(lazy="raise", order_by="PlanItem.position")

    __mapper_args__ = {"version_id_col": version}


class PlanItem(Base):
    __tablename__ = "plan_items"
    __table_args__ = (
        UniqueConstraint("plan_id", "key"),
        UniqueConstraint("plan_id", "idempotency_key"),
    )

    id: Mapped[str] = id_column()
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    key: Mapped[str] = mapped_column(String(80))  # stable across versions, for diffs
    section: Mapped[str] = mapped_column(String(CODE))
    phase: Mapped[str | None] = mapped_column(String(CODE))
    # Catalogue or rule code. A risk, strategy or step (``harbour.plans.opaque``) keeps its code,
    # phase and owner sealed in ``detail`` (JSON, one length), and its key is opaque.
    code: Mapped[str | None] = mapped_column(String(CODE))
    detail_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    text_sealed: Mapped[str | None] = sealed(YOUTH_PII)  # only staff-written wording
    owner: Mapped[str | None] = mapped_column(String(CODE))
    person_id: Mapped[str | None] = mapped_column(ForeignKey("people.id"))
    due_on: Mapped[date | None] = mapped_column(Date, index=True)  # the digests' late steps
    state: Mapped[str] = mapped_column(String(CODE))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # An item staff added: the key its add was sent with (as ``assessments.idempotency_key``),
    # so the same add sent again is this item, not a second one.
    idempotency_key: Mapped[str | None] = mapped_column(String(128))


class StepProgress(Base):
    """A step marked done (or undone) for a case, kept apart from the plan versions (a final
    version never changes): appended, never edited, so a version's documents read the progress
    as it stood when they were made. ``key`` is the step's key (an emergency step's is scoped to
    its version: each imminent threat's protocol is done afresh)."""

    __tablename__ = "step_progress"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[str] = id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)  # the case's records in order (same-instant too)
    key: Mapped[str] = mapped_column(String(100))
    done: Mapped[bool] = mapped_column(Boolean)  # False: an undo
    at: Mapped[datetime]
    by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))


class LifecycleEvent(Base):
    """The domain's event log: the record first, then published to Prefect and processed."""

    __tablename__ = "lifecycle_events"
    __table_args__ = (
        UniqueConstraint("case_id", "name", "subject_id"),
        Index("ix_lifecycle_events_unprocessed", "processed_at", "occurred_at"),
    )

    id: Mapped[str] = id_column()
    # None for an event about no case (a staff visit not checked in, when it was for none).
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    name: Mapped[str] = mapped_column(String(80))
    subject_id: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # operational values only
    occurred_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    # Tries of its steps that failed, and the last one's code: one that keeps failing is told
    # to its agency's admins (``harbour.orchestration.pipeline``) and named by `notify check`.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(CODE))  # a code, never a message

    # Never loaded (lazy="raise"): it tells the unit of work that the case's INSERT comes first,
    # so a new case and its events are written by one flush.
    case: Mapped[Case | None] = relationship(lazy="raise")


class AuditEvent(Base):
    """One audited action. ``seq`` numbers events in the order they were recorded, so events
    with the same timestamp (a frozen clock, a coarse one) still list in order."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_case_at", "case_id", "at"),
        {"sqlite_autoincrement": True},  # never reuse a number
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id, insert_sentinel=True)
    at: Mapped[datetime]
    actor_handle: Mapped[str | None] = mapped_column(String(64))
    agency_id: Mapped[str | None] = mapped_column(String(32))
    case_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(CODE))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # operational values only


class OutboxMessage(Base):
    """One notification to one recipient tag on one channel: written with the change that caused
    it, sent later by the relay to each of the recipient's routes on that channel (it stays
    pending while one of them is still to be retried). ``context`` holds allowlisted operational
    values only."""

    __tablename__ = "outbox"
    __table_args__ = (
        # The relay's claim walks it in its order (due time, then first written) and stops at
        # its batch: without created_at, rows due at the same moment were all sorted each time.
        Index("ix_outbox_due", "status", "lane", "next_attempt_at", "created_at"),
        # The alerts paged to someone (``alerts.visible_to``), without reading the whole outbox.
        Index("ix_outbox_recipient_alert", "recipient", "alert_id"),
        # The rows sent though a route failed, and for each a later one to its recipient on its
        # channel that reached every route (``outbox.partly_delivered``): two seeks, not a read
        # of every sent row (200,000 of them: SQLite 0.6 ms, was 1.2 s; PostgreSQL 2 ms, was 110).
        Index("ix_outbox_delivery", "status", "last_error", "recipient", "channel", "sent_at"),
        # The bundled pages an escalation digest carries, when its delivery is recorded on them.
        # (Not a partial index: PostgreSQL's option imports its dialect in every command.)
        Index("ix_outbox_carrier", "carrier_id"),
    )

    id: Mapped[str] = id_column()
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(CODE))
    lane: Mapped[str] = mapped_column(String(CODE))
    recipient: Mapped[str] = mapped_column(String(130))  # a routing tag, never an address
    channel: Mapped[str] = mapped_column(String(CODE))
    status: Mapped[str] = mapped_column(String(CODE))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(CODE))  # a code, never a message
    agency_id: Mapped[str | None] = mapped_column(String(32), index=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    alert_id: Mapped[str | None] = mapped_column(String(32))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A bundled page (an overdue escalation's, never sent itself): the escalation digest row that
    # carries it to its recipient on its channel, whose delivery is recorded on it.
    carrier_id: Mapped[str | None] = mapped_column(String(32))
    # The recipient's routes that have it, by fingerprint (``relay.fingerprint``; never a URL):
    # a retry goes to the others only.
    delivered: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]  # when it first reached one of the recipient's routes


class Alert(Base):
    """Something staff must acknowledge; escalates tier by tier until someone does."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("kind", "source_id"),
        Index("ix_alerts_escalation", "acknowledged_at", "next_escalation_at"),
    )

    id: Mapped[str] = id_column()
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    # None for an alert about no case (a staff member's visit that has no case).
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(CODE))
    source_id: Mapped[str] = mapped_column(String(32))  # e.g. the assessment that raised it
    tier: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime]
    next_escalation_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))


class Visit(Base):
    """A staff member out in the community: where (sealed), who their check-in buddy is, and when
    they expect to be back. Not back by ``deadline_at`` (expected time plus the policy's grace),
    an alert climbs from the buddy to the supervisors, on-call, then the admins
    (``harbour.notify.visit_checks``)."""

    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("staff_id", "idempotency_key"),
        Index("ix_visits_overdue", "back_at", "deadline_at"),
    )

    id: Mapped[str] = id_column()
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))  # the unique constraint's lead
    buddy_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    location_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    escort: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime]
    expected_back_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    extensions: Mapped[int] = mapped_column(Integer, default=0)  # each deadline alerts once
    back_at: Mapped[datetime | None]
    # Recorded back by a supervisor (the visitor could not check in: a phone dead, an account
    # deactivated while out): who, and how they knew (sealed, as a cover's reason).
    back_recorded_by: Mapped[str | None] = mapped_column(String(64))  # a handle
    back_reason_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    alert_id: Mapped[str | None] = mapped_column(String(32))  # the latest overdue alert
    idempotency_key: Mapped[str | None] = mapped_column(String(128))  # as a cover's


class UsedKey(Base):
    """An idempotency key an action was done with (a form's, or a command's
    ``--idempotency-key``), for an action that changes a row rather than adding one: a
    supervisor's override of an assessment, a visit's extend or check-in. Sent again, the action
    is the one it did while that is still the latest of its action and scope, and is refused as
    spent once it is not (``harbour.db.used_keys``). Written in the action's transaction; unique,
    so a key does one action once."""

    __tablename__ = "used_keys"
    __table_args__ = (UniqueConstraint("action", "scope_id", "key"),)

    id: Mapped[str] = id_column()
    action: Mapped[str] = mapped_column(String(CODE))  # e.g. case.override, visit.extend
    scope_id: Mapped[str] = mapped_column(String(32))  # the case, or the staff member
    key: Mapped[str] = mapped_column(String(128))
    record_id: Mapped[str] = mapped_column(String(32))  # what it acted on: assessment, visit
    # What it was asked beyond that, where the row acted on does not keep it (an extend's
    # minutes): the key sent again with something else is refused. Operational values only.
    asked: Mapped[str | None] = mapped_column(String(CODE))
    created_at: Mapped[datetime]
    # When a later action of the same action and scope took its place (with a key or without).
    replaced_at: Mapped[datetime | None]


class MissingEpisode(Base):
    """A youth gone missing: from when they were last seen until they returned. Its reporting
    steps (``MissingStep``) fall due counted from when they were last seen; their alerts come
    from ``harbour.notify.missing_alerts``."""

    __tablename__ = "missing_episodes"
    __table_args__ = (Index("ix_missing_episodes_open", "returned_at", "case_id"),)

    id: Mapped[str] = id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))  # ix_missing_episodes_open
    last_seen_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    recorded_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    returned_at: Mapped[datetime | None]
    returned_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    # The assessment the return opened (return screening).
    assessment_id: Mapped[str | None] = mapped_column(ForeignKey("assessments.id"))
    # Withdrawn as recorded in error (the wrong case, a mistyped time) by a supervisor, with a
    # reason: kept, no longer open, and no return screening.
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    withdrawn_reason_sealed: Mapped[str | None] = sealed(YOUTH_PII)

    @classmethod
    def still_open(cls) -> ColumnElement[bool]:
        """The youth is not back, and the episode was not withdrawn."""
        return and_(cls.returned_at.is_(None), cls.withdrawn_at.is_(None))


class MissingStep(Base):
    """One reporting step of a missing episode: law enforcement, NCMEC, the supervisor told."""

    __tablename__ = "missing_steps"
    __table_args__ = (UniqueConstraint("episode_id", "step"),)

    id: Mapped[str] = id_column()
    episode_id: Mapped[str] = mapped_column(ForeignKey("missing_episodes.id"))
    step: Mapped[str] = mapped_column(String(CODE))
    due_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    report_number_sealed: Mapped[str | None] = sealed(YOUTH_PII)


class ReminderMark(Base):
    """A reminder threshold that has fired for an assessment's due date (re-armed if it moves).

    Keyed by what it marks, and on SQLite stored in that key's order (no rowid): the sweep asks
    "fired for this due date?" of every assessment in its range, and each answer is one seek
    that finds the due date beside the key, where a separate unique index sent every probe on
    to the table; and a mark written is one row in one tree, not three."""

    __tablename__ = "reminder_marks"
    __table_args__ = {"sqlite_with_rowid": False}

    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"), primary_key=True)
    threshold: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    due_at: Mapped[datetime]
    fired_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(CODE))  # sent, skipped (a later one was due)


class OrderReminderMark(Base):
    """A protective-order reminder threshold that has fired for an order's expiry date
    (re-armed if the expiry moves: a renewed order is reminded of again)."""

    __tablename__ = "order_reminder_marks"
    __table_args__ = (UniqueConstraint("threat_id", "threshold"),)

    id: Mapped[str] = id_column()
    threat_id: Mapped[str] = mapped_column(ForeignKey("threat_sources.id"))
    threshold: Mapped[str] = mapped_column(String(CODE))
    expires_on: Mapped[date] = mapped_column(Date)
    fired_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(CODE))  # sent, skipped (a later one was due)


class PlanDocument(Base):
    """A plan version rendered for one audience in one format, kept sealed (no plaintext files):
    rendered when the version is composed and again when it is finalised."""

    __tablename__ = "plan_documents"
    __table_args__ = (UniqueConstraint("plan_id", "audience", "format"),)

    id: Mapped[str] = id_column()
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    audience: Mapped[str] = mapped_column(String(CODE))
    format: Mapped[str] = mapped_column(String(CODE))
    plan_status: Mapped[str] = mapped_column(String(CODE))  # the version's status when rendered
    content_sealed: Mapped[str | None] = sealed(YOUTH_PII)
    rendered_at: Mapped[datetime]


class Credential(Base):
    """A staff member's sign-in secrets and failure state (harbour.auth): the password's argon2id
    hash, the TOTP secret sealed, the last TOTP step used (no code twice), and the lock."""

    __tablename__ = "credentials"

    id: Mapped[str] = id_column()
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret_sealed: Mapped[str | None] = sealed(STAFF_SECRET)
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    enrolled_at: Mapped[datetime | None]
    failed_streak: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None]
    # Failures before this moment no longer count towards a lock (an admin's reset lifts it).
    failures_since: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]


class Enrolment(Base):
    """A one-time enrolment link: the token's hash is kept (and the token itself sealed while a
    message carries it); single use, it expires."""

    __tablename__ = "enrolments"

    id: Mapped[str] = id_column()
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The TOTP secret offered on the enrolment page, kept until the person confirms a code.
    pending_totp_sealed: Mapped[str | None] = sealed(STAFF_SECRET)
    # The link's token while a message to the person's route carries it (the outbox row names
    # the enrolment, never the token: harbour.notify.links); gone once the link is used or
    # replaced (one that ran out keeps it, sealed and no longer any use).
    token_sealed: Mapped[str | None] = sealed(STAFF_SECRET)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in console session: the cookie holds a random token, the table only its hash."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = id_column()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class SignInAttempt(Base):
    """One sign-in attempt, for the per-account lock and the per-address throttle. The address
    is kept as a hash; ``staff_id`` is empty when the typed handle matched no account."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_staff_at", "staff_id", "at"),
        Index("ix_sign_in_attempts_address_at", "address_hash", "at"),
    )

    id: Mapped[str] = id_column()
    at: Mapped[datetime]
    staff_id: Mapped[str | None] = mapped_column(String(32))
    address_hash: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean, default=False)


# The event publisher reads the unpublished events every second.
Index("ix_lifecycle_events_unpublished", LifecycleEvent.published_at)


class StoreKey(Base):
    """A key this store's values are sealed under, known by its check value, never the key: a
    keyring from another store, or a new one made over this store's data, is refused by it. The
    key recorded last (highest ``position``) is the store's primary, which writers must hold."""

    __tablename__ = "store_keys"

    id: Mapped[str] = id_column()
    key_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    check_value: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, unique=True)
    recorded_at: Mapped[datetime]
