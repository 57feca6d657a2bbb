#!/usr/bin/env python3
"""Drive the corpus scenario against a private MariaDB with the real `mariadb` client.

Every client run is a separate process (= one connection). The source address is
chosen with an LD_PRELOAD shim (bindshim.so, env AUDITLOG_BIND_ADDR) because the
Debian 12 `mariadb` client has no --bind-address option.

Writes the ground truth (scenario.json) from this script's own inputs plus the
client's exit status / error text; it never reads the server logs.
Stdlib only.
"""
import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time

PW = {
    "app": "App-pw-2026",
    "report": "Report-pw-2026",
    "admin": "Adm1n-2026!",
    "dba": "Dba-pw-2026",
}

SETUP_DCL = [
    "CREATE USER 'app'@'127.0.0.%' IDENTIFIED BY 'App-pw-2026'",
    "GRANT ALL PRIVILEGES ON shop.* TO 'app'@'127.0.0.%'",
    "CREATE USER 'report'@'127.0.0.%' IDENTIFIED BY 'Report-pw-2026'",
    "GRANT SELECT ON shop.* TO 'report'@'127.0.0.%'",
    "CREATE USER 'admin'@'127.0.0.%' IDENTIFIED BY 'Adm1n-2026!'",
    "GRANT ALL PRIVILEGES ON *.* TO 'admin'@'127.0.0.%'",
    "CREATE USER 'dba'@'127.0.0.%' IDENTIFIED BY 'Dba-pw-2026'",
    "GRANT ALL PRIVILEGES ON *.* TO 'dba'@'127.0.0.%' WITH GRANT OPTION",
]

PHASE_A_SESSIONS = [
    ("app", "127.0.0.10", None, [
        "CREATE DATABASE IF NOT EXISTS shop",
        "USE shop",
        "CREATE TABLE customers (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100), note VARCHAR(200))",
        "CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT, amount DECIMAL(10,2), status VARCHAR(20))",
    ]),
    ("report", "127.0.0.11", "shop", [
        "SELECT COUNT(*) FROM orders",
    ]),
    ("app", "127.0.0.10", "shop", [
        "INSERT INTO customers (name, note) VALUES ('O\\'Brien', 'likes, commas, and more'), (\"double\", 'path C:\\\\temp\\\\new')",
        "INSERT INTO orders (customer_id, amount, status) VALUES (1, 10.50, 'new'), (2, 99.99, 'new'), (1, 5.00, 'new')",
        "UPDATE orders SET status = 'shipped' WHERE id = 1",
    ]),
    ("report", "127.0.0.11", "shop", [
        "SELECT name, note FROM customers WHERE name LIKE 'O\\'%' OR name = \"double\"",
    ]),
    ("app", "127.0.0.10", "shop", [
        "SELECT c.name,\n       SUM(o.amount) AS total\n  FROM customers c\n  JOIN orders o ON o.customer_id = c.id\n WHERE o.status IN ('new', 'shipped')\n GROUP BY c.name",
        "UPDATE customers SET note = 'said \"hi\", left' WHERE name = 'O\\'Brien'",
    ]),
    ("report", "127.0.0.11", "shop", [
        "SELECT SUM(amount) FROM orders WHERE status = 'shipped'",
    ]),
    ("app", "127.0.0.10", "shop", [
        "SELECT * FROM no_such_table",  # fails with 1146
    ]),
]

BRUTE_WRONG = ["admin", "password", "123456", "admin123", "letmein", "qwerty", "Passw0rd", "root"]
SPRAY_USERS = ["alice", "bob", "carol", "dave", "erin", "frank"]
SPRAY_PASSWORD = "Winter2026!"

