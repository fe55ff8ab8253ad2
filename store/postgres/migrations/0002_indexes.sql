-- Schema version 2: the account index and the hourly counters GetStats reads (idvd fills both
-- for the rows written before this version in the same transaction, store/postgres/schema.cc),
-- and the retention mark.

-- Verifications and settlements carry their account id in a column of their own ('' for other
-- records), indexed per tenant and log for ListRecords' account filter.
ALTER TABLE idv_audit ADD COLUMN account_id text NOT NULL DEFAULT '';
CREATE INDEX idv_audit_by_account ON idv_audit (tenant, account_id, node_id, seq)
  WHERE account_id <> '';

-- Hourly counters of verifications (store/stats_rollup.h), one set per node: each node's writer
-- adds its group's counts in the group's transaction, so the counters always match the log and
-- nodes never wait on each other's rows.
CREATE TABLE idv_audit_stats (
  tenant    text NOT NULL,
  hour      timestamptz NOT NULL,
  dimension text NOT NULL,
  key       text NOT NULL,
  node_id   text NOT NULL,
  n         bigint NOT NULL,
  PRIMARY KEY (tenant, hour, dimension, key, node_id)
);

-- Where retention left each node's log: records 1..purged_through are removed, and record
-- purge_record (a RetentionPurge) says so. Written in the purge's own transaction.
CREATE TABLE idv_audit_purges (
  node_id        text PRIMARY KEY,
  purged_through bigint NOT NULL,
  purge_record   bigint NOT NULL
);
