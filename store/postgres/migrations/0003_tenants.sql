-- Schema version 3: tenants (idv.store.v1.TenantRecord), made by the AdminService with an audit
-- record in the same transaction.
CREATE TABLE idv_tenants (
  name       text PRIMARY KEY,
  record     bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