DCL_E = [
    "CREATE USER 'auditor'@'127.0.0.%' IDENTIFIED BY 'S3cret-Pa55'",
    "GRANT SELECT ON shop.* TO 'auditor'@'127.0.0.%'",
    "CREATE USER 'ops'@'%' IDENTIFIED BY 'Ops-Pa55-1'",
    "GRANT ALL PRIVILEGES ON *.* TO 'ops'@'%' WITH GRANT OPTION",
    "GRANT SELECT,\n      INSERT,\n      UPDATE\n   ON shop.*\n   TO 'auditor'@'127.0.0.%'",
    "ALTER USER 'auditor'@'127.0.0.%' IDENTIFIED BY 'N3w-Pa55-2'",
    "SET PASSWORD FOR 'ops'@'%' = PASSWORD('An0ther-Pa55')",
    "REVOKE INSERT, UPDATE ON shop.* FROM 'auditor'@'127.0.0.%'",
    "RENAME USER 'ops'@'%' TO 'ops2'@'%'",
    "CREATE ROLE 'readers'",
    "GRANT SELECT ON shop.* TO 'readers'",
    "GRANT 'readers' TO 'auditor'@'127.0.0.%'",
    "SET DEFAULT ROLE 'readers' FOR 'auditor'@'127.0.0.%'",
    "/* x */ grant select on shop.orders to 'report'@'127.0.0.%'",
    "DROP USER 'ops2'@'%'",
]
DCL_REFUSED = "GRANT ALL PRIVILEGES ON *.* TO 'app'@'127.0.0.%' WITH GRANT OPTION"

DECOYS_DBA = [
    "SHOW GRANTS",
    "SHOW GRANTS FOR 'app'@'127.0.0.%'",
    "FLUSH PRIVILEGES",
    "SELECT 'GRANT ALL ON *.* TO x' AS s",
    "CREATE TABLE grants (id INT PRIMARY KEY, grantee VARCHAR(64), note VARCHAR(200))",
    "INSERT INTO grants (id, grantee, note) VALUES (1, 'app', 'please do not revoke this one')",
    "SELECT grantee, note FROM grants WHERE note LIKE '%revoke%'",
    "SELECT COUNT(*) AS grants FROM orders",
    "UPDATE customers SET note = 'asked us to revoke marketing consent' WHERE id = 2",
]
DECOYS_APP = ["SHOW GRANTS"]


