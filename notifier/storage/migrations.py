"""Versioned schema migrations for both backends, recorded in a `schema_version` table.

Each step runs once, in order, in the transaction that records its version. SQLite's first two
steps are idempotent so that a database made before versioning (no `schema_version`) upgrades
in place. `inferwatch notifier migrate` runs them without starting the notifier; every start
runs them too (PostgreSQL replicas starting at once serialize on an advisory lock).
"""

from __future__ import annotations

SQLITE_V1 = """
CREATE TABLE IF NOT EXISTS alerts (
    fingerprint TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY, body TEXT NOT NULL, ends_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    receiver TEXT NOT NULL, channel INTEGER NOT NULL, group_key TEXT NOT NULL,
    title TEXT NOT NULL, body TEXT NOT NULL, body_format TEXT NOT NULL,
    notify_type TEXT NOT NULL,
    firing TEXT NOT NULL, resolved TEXT NOT NULL,
    created_at REAL NOT NULL, deadline REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL,
    state TEXT NOT NULL, last_error TEXT NOT NULL DEFAULT '', done_at REAL);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state, next_attempt);
CREATE INDEX IF NOT EXISTS outbox_group ON outbox (receiver, channel, group_key, state);
CREATE TABLE IF NOT EXISTS nflog (
    receiver TEXT NOT NULL, channel INTEGER NOT NULL, group_key TEXT NOT NULL,
    outbox_id INTEGER NOT NULL, firing TEXT NOT NULL, resolved TEXT NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (receiver, channel, group_key));
"""
# step 2 adds nflog.sent_at (when a notification was confirmed) where it is missing
SQLITE_COLUMNS = {2: ("nflog", "sent_at", "REAL")}
SQLITE_STEPS = {1: SQLITE_V1}
SQLITE_LATEST = 2

POSTGRES_V1 = """
CREATE SEQUENCE change_seq;
CREATE TABLE alerts (
    fingerprint TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
    ends_at DOUBLE PRECISION, seq BIGINT NOT NULL,
    written_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp());
CREATE INDEX alerts_seq ON alerts (seq);
CREATE TABLE silences (
    id TEXT PRIMARY KEY, body TEXT NOT NULL, ends_at DOUBLE PRECISION NOT NULL);
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    receiver TEXT NOT NULL, channel INTEGER NOT NULL, group_key TEXT NOT NULL,
    title TEXT NOT NULL, body TEXT NOT NULL, body_format TEXT NOT NULL,
    notify_type TEXT NOT NULL, firing TEXT NOT NULL, resolved TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL, deadline DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL, last_error TEXT NOT NULL DEFAULT '', done_at DOUBLE PRECISION,
    claimed_by TEXT, claim_until TIMESTAMPTZ);
CREATE INDEX outbox_due ON outbox (next_attempt, id) WHERE state = 'pending';
CREATE INDEX outbox_group ON outbox (group_key, receiver, channel) WHERE state = 'pending';
CREATE INDEX outbox_done ON outbox (done_at) WHERE state <> 'pending';
CREATE TABLE nflog (
    receiver TEXT NOT NULL, channel INTEGER NOT NULL, group_key TEXT NOT NULL,
    outbox_id BIGINT NOT NULL, firing TEXT NOT NULL, resolved TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, sent_at DOUBLE PRECISION,
    PRIMARY KEY (receiver, channel, group_key));
CREATE TABLE leases (
    group_key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL DEFAULT now());
"""
# step 2: each group's flush schedule, so that a replica taking a group's lease over continues
# it (notifier/storage/pgleases.py)
POSTGRES_V2 = """
CREATE TABLE group_schedule (
    group_key TEXT PRIMARY KEY, next_flush DOUBLE PRECISION NOT NULL,
    last_flush DOUBLE PRECISION NOT NULL, flushed_by TEXT NOT NULL);
"""
# step 3: the outbox's key (a random 96-bit token, never looked up) loses its unique index,
# which every insert and every outcome's new row version paid for; outbox pages keep room for
# claim renewals to update in place (HOT)
POSTGRES_V3 = """
ALTER TABLE outbox DROP CONSTRAINT outbox_key_key;
ALTER TABLE outbox SET (fillfactor = 80);
"""
POSTGRES_STEPS = {1: POSTGRES_V1, 2: POSTGRES_V2, 3: POSTGRES_V3}
POSTGRES_LATEST = 3
MIGRATION_LOCK = 0x1F0A_7E57  # pg_advisory_xact_lock key: one migrating replica at a time

