-- Schema version 5: which client changes each node has read. A client change keeps the id of the
-- transaction that made it; a node reading the client table keeps the snapshot it read with. A
-- revocation is live on every node once every live node's snapshot sees its transaction.
ALTER TABLE idv_clients ADD COLUMN IF NOT EXISTS change_xid xid8;
ALTER TABLE idv_nodes ADD COLUMN IF NOT EXISTS clients_snapshot pg_snapshot;
