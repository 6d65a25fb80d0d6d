#!/usr/bin/env python3
"""scimd throughput benchmark: this machine's Postgres ceiling, then scimd under wrk at 32
connections, per scenario and directory size. Run it through scripts/loadbench.sh, which
starts a throwaway PostgreSQL cluster and builds scimd; this file only orchestrates.

Standard library only: the load itself comes from wrk (benches/load/scenario.lua), the
ceilings from pgbench, the data from SQL (generate_series on Postgres, a recursive CTE on
SQLite) in the row shape scimd writes, checked through the API after each load.
"""

import argparse
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "scenario.lua")
BASE = "/v1/tenants/default/realms/default/scim/v2"
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# ---------------------------------------------------------------------------------------------
# scimd's row shape. Every statement of this benchmark that knows scimd's tables is here (and
# in benches/sql/user_row.postgres.sql, which this reads, and the one SELECT of
# benches/load/floor.rs). When the schema changes (column types, keys), update these; the
# provisioning scenario (`young`) writes through the API only and needs no change.
# ---------------------------------------------------------------------------------------------

# The generated user number g as the columns scimd writes, shared with benches/directory.rs
# (which checks it against a user created through the API).
with open(os.path.join(HERE, "..", "sql", "user_row.postgres.sql")) as _f:
    USER_ROW = _f.read()

PG_USERS = """
INSERT INTO resources (id, realm_id, kind, name, name_ci, external_id, data, password_hash,
                       version, created, last_modified)
SELECT gen_random_uuid(), '{realm}'::uuid, 'User', u.user_name, lower(u.user_name),
       u.external_id, u.data, NULL, 1, u.ts, u.ts
FROM generate_series({lo}::bigint, {hi}::bigint) AS s(g), LATERAL (""" + USER_ROW + """) u
"""

# SQLite has no md5: a multiplicative hash spreads the names over the sort order instead.
SQLITE_USERS = """
WITH RECURSIVE s(g) AS (SELECT ? UNION ALL SELECT g + 1 FROM s WHERE g < ?),
x AS (SELECT g,
             printf('%08x', (g * 2654435761) % 4294967296) || '.' || g || '@corp.example.com' AS un,
             'w' || printf('%06x', (g * 40503) % 16777216) || '.' || g || '@work.example.com' AS work,
             strftime('%Y-%m-%dT%H:%M:%S.000Z', '2026-01-01 00:00:00', '+' || g || ' seconds') AS ts
      FROM s)
INSERT INTO resources (id, realm_id, kind, name, name_ci, external_id, data, password_hash,
                       version, created, last_modified)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)
             || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
       ?, 'User', un, lower(un), 'ext-' || g,
       json_object('userName', un,
                   'name', json_object('givenName', 'Given' || g, 'familyName', 'Family' || g),
                   'displayName', 'Given' || g || ' Family' || g,
                   'emails', json_array(
                       json_object('value', work, 'type', 'work', 'primary', json('true')),
                       json_object('value', 'home' || g || '@home.example.net', 'type', 'home')),
                   'active', json('true')),
       NULL, 1, ts, ts
FROM x
"""

SQL_REALM_ID = "SELECT id FROM realms WHERE tenant = 'default' AND name = 'default'"
# A membership row carries its group's realm.
SQL_PG_MEMBERS = ("INSERT INTO members (realm_id, group_id, member_id) "
                  "SELECT realm_id, id, unnest(ARRAY[{ids}]::uuid[]) FROM resources "
                  "WHERE id = '{group}'::uuid")
SQL_SQLITE_MEMBERS = ("INSERT INTO members (realm_id, group_id, member_id) "
                      "SELECT realm_id, id, ?2 FROM resources WHERE id = ?1")
SQL_COUNT_USERS = "SELECT count(*) FROM resources WHERE kind = 'User'"
# Users the loader wrote (benchmark-created ones start with lb).
SQL_SAMPLE_LOADED = ("SELECT id, name FROM resources WHERE kind = 'User' AND name NOT LIKE 'lb%' "
                     "{extra}ORDER BY random() LIMIT {n}")
SQL_LAST_USERS = "SELECT id FROM resources WHERE kind = 'User' ORDER BY id DESC LIMIT {n}"
SQL_FIRST_USERS = "SELECT id FROM resources WHERE kind = 'User' ORDER BY id LIMIT {n}"
# What autovacuum would do after a bulk load, done at once so the measured phase is settled.
SQL_PG_AFTER_USERS = "VACUUM (ANALYZE) resources"
SQL_PG_AFTER_MEMBERS = "VACUUM (ANALYZE) members"
# The planner's view of the table, read without touching it (no scan, no hint bits).
SQL_PG_TABLE_STATE = ("SELECT c.reltuples::bigint, s.n_live_tup, s.n_mod_since_analyze, "
                      "coalesce(s.last_autoanalyze::text, '-'), coalesce(s.last_analyze::text, '-') "
                      "FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
                      "WHERE c.relname = 'resources'")
# ---------------------------------------------------------------------------------------------

SCENARIOS = [
    # (key, label, wrk mode, ceiling it is compared with)
    ("S1", "POST /Users", "create", "N"),
    ("S1p", "POST /Users with password", "create_password", "N"),
    ("S2", "GET /Users/{id}", "get", "S"),
    ("S3", "filter userName eq", "filter", "S"),
    ("S4", "PATCH add/remove member", "member", "N"),
    ("S5i", "page of 100, random startIndex", "page", "S"),
    ("S5c1", "cursor page 1 (count=100)", "cursor_first", "S"),
    ("S5ce", "cursor page at the end", "cursor_end", "S"),
    ("S5w", "cursor walk (count=100)", "cursor_walk", "S"),
    ("S6", "PUT /Users/{id}", "put", "N"),
]


