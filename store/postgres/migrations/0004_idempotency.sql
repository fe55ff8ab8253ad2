-- Schema version 4: Verify answers kept under their idempotency keys (idv.store.v1.IdempotencyEntry),
-- written in the same transaction as the verification's audit record. The key and the request are
-- stored only as keyed hashes.
CREATE TABLE idv_idempotency (
  tenant     text NOT NULL,
  key_hash   bytea NOT NULL,
  account_id text NOT NULL,
  expires_at timestamptz NOT NULL,
  entry      bytea NOT NULL,
  PRIMARY KEY (tenant, key_hash)
);
CREATE INDEX idv_idempotency_expiry ON idv_idempotency (expires_at);
CREATE INDEX idv_idempotency_account ON idv_idempotency (tenant, account_id);
