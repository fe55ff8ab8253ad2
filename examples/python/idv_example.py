#!/usr/bin/env python3
"""Calls every RPC of idv's three services from Python, with code protoc generates.

Generate the code once (Debian: python3-grpcio, python3-protobuf, protobuf-compiler,
protobuf-compiler-grpc):

    protoc -I proto --python_out=gen --grpc_python_out=gen \\
        --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \\
        proto/idv/v1/*.proto proto/idv/config/v1/config.proto

Then, against a running idvd (scripts/run.sh) with an administrator's API key:

    examples/python/idv_example.py --gen gen --server 127.0.0.1:7443 \\
        --token_file data/admin.key --number 120101201401014623 --name 王浩辉 \\
        --backend_target 127.0.0.1:7600

It verifies and binds a person, reads the verification and binding back, changes the
configuration (a backend whose config is a google.protobuf.Any, a policy), manages a tenant and a
client, rotates the fingerprint key, deletes an account's data, takes a backup, and asks the audit service for records, stats,
a checkpoint and proofs. Prints one line per call; exits 1 at the first failed call.
"""
import argparse
import sys
import time
import uuid


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gen", required=True, help="directory of the generated Python code")
    parser.add_argument("--server", default="127.0.0.1:7443")
    parser.add_argument("--token_file", default="data/admin.key")
    parser.add_argument("--number", required=True, help="a resident ID number the authority knows")
    parser.add_argument("--name", required=True, help="the name that goes with it")
    parser.add_argument("--backend_target", required=True,
                        help="HOST:PORT of a registry plugin, for the backend this example adds")
    args = parser.parse_args()

    sys.path.insert(0, args.gen)
    import grpc
    from google.protobuf import any_pb2, duration_pb2
    from idv.config.v1 import config_pb2
    from idv.v1 import (admin_pb2, admin_pb2_grpc, audit_pb2, audit_pb2_grpc, verification_pb2,
                        verification_pb2_grpc)

    api_key = open(args.token_file).read().strip()
    # Every call carries the API key; TLS would use grpc.ssl_channel_credentials instead.
    metadata = [("authorization", "Bearer " + api_key)]
    channel = grpc.insecure_channel(args.server)
    verification = verification_pb2_grpc.VerificationServiceStub(channel)
    admin = admin_pb2_grpc.AdminServiceStub(channel)
    audit = audit_pb2_grpc.AuditServiceStub(channel)
    called = []

    def call(stub, method, request, refusal=None):
        """One call; `refusal`: a status code that is an expected answer (printed, not fatal)."""
        try:
            response = getattr(stub, method)(request, metadata=metadata, timeout=10)
        except grpc.RpcError as e:
            if e.code() != refusal:
                sys.exit(f"{method}: {e.code().name}: {e.details()}")
            called.append(method)
            print(f"{method:20} refused as expected: {e.code().name}: {e.details()}")
            return None
        called.append(method)
        print(f"{method:20} ok")
        return response

    run = uuid.uuid4().hex[:8]
    account = f"example-{run}"
    claim = verification_pb2.IdentityClaim(
        document_type=verification_pb2.CN_RESIDENT_ID, document_number=args.number,
        full_name=args.name)

    # Sign-up: verify and bind; a retry with the same idempotency key gets the same answer.
    answer = call(verification, "Verify", verification_pb2.VerifyRequest(
        account_id=account, claim=claim, bind=True, idempotency_key=str(uuid.uuid4())))
    print(f"  outcome {verification_pb2.Outcome.Name(answer.outcome)}, "
          f"binding {verification_pb2.BindingStatus.Name(answer.binding)}")
    if answer.outcome != verification_pb2.VERIFIED:
        sys.exit("the person was not verified: is --number/--name someone the authority knows?")
    call(verification, "GetVerification",
         verification_pb2.GetVerificationRequest(verification_id=answer.verification_id))
    call(verification, "GetBinding", verification_pb2.GetBindingRequest(account_id=account))

    # Configuration: a backend's typed_config is a google.protobuf.Any. Pack the plugin's config
    # message into it; the type URL is "type.googleapis.com/idv.config.v1.GrpcPluginConfig".
    typed = any_pb2.Any()
    typed.Pack(config_pb2.GrpcPluginConfig(target=args.backend_target, plaintext=True))
    backend = config_pb2.BackendConfig(name=f"example-{run}", typed_config=typed,
                                       timeout=duration_pb2.Duration(seconds=2))
    call(admin, "ListBackends", admin_pb2.ListBackendsRequest())
    change = call(admin, "PutBackend", admin_pb2.PutBackendRequest(backend=backend, probe=True))
    print("  " + "; ".join(change.changes))
    policies = call(admin, "GetPolicy", admin_pb2.GetPolicyRequest())
    change = call(admin, "PutPolicy",
                  admin_pb2.PutPolicyRequest(policy=policies.policies[0], dry_run=True))
    call(admin, "DeleteBackend", admin_pb2.DeleteBackendRequest(name=backend.name))
    call(admin, "ListConfigVersions", admin_pb2.ListConfigVersionsRequest(limit=5))

    # Tenants and clients (a super-admin's key).
    tenant = f"example-{run}"
    call(admin, "CreateTenant", admin_pb2.CreateTenantRequest(name=tenant, description="example"))
    call(admin, "ListTenants", admin_pb2.ListTenantsRequest())
    client = call(admin, "CreateClient", admin_pb2.CreateClientRequest(
        tenant=tenant, client_id=f"{tenant}-signup", roles=["verify"]))
    call(admin, "ListClients", admin_pb2.ListClientsRequest(tenant=tenant))
    call(admin, "GetClient", admin_pb2.GetClientRequest(client_id=client.client.client_id))
    call(admin, "RotateClientSecret",
         admin_pb2.RotateClientSecretRequest(client_id=client.client.client_id))
    call(admin, "RevokeClient", admin_pb2.RevokeClientRequest(client_id=client.client.client_id))

    # Keys and backups.
    # A new key version becomes current; the old one cannot be retired while bindings made
    # under it remain (they move when their people verify again).
    keys = call(admin, "RotateKeys", admin_pb2.RotateKeysRequest())
    status = call(admin, "GetKeyStatus", admin_pb2.GetKeyStatusRequest())
    call(admin, "RetireKeyVersions", admin_pb2.RetireKeyVersionsRequest(
        oldest_kept=status.current_version, dry_run=True),
        refusal=grpc.StatusCode.FAILED_PRECONDITION)
    backup = call(admin, "CreateBackup", admin_pb2.CreateBackupRequest(name=f"example-{run}"))
    print(f"  {backup.audit_records} audit records in {backup.path}")

    # The audit trail: this account's records, stats, the signed checkpoint and proofs.
    records = call(audit, "ListRecords", audit_pb2.ListRecordsRequest(
        filter=audit_pb2.RecordFilter(account_id=account)))
    node, index = records.records[0].node_id, records.records[0].index
    exported = b"".join(chunk.data for chunk in audit.ExportRecords(
        audit_pb2.ExportRecordsRequest(filter=audit_pb2.RecordFilter(account_id=account)),
        metadata=metadata, timeout=10))
    called.append("ExportRecords")
    print(f"{'ExportRecords':20} ok\n  {len(exported.splitlines())} lines")
    call(audit, "GetStats", audit_pb2.GetStatsRequest())
    call(audit, "GetRecord", audit_pb2.GetRecordRequest(node_id=node, index=index))
    # A checkpoint is signed within audit.checkpoint_interval (10 s by default) of a record.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and audit.GetCheckpoint(
            audit_pb2.GetCheckpointRequest(node_id=node), metadata=metadata,
            timeout=10).logs[0].checkpoint_size <= index:
        time.sleep(1)
    checkpoints = call(audit, "GetCheckpoint", audit_pb2.GetCheckpointRequest(node_id=node))
    size = checkpoints.logs[0].checkpoint_size
    call(audit, "GetInclusionProof", audit_pb2.GetInclusionProofRequest(
        node_id=node, index=index, tree_size=size))
    call(audit, "GetConsistencyProof", audit_pb2.GetConsistencyProofRequest(
        node_id=node, old_size=1, new_size=size))
    report = call(audit, "VerifyIntegrity", audit_pb2.VerifyIntegrityRequest(node_id=node))
    print(f"  intact: {report.intact}")

    # The account closes; an administrator deletes another account's data on request.
    call(verification, "Unbind", verification_pb2.UnbindRequest(account_id=account))
    call(verification, "Verify", verification_pb2.VerifyRequest(
        account_id=account + "-2", claim=claim, bind=True))
    call(admin, "DeleteAccountData", admin_pb2.DeleteAccountDataRequest(
        account_id=account + "-2", reason="deletion request"))
    call(admin, "ScrubDeletedData", admin_pb2.ScrubDeletedDataRequest())

    print(f"{len(set(called))} RPCs called")


if __name__ == "__main__":
    main()