def say(msg):
    print(msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine():
    cores = os.cpu_count()
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cores": cores, "memory_mib": mem, "cpu": model}


class Proc:
    """A process whose CPU time and peak RSS we read from /proc."""

    def __init__(self, pid):
        self.pid = pid

    def cpu_seconds(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK

    def reset_peak(self):
        # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0), so each scenario gets its own peak.
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass

    def peak_rss_mib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0


class Floor:
    """benches/load/floor.rs: the cheapest GET by id an axum + sqlx server can serve here (one
    prepared SELECT, the stored JSON sent back; no auth, no rendering). Driven like scimd, it
    says how much of a GET's cost is the stack and the machine, and how much is scimd."""

    def __init__(self, binary, db_url, pool):
        self.binary, self.db_url, self.pool = binary, db_url, pool
        self.proc, self.port, self.p = None, None, None
        self.token = "-"

    def start(self):
        self.port = free_port()
        env = {**os.environ, "FLOOR_DATABASE_URL": self.db_url,
               "FLOOR_LISTEN": f"127.0.0.1:{self.port}", "FLOOR_POOL": str(self.pool)}
        self.proc = subprocess.Popen([self.binary], env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the floor server exited with {self.proc.returncode}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=2)
            except urllib.error.HTTPError:
                break  # it answers (404: no resource has that id)
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.01)
        else:
            raise RuntimeError("the floor server did not start")
        self.p = Proc(self.proc.pid)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.proc = None


# The benchmark cluster's port: only its processes are billed (the machine may run other
# PostgreSQL clusters, other people's tests, whose CPU time is not this benchmark's).
PG_PORT = None


def postgres_cpu_seconds():
    """CPU time of the benchmark cluster's processes: its postmaster (found by its `-p PORT`)
    and that postmaster's children (backends, autovacuum, walwriter...). Every postgres
    process on the machine when the postmaster cannot be found."""
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        if comm.startswith("postgres"):
            fields = raw.rsplit(")", 1)[1].split()
            procs[int(pid)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK)
    master = None
    if PG_PORT:
        for pid, (ppid, _) in procs.items():
            if ppid in procs:
                continue  # a child; the postmaster's parent is pg_ctl's shell or init
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if any(a == b"-p" and b == str(PG_PORT).encode() for a, b in zip(argv, argv[1:])):
                master = pid
                break
    if master is None:
        return sum(cpu for _, cpu in procs.values())
    return sum(cpu for pid, (ppid, cpu) in procs.items() if pid == master or ppid == master)


class Postgres:
    def __init__(self, url, psql):
        self.url = url
        self.psql_bin = psql

    def sql(self, query, db_url=None, check=True):
        # The statement goes in on stdin: member lists of 50,000 ids exceed the argv limit.
        r = subprocess.run(
            [self.psql_bin, db_url or self.url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-f", "-"],
            input=query, capture_output=True, text=True,
            env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"})
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}\n{query[:300]}")
        return r.stdout.strip()

    def rows(self, query):
        out = self.sql(query)
        return [line.split("|") for line in out.splitlines() if line]


class Server:
    """scimd as a child process: its own CPU and RSS are what we measure."""

    def __init__(self, name, binary, db_url, workdir, pool):
        self.name = name
        self.binary, self.db_url, self.workdir, self.pool = binary, db_url, workdir, pool
        self.proc = None
        self.port = None
        self.token = None
        self.log = None

    def start(self):
        self.port = free_port()
        env = {
            **os.environ,
            "SCIMD_DATABASE_URL": self.db_url,
            "SCIMD_LISTEN": f"127.0.0.1:{self.port}",
            "SCIMD_METRICS_LISTEN": "",
            "SCIMD_RATE_LIMIT_TOKEN_PER_SECOND": "0",
            "SCIMD_RATE_LIMIT_REALM_PER_SECOND": "0",
            "SCIMD_LOG_LEVEL": "warn",
            "SCIMD_LOG_FORMAT": "json",
            "SCIMD_REQUEST_TIMEOUT_SECONDS": "120",
        }
        if self.pool:
            env["SCIMD_DATABASE_MAX_CONNECTIONS"] = str(self.pool)
        self.log = open(os.path.join(self.workdir, "scimd.log"), "a")
        out = os.path.join(self.workdir, f"scimd-{self.name}.out")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([self.binary, "serve"], env=env, cwd=self.workdir,
                                     stdout=open(out, "a"), stderr=self.log)
        ready = self.wait_ready()
        startup = time.monotonic() - t0
        if self.token is None:
            with open(out) as f:
                # The output file is appended to: the newest bootstrap token is the last one.
                # The block also prints an admin token (scimd_admin_...), which SCIM refuses.
                found = [t for t in re.findall(r"^\s+(scimd_\S+)\s*$", f.read(), re.M)
                         if not t.startswith("scimd_admin_")]
            if not found:
                raise RuntimeError("no bootstrap token in scimd's output")
            self.token = found[-1]
        self.p = Proc(self.proc.pid)
        return startup if ready else None

    def wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"scimd exited with {self.proc.returncode}; see {self.workdir}/scimd.log")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.005)
        raise RuntimeError("scimd did not become ready")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{BASE}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/scim+json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, (json.loads(raw) if raw else None)


def ceilings(pg, args, pgbench):
    """pgbench -S (prepared SELECT by primary key) and -N (simple writes) on the same cluster."""
    say("\n== Ceilings: pgbench against the same PostgreSQL cluster")
    pg.sql("DROP DATABASE IF EXISTS pgbench")
    pg.sql("CREATE DATABASE pgbench")
    url = pg.url.rsplit("/", 1)[0] + "/pgbench"
    scale = 1 if args.smoke else 10
    subprocess.run([pgbench, "-i", "-q", "-s", str(scale), url], check=True,
                   capture_output=True)
    out = {}
    for flag in ("S", "N"):
        r = subprocess.run([pgbench, f"-{flag}", "-M", "prepared", "-c", str(args.connections),
                            "-j", str(args.threads), "-T", str(args.duration), url],
                           capture_output=True, text=True, check=True)
        m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", r.stdout)
        lat = re.search(r"latency average = ([0-9.]+) ms", r.stdout)
        out[flag] = float(m.group(1))
        say(f"   pgbench -{flag} -M prepared -c {args.connections} -j {args.threads} -T {args.duration}"
            f" (scale {scale}): {out[flag]:,.0f} tps, latency average {lat.group(1) if lat else '?'} ms")
    pg.sql("DROP DATABASE pgbench")
    return out


