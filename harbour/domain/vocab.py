"""The words Harbour uses, as enums: every stored status, level, point and kind is one of these."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    COORDINATOR = "coordinator"
    CASEWORKER = "caseworker"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class CaseStatus(StrEnum):
    REFERRED = "referred"
    ACTIVE = "active"
    DISCHARGE_PENDING = "discharge_pending"
    DISCHARGED = "discharged"
    CLOSED = "closed"
    REOPENED = "reopened"


class Situation(StrEnum):
    """Where the youth stands relative to the trafficking situation."""

    IN_SITUATION = "in_situation"
    CONSIDERING_LEAVING = "considering_leaving"
    JUST_LEFT = "just_left"
    STABILIZING = "stabilizing"


class RiskLevel(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    IMMINENT = "imminent"

    @property
    def rank(self) -> int:
        return _RISK_ORDER.index(self)

    @classmethod
    def highest(cls, levels: list[RiskLevel]) -> RiskLevel:
        return max(levels, key=lambda level: level.rank, default=cls.LOW)


_RISK_ORDER = [RiskLevel.LOW, RiskLevel.MODERATE, RiskLevel.HIGH, RiskLevel.IMMINENT]


class AssessmentPoint(StrEnum):
    INITIAL_CONTACT = "initial_contact"
    PLANNING_MEETING = "planning_meeting"
    DISCHARGE = "discharge"
    FOLLOW_UP = "follow_up"
    CONSIDERING_LEAVING = "considering_leaving"
    JUST_LEFT = "just_left"
    INCIDENT = "incident"


class AssessmentStatus(StrEnum):
    OPEN = "open"  # due, waiting for answers
    COMPLETED = "completed"  # answered and evaluated
    CANCELLED = "cancelled"  # superseded (e.g. case closed)


class ThreatKind(StrEnum):
    TRAFFICKER = "trafficker"
    NETWORK = "network"  # organized crime network or gang
    COMPLICIT_FAMILY_FRIEND = "complicit_family_friend"


class PersonAtRisk(StrEnum):
    YOUTH = "youth"
    FAMILY = "family"  # family members or caretakers
    STAFF = "staff"


class PersonKind(StrEnum):
    YOUTH = "youth"
    FAMILY_MEMBER = "family_member"
    CARETAKER = "caretaker"
    TRUSTED_CONTACT = "trusted_contact"


class Phase(StrEnum):
    """The catalogue's strategy groups; the seed's three lists plus emotional regulation."""

    CONTEMPLATING_LEAVING = "contemplating_leaving"
    AFTER_LEAVING = "after_leaving"
    AGENCY_STAFF = "agency_staff"
    EMOTIONAL_REGULATION = "emotional_regulation"


class PlanSection(StrEnum):
    """The parts of a plan, in the order a plan document shows them."""

    EMERGENCY = "emergency"
    RISKS = "risks"
    STRATEGIES = "strategies"
    STEPS = "steps"
    CONTACTS = "contacts"
    RESOURCES = "resources"


class StepOwner(StrEnum):
    YOUTH = "youth"
    FAMILY = "family"
    CASEWORKER = "caseworker"
    AGENCY = "agency"


class ItemState(StrEnum):
    SUGGESTED = "suggested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ADDED = "added"  # written by staff with the youth, not from the catalogue


class ContactFlag(StrEnum):
    """Why a contact item of a plan is not what it reads (``composition.contact_flag``): its
    person may no longer be a contact (no longer approved by the youth, or family no longer known
    to be non-offending)."""

    LEFT_OFF = "left_off"  # so the youth's and family's copies leave them off
    STILL_LISTED = "still_listed"  # yet the copies of this final version list them


class PlanStatus(StrEnum):
    DRAFT = "draft"
    FINAL = "final"
    SUPERSEDED = "superseded"  # a draft a newer assessment replaced before it was finalised


class NotificationKind(StrEnum):
    CASE_ASSIGNED = "case_assigned"
    COVER_STARTED = "cover_started"
    ASSESSMENT_DUE_SOON = "assessment_due_soon"
    ASSESSMENT_DUE_TODAY = "assessment_due_today"
    ASSESSMENT_OVERDUE = "assessment_overdue"
    OVERDUE_ESCALATION = "overdue_escalation"
    FOLLOW_UP_DUE = "follow_up_due"
    RISK_RAISED = "risk_raised"
    IMMINENT_THREAT = "imminent_threat"
    ALERT_ESCALATED = "alert_escalated"
    REMINDER_DIGEST = "reminder_digest"
    ESCALATION_DIGEST = "escalation_digest"  # a sweep's (or a climb's) overdue escalations
    DEAD_LETTER = "dead_letter"
    EVENT_STUCK = "event_stuck"  # a lifecycle event whose steps keep failing, to the admins
    ENROLMENT = "enrolment"
    TEST = "test"
    VISIT_OVERDUE = "visit_overdue"
    VISIT_BACK = "visit_back"  # a visit whose alert paged people is over: stand down
    MISSING_STEPS_DUE = "missing_steps_due"
    MISSING_STEPS_OVERDUE = "missing_steps_overdue"


class Lane(StrEnum):
    URGENT = "urgent"  # someone in danger now (imminent threat, overdue visit): never queued
    NORMAL = "normal"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"  # kept, never sent: ``last_error`` says why (e.g. ``acknowledged``)
    # A page kept as the record of who was paged (and its key: once per alert, tier and person),
    # never sent itself: an escalation digest carries it (``harbour.notify.digests``), and the
    # digest's tries, last error and delivery are recorded on it by the relay, as is its
    # dead-lettering when its recipient leaves (``outbox.mirror_on_bundled``).
    BUNDLED = "bundled"


class AlertKind(StrEnum):
    IMMINENT_THREAT = "imminent_threat"
    OVERDUE_ESCALATION = "overdue_escalation"
    RISK_RAISED = "risk_raised"
    VISIT_OVERDUE = "visit_overdue"  # a staff member not back from a visit (source: the visit)
    MISSING_STEPS_DUE = "missing_steps_due"  # a missing youth's reports near their deadline
    MISSING_STEPS_OVERDUE = "missing_steps_overdue"  # ... and past it


class MissingStepKind(StrEnum):
    """What must be done when a youth in care goes missing (the federal Preventing Sex
    Trafficking and Strengthening Families Act: law enforcement and NCMEC within 24 hours)."""

    LAW_ENFORCEMENT = "law_enforcement"  # a report to law enforcement (its number sealed)
    NCMEC = "ncmec"  # a report to the National Center for Missing & Exploited Children
    SUPERVISOR_TOLD = "supervisor_told"
