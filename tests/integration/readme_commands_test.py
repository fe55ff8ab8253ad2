#!/usr/bin/env python3
"""Runs every command README.md shows and checks its exit status.

The README's commands are read from the file itself: every indented command line and every
`idvctl ...`, `scripts/...` or `build/...` span in the text. Each must be listed below, with how
it is run here, or as covered by another test of the suite (named, and checked to exist), or as a
mention of a command group, or as not run (with why). A command the README gains without this list learning it fails the
test, and so does an entry the README no longer shows.

The demo is started with the README's own run command (scripts/run.sh, on free ports); `idvctl`
is the built one on PATH, and IDV_SERVER / IDV_TOKEN_FILE point it at the demo, as a person who
exported them would run the README's lines verbatim. Placeholders (ID, FILE, NODE...) are filled
with real values; each optional flag shown in brackets is run too. Benchmarks whose first
argument is the seconds per run are run with 1 s runs (and once where two lines differ only in
figures): they must work; their figures are the README's.

Usage: readme_commands_test.py REPO_ROOT BUILD_DIR
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT, BUILD = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])

# Words that name a group of commands or a directory, not a command to run.
MENTIONS = {
    "idvctl", "idvctl clients|tenants", "idvctl audit", "scripts/", "build/", "ENGINE=postgres",
    "build/Testing/console-screenshots/",
}

# Run elsewhere in the suite, as shown (the ctest name is checked to exist), or by CI itself.
COVERED = {
    "scripts/run.sh": "this test: it starts the demo with it",
    "scripts/run.sh --authority nppa": "ctest:ReadmeRunCommand.FirstCallWorks",
    "scripts/test.sh": "ci: .ci/run runs it (and this test is one of its tests)",
    "scripts/setup.sh": "ci: scripts/test.sh runs it first",
    "scripts/sanitize.sh address|thread [REGEX]": "ci: .ci/run runs `sanitize.sh address`",
    "scripts/fuzz.sh all 60": "ctest:Fuzz.IdentityParsers",
    "scripts/dr_drill.sh [LOAD_SECONDS] [RECORDS]": "ctest:Recovery.DrillLosesNothing.leveldb",
    "scripts/dr_drill.sh 10": "ctest:Recovery.DrillLosesNothing.leveldb",
    "scripts/dr_drill.sh 20 1000000": "ctest:Recovery.DrillLosesNothing.leveldb",
    "ENGINE=postgres scripts/dr_drill.sh 10": "ctest:Recovery.DrillLosesNothing.postgres",
    "scripts/build.sh && cd build && cpack -G DEB": "ctest:Package.DebInstallsAndServes",
    "apt install ./idv_0.1.0_amd64.deb": "ctest:Package.DebInstallsAndServes",
}

# Shown but not run by any test, and why.
NOT_RUN = {
    "systemctl enable --now idv-registry-sim idvd":
        "needs systemd as PID 1; Package.DebInstallsAndServes runs the units' command lines",
}

# README command -> [(shell command, exit status)], run in this order from the repository root.
# {work} is this test's directory, {node} the demo's audit log, {size} its checkpoint's size,
# {index} a record of the caller's tenant.
RUNS = {
    "build/cli/idvctl --server 127.0.0.1:7443 --token_file data/admin.key verify --account "
    "demo-account-1 --type cn_resident_id --number 120101201401014623 --name '王浩辉' --bind": [
        ("{first_call}", 0)],
    "idvctl --help": [("idvctl --help", 0)],
    "idvctl COMMAND --help": [("idvctl verify --help", 0), ("idvctl audit prove --help", 0)],
    "idvctl --version": [("idvctl --version", 0)],
    "idvctl check --type TYPE [--country CCC] [INPUT...]": [
        ("idvctl check --type cn_resident_id 11010519491231002X", 0),
        ("idvctl check --type passport --country CHN E12345678", 0),
        ("echo 11010519491231002Y | idvctl check --type cn_resident_id", 1)],
    "idvctl check": [("idvctl check --type phone 13800138000", 0)],
    "idvctl tenants create acme": [("idvctl tenants create acme", 0)],
    "idvctl clients create acme-signup --tenant acme --roles verify --expires 8760h": [
        ("idvctl clients create acme-signup --tenant acme --roles verify --expires 8760h", 0)],
    "idvctl clients list [--tenant acme|*]        idvctl clients get|revoke|rotate ID": [
        ("idvctl clients list", 0), ("idvctl clients list --tenant acme", 0),
        ("idvctl clients list --tenant '*'", 0), ("idvctl clients get acme-signup", 0),
        ("idvctl clients rotate acme-signup", 0), ("idvctl clients revoke acme-signup", 0)],
    "idvctl backends list": [("idvctl backends list", 0)],
    "idvctl backends put examples/carrier.textproto [--dry-run] [--probe]": [
        ("idvctl backends put examples/carrier.textproto --dry-run", 0),
        ("idvctl backends put examples/carrier.textproto --probe", 0),
        ("idvctl backends put examples/carrier.textproto", 0)],
    "idvctl policy get": [("idvctl policy get", 0)],
    "idvctl policy put examples/policy.json [--dry-run] [--force]": [
        ("idvctl policy put examples/policy.json --dry-run", 0),
        ("idvctl policy put examples/policy.json", 0),
        ("idvctl policy put examples/policy.json --force", 0)],
    "idvctl backends delete carrier [--dry-run]": [
        ("idvctl backends delete carrier --dry-run", 3), ("idvctl backends delete carrier", 3)],
    "idvctl backends history": [("idvctl backends history", 0)],
    "idvctl audit list [--account ID] [PAGE_TOKEN]": [
        ("idvctl audit list", 0), ("idvctl audit list --account demo-account-1", 0),
        ("idvctl audit list \"$(idvctl -o json audit list | python3 -c "
         "'import json,sys; print(json.load(sys.stdin)[\"next_page_token\"])')\"", 0)],
    "idvctl audit export FILE [csv] [--account ID] [--verified_claims adult]": [
        ("idvctl audit export {work}/all.jsonl", 0), ("idvctl audit export {work}/all.csv csv", 0),
        ("idvctl audit export {work}/one.jsonl --account demo-account-1", 0),
        ("idvctl audit export {work}/claims.jsonl --verified_claims adult && "
         "grep -q '\"verified_claims\":' {work}/claims.jsonl", 0),
        ("idvctl audit export {work}/claims.csv csv --verified_claims adult", 3)],
    "idvctl audit stats": [("idvctl audit stats", 0)],
    "idvctl audit stats [day] [--account ID]": [
        ("idvctl audit stats", 0), ("idvctl audit stats day", 0),
        ("idvctl audit stats --account demo-account-1", 0)],
    "idvctl audit checkpoint [NODE]": [
        ("idvctl audit checkpoint", 0), ("idvctl audit checkpoint {node}", 0)],
    "idvctl audit get NODE INDEX": [("idvctl audit get {node} {index}", 0)],
    "idvctl audit prove NODE INDEX [TREE_SIZE]": [
        ("idvctl audit prove {node} {index}", 0), ("idvctl audit prove {node} {index} {size}", 0)],
    "idvctl audit consistency NODE OLD [NEW]": [
        ("idvctl audit consistency {node} 1", 0), ("idvctl audit consistency {node} 1 {size}", 0)],
    "idvctl audit verify NODE [--first N] [--last N] [--trusted FILE,...]": [
        ("idvctl audit verify {node}", 0),
        ("idvctl audit verify {node} --first 1 --last {seq}", 0),
        ("idvctl audit verify {node} --first 999999999", 3),
        ("idvctl -o json audit checkpoint {node} | python3 -c 'import json,sys; "
         "print(json.load(sys.stdin)[\"logs\"][0][\"checkpoint\"], end=\"\")' > {work}/cp.txt && "
         "idvctl audit verify {node} --trusted {work}/cp.txt", 0)],
    "idvctl unbind ACCOUNT": [("idvctl unbind demo-account-1", 0)],
    "idvctl accounts delete ACCOUNT --reason TEXT": [
        ("idvctl verify --account readme-del-1 --claim_file {work}/claim.json --bind && "
         "idvctl accounts delete readme-del-1 --reason 'closed at the customer request'", 0)],
    "idvctl accounts delete ID --reason TEXT": [
        ("idvctl verify --account readme-del-2 --claim_file {work}/claim.json --bind && "
         "idvctl accounts delete readme-del-2 --reason 'data deletion request'", 0)],
    "idvctl accounts scrub": [("idvctl accounts scrub", 0)],
    "idvctl keys status": [("idvctl keys status", 0)],
    "idvctl keys rotate": [("idvctl keys rotate", 0)],
    "idvctl keys retire N": [("idvctl keys retire 2 --dry-run", 3)],
    "idvctl backup create NAME": [("idvctl backup create readme.idvbak", 0)],
    "idvctl backup create": [("idvctl backup create readme.idvbak", 0)],
    "idvctl backup verify FILE --master_key KEY": [
        ("idvctl backup verify {work}/backups/readme.idvbak --master_key {work}/data/master.key",
         0)],
    "idvctl backup restore FILE --master_key KEY --data_dir DIR": [
        ("idvctl backup restore {work}/backups/readme.idvbak --master_key {work}/data/master.key "
         "--data_dir {work}/restored", 0)],
    "scripts/build.sh [TARGET...]": [("scripts/build.sh idvctl", 0)],
    "scripts/cluster.sh [NODES]": [("{cluster}", 0)],
    "scripts/gen_gb2260.py": [("{gen_gb2260}", 0)],
    "scripts/audit_scale.sh 1000000 leveldb|postgres": [
        ("scripts/audit_scale.sh 2000 leveldb", 0), ("scripts/audit_scale.sh 2000 postgres", 0)],
    "build/load-tests/store_bench --benchmark_repetitions=5": [
        ("build/load-tests/store_bench --benchmark_repetitions=5", 0)],
    "build/load-tests/cache_bench --benchmark_min_time=0.5": [
        ("build/load-tests/cache_bench --benchmark_min_time=0.5", 0)],
    "scripts/bench_engine.sh": [("scripts/bench_engine.sh", 0)],
    "build/tests/cache_test --gtest_filter='*Memory*'": [
        ("build/tests/cache_test --gtest_filter='*Memory*'", 0)],
    "scripts/load_compare.sh 5 256": [("scripts/load_compare.sh 1 1024", 0)],
    "scripts/nppa_compare.sh 5 64": [("scripts/nppa_compare.sh 1 16", 0)],
    "scripts/load_compare.sh 5 1024": [("scripts/load_compare.sh 1 1024", 0)],
    "scripts/overload.sh 10 64 50": [("scripts/overload.sh 1 64 50", 0)],
    "scripts/overload.sh 10 64 0": [("scripts/overload.sh 1 64 0", 0)],
    "scripts/hot_path.sh [CALLS] [ROUNDS]": [("scripts/hot_path.sh 3000 1", 0)],
    "scripts/hot_path.sh 60000 9": [("scripts/hot_path.sh 3000 1", 0)],
    "build/load-tests/access_log_bench": [
        ("build/load-tests/access_log_bench --benchmark_min_time=0.2 > {work}/access.log", 0)],
    "scripts/bench_cluster.sh [SECONDS]": [("scripts/bench_cluster.sh 1", 0)],
    "idvctl clients create NAME --roles audit": [
        ("idvctl clients create readme-auditor --roles audit", 0)],
    "scripts/console_scale.sh [RECORDS]": [("scripts/console_scale.sh 2000", 0)],
}


def readme_commands():
    """Every command README.md shows: indented lines and `...` spans, comments stripped."""
    lines = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().split("\n")
    found, i = [], 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"^ {4,}(idvctl|build/|scripts/|ENGINE=|apt |systemctl )", line):
            text = line.strip()
            while text.endswith("\\") and i + 1 < len(lines):
                i += 1
                text = text[:-1].rstrip() + " " + lines[i].strip()
            found.append(re.sub(r"\s+#.*$", "", text))
        found += re.findall(r"`((?:idvctl|scripts/|build/|ENGINE=)[^`]*)`", line)
        i += 1
    return list(dict.fromkeys(found))


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def main():
    shown = readme_commands()
    known = set(RUNS) | set(COVERED) | set(NOT_RUN) | MENTIONS
    unknown = [c for c in shown if c not in known]
    if unknown:
        fail("the README shows commands this test does not run: " + repr(unknown))
    stale = [c for c in known if c not in shown]
    if stale:
        fail("listed here but no longer in the README: " + repr(stale))
    registered = subprocess.run(["ctest", "-N"], cwd=BUILD, capture_output=True, text=True).stdout
    for command, how in COVERED.items():
        if how.startswith("ctest:") and (": " + how[6:] + "\n") not in registered:
            fail(f"{command!r} is said to be covered by {how[6:]}, which is not a test")

    work = tempfile.mkdtemp(prefix="idv-readme-")
    os.chmod(work, 0o755)  # scripts/cluster.sh runs PostgreSQL as the postgres user in it
    started = []
    try:
        run(work, started)
    finally:
        for p in reversed(started):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


def start(command, env, out_path, ready):
    """Starts `command` in the background; waits until its output holds `ready`."""
    out = open(out_path, "w")
    p = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True)
    deadline = time.monotonic() + 120
    while ready not in open(out_path, encoding="utf-8").read():
        if p.poll() is not None or time.monotonic() > deadline:
            fail(f"{command} did not get ready: {open(out_path, encoding='utf-8').read()}")
        time.sleep(0.1)  # polling a log file for a line, not synchronization by time
    return p


def run(work, started):
    env = dict(os.environ, IDV_SKIP_BUILD="1", IDV_BUILD_DIR=BUILD)
    # The README's run command, on free ports, with its files in the work directory.
    demo_env = dict(env, IDV_WORK_DIR=work, IDV_LISTEN="127.0.0.1:0", IDV_SIM_LISTEN="127.0.0.1:0",
                    IDV_METRICS_LISTEN="127.0.0.1:0")
    started.append(start(["scripts/run.sh"], demo_env, f"{work}/run.txt", "Ctrl-C stops"))
    printed = open(f"{work}/run.txt", encoding="utf-8").read()
    first_call = next(l.strip() for l in printed.splitlines() if "idvctl --server" in l)
    address = re.search(r"--server (\S+)", first_call).group(1)
    # The web console's address run.sh prints, as the README says to open it.
    console = re.search(r"The web console: (http://\S+/console/)", printed)
    if not console:
        fail("scripts/run.sh printed no web console address: " + printed)
    with urllib.request.urlopen(console.group(1), timeout=10) as page:
        if page.status != 200 or "script-src 'self'" not in page.headers["Content-Security-Policy"]:
            fail(f"the console at {console.group(1)} answered {page.status}")
    # The carrier simulator examples/carrier.textproto names, started as its comment says.
    carrier = re.search(r"#\s+(idv-registry-sim --mode=carrier .*)",
                        open(f"{ROOT}/examples/carrier.textproto").read()).group(1).split()
    started.append(start([f"{BUILD}/verifiers/registry_sim/{carrier[0]}"] + carrier[1:], env,
                         f"{work}/carrier.txt", "listening on"))

    bin_dir = f"{work}/bin"
    os.makedirs(bin_dir)
    os.symlink(f"{BUILD}/cli/idvctl", f"{bin_dir}/idvctl")
    if os.path.realpath(f"{ROOT}/build") != BUILD:
        os.symlink(BUILD, f"{work}/build")
    env.update(PATH=bin_dir + ":/usr/bin:" + os.environ["PATH"], IDV_SERVER=address,
               IDV_TOKEN_FILE=f"{work}/data/admin.key")
    person = open(f"{work}/demo/population.csv", encoding="utf-8").read().splitlines()[2]
    _, number, name, _ = person.split(",")
    json.dump({"document_type": "CN_RESIDENT_ID", "document_number": number, "full_name": name},
              open(f"{work}/claim.json", "w"), ensure_ascii=False)

    def sh(command):
        return subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True,
                              text=True)

    values = {"work": work, "first_call": first_call, "cluster": cluster_command(work),
              "gen_gb2260": gen_command(work)}
    count, done = 0, set()
    for readme, runs in RUNS.items():
        for template, want in runs:
            if template in done:  # two README lines run the same way: once is enough
                continue
            done.add(template)
            if "{node}" in template and "node" not in values:
                # A record of the caller's tenant (the first call's verification), and a signed
                # checkpoint covering it: one follows within audit.checkpoint_interval (10 s).
                mine = json.loads(sh("idvctl -o json audit list --account demo-account-1").stdout)
                index = int(mine["records"][-1]["index"])
                deadline = time.monotonic() + 60
                while True:
                    cp = json.loads(sh("idvctl -o json audit checkpoint").stdout)["logs"][0]
                    if int(cp["checkpoint_size"]) > index or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)  # waiting for the server's own timer; no event to wait on
                values.update(node=cp["node_id"], size=cp["checkpoint_size"], index=index,
                              seq=index + 1)
            command = template.format(**values)
            if os.path.realpath(f"{ROOT}/build") != BUILD:
                command = re.sub(r"(^|\s)build/", rf"\1{work}/build/", command)
            began = time.monotonic()
            r = sh(command)
            count += 1
            took = time.monotonic() - began
            print(f"exit {r.returncode} ({took:5.1f} s)  {command[:110]}", flush=True)
            if r.returncode != want:
                fail(f"README: {readme}\n  ran: {command}\n  exit {r.returncode}, not {want}\n"
                     f"--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-3000:]}")
    print(f"PASS: {len(RUNS)} README commands run ({count} runs exited as expected), "
          f"{len(COVERED)} covered elsewhere, {len(NOT_RUN)} not run: {list(NOT_RUN)}")


def cluster_command(work):
    """scripts/cluster.sh 2 started, its first printed call made on each node, then stopped."""
    return (f"export IDV_WORK_DIR={work}/cluster IDV_PG_PORT=$((20000 + RANDOM % 20000)) "
            f"IDV_BASE_PORT=$((40000 + RANDOM % 20000)); mkdir -p $IDV_WORK_DIR; "
            f"scripts/cluster.sh 2 > {work}/cluster.txt 2>&1 & pid=$!; "
            f"for i in $(seq 600); do grep -q 'Ctrl-C' {work}/cluster.txt && break; "
            f"kill -0 $pid || {{ cat {work}/cluster.txt; exit 9; }}; sleep 0.1; done; "
            f"grep -- '--server' {work}/cluster.txt | while read -r call; do "
            f"eval \"$call\" > /dev/null || exit 8; done; rc=$?; "
            f"kill -TERM $pid; wait $pid; exit $rc")


def gen_command(work):
    """The address-code generator, run on a copy: its output must equal the committed table."""
    return (f"mkdir -p {work}/gen/scripts {work}/gen/identity/data && "
            f"cp scripts/gen_gb2260.py {work}/gen/scripts/ && "
            f"python3 {work}/gen/scripts/gen_gb2260.py && "
            f"cmp {work}/gen/identity/data/gb2260_codes.inc identity/data/gb2260_codes.inc")


if __name__ == "__main__":
    main()