class Directory:
    """The data side of one backend: loading users and groups, sampling ids for wrk."""

    def __init__(self, backend, pg=None, sqlite_path=None):
        self.backend, self.pg, self.sqlite_path = backend, pg, sqlite_path
        self.loaded = 0
        self.groups = {}

    def realm(self):
        q = SQL_REALM_ID
        if self.pg:
            return self.pg.sql(q)
        with sqlite3.connect(self.sqlite_path) as c:
            return c.execute(q).fetchone()[0]

    def query(self, q):
        if self.pg:
            return self.pg.rows(q)
        c = sqlite3.connect(self.sqlite_path, timeout=60)
        try:
            return [[str(v) for v in row] for row in c.execute(q).fetchall()]
        finally:
            c.close()

    def load_users(self, upto):
        if upto <= self.loaded:
            return
        realm = self.realm()
        batch = 50_000
        t0 = time.monotonic()
        lo = self.loaded + 1
        say(f"   loading users {lo:,}..{upto:,} ({self.backend}, {batch:,} rows per statement)")
        while lo <= upto:
            hi = min(lo + batch - 1, upto)
            if self.pg:
                self.pg.sql(PG_USERS.format(realm=realm, lo=lo, hi=hi))
            else:
                c = sqlite3.connect(self.sqlite_path, timeout=60)
                with c:
                    c.execute(SQLITE_USERS, (lo, hi, realm))
                c.close()
            el = time.monotonic() - t0
            say(f"   {hi:>10,} / {upto:,} users  {el:6.1f} s  {(hi - self.loaded) / el:8,.0f} rows/s")
            lo = hi + 1
        if self.pg:
            self.pg.sql(SQL_PG_AFTER_USERS)
        else:
            c = sqlite3.connect(self.sqlite_path, timeout=60)
            c.execute("ANALYZE")
            c.close()
        say(f"   loaded and analyzed in {time.monotonic() - t0:.1f} s")
        self.loaded = upto

    def add_members(self, group_id, ids):
        if self.pg:
            for i in range(0, len(ids), 50_000):
                chunk = ",".join(f"'{x}'" for x in ids[i:i + 50_000])
                self.pg.sql(SQL_PG_MEMBERS.format(group=group_id, ids=chunk))
        else:
            c = sqlite3.connect(self.sqlite_path, timeout=60)
            with c:
                c.executemany(SQL_SQLITE_MEMBERS,
                              [(group_id, x) for x in ids])
            c.execute("ANALYZE members")
            c.close()
        if self.pg:
            # What autovacuum does after a bulk insert: statistics (stale ones made the
            # `groups` query pick sorts over index probes) and the visibility map (without it
            # an index-only probe of a 100k-member group visits the heap for every entry).
            self.pg.sql(SQL_PG_AFTER_MEMBERS)


def verify(server, directory, n):
    """A few loaded users read back through the API, and the total it reports."""
    status, body = server.api("GET", "/Users?count=1")
    if status != 200 or body["totalResults"] < n:
        raise RuntimeError(f"list after load: {status} {body}")
    for uid, name in directory.query(SQL_SAMPLE_LOADED.format(extra="AND version = 1 ", n=3)):
        status, user = server.api("GET", f"/Users/{uid}")
        if status != 200 or user["userName"] != name or len(user.get("emails", [])) != 2:
            raise RuntimeError(f"loaded user {uid} read back as {status} {user}")
    say(f"   checked through the API: 3 random users read back, totalResults = {body['totalResults']:,}")


