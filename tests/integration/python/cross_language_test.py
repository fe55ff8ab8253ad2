"""A client in another language calls idvd knowing only the .proto files, or nothing at all.

Starts idv-registry-sim and idvd as real processes, then:
  * ReflectionClient discovers VerificationService through server reflection, builds the request
    type from the descriptors the server returns and calls Verify;
  * GeneratedCodeClient uses Python code that protoc generated from proto/idv/v1/*.proto.

Usage: cross_language_test.py IDVD SIM PYTHON_GEN_DIR
"""
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

IDVD, SIM, GEN = sys.argv[1:4]
sys.path.insert(0, GEN)
sys.path.insert(0, os.path.join(GEN, "reflection"))

from idv.v1 import verification_pb2  # noqa: E402  (generated from the repo's .proto)
import reflection_pb2  # noqa: E402

LISTENING = re.compile(r"listening on (\S+:\d+)")


class Proc:
    """A child process whose output is collected; address() waits for 'listening on'."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = []
        self.found = threading.Event()
        self.addr = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            m = LISTENING.search(line)
            if m and not self.found.is_set():
                self.addr = m.group(1)
                self.found.set()
        self.found.set()  # exited

    def address(self):
        if not self.found.wait(30) or self.addr is None:
            raise RuntimeError("no 'listening on' line:\n" + "".join(self.lines))
        return self.addr

    def stop(self):
        self.p.kill()
        self.p.wait()


def setUpModule():
    global TMP, SIM_PROC, IDVD_PROC, PEOPLE, TOKEN, ADDRESS
    TMP = tempfile.mkdtemp(prefix="idv-py-")
    csv_path = os.path.join(TMP, "population.csv")
    SIM_PROC = Proc([SIM, "--listen=127.0.0.1:0", "--population=50", "--seed=3",
                     "--export_csv=" + csv_path])
    sim_addr = SIM_PROC.address()
    with open(csv_path, encoding="utf-8") as f:
        PEOPLE = list(csv.DictReader(f))
    config = os.path.join(TMP, "idvd.textproto")
    with open(config, "w", encoding="utf-8") as f:
        f.write(f"""
listen: "127.0.0.1:0"
data_dir: "{TMP}/data"
keys {{ master_key_file: "{TMP}/master.key" create_if_missing: true }}
backends {{
  name: "sim"
  typed_config {{
    [type.googleapis.com/idv.config.v1.GrpcPluginConfig] {{ target: "{sim_addr}" plaintext: true }}
  }}
}}
policies {{ document_types: CN_RESIDENT_ID backends: "sim" }}
""")
    IDVD_PROC = Proc([IDVD, "--config=" + config])
    ADDRESS = IDVD_PROC.address()
    with open(os.path.join(TMP, "data", "admin.key"), encoding="utf-8") as f:
        TOKEN = f.read().strip()


def tearDownModule():
    IDVD_PROC.stop()
    SIM_PROC.stop()
    shutil.rmtree(TMP, ignore_errors=True)


def metadata():
    return (("authorization", "Bearer " + TOKEN),)


class ReflectionClient(unittest.TestCase):
    def reflect(self, channel, **request):
        call = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        responses = list(call(iter([reflection_pb2.ServerReflectionRequest(**request)]),
                              timeout=10))
        self.assertEqual(len(responses), 1)
        return responses[0]

    def test_discovers_and_calls_verify(self):
        with grpc.insecure_channel(ADDRESS) as channel:
            services = self.reflect(channel, list_services="*")
            names = [s.name for s in services.list_services_response.service]
            self.assertIn("idv.v1.VerificationService", names)
            self.assertIn("grpc.health.v1.Health", names)

            files = self.reflect(channel, file_containing_symbol="idv.v1.VerificationService")
            pool = descriptor_pool.DescriptorPool()
            pending = [descriptor_pb2.FileDescriptorProto.FromString(b)
                       for b in files.file_descriptor_response.file_descriptor_proto]
            while pending:  # add each file once its dependencies are in the pool
                added = []
                for fd in pending:
                    try:
                        pool.Add(fd)
                        added.append(fd)
                    except (TypeError, KeyError):
                        pass
                self.assertTrue(added, "unresolvable descriptors")
                pending = [fd for fd in pending if fd not in added]

            service = pool.FindServiceByName("idv.v1.VerificationService")
            method = service.methods_by_name["Verify"]
            factory = message_factory.MessageFactory(pool)
            request_cls = factory.GetPrototype(method.input_type)
            response_cls = factory.GetPrototype(method.output_type)

            person = PEOPLE[0]
            request = request_cls()
            request.account_id = "py-reflection"
            request.bind = True
            request.claim.document_type = pool.FindEnumTypeByName(
                "idv.v1.DocumentType").values_by_name["CN_RESIDENT_ID"].number
            request.claim.document_number = person["document_number"]
            request.claim.full_name = person["full_name"]
            verify = channel.unary_unary(
                f"/{service.full_name}/{method.name}",
                request_serializer=request_cls.SerializeToString,
                response_deserializer=response_cls.FromString)
            response = verify(request, metadata=metadata(), timeout=10)
            outcome = method.output_type.fields_by_name["outcome"].enum_type
            self.assertEqual(outcome.values_by_number[response.outcome].name, "VERIFIED")
            self.assertEqual(len(response.verification_id), 26)

            with self.assertRaises(grpc.RpcError) as err:
                verify(request, timeout=10)
            self.assertEqual(err.exception.code(), grpc.StatusCode.UNAUTHENTICATED)


class GeneratedCodeClient(unittest.TestCase):
    def test_verify_with_code_generated_from_the_protos(self):
        with grpc.insecure_channel(ADDRESS) as channel:
            verify = channel.unary_unary(
                "/idv.v1.VerificationService/Verify",
                request_serializer=verification_pb2.VerifyRequest.SerializeToString,
                response_deserializer=verification_pb2.VerifyResponse.FromString)
            person = PEOPLE[1]
            request = verification_pb2.VerifyRequest(
                account_id="py-generated", bind=True,
                claim=verification_pb2.IdentityClaim(
                    document_type=verification_pb2.CN_RESIDENT_ID,
                    document_number=person["document_number"],
                    full_name=person["full_name"] + "某"))
            response = verify(request, metadata=metadata(), timeout=10)
            self.assertEqual(response.outcome, verification_pb2.MISMATCH)
            self.assertEqual(response.reason.code, verification_pb2.NAME_MISMATCH)
            self.assertEqual(response.binding, verification_pb2.NOT_REQUESTED)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
