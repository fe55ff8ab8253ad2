#!/usr/bin/env node
// Calls every RPC of idv's three services from Node.js, loading the .proto files at run time
// (@grpc/proto-loader) and calling them with @grpc/grpc-js.
//
//   cd examples/node && npm ci
//   node idv_example.js --server 127.0.0.1:7443 --token_file ../../data/admin.key \
//       --number 120101201401014623 --name 王浩辉 --backend_target 127.0.0.1:7600
//
// It verifies and binds a person, reads the verification and binding back, changes the
// configuration (a backend whose config is a google.protobuf.Any: see packAny), manages a tenant
// and a client, rotates the fingerprint key, takes a backup, asks the audit service for records,
// stats, a checkpoint and proofs, and deletes an account's data. Prints one line per call; exits
// 1 at the first failed call.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTO_DIR = path.join(__dirname, '..', '..', 'proto');

function parseArgs() {
  const args = {server: '127.0.0.1:7443', token_file: 'data/admin.key'};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      console.error(`usage: idv_example.js --number N --name NAME --backend_target HOST:PORT ` +
                    `[--server HOST:PORT] [--token_file FILE]`);
      process.exit(2);
    }
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const required of ['number', 'name', 'backend_target']) {
    if (!args[required]) {
      console.error(`--${required} is required`);
      process.exit(2);
    }
  }
  return args;
}

// Field names as in the .proto files, enums by name, 64-bit integers as strings.
const LOADER_OPTIONS = {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  includeDirs: [PROTO_DIR],
};

// A google.protobuf.Any holding `object` as message `typeName`. grpc-js sends an Any as
// {type_url, value}, where value is the message's bytes: protobufjs encodes them from the same
// .proto files.
function packAny(typeName, object) {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) =>
    target.startsWith('google/protobuf/') ? target : path.join(PROTO_DIR, target);
  root.loadSync('idv/config/v1/config.proto', {keepCase: true});
  const type = root.lookupType(typeName);
  const error = type.verify(object);
  if (error) throw new Error(`${typeName}: ${error}`);
  return {
    type_url: `type.googleapis.com/${typeName}`,
    value: Buffer.from(type.encode(type.fromObject(object)).finish()),
  };
}