def prepare_data(server, directory, datadir, group_sizes):
    """Files wrk reads: random users, users outside every group, cursors near the end."""
    sample = directory.query(SQL_SAMPLE_LOADED.format(extra="", n=20000))
    random.shuffle(sample)
    with open(os.path.join(datadir, "ids.txt"), "w") as f:
        f.write("\n".join(r[0] for r in sample) + "\n")
    with open(os.path.join(datadir, "names.txt"), "w") as f:
        f.write("\n".join(r[1] for r in sample) + "\n")
    # Members are the first users by id; the pool of users to add and remove is the last ones.
    pool = directory.query(SQL_LAST_USERS.format(n=4000))
    with open(os.path.join(datadir, "pool.txt"), "w") as f:
        f.write("\n".join(r[0] for r in pool) + "\n")
    for size in group_sizes:
        if size in directory.groups:
            continue
        status, g = server.api("POST", "/Groups", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": f"loadbench {size} members"})
        if status != 201:
            raise RuntimeError(f"creating a group: {status} {g}")
        ids = [r[0] for r in directory.query(SQL_FIRST_USERS.format(n=size))]
        directory.add_members(g["id"], ids)
        directory.groups[size] = g["id"]
        say(f"   group of {size:,} members: {g['id']}")
    # Cursors near the end of the list: follow nextCursor (cursors are bound
    # to filter and sort, not to count) and keep the last few.
    t0 = time.monotonic()
    cursor, seen, tail = "", 0, []
    # Pages small enough that a small directory still has several (the smoke run has 1,000).
    count = max(10, min(1000, directory.loaded // 20))
    while True:
        status, page = server.api("GET", f"/Users?count={count}&cursor={urllib.parse.quote(cursor)}")
        if status != 200:
            raise RuntimeError(f"cursor walk: {status} {page}")
        seen += page["itemsPerPage"]
        nxt = page.get("nextCursor")
        if not nxt:
            break
        tail = (tail + [nxt])[-5:]
        cursor = nxt
    with open(os.path.join(datadir, "cursors.txt"), "w") as f:
        f.write("\n".join(tail[:-1] or tail) + "\n")
    say(f"   cursor walk over {seen:,} users with count={count} took {time.monotonic() - t0:.1f} s "
        f"(kept {len(tail[:-1] or tail)} cursors from the last pages)")


def run_wrk(wrk, server, args, mode, datadir, total, group, run_tag, extra_env=None, until=None):
    """One wrk run of `mode` for args.duration seconds; with `until`, instead until that
    returns true (checked every 50 ms; wrk is then interrupted, which ends its run early)."""
    env = {**os.environ, "LB_MODE": mode, "LB_BASE": BASE, "LB_TOKEN": server.token,
           "LB_DATA": datadir, "LB_RUN": run_tag, "LB_TOTAL": str(total), "LB_GROUP": group or "",
           "LB_CHECK": "1" if args.smoke else "0", **(extra_env or {})}
    duration = "3600s" if until else f"{args.duration}s"
    cmd = [wrk, "-t", str(args.threads), "-c", str(args.connections), "-d", duration,
           "--timeout", "60s", "-s", LUA, f"http://127.0.0.1:{server.port}{BASE}"]
    server.p.reset_peak()
    cpu0 = server.p.cpu_seconds()
    db0 = postgres_cpu_seconds()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid = 0
    if until:
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if until():
                p.send_signal(signal.SIGINT)
                break
            time.sleep(0.05)
    if not pid:
        _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    out, err = p.stdout.read(), p.stderr.read()
    wall = time.monotonic() - t0
    cpu = server.p.cpu_seconds() - cpu0
    db_cpu = postgres_cpu_seconds() - db0
    # Requests the server accepted but had not answered when wrk stopped (a queue of password
    # hashes, say) still run: let them drain so they are not billed to the next scenario.
    settle(server)
    m = re.search(r"^LOADBENCH (\{.*\})$", out, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({p.returncode}): {err.strip()[:500]} {out[-500:]}")
    r = json.loads(m.group(1))
    secs = r["duration_us"] / 1e6
    errors = r["errors_status"] + r["errors_connect"] + r["errors_read"] + r["errors_write"] + r["errors_timeout"]
    return {
        "requests": r["requests"], "rps": r["requests"] / secs, "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000, "errors": errors,
        "server_cpu_ms_per_req": 1000 * cpu / max(1, r["requests"]),
        "server_cpu_pct": 100 * cpu / wall,
        # Postgres processes that exit mid-scenario (autovacuum workers) take their CPU time
        # with them; a negative figure means "unknown", and is reported as such.
        "db_cpu_ms_per_req": 1000 * db_cpu / max(1, r["requests"]),
        "peak_rss_mib": server.p.peak_rss_mib(),
        "wrk_cpu_pct": 100 * (usage.ru_utime + usage.ru_stime) / wall,
        "stderr": err.strip(),
    }


def settle(server, timeout=60):
    """Wait until scimd is idle: under 2% of a core over 200 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c0 = server.p.cpu_seconds()
        time.sleep(0.2)
        if server.p.cpu_seconds() - c0 < 0.004:
            return


def header():
    return (f"   {'scenario':<38} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/req':>10} {'db ms/req':>9} "
            f"{'RSS MiB':>8} {'wrk cpu':>7} {'ratio':>6} {'errors':>6}")


def line(label, r, ratio):
    ratio_s = f"{ratio:6.2f}" if ratio is not None else "     -"
    return (f"   {label:<38} {r['rps']:9,.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['server_cpu_ms_per_req']:10.3f} {r['db_cpu_ms_per_req']:9.3f} {r['peak_rss_mib']:8.1f} {r['wrk_cpu_pct']:6.0f}% "
            f"{ratio_s} {r['errors']:6d}")


def scenarios_for(args, size, directory):
    out = []
    for key, label, mode, ceiling in SCENARIOS:
        if args.only and key not in args.only:
            continue
        if mode == "member":
            for g in sorted(directory.groups):
                out.append((key, f"{label}, group of {g:,}", mode, ceiling, directory.groups[g]))
        else:
            out.append((key, label, mode, ceiling, None))
    return out


def bench_backend(args, backend, server, directory, sizes, ceil, wrk, results, remeasure=None,
                  floor=None):
    """`remeasure()` measures the ceilings again before each size after the first: this
    machine's speed drifts over a run, and a ratio is only fair to the ceiling of its moment.
    `floor` (a Floor) is measured on each size's data, just before scimd."""
    datadir = tempfile.mkdtemp(prefix="loadbench-data-")
    try:
        for i, size in enumerate(sizes):
            say(f"\n== {backend}: {size:,} users")
            directory.load_users(size)
            verify(server, directory, size)
            prepare_data(server, directory, datadir,
                         [g for g in args.group_sizes if g * 2 <= size])
            total = int(directory.query(SQL_COUNT_USERS)[0][0])
            if remeasure and i > 0:
                ceil = remeasure()
            say(header())
            if floor and ceil is not None:
                ceil = dict(ceil, F=measure_floor(floor, wrk, args, datadir, total, size, ceil, results))
            if ceil is not None:
                CEILINGS_BY_SIZE[size] = dict(ceil)
            for key, label, mode, ceiling, group in scenarios_for(args, size, directory):
                tag = f"{int(time.time())}{random.randint(0, 9999)}"
                r = run_wrk(wrk, server, args, mode, datadir, total, group, tag)
                ratio = r["rps"] / ceil[ceiling] if ceil else None
                r.update({"backend": backend, "size": size, "key": key, "label": label,
                          "ceiling": ceiling, "ratio": ratio,
                          "ceiling_tps": ceil[ceiling] if ceil else None,
                          "of_floor": r["rps"] / ceil["F"] if ceil and "F" in ceil else None})
                results.append(r)
                say(line(label, r, ratio))
                if r["errors"]:
                    say(f"      {r['errors']} failed requests; first answers: {r['stderr'][:400]}")
    finally:
        shutil.rmtree(datadir, ignore_errors=True)


def measure_floor(floor, wrk, args, datadir, total, size, ceil, results):
    """The floor's GET rate on this size's data (its row in the table, key F0)."""
    floor.start()
    try:
        r = run_wrk(wrk, floor, args, "get", datadir, total, None, "floor")
    finally:
        floor.stop()
    r.update({"backend": "postgres", "size": size, "key": "F0", "label": FLOOR_LABEL,
              "ceiling": "S", "ratio": r["rps"] / ceil["S"], "ceiling_tps": ceil["S"]})
    results.append(r)
    say(line(FLOOR_LABEL, r, r["ratio"]))
    if r["errors"]:
        say(f"      {r['errors']} failed requests; first answers: {r['stderr'][:400]}")
    return r["rps"]


FLOOR_LABEL = "floor: bare axum + sqlx GET"

# Issue 21: reads right after an identity provider's first sync. The users arrive through
# POST /Users on a fresh database and are read at once: no ANALYZE, no restart, whatever
# autovacuum has or has not done by then. The same reads are then measured after a manual
# ANALYZE in the same scimd process (what cached plans do), and after a restart as well (the
# settled figure the budget compares with).
YOUNG_READS = [("Y2", "GET /Users/{id}", "get"), ("Y3", "filter userName eq", "filter")]
YOUNG_PHASES = [
    ("young", "right after provisioning (no ANALYZE, no restart)"),
    ("analyzed", "after ANALYZE, same scimd process"),
    ("settled", "after ANALYZE and a restart of scimd"),
]


def provision(wrk, server, args, datadir, n, results, backend):
    """n users created through POST /Users by wrk at args.connections connections, as an
    identity provider's first sync sends them. Returns [(id, userName)] of those created."""
    for f in os.listdir(datadir):
        if f.startswith("provisioned-"):
            os.remove(os.path.join(datadir, f))
    threads = args.threads
    quota = -(-n // threads)
    deadline = time.monotonic() + 3000

    def all_done():
        done = sum(1 for f in os.listdir(datadir) if f.endswith(".done"))
        return done >= threads or time.monotonic() > deadline

    tag = f"{int(time.time())}{random.randint(0, 9999)}"
    r = run_wrk(wrk, server, args, "provision", datadir, n, None, tag,
                extra_env={"LB_QUOTA": str(quota)}, until=all_done)
    rows = []
    for f in sorted(os.listdir(datadir)):
        if f.startswith("provisioned-") and f.endswith(".txt"):
            with open(os.path.join(datadir, f)) as fh:
                rows += [line.rstrip("\n").split("\t") for line in fh if "\t" in line]
    r.update({"backend": backend, "size": n, "key": "Y1", "suite": "young", "phase": "provision",
              "label": f"POST /Users, provisioning {n:,} users", "ceiling": None, "ratio": None,
              "ceiling_tps": None, "of_floor": None})
    results.append(r)
    say(line(r["label"], r, None))
    if len(rows) < n:
        raise RuntimeError(f"provisioning created {len(rows):,} of {n:,} users "
                           f"({r['errors']} failed requests): {r['stderr'][:400]}")
    return rows


def bench_young(args, backend, wrk, server, n, results, analyze, table_state):
    """Provision n users through the API, then the reads of YOUNG_READS in each phase."""
    say(f"\n== {backend}: {n:,} users provisioned through POST /Users on a fresh database")
    datadir = tempfile.mkdtemp(prefix="loadbench-young-")
    try:
        say(header())
        rows = provision(wrk, server, args, datadir, n, results, backend)
        sample = random.sample(rows, min(20000, len(rows)))
        with open(os.path.join(datadir, "ids.txt"), "w") as f:
            f.write("\n".join(r[0] for r in sample) + "\n")
        with open(os.path.join(datadir, "names.txt"), "w") as f:
            f.write("\n".join(r[1] for r in sample) + "\n")
        for phase, what in YOUNG_PHASES:
            if phase == "analyzed":
                analyze()
            elif phase == "settled":
                server.stop()
                server.start()
            state = table_state()
            say(f"   {what}; planner's view: {state}")
            for key, label, mode in YOUNG_READS:
                tag = f"{int(time.time())}{random.randint(0, 9999)}"
                r = run_wrk(wrk, server, args, mode, datadir, len(rows), None, tag)
                r.update({"backend": backend, "size": n, "key": key, "suite": "young",
                          "phase": phase, "label": f"{label}, {phase}", "table_state": state,
                          "ceiling": None, "ratio": None, "ceiling_tps": None, "of_floor": None})
                results.append(r)
                say(line(r["label"], r, None))
                if r["errors"]:
                    say(f"      {r['errors']} failed requests; first answers: {r['stderr'][:400]}")
    finally:
        shutil.rmtree(datadir, ignore_errors=True)


def young_postgres(args, pg, wrk, workdir, results):
    for n in args.young_sizes:
        db = f"scimd_young_{n}"
        pg.sql(f"DROP DATABASE IF EXISTS {db}")
        pg.sql(f"CREATE DATABASE {db}")
        url = args.postgres_url.rsplit("/", 1)[0] + "/" + db
        server = Server(f"young-postgres-{n}", args.scimd,
                        url + (f"?{args.pg_params}" if args.pg_params else ""), workdir, args.pool)
        server.start()

        def state():
            out = pg.sql(SQL_PG_TABLE_STATE, db_url=url)
            if not out:
                return "no statistics row"
            reltuples, live, mod, auto, manual = out.split("|")
            return (f"reltuples {int(reltuples):,}, pg_stat live rows {int(live):,}, changed since analyze "
                    f"{int(mod):,}, last autoanalyze {auto[:19]}, last ANALYZE {manual[:19]}")

        try:
            bench_young(args, "postgres", wrk, server, n, results,
                        lambda: pg.sql("ANALYZE", db_url=url), state)
        finally:
            server.stop()
        pg.sql(f"DROP DATABASE IF EXISTS {db}")


def young_sqlite(args, wrk, workdir, results):
    for n in args.young_sizes:
        path = os.path.join(workdir, f"young-{n}.db")
        server = Server(f"young-sqlite-{n}", args.scimd, f"sqlite://{path}?mode=rwc", workdir,
                        args.pool)
        server.start()

        def analyze():
            c = sqlite3.connect(path, timeout=60)
            try:
                c.execute("ANALYZE")
                c.execute("PRAGMA optimize")
            finally:
                c.close()

        def state():
            c = sqlite3.connect(path, timeout=60)
            try:
                have = c.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
                                 ).fetchone()[0]
                rows = c.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] if have else 0
            finally:
                c.close()
            return f"sqlite_stat1 rows: {rows}" if have else "no sqlite_stat1 (never analyzed)"

        try:
            bench_young(args, "sqlite", wrk, server, n, results, analyze, state)
        finally:
            server.stop()
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(path + suffix)
            except OSError:
                pass

# The ceilings each Postgres size's ratios were computed against.
CEILINGS_BY_SIZE = {}


def budget(results, ceil, startup):
    """The issue-6 budget at the largest Postgres size measured."""
    pg = [r for r in results if r["backend"] == "postgres" and not r.get("suite")]
    if not pg or not ceil:
        return []
    size = max(r["size"] for r in pg)
    at = {(r["key"], r["label"]): r for r in pg if r["size"] == size}

    def first(key):
        return next((r for (k, _), r in at.items() if k == key), None)

    lines = []

    def check(name, ok, detail):
        lines.append((name, ok, detail))

    for key, floor, ceiling in (("S2", 0.5, "S"), ("S3", 0.4, "S"), ("S1", 0.5, "N")):
        r = first(key)
        if r:
            check(f"{key} {r['label']} >= {floor} x pgbench -{ceiling}", r["ratio"] >= floor,
                  f"{r['ratio']:.2f} ({r['rps']:,.0f} vs {r['ceiling_tps']:,.0f})")
    members = sorted((r for (k, _), r in at.items() if k == "S4"), key=lambda r: r["label"])
    if members:
        worst = min(members, key=lambda r: r["ratio"])
        check("S4 membership PATCH >= 0.5 x pgbench -N", worst["ratio"] >= 0.5,
              ", ".join(f"{r['label'].split('group of ')[1]}: {r['ratio']:.2f}" for r in members))
        by = {int(r["label"].split("group of ")[1].replace(",", "")): r for r in members}
        if len(by) >= 2:
            small, big = by[min(by)], by[max(by)]
            check(f"S4 group of {max(by):,} within 1.5x of {min(by):,} (p50)",
                  big["p50_ms"] <= 1.5 * small["p50_ms"],
                  f"p50 {big['p50_ms']:.2f} ms vs {small['p50_ms']:.2f} ms; "
                  f"req/s {big['rps']:,.0f} vs {small['rps']:,.0f}")
    c1, ce = first("S5c1"), first("S5ce")
    if c1 and ce:
        check("S5 cursor page at the end within 1.5x of the first (p50)",
              ce["p50_ms"] <= 1.5 * c1["p50_ms"], f"p50 {ce['p50_ms']:.2f} ms vs {c1['p50_ms']:.2f} ms")
    peak = max(r["peak_rss_mib"] for r in pg if r["key"] != "F0")
    check("peak RSS <= 100 MB", peak * 1.048576 <= 100, f"{peak:.1f} MiB")
    if startup is not None:
        check("ready <= 1 s after start on a migrated database", startup <= 1.0, f"{startup * 1000:.0f} ms")
    return lines


HELD, NOT_HELD, NOT_MEASURED = "held", "not held", "not measured"


def _state(ok):
    return HELD if ok else NOT_HELD


def last_sqlite_figures(path):
    """req/s by scenario key of the first `sqlite, 100,000 users` table in BENCHMARKS.md (the
    latest full run leads the file), and that table's heading line, or ({}, None)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return {}, None
    m = re.search(r"^#+ sqlite, 100,000 users\n", text, re.M)
    if not m:
        return {}, None
    # The run the table belongs to: the nearest `## ` heading above it.
    run = [h for h in re.findall(r"^## (.+)$", text[:m.start()], re.M)][-1:] or [None]
    figures = {}
    for row in text[m.end():].lstrip("\n").split("\n\n", 1)[0].splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) > 2 and re.match(r"^S\w+ ", cells[0]):
            label = cells[0]
            figures[label] = float(cells[1].replace(",", ""))
    return figures, run[0]


def budget14(results, benchmarks_md):
    """Issue 14 §4: each line a ratio within this run (but the SQLite line, which compares with
    the last figures in BENCHMARKS.md), at every Postgres size measured. Returns
    [(size or None, line, state, detail)]."""
    out = []
    pg = [r for r in results if r["backend"] == "postgres" and not r.get("suite")]
    for size in sorted({r["size"] for r in pg}):
        rows = [r for r in pg if r["size"] == size]
        at = {}
        for r in rows:
            at.setdefault(r["key"], r)
        f = at.get("F0")

        def vs(key, what, ref, ref_name, factor, attr="rps", less=False):
            r = at.get(key)
            name = f"{key} {what} {'<=' if less else '>='} {factor} x {ref_name}"
            if not r or not ref:
                out.append((size, name, NOT_MEASURED, f"{key if not r else ref_name} not measured"))
                return
            a, b = r[attr], ref[attr] if isinstance(ref, dict) else ref
            if a is None or b is None or a < 0 or b <= 0:
                out.append((size, name, NOT_MEASURED, "unknown (a postgres process, autovacuum, "
                            "ended during the scenario and took its CPU time with it)"))
                return
            ratio = a / b
            ok = ratio <= factor if less else ratio >= factor
            unit = "ms" if attr != "rps" else "req/s"
            fmt = (lambda v: f"{v:.3f}") if attr != "rps" else (lambda v: f"{v:,.0f}")
            out.append((size, name, _state(ok), f"{ratio:.2f} ({fmt(a)} vs {fmt(b)} {unit})"))

        vs("S2", "GET /Users/{id}", f, "the floor", 0.8)
        vs("S2", "Postgres CPU per GET", f, "the floor's", 1.3, attr="db_cpu_ms_per_req", less=True)
        vs("S3", "filter userName eq", f, "the floor", 0.7)
        vs("S6", "PUT /Users/{id}", at.get("S1"), "S1 POST", 0.8)
        s1 = at.get("S1")
        vs("S1", "POST /Users", s1 and s1["ceiling_tps"], "pgbench -N", 0.7)
        members = sorted((r for r in rows if r["key"] == "S4"),
                         key=lambda r: int(r["label"].split("group of ")[1].replace(",", "")))
        if members:
            worst = min(members, key=lambda r: r["ratio"])
            out.append((size, "S4 membership PATCH >= 0.9 x pgbench -N", _state(worst["ratio"] >= 0.9),
                        ", ".join(f"group of {r['label'].split('group of ')[1]}: {r['ratio']:.2f}"
                                  for r in members) + f" (-N {worst['ceiling_tps']:,.0f})"))
        else:
            out.append((size, "S4 membership PATCH >= 0.9 x pgbench -N", NOT_MEASURED, "S4 not run"))
        by = {int(r["label"].split("group of ")[1].replace(",", "")): r for r in members}
        name = "S4 flat from 1k to 100k members (req/s at 100,000 >= 0.9 x at 1,000)"
        if 1000 in by and 100_000 in by:
            ratio = by[100_000]["rps"] / by[1000]["rps"]
            out.append((size, name, _state(ratio >= 0.9),
                        f"{ratio:.2f} ({by[100_000]['rps']:,.0f} vs {by[1000]['rps']:,.0f} req/s; "
                        f"p50 {by[100_000]['p50_ms']:.2f} vs {by[1000]['p50_ms']:.2f} ms)"))
        else:
            out.append((size, name, NOT_MEASURED, "groups measured at this size: "
                        + (", ".join(f"{g:,}" for g in sorted(by)) or "none")))
        vs("S5c1", "cursor first page of 100", f, "the floor", 0.08)
        vs("S5ce", "cursor last page of 100", f, "the floor", 0.08)

    name = "peak RSS <= 100 MiB at 1,000,000 users (Postgres)"
    big = [r for r in pg if r["size"] == 1_000_000 and r["key"] != "F0"]
    if big:
        top = max(big, key=lambda r: r["peak_rss_mib"])
        out.append((None, name, _state(top["peak_rss_mib"] <= 100),
                    f"{top['peak_rss_mib']:.1f} MiB, in {top['key']} {top['label']}"))
    else:
        sizes = sorted({r["size"] for r in pg})
        out.append((None, name, NOT_MEASURED, "Postgres sizes in this run: "
                    + (", ".join(f"{x:,}" for x in sizes) or "none")))
    lite = [r for r in results if r["backend"] == "sqlite"]
    name = "peak RSS <= 100 MiB on SQLite"
    if lite:
        top = max(lite, key=lambda r: r["peak_rss_mib"])
        out.append((None, name, _state(top["peak_rss_mib"] <= 100),
                    f"{top['peak_rss_mib']:.1f} MiB, in {top['key']} {top['label']} "
                    f"at {top['size']:,} users"))
    else:
        out.append((None, name, NOT_MEASURED, "SQLite not run"))
    name = "SQLite throughput at 100k users >= the last BENCHMARKS.md figures"
    here = {f"{r['key']} {r['label']}": r for r in lite if not r.get("suite") and r["size"] == 100_000}
    last, run = last_sqlite_figures(benchmarks_md)
    if not here:
        out.append((None, name, NOT_MEASURED, "SQLite not measured at 100,000 users"))
    elif not last:
        out.append((None, name, NOT_MEASURED, "no `sqlite, 100,000 users` table in BENCHMARKS.md"))
    else:
        pairs = [(label, here[label]["rps"] / last[label]) for label in last if label in here]
        pairs.sort(key=lambda p: p[1])
        ok = bool(pairs) and pairs[0][1] >= 1.0
        out.append((None, name, _state(ok) if pairs else NOT_MEASURED,
                    f"against '{run}': " + ", ".join(f"{lbl.split()[0]} {x:.2f}" for lbl, x in pairs)))
    return out


def budget_young(results, sizes=(10_000, 100_000)):
    """Issue 21: reads right after provisioning >= 0.9 x the same reads after ANALYZE and a
    restart, in the same run, on each backend, at 10k and 100k users (and at whatever sizes
    this run provisioned, so the smoke prints its lines too)."""
    out = []
    young = [r for r in results if r.get("suite") == "young"]
    for backend in ("postgres", "sqlite"):
        ran = sorted({r["size"] for r in young if r["backend"] == backend})
        for size in sorted(set(ran) | set(sizes)):
            for key, label, _ in YOUNG_READS:
                name = f"{backend}: {key} {label} right after provisioning >= 0.9 x settled"
                ph = {r["phase"]: r for r in young
                      if r["backend"] == backend and r["size"] == size and r["key"] == key}
                if "young" not in ph or "settled" not in ph:
                    out.append((size, name, NOT_MEASURED, f"not provisioned at {size:,} users"))
                    continue
                ratio = ph["young"]["rps"] / ph["settled"]["rps"]
                mid = ph.get("analyzed")
                detail = (f"{ratio:.2f} ({ph['young']['rps']:,.0f} vs {ph['settled']['rps']:,.0f} req/s"
                          + (f"; after ANALYZE without restart {mid['rps']:,.0f}" if mid else ""))
                # The plan shows in the database's CPU per request more steadily than in req/s
                # on a machine shared with wrk: a wrong plan costs 10-100x, noise +-30%.
                db = [ph[p]["db_cpu_ms_per_req"] for p in ("young", "analyzed", "settled") if p in ph]
                if backend == "postgres" and all(x >= 0 for x in db):
                    detail += "; Postgres CPU ms/req " + " / ".join(f"{x:.3f}" for x in db)
                detail += ")"
                out.append((size, name, _state(ratio >= 0.9), detail))
    return out


def floor_context(results):
    """Where the read budget lines stand against what the stack itself can do."""
    pg = [r for r in results if r["backend"] == "postgres" and not r.get("suite")]
    if not pg:
        return None
    size = max(r["size"] for r in pg)
    at = {r["key"]: r for r in pg if r["size"] == size}
    f = at.get("F0")
    if not f:
        return None
    reads = ", ".join(f"{k} at {at[k]['of_floor']:.2f} of it" for k in ("S2", "S3") if k in at)
    return (f"the floor (one SELECT behind bare axum + sqlx, no auth or rendering) served "
            f"{f['rps']:,.0f} req/s = {f['ratio']:.2f} x pgbench -S" + (f"; {reads}" if reads else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--postgres-url", required=True, help="an empty database in a throwaway cluster")
    ap.add_argument("--scimd", required=True, help="the scimd binary")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--sqlite-users", type=int, default=100_000, help="0 skips SQLite")
    ap.add_argument("--young-sizes", default="10000,100000",
                    help="users provisioned through the API on a fresh database, then read at once "
                    "(issue 21; on both backends, SQLite unless --sqlite-users 0); empty: skip")
    ap.add_argument("--group-sizes", default="1000,10000,100000")
    ap.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2, help="wrk and pgbench threads")
    ap.add_argument("--pool", type=int, default=0, help="scimd database pool (0: its default)")
    ap.add_argument("--pg-params", default="", help="query parameters for scimd's database URL "
                    "(experiments, e.g. options=-c%%20plan_cache_mode%%3Dforce_generic_plan)")
    ap.add_argument("--floor", help="the floor server (benches/load/floor.rs) to measure S2 against")
    ap.add_argument("--only", default="", help="scenario keys, e.g. S2,S3 (Y1,Y2,Y3: the "
                    "provisioning scenario, which then runs alone)")
    ap.add_argument("--smoke", action="store_true", help="CI mode: tiny, and every request must succeed")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.group_sizes = [int(s) for s in args.group_sizes.split(",") if s]
    args.young_sizes = [int(s) for s in args.young_sizes.split(",") if s and s != "0"]
    args.only = set(args.only.split(",")) - {""}
    global PG_PORT
    PG_PORT = urllib.parse.urlparse(args.postgres_url).port
    young_keys = {"Y1", "Y2", "Y3"}
    run_young = bool(args.young_sizes) and (not args.only or bool(args.only & young_keys))
    run_main = bool(args.sizes) and (not args.only or bool(args.only - young_keys))

    wrk = shutil.which("wrk")
    pgbench = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    if not wrk:
        sys.exit("error: wrk not found (Debian package `wrk`)")
    facts = machine()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    say(f"loadbench {started}: {facts['cores']} cores ({facts['cpu']}), {facts['memory_mib']:,} MiB; "
        f"{args.connections} connections, {args.duration} s per scenario, wrk -t{args.threads}")
    pg = Postgres(args.postgres_url, psql)
    ceil = ceilings(pg, args, pgbench)
    results = []
    workdir = tempfile.mkdtemp(prefix="loadbench-")
    startup = None
    try:
        if run_main:
            server = Server("postgres", args.scimd,
                            args.postgres_url + (f"?{args.pg_params}" if args.pg_params else ""),
                            workdir, args.pool)
            server.start()
            floor = Floor(args.floor, args.postgres_url, args.pool or 16) if args.floor else None
            bench_backend(args, "postgres", server, Directory("postgres", pg=pg), args.sizes, ceil,
                          wrk, results, remeasure=lambda: ceilings(pg, args, pgbench), floor=floor)
            # Ready-to-serve time on the migrated, loaded database: stop, start, time /readyz.
            server.stop()
            startup = server.start()
            say(f"\n   restart on the migrated database with {args.sizes[-1]:,} users: "
                f"ready in {startup * 1000:.0f} ms")
            server.stop()
        if run_young:
            young_postgres(args, pg, wrk, workdir, results)
        if args.sqlite_users and run_main:
            path = os.path.join(workdir, "scimd.db")
            lite = Server("sqlite", args.scimd, f"sqlite://{path}?mode=rwc", workdir, args.pool)
            lite.start()
            try:
                bench_backend(args, "sqlite", lite, Directory("sqlite", sqlite_path=path),
                              [args.sqlite_users], None, wrk, results)
            finally:
                lite.stop()
        if args.sqlite_users and run_young:
            young_sqlite(args, wrk, workdir, results)
    finally:
        for s in ("server", "lite"):
            obj = locals().get(s)
            if obj:
                obj.stop()
        if os.environ.get("LOADBENCH_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)

    def show(title, rows):
        say(f"\n== {title}")
        for size, name, state, detail in rows:
            at = f"{size:>9,} users  " if size else " " * 17
            say(f"   {state.upper() if state == NOT_HELD else state:<12} {at}{name}: {detail}")

    lines = budget(results, ceil, startup)
    b14 = budget14(results, os.path.join(HERE, "..", "..", "BENCHMARKS.md"))
    b21 = budget_young(results) if run_young else []
    show("Budget (issue 14 §4: each Postgres size, ratios within this run)", b14)
    if b21:
        show("Budget (issue 21: reads right after provisioning vs after ANALYZE and a restart)", b21)
    if lines:
        show("Budget (issue 6: Postgres, largest size, ratios to the ceilings measured just before it)",
             [(None, n, _state(ok), d) for n, ok, d in lines])
    context = floor_context(results)
    if context:
        say(f"   {context}")
    wrk_max = max((r["wrk_cpu_pct"] for r in results), default=0)
    say(f"   wrk's own CPU peaked at {wrk_max:.0f}% of one core (of {facts['cores'] * 100}%)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"started": started, "machine": facts, "ceilings": ceil, "startup_s": startup,
                       "ceilings_by_size": {str(k): v for k, v in CEILINGS_BY_SIZE.items()},
                       "args": {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items()},
                       "results": [{k: v for k, v in r.items() if k != "stderr"} for r in results],
                       "budget": [{"line": n, "holds": ok, "detail": d} for n, ok, d in lines],
                       "budget14": [{"size": z, "line": n, "state": st, "detail": d}
                                    for z, n, st, d in b14],
                       "budget_young": [{"size": z, "line": n, "state": st, "detail": d}
                                        for z, n, st, d in b21],
                       "floor": context}, f, indent=1)
    failed = sum(r["errors"] for r in results)
    if args.smoke:
        print(f"loadbench-smoke: {len(results) - sum(1 for r in results if r['errors'])} passed, "
              f"{sum(1 for r in results if r['errors'])} failed")
    return 1 if (args.smoke and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