def now():
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Runner:
    def __init__(self, a):
        self.a = a
        self.log = []

    def client(self, user, password, source, db=None, sql=(), socket=False):
        cmd = [self.a.client, "--no-defaults", "--comments", "--batch", "--force",
               "--connect-timeout=5", "-u", user]
        env = dict(os.environ)
        if socket:
            cmd += ["--protocol=SOCKET", "-S", self.a.socket]
        else:
            cmd += ["--protocol=TCP", "-h", "127.0.0.1", "-P", str(self.a.port)]
            env["LD_PRELOAD"] = self.a.shim
            env["AUDITLOG_BIND_ADDR"] = source
        if password is not None:
            cmd.append("--password=" + password)
        if db:
            cmd.append(db)
        stdin = "".join(s + ";\n" for s in sql) if sql else "SELECT 1;\n"
        t = now()
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)
        errors = [l for l in p.stderr.splitlines() if l.startswith("ERROR")]
        rec = {
            "time_utc": t,
            "user": user,
            "source": "localhost" if socket else source,
            "transport": "SOCKET" if socket else "TCP/IP",
            "database": db,
            "password_correct": password == PW.get(user, object()) if not socket else True,
            "statements": list(sql) if sql else ["SELECT 1"],
            "client_exit": p.returncode,
            "client_errors": errors,
        }
        self.log.append(rec)
        return rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", default="mariadb")
    ap.add_argument("--port", type=int, default=33061)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--trickle-gap", type=float, default=20.0)
    a = ap.parse_args()
    r = Runner(a)
    phases = []

    def phase(name, desc, **kw):
        start = len(r.log)
        d = {"phase": name, "description": desc, "started_utc": now()}
        d.update(kw)
        phases.append((d, start))
        return d

    def close():
        d, start = phases[-1]
        d["ended_utc"] = now()
        d["attempts"] = r.log[start:]

    def check(cond, msg):
        if not cond:
            print("scenario.py: unexpected client result: " + msg + " last=" + json.dumps(r.log[-1]), file=sys.stderr)
            sys.exit(1)

    # 0. setup as root over the unix socket
    phase("setup", "root@localhost over the unix socket creates the accounts",
          source_host="localhost", users=["root"], expected_outcome="success",
          dcl_statements=SETUP_DCL)
    rec = r.client("root", None, None, sql=SETUP_DCL, socket=True)
    check(rec["client_exit"] == 0 and not rec["client_errors"], "setup " + str(rec["client_errors"]))
    close()

    # a. normal traffic
    phase("a_normal", "normal traffic: app from 127.0.0.10, report from 127.0.0.11; last app query fails with 1146",
          source_host={"app": "127.0.0.10", "report": "127.0.0.11"}, users=["app", "report"],
          successful_logins={"app": 4, "report": 3}, failed_logins=0,
          expected_outcome="all logins succeed; one QUERY fails with errno 1146 (SELECT * FROM no_such_table)")
    for user, src, db, sql in PHASE_A_SESSIONS:
        rec = r.client(user, PW[user], src, db, sql)
        if sql[-1].startswith("SELECT * FROM no_such_table"):
            check("1146" in " ".join(rec["client_errors"]), "1146 expected")
        else:
            check(rec["client_exit"] == 0 and not rec["client_errors"], str(rec["client_errors"]))
    close()

    # b. brute force, then success
    phase("b_bruteforce", "8 failed logins for admin from 127.0.0.20 with wrong passwords, then 1 successful login",
          source_host="127.0.0.20", users=["admin"], failed_attempts=len(BRUTE_WRONG), successful_logins=1,
          expected_outcome="8 x FAILED_CONNECT 1045, then CONNECT 0 (successful brute force)")
    for pw in BRUTE_WRONG:
        rec = r.client("admin", pw, "127.0.0.20")
        check(rec["client_exit"] != 0 and "1045" in " ".join(rec["client_errors"]), "1045 expected")
    rec = r.client("admin", PW["admin"], "127.0.0.20", None, ["SELECT CURRENT_USER()", "SHOW DATABASES"])
    check(rec["client_exit"] == 0 and not rec["client_errors"], str(rec["client_errors"]))
    close()

    # c. password spray
    phase("c_spray", "password spray: one failed login each for 6 different (non-existent) users from 127.0.0.21",
          source_host="127.0.0.21", users=SPRAY_USERS, failed_attempts=len(SPRAY_USERS), successful_logins=0,
          expected_outcome="6 x FAILED_CONNECT 1045, 6 distinct users, same host")
    for u in SPRAY_USERS:
        rec = r.client(u, SPRAY_PASSWORD, "127.0.0.21")
        check(rec["client_exit"] != 0 and "1045" in " ".join(rec["client_errors"]), "1045 expected")
    close()

    # d. slow trickle
    phase("d_trickle", "3 failed logins for report from 127.0.0.22, ~%g s apart (below 5 in 60 s)" % a.trickle_gap,
          source_host="127.0.0.22", users=["report"], failed_attempts=3, successful_logins=0,
          spacing_seconds=a.trickle_gap,
          expected_outcome="3 x FAILED_CONNECT 1045 spread over ~%g s; must NOT trip a 5-in-60s threshold" % (2 * a.trickle_gap))
    for i in range(3):
        if i:
            time.sleep(a.trickle_gap)
        rec = r.client("report", "wrong-report-%d" % i, "127.0.0.22")
        check(rec["client_exit"] != 0 and "1045" in " ".join(rec["client_errors"]), "1045 expected")
    close()

    # e. DCL
    phase("e_dcl", "DCL by dba (ALL ON *.* WITH GRANT OPTION) from 127.0.0.10, then one refused GRANT by app",
          source_host="127.0.0.10", users=["dba", "app"],
          dcl_statements=DCL_E + [DCL_REFUSED],
          refused_statement={"user": "app", "statement": DCL_REFUSED, "expected_outcome": "error (non-zero retcode)"},
          expected_outcome="15 successful DCL statements by dba (retcode 0), 1 refused GRANT by app (retcode != 0)")
    rec = r.client("dba", PW["dba"], "127.0.0.10", "shop", DCL_E)
    check(rec["client_exit"] == 0 and not rec["client_errors"], str(rec["client_errors"]))
    rec = r.client("app", PW["app"], "127.0.0.10", "shop", [DCL_REFUSED])
    check(bool(rec["client_errors"]), "refused GRANT expected to fail")
    close()

    # f. decoys
    phase("f_decoys", "statements that mention grants/revoke but are NOT DCL",
          source_host="127.0.0.10", users=["dba", "app"], dcl_statements=[],
          decoy_statements=DECOYS_DBA + DECOYS_APP,
          expected_outcome="no DCL; all succeed")
    rec = r.client("dba", PW["dba"], "127.0.0.10", "shop", DECOYS_DBA)
    check(rec["client_exit"] == 0 and not rec["client_errors"], str(rec["client_errors"]))
    rec = r.client("app", PW["app"], "127.0.0.10", "shop", DECOYS_APP)
    check(rec["client_exit"] == 0 and not rec["client_errors"], str(rec["client_errors"]))
    close()

    # g. unusual host
    phase("g_new_host", "report logs in successfully from 127.0.0.99, a host it never used before",
          source_host="127.0.0.99", users=["report"], successful_logins=1, failed_attempts=0,
          expected_outcome="1 x CONNECT 0 for report from a never-seen host")
    rec = r.client("report", PW["report"], "127.0.0.99", "shop", ["SELECT COUNT(*) FROM customers"])
    check(rec["client_exit"] == 0 and not rec["client_errors"], str(rec["client_errors"]))
    close()

    # h. failed database access (not a failed login)
    phase("h_db_denied", "report (correct password) connects from 127.0.0.11 asking for database `mysql` it has no rights to",
          source_host="127.0.0.11", users=["report"], failed_attempts=0, database_denied=1,
          expected_outcome="connection refused with errno 1044 (access denied to database), NOT a failed login (1045)")
    rec = r.client("report", PW["report"], "127.0.0.11", "mysql")
    check(rec["client_exit"] != 0 and "1044" in " ".join(rec["client_errors"]), "1044 expected")
    close()

    out = {
        "generated_by": "scripts/make-corpus.sh -> scripts/corpus/scenario.py",
        "note": "Ground truth from the scenario's own inputs and the client's exit status; not parsed from the server logs. "
                "Times are client-side UTC just before each client process started.",
        "server": {"listen": "127.0.0.1:%d" % a.port, "timezone": "UTC", "skip_name_resolve": True},
        "passwords_note": "passwords are throwaway test values",
        "phases": [d for d, _ in phases],
        "all_dcl_statements_in_order": (
            [{"phase": "setup", "user": "root", "source": "localhost", "statement": s, "expected": "success"} for s in SETUP_DCL]
            + [{"phase": "e_dcl", "user": "dba", "source": "127.0.0.10", "statement": s, "expected": "success"} for s in DCL_E]
            + [{"phase": "e_dcl", "user": "app", "source": "127.0.0.10", "statement": DCL_REFUSED, "expected": "refused"}]),
        "expected_failed_logins": {
            "127.0.0.20": {"admin": 8},
            "127.0.0.21": {u: 1 for u in SPRAY_USERS},
            "127.0.0.22": {"report": 3},
        },
        "expected_db_access_denied": {"127.0.0.11": {"report": 1}},
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