async function main() {
  const args = parseArgs();
  const definition = protoLoader.loadSync(
      ['idv/v1/verification.proto', 'idv/v1/admin.proto', 'idv/v1/audit.proto'], LOADER_OPTIONS);
  const idv = grpc.loadPackageDefinition(definition).idv.v1;
  // TLS would use grpc.credentials.createSsl(fs.readFileSync(caFile)).
  const credentials = grpc.credentials.createInsecure();
  const verification = new idv.VerificationService(args.server, credentials);
  const admin = new idv.AdminService(args.server, credentials);
  const audit = new idv.AuditService(args.server, credentials);
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Bearer ' + fs.readFileSync(args.token_file, 'utf8').trim());
  const called = new Set();

  // One unary call; `refusal`: a status code that is an expected answer (printed, not fatal).
  function call(client, method, request, refusal) {
    return new Promise((resolve) => {
      client[method](request, metadata, {deadline: Date.now() + 10000}, (err, response) => {
        called.add(method);
        if (err && err.code === refusal) {
          console.log(`${method.padEnd(20)} refused as expected: ${grpc.status[err.code]}: ` +
                      err.details);
          return resolve(null);
        }
        if (err) {
          console.error(`${method}: ${grpc.status[err.code]}: ${err.details}`);
          process.exit(1);
        }
        console.log(`${method.padEnd(20)} ok`);
        resolve(response);
      });
    });
  }

  const run = crypto.randomBytes(4).toString('hex');
  const account = `example-${run}`;
  const claim = {
    document_type: 'CN_RESIDENT_ID', document_number: args.number, full_name: args.name,
  };

  // Sign-up: verify and bind; a retry with the same idempotency key gets the same answer.
  const answer = await call(verification, 'Verify', {
    account_id: account, claim, bind: true, idempotency_key: crypto.randomUUID(),
  });
  console.log(`  outcome ${answer.outcome}, binding ${answer.binding}`);
  if (answer.outcome !== 'VERIFIED') {
    console.error('the person was not verified: is --number/--name someone the authority knows?');
    process.exit(1);
  }
  await call(verification, 'GetVerification', {verification_id: answer.verification_id});
  await call(verification, 'GetBinding', {account_id: account});

  // Configuration: a backend whose typed_config is a google.protobuf.Any.
  const backend = {
    name: `example-${run}`,
    typed_config: packAny('idv.config.v1.GrpcPluginConfig',
                          {target: args.backend_target, plaintext: true}),
    timeout: {seconds: 2},
  };
  await call(admin, 'ListBackends', {});
  const change = await call(admin, 'PutBackend', {backend, probe: true});
  console.log('  ' + change.changes.join('; '));
  const policies = await call(admin, 'GetPolicy', {});
  await call(admin, 'PutPolicy', {policy: policies.policies[0], dry_run: true});
  await call(admin, 'DeleteBackend', {name: backend.name});
  await call(admin, 'ListConfigVersions', {limit: 5});

  // Tenants and clients (a super-admin's key).
  const tenant = `example-${run}`;
  await call(admin, 'CreateTenant', {name: tenant, description: 'example'});
  await call(admin, 'ListTenants', {});
  const client = await call(admin, 'CreateClient',
                            {tenant, client_id: `${tenant}-signup`, roles: ['verify']});
  await call(admin, 'ListClients', {tenant});
  await call(admin, 'GetClient', {client_id: client.client.client_id});
  await call(admin, 'RotateClientSecret', {client_id: client.client.client_id});
  await call(admin, 'RevokeClient', {client_id: client.client.client_id});

  // A new key version becomes current; the old one cannot be retired while bindings made under
  // it remain (they move when their people verify again).
  await call(admin, 'RotateKeys', {});
  const keys = await call(admin, 'GetKeyStatus', {});
  await call(admin, 'RetireKeyVersions', {oldest_kept: keys.current_version, dry_run: true},
             grpc.status.FAILED_PRECONDITION);
  const backup = await call(admin, 'CreateBackup', {name: `example-${run}`});
  console.log(`  ${backup.audit_records} audit records in ${backup.path}`);

  // The audit trail: this account's records, stats, the signed checkpoint and proofs.
  const records = await call(audit, 'ListRecords', {filter: {account_id: account}});
  const {node_id: node, index} = records.records[0];
  const lines = await new Promise((resolve) => {
    let text = '';
    const stream = audit.ExportRecords({filter: {account_id: account}}, metadata,
                                       {deadline: Date.now() + 10000});
    stream.on('data', (chunk) => { text += chunk.data.toString('utf8'); });
    stream.on('error', (err) => {
      console.error(`ExportRecords: ${grpc.status[err.code]}: ${err.details}`);
      process.exit(1);
    });
    stream.on('end', () => resolve(text.split('\n').filter((l) => l).length));
  });
  called.add('ExportRecords');
  console.log(`${'ExportRecords'.padEnd(20)} ok\n  ${lines} lines`);
  await call(audit, 'GetStats', {});
  await call(audit, 'GetRecord', {node_id: node, index});
  // A checkpoint is signed within audit.checkpoint_interval (10 s by default) of a record.
  const deadline = Date.now() + 30000;
  let checkpoints;
  for (;;) {
    checkpoints = await new Promise((resolve, reject) => audit.GetCheckpoint(
        {node_id: node}, metadata, (err, r) => (err ? reject(err) : resolve(r))));
    if (BigInt(checkpoints.logs[0].checkpoint_size) > BigInt(index) || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  checkpoints = await call(audit, 'GetCheckpoint', {node_id: node});
  const size = checkpoints.logs[0].checkpoint_size;
  await call(audit, 'GetInclusionProof', {node_id: node, index, tree_size: size});
  await call(audit, 'GetConsistencyProof', {node_id: node, old_size: 1, new_size: size});
  const report = await call(audit, 'VerifyIntegrity', {node_id: node});
  console.log(`  intact: ${report.intact}`);

  // The account closes; an administrator deletes another account's data on request.
  await call(verification, 'Unbind', {account_id: account});
  await call(verification, 'Verify', {account_id: `${account}-2`, claim, bind: true});
  await call(admin, 'DeleteAccountData',
             {account_id: `${account}-2`, reason: 'deletion request'});
  await call(admin, 'ScrubDeletedData', {});

  console.log(`${called.size} RPCs called`);
  for (const c of [verification, admin, audit]) c.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
