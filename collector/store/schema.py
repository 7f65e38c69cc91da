"""The collector's one schema (ingest and platform tables), its version, and its forward migrations.

A database records which numbered steps of `MIGRATIONS` it has had, one row each in
`schema_version`; opening a store applies the missing ones in order, all in one transaction with
their rows (both engines have transactional DDL), so an upgrade is applied whole or not at all
and a second run finds nothing to do. A
database that has had a step this code does not know (written by a newer release) is refused
with both versions named: running on it could corrupt what the newer code relies on.

Step 1 is the schema of the release before versions (b145832): every statement is
`IF NOT EXISTS`, so on such a database it creates only what that release had not created yet
(the platform's tables when the platform never ran) and changes nothing else. Later steps may
change tables; they must keep every row (a column added has a default, so old rows read as
they meant then).

The SQL is written once for both engines: `{id}` is the engine's id column for the ingest's
tables, `{serial}` the one the platform's tables were created with (on PostgreSQL the release used
an identity column for the first and BIGSERIAL for the second: kept, so new and upgraded databases
are alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from collector.errors import StoreError

# The registry's optional fields (collector/platform/identity.py OPTIONAL, same order), added by step 6.
OPTIONAL_IDENTITY_COLUMNS = (
    "use_certificate_no",
    "latitude",
    "longitude",
    "using_unit_phone",
    "maintenance_phone",
    "contract_start",
    "contract_end",
    "brand",
    "model",
    "controller",
    "installed_on",
    "last_inspection",
    "next_inspection",
)

INGEST_TABLES = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    last_seen_ms BIGINT,
    online BOOLEAN NOT NULL DEFAULT FALSE,
    presence_ms BIGINT,
    heartbeat TEXT
);
CREATE TABLE IF NOT EXISTS records (
    device_id TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    mono_ms BIGINT NOT NULL,
    wall_ms BIGINT NOT NULL,
    clock_synced BOOLEAN NOT NULL,
    time_ms BIGINT NOT NULL,
    time_source TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (device_id, epoch, seq)
);
CREATE TABLE IF NOT EXISTS streams (
    device_id TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    max_seq BIGINT NOT NULL,
    stored BIGINT NOT NULL,
    first_received_ms BIGINT NOT NULL,
    last_received_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, epoch)
);
CREATE TABLE IF NOT EXISTS latest_status (
    device_id TEXT PRIMARY KEY,
    epoch BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id {id},
    device_id TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    type TEXT NOT NULL,
    action TEXT NOT NULL,
    floor INTEGER,
    fault_code INTEGER,
    time_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_device_time ON events (device_id, time_ms);
CREATE INDEX IF NOT EXISTS events_by_stream_type ON events (device_id, epoch, type, seq);
CREATE TABLE IF NOT EXISTS alarms (
    id {id},
    device_id TEXT NOT NULL,
    type TEXT NOT NULL,
    raised_ms BIGINT NOT NULL,
    cleared_ms BIGINT,
    received_ms BIGINT NOT NULL,
    raise_epoch BIGINT,
    raise_seq BIGINT,
    clear_seq BIGINT,
    floor INTEGER,
    fault_code INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS alarms_by_raise ON alarms (device_id, type, raise_epoch, raise_seq);
CREATE UNIQUE INDEX IF NOT EXISTS alarms_one_offline ON alarms (device_id, type)
    WHERE cleared_ms IS NULL AND raise_epoch IS NULL;
CREATE INDEX IF NOT EXISTS alarms_by_time ON alarms (raised_ms);
"""

PLATFORM_TABLES = """
CREATE TABLE IF NOT EXISTS platform_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS elevator_identity (
    device_id TEXT PRIMARY KEY,
    registration_code TEXT NOT NULL UNIQUE,
    rescue_code TEXT NOT NULL UNIQUE,
    area_code TEXT NOT NULL,
    address TEXT NOT NULL,
    using_unit TEXT NOT NULL,
    maintenance_company TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS rescue_cases (
    case_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    alarm_id BIGINT UNIQUE,
    floor INTEGER,
    status TEXT NOT NULL,
    occurred_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    next_escalation_ms BIGINT
);
CREATE INDEX IF NOT EXISTS rescue_cases_by_status ON rescue_cases (status, occurred_ms);
CREATE INDEX IF NOT EXISTS rescue_cases_due ON rescue_cases (next_escalation_ms);
CREATE TABLE IF NOT EXISTS rescue_steps (
    case_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    status TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (case_id, n)
);
CREATE TABLE IF NOT EXISTS rescue_escalations (
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    sent_ms BIGINT NOT NULL,
    PRIMARY KEY (case_id, kind)
);
CREATE TABLE IF NOT EXISTS maintenance_sessions (
    device_id TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT,
    floors TEXT NOT NULL,
    too_short BOOLEAN NOT NULL,
    PRIMARY KEY (device_id, start_ms)
);
CREATE TABLE IF NOT EXISTS platform_seen (
    source TEXT NOT NULL,
    row_id BIGINT NOT NULL,
    open BOOLEAN NOT NULL,
    PRIMARY KEY (source, row_id)
);
CREATE TABLE IF NOT EXISTS webhook_outbox (
    id {serial},
    dedupe_key TEXT NOT NULL UNIQUE,
    target TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    sent_ms BIGINT,
    failed_ms BIGINT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (sent_ms, failed_ms, next_attempt_ms);
CREATE TABLE IF NOT EXISTS city_outbox (
    id {serial},
    dedupe_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    item_key TEXT NOT NULL,
    body TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    sent_ms BIGINT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS city_outbox_pending ON city_outbox (sent_ms, id);
CREATE TABLE IF NOT EXISTS feed_digest (
    kind TEXT NOT NULL,
    item_key TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (kind, item_key)
);
CREATE TABLE IF NOT EXISTS city_items (
    county TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_key TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    PRIMARY KEY (county, kind, item_key)
);
CREATE TABLE IF NOT EXISTS city_receipts (
    idempotency_key TEXT PRIMARY KEY,
    county TEXT NOT NULL,
    received_ms BIGINT NOT NULL
);
"""


