// The shared Store: one PostgreSQL database serving any number of idvd nodes.
//
// What each node does, and what the database decides:
//  - Commits go through one writer thread per node that gathers every commit queued meanwhile
//    into one transaction (group commit): READ COMMITTED, two round trips per group whatever its
//    size (fixed prepared statements over arrays, sent in libpq's pipeline mode: BEGIN, the
//    fence and the reads; then the writes and COMMIT), one synchronous COMMIT.
//  - Binding caps: the transaction locks the idv_identities row of every identity it binds
//    (SELECT .. FOR UPDATE, in key order so two nodes' groups cannot deadlock on them), reads the
//    bindings under that lock and decides with store/binding_rules.h. A second node binding the
//    same identity waits for the lock and then sees the first one's accounts. An identity seen
//    for the first time has no row to lock: its row is inserted with the group's writes, and
//    when two nodes insert the same one, or bind the same account (idv_accounts' primary key),
//    the later insert fails and its whole group is run again, re-reading what it decides on
//    (likewise on SQLSTATE 40001/40P01).
//  - Each node appends to its own audit log (node_id, seq). The node id is leased in idv_nodes:
//    every group transaction renews the lease and fails when another process holds it, so a log
//    never has two writers; a lease is taken over only once it expired.
//  - Configuration versions, clients and binding removals are announced with NOTIFY idv_changes
//    in the transaction that makes them; every node LISTENs on its own connection and passes
//    them to its subscribers (a lost connection is reported as kResync once it is back).
//  - PENDING verifications are leased to one node at a time (idv_rechecks.lease_owner), claimed
//    with FOR UPDATE SKIP LOCKED.
//  - Failures: a statement that fails rolls the transaction back and the group is answered
//    Unavailable; the node re-reads its log head and carries on once the database answers
//    again. When the connection breaks during COMMIT, the writer reconnects and looks for the
//    group's first record before answering, so an acknowledged write is never lost and a write
//    reported as failed was not made (unless the database stays unreachable past
//    `resolve_timeout`: then the answer is Unavailable and the outcome is logged as unknown).
//
// Threads: one writer, `pool_size` readers (one connection each), one listener that also renews
// the node lease and keeps the audit partitions.
#ifndef IDV_STORE_POSTGRES_POSTGRES_STORE_H_
#define IDV_STORE_POSTGRES_POSTGRES_STORE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "store/audit_log.h"
#include "store/store.h"

namespace idv::store {

struct PostgresStoreOptions {
  // libpq connection string or URI. Required.
  std::string dsn;
  // This node's log. Required; two live processes cannot hold one.
  std::string node_id;
  // Reader connections (and threads). Default 4.
  int pool_size = 4;
  // Most commits in one transaction. Default 1024; at most 4096 (statement parameter limits).
  uint32_t max_group_commit = 1024;
  // How long the node lease lasts without renewal; renewed every third of it. Default 10 s.
  absl::Duration node_lease = absl::Seconds(10);
  // How long Open waits for a lease held by another process to expire. Default node_lease + 5 s.
  absl::Duration lease_wait = absl::InfiniteDuration();
  // How long re-check entries this node commits are leased to it. Default 30 s.
  absl::Duration recheck_lease = absl::Seconds(30);
  // Attempts of one group on serialization failure, deadlock or unique violation. Default 20.
  int max_attempts = 20;
  // How long the writer tries to learn whether a COMMIT whose answer was lost took effect.
  // Default 10 s.
  absl::Duration resolve_timeout = absl::Seconds(10);
  // When and how the writer signs checkpoints of this node's log. Default: none.
  CheckpointPolicy checkpoints;
  // See OpenOptions::on_health.
  std::function<void(bool serving, const absl::Status& why)> on_health;
};

// Connects, migrates the schema, creates the audit partitions, takes the node lease (waiting up to
// `lease_wait` for an expired one) and reads the node's log head. Blocks: start-up only.
absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const PostgresStoreOptions& options);

}  // namespace idv::store

#endif  // IDV_STORE_POSTGRES_POSTGRES_STORE_H_
