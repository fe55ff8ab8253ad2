-- idv's shared store on PostgreSQL, schema version 1. Applied by idvd (store/postgres/schema.cc)
-- in one transaction under an advisory lock, so nodes starting together migrate once.
-- Identity data appears only as tenant-keyed fingerprints and masked display forms; records are
-- idv.store.v1 protobuf messages (bytea), with the columns queries need beside them.

-- Which idvd process owns each node id, until when. Every commit renews the lease of its node in
-- the same transaction, and fails when another process holds it: a node's log has one writer.
CREATE TABLE idv_nodes (
  node_id     text PRIMARY KEY,
  owner       text NOT NULL,
  lease_until timestamptz NOT NULL,
  started_at  timestamptz NOT NULL
);

-- The audit trail: one log per node (seq counts from 1 within node_id), partitioned by month of
-- decided_at so retention detaches and drops whole partitions. idvd creates the partitions of
-- the current and next month; the default partition catches anything outside them.
CREATE TABLE idv_audit (
  node_id         text NOT NULL,
  seq             bigint NOT NULL,
  decided_at      timestamptz NOT NULL,
  tenant          text NOT NULL,
  verification_id text NOT NULL,
  record          bytea NOT NULL,   -- idv.store.v1.AuditRecord, exactly as hashed
  hash            bytea NOT NULL,
  PRIMARY KEY (node_id, seq, decided_at)
) PARTITION BY RANGE (decided_at);
CREATE TABLE idv_audit_default PARTITION OF idv_audit DEFAULT;
CREATE INDEX idv_audit_by_verification ON idv_audit (verification_id);

-- The accounts one identity is bound to within a tenant (idv.store.v1.IdentityBindings). The row
-- is the lock that serializes binding decisions about one identity across nodes.
CREATE TABLE idv_identities (
  tenant      text NOT NULL,
  key_version integer NOT NULL,
  fingerprint bytea NOT NULL,
  bindings    bytea NOT NULL,
  PRIMARY KEY (tenant, key_version, fingerprint)
);

-- Reverse index: the identity an account is bound to (idv.store.v1.AccountBinding). The primary
-- key makes a second binding of one account by a concurrent node fail (and be retried).
CREATE TABLE idv_accounts (
  tenant      text NOT NULL,
  account_id  text NOT NULL,
  key_version integer NOT NULL,
  fingerprint bytea NOT NULL,
  binding     bytea NOT NULL,
  PRIMARY KEY (tenant, account_id)
);
CREATE INDEX idv_accounts_by_identity ON idv_accounts (tenant, key_version, fingerprint);

CREATE TABLE idv_clients (
  client_id  text PRIMARY KEY,
  tenant     text NOT NULL,
  record     bytea NOT NULL,        -- idv.store.v1.ClientRecord (secret as a keyed hash)
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Versions of the run-time configuration; the primary key decides between concurrent changes.
CREATE TABLE idv_config_versions (
  version    bigint PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  record     bytea NOT NULL         -- idv.store.v1.ConfigVersion
);

-- PENDING verifications to re-ask (idv.store.v1.RecheckEntry, the claim sealed), each leased to
-- the node re-asking it.
CREATE TABLE idv_rechecks (
  verification_id text PRIMARY KEY,
  tenant          text NOT NULL,
  entry           bytea NOT NULL,
  lease_owner     text NOT NULL,
  lease_until     timestamptz NOT NULL
);

-- The Merkle tree of each node's log: the hashes audit/log.h stores (leaf hashes and the roots of
-- complete subtrees, tlog layout), written with the records that complete them.
CREATE TABLE idv_audit_hashes (
  node_id text NOT NULL,
  idx     bigint NOT NULL,
  hash    bytea NOT NULL,
  PRIMARY KEY (node_id, idx)
);

-- Signed checkpoints (C2SP signed notes) of each node's log.
CREATE TABLE idv_checkpoints (
  node_id    text NOT NULL,
  size       bigint NOT NULL,
  root       bytea NOT NULL,
  note       text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (node_id, size)
);