ACCOUNT_TABLES = """
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    company TEXT,
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until_ms BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    company TEXT,
    token_sha256 TEXT NOT NULL UNIQUE,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS account_sessions (
    id_sha256 TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS account_sessions_by_user ON account_sessions (username);
CREATE TABLE IF NOT EXISTS audit_log (
    id {serial},
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    device_id TEXT,
    target TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (at_ms)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One step: statements, then columns added when missing, `(table, column, definition)`.

    A column is added only if the table lacks it: collectors between the after_restart columns
    (ecd86bb) and schema versions added them on open without recording a version."""

    version: int
    why: str
    sql: str = ""
    columns: tuple[tuple[str, str, str], ...] = ()

    def statements(self, id_column: str, serial_column: str) -> list[str]:
        text = self.sql.format(id=id_column, serial=serial_column)
        return [s.strip() for s in text.split(";") if s.strip()]


MIGRATIONS: Sequence[Migration] = (
    Migration(1, "the release's schema (b145832): ingest and platform tables", INGEST_TABLES + PLATFORM_TABLES),
    Migration(
        2,
        "after_restart: a clear the agent decided on its first look after a restart (issue 12)",
        columns=(
            ("events", "after_restart", "BOOLEAN NOT NULL DEFAULT FALSE"),
            ("alarms", "cleared_after_restart", "BOOLEAN NOT NULL DEFAULT FALSE"),
        ),
    ),
    Migration(
        3,
        "the platform's start-up catch-up finds inspection events by type without reading every event",
        "CREATE INDEX IF NOT EXISTS events_by_type_id ON events (type, id)",
    ),
    Migration(
        4,
        "accounts, named API tokens, sign-in sessions and the audit trail (issue 15; collector/accounts/)",
        ACCOUNT_TABLES,
    ),
    Migration(
        5,
        "alarm acknowledgement and assignment (issue 15: who saw an alarm, who takes it)",
        """CREATE TABLE IF NOT EXISTS alarm_acks (
            alarm_id BIGINT PRIMARY KEY,
            device_id TEXT NOT NULL,
            acked_by TEXT NOT NULL,
            acked_ms BIGINT NOT NULL,
            assigned_to TEXT,
            note TEXT NOT NULL
        )""",
    ),
    Migration(
        6,
        "the registry's full fields and its effective-dated history (issue 17 item 1): every elevator the "
        "registry held becomes version 1, valid from the epoch, so old statistics read as they did",
        """CREATE TABLE IF NOT EXISTS elevator_identity_versions (
            device_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            valid_from_ms BIGINT NOT NULL,
            recorded_ms BIGINT NOT NULL,
            registration_code TEXT NOT NULL,
            rescue_code TEXT NOT NULL,
            area_code TEXT NOT NULL,
            address TEXT NOT NULL,
            using_unit TEXT NOT NULL,
            maintenance_company TEXT NOT NULL,
            use_certificate_no TEXT NOT NULL DEFAULT '',
            latitude TEXT NOT NULL DEFAULT '',
            longitude TEXT NOT NULL DEFAULT '',
            using_unit_phone TEXT NOT NULL DEFAULT '',
            maintenance_phone TEXT NOT NULL DEFAULT '',
            contract_start TEXT NOT NULL DEFAULT '',
            contract_end TEXT NOT NULL DEFAULT '',
            brand TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            controller TEXT NOT NULL DEFAULT '',
            installed_on TEXT NOT NULL DEFAULT '',
            last_inspection TEXT NOT NULL DEFAULT '',
            next_inspection TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (device_id, version)
        );
        CREATE INDEX IF NOT EXISTS elevator_identity_versions_by_time
            ON elevator_identity_versions (device_id, valid_from_ms);
        INSERT INTO elevator_identity_versions (device_id, version, valid_from_ms, recorded_ms, registration_code,
            rescue_code, area_code, address, using_unit, maintenance_company)
        SELECT device_id, 1, 0, updated_ms, registration_code, rescue_code, area_code, address, using_unit,
            maintenance_company FROM elevator_identity
        WHERE device_id NOT IN (SELECT device_id FROM elevator_identity_versions)""",
        columns=tuple(("elevator_identity", c, "TEXT NOT NULL DEFAULT ''") for c in OPTIONAL_IDENTITY_COLUMNS),
    ),
)

LATEST = MIGRATIONS[-1].version

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_ms BIGINT NOT NULL,
    why TEXT NOT NULL
)"""


def pending(applied: Sequence[int]) -> list[Migration]:
    """The steps still to apply to a database that has had `applied`; refuses a newer database."""
    newest = max(applied, default=0)
    if newest > LATEST:
        raise StoreError(
            f"the database's schema is version {newest}, newer than this collector's version {LATEST}: "
            "it was written by a newer elev-collector; run that release (or restore a backup from before it)"
        )
    done = set(applied)
    return [m for m in MIGRATIONS if m.version not in done]
