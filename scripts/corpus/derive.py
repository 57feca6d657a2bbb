#!/usr/bin/env python3
"""Derive the other log dialects from the REAL MariaDB logs in corpus/mariadb/.

Stdlib only. Deterministic: same input -> same output.

  aurora/audit.log.<0-3>.<YYYY-MM-DD-HH-MM>.0   Aurora Advanced Auditing (4 stripes)
  rds-mysql8/server_audit.log                   RDS for MySQL 8.0 audit plugin dialect
  mysql8/{general,slow,error}.log               MySQL 8.0 layouts (Aurora v3 style banner)
  mysql57/error.log                             MySQL 5.7 error-log layout
  download/audit-portion.txt (+ .json)          `download-db-log-file-portion --output text` of the RDS file
  malformed/*                                   hand-made bad records built from real lines (+ cases.json)
"""
import argparse
import calendar
import datetime as dt
import json
import os
import re
import zlib

AURORA_HOST = "aurora-prod-instance-1"
RDS_HOST = "ip-10-0-1-23"
MYSQLD8 = "/rdsdbbin/oscar/bin/mysqld"
MYSQLD57 = "/rdsdbbin/mysql/bin/mysqld"
TABLE_OPS = {"READ", "WRITE", "CREATE", "ALTER", "DROP", "RENAME"}
CONN_OPS = {"CONNECT", "FAILED_CONNECT", "DISCONNECT", "CHANGEUSER", "PROXY_CONNECT"}


# ---------------------------------------------------------------- helpers
def spread(n, key):
    """n strictly increasing microsecond offsets in [0, 1e6) for n events in one second."""
    step = 1000000 // (n + 1)
    out = []
    for k in range(n):
        jitter = (zlib.crc32(("%s/%d" % (key, k)).encode()) % max(1, step // 2))
        out.append((k + 1) * step - step // 2 + jitter)
    return out


def assign_micros(seconds):
    """seconds: list of epoch seconds (non-decreasing in file order) -> list of epoch microseconds."""
    out = []
    i = 0
    while i < len(seconds):
        j = i
        while j < len(seconds) and seconds[j] == seconds[i]:
            j += 1
        for off in spread(j - i, seconds[i]):
            out.append(seconds[i] * 1000000 + off)
        i = j
    return out


def iso(us):
    d = dt.datetime.fromtimestamp(us // 1000000, dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (us % 1000000)


def epoch(d):
    return calendar.timegm(d.timetuple())


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(text, bytes):
        with open(path, "wb") as f:
            f.write(text)
    else:
        with open(path, mode, encoding="utf-8", newline="") as f:
            f.write(text)


def hide_secrets(sql):
    """What MySQL 8.0 does to password-bearing statements in the general/slow log."""
    sql = re.sub(r"(IDENTIFIED\s+BY\s+)'(?:[^'\\]|\\.)*'", r"\1<secret>", sql, flags=re.I)
    sql = re.sub(r"=\s*PASSWORD\('(?:[^'\\]|\\.)*'\)", "= <secret>", sql, flags=re.I)
    return sql


# ---------------------------------------------------------------- audit
AUDIT_HEAD = re.compile(r"^(\d{8} \d{2}:\d{2}:\d{2}),([^,]*),(.*?),([^,]*),(\d+),(\d+),([A-Z_]+),(.*)$")


def parse_audit(path):
    recs = []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            m = AUDIT_HEAD.match(line)
            if not m:
                raise SystemExit("derive.py: unparsable audit line: %r" % line)
            ts, srv, user, host, conn, qid, op, rest = m.groups()
            db, _, rest = rest.partition(",")
            if rest.startswith("'"):
                i = 1
                while i < len(rest):
                    if rest[i] == "\\":
                        i += 2
                        continue
                    if rest[i] == "'":
                        break
                    i += 1
                obj, rest = rest[: i + 1], rest[i + 1:]
                assert rest.startswith(","), line
                rest = rest[1:]
            else:
                obj, _, rest = rest.partition(",")
            recs.append(dict(ts=dt.datetime.strptime(ts, "%Y%m%d %H:%M:%S"), tstext=ts, srv=srv, user=user,
                             host=host, conn=conn, qid=qid, op=op, db=db, obj=obj, ret=rest))
    return recs


def derive_audit(src, out):
    recs = parse_audit(os.path.join(src, "server_audit.log"))
    micros = assign_micros([epoch(r["ts"]) for r in recs])

    # Aurora: 10 fields, epoch-us, 4 stripes, each in order, interleaved.
    first = recs[0]["ts"].strftime("%Y-%m-%d-%H-%M")
    stripes = [[] for _ in range(4)]
    for i, (r, us) in enumerate(zip(recs, micros)):
        s = zlib.crc32(("%s:%d" % (r["conn"], i // 3)).encode()) % 4
        stripes[s].append(",".join([str(us), AURORA_HOST, r["user"], r["host"], r["conn"], r["qid"], r["op"],
                                    r["db"], r["obj"], r["ret"]]))
    for s, lines in enumerate(stripes):
        write(os.path.join(out, "aurora", "audit.log.%d.%s.0" % (s, first)), "".join(l + "\n" for l in lines))

    # RDS for MySQL 8.0: connection rows + conntype, QUERY rows + ",,", no TABLE rows.
    rds = []
    for r in recs:
        if r["op"] in TABLE_OPS:
            continue
        head = ",".join([r["tstext"], RDS_HOST, r["user"], r["host"], r["conn"], r["qid"], r["op"], r["db"]])
        if r["op"] == "QUERY":
            rds.append("%s,%s,%s,," % (head, r["obj"], r["ret"]))
        else:
            ctype = "SOCKET" if r["host"] == "localhost" else "TCP/IP"
            rds.append("%s,%s,%s,%s" % (head, r["obj"], r["ret"] or "0", ctype))
    write(os.path.join(out, "rds-mysql8", "server_audit.log"), "".join(l + "\n" for l in rds))

    # download-db-log-file-portion --starting-token 0 --output text: 3 pages, page 2 truncated.
    n = len(rds)
    p1 = n // 3
    lost_after = 2  # whole records lost after the cut one

    def boring(line):  # lose only ordinary traffic, never a failed login or DCL
        return (",FAILED_CONNECT," not in line and ",QUERY," not in line) or \
            re.search(r",QUERY,[^,]*,'(SELECT|INSERT|UPDATE|SHOW DATABASES)", line) is not None

    cut = p1 + 5
    while cut < n - 4 and not (",QUERY," in rds[cut] and all(boring(x) for x in rds[cut:cut + 1 + lost_after])):
        cut += 1
    q = rds[cut].index(",'")
    partial = rds[cut][: q + 2 + (len(rds[cut]) - q) // 2]
    pages = [rds[:p1], rds[p1:cut], rds[cut + 1 + lost_after:]]
    text = "".join(l + "\n" for l in pages[0]) + "\n"
    text += "".join(l + "\n" for l in pages[1]) + partial + "\n [Your log message was truncated]\n" + "\n"
    text += "".join(l + "\n" for l in pages[2]) + "\n"
    write(os.path.join(out, "download", "audit-portion.txt"), text)
    write(os.path.join(out, "download", "audit-portion.json"), json.dumps({
        "source": "rds-mysql8/server_audit.log",
        "pages": 3,
        "page_record_counts": [len(pages[0]), len(pages[1]), len(pages[2])],
        "truncated_record_full": rds[cut],
        "truncated_record_as_printed": partial,
        "records_lost_entirely": rds[cut + 1: cut + 1 + lost_after],
        "complete_records_in_file": len(pages[0]) + len(pages[1]) + len(pages[2]),
    }, indent=2) + "\n")
    return recs, rds


# ---------------------------------------------------------------- general log
GEN_REC = re.compile(r"^(?:(\d{6}\s+\d{1,2}:\d{2}:\d{2})\t|\t\t)\s*(\d+) ([A-Za-z][A-Za-z ]*?)\t(.*)$")


def mariadb_short_ts(s):
    return dt.datetime.strptime(re.sub(r"\s+", " ", s), "%y%m%d %H:%M:%S")


def parse_general(path):
    recs, cur = [], None
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        if line.endswith("started with:") or line.startswith("Tcp port: ") or re.match(r"^Time\s+Id\s+Command", line):
            continue
        m = GEN_REC.match(line)
        if m:
            if m.group(1):
                cur = mariadb_short_ts(m.group(1))
            recs.append(dict(ts=cur, id=int(m.group(2)), cmd=m.group(3), arg=m.group(4)))
        elif recs:
            recs[-1]["arg"] += "\n" + line
    return recs


def derive_general(src, out):
    recs = parse_general(os.path.join(src, "general.log"))
    micros = assign_micros([epoch(r["ts"]) for r in recs])
    buf = ["%s, Version: 8.0.28 (Source distribution). started with:" % MYSQLD8,
           "Tcp port: 3306  Unix socket: /tmp/mysql.sock",
           "Time                 Id Command    Argument"]
    for r, us in zip(recs, micros):
        arg = hide_secrets(r["arg"]) if r["cmd"] == "Query" else r["arg"]
        buf.append("%s\t%5d %s\t%s" % (iso(us), r["id"], r["cmd"], arg))
    write(os.path.join(out, "mysql8", "general.log"), "\n".join(buf) + "\n")
    return recs


# ---------------------------------------------------------------- slow log
def derive_slow(src, out):
    with open(os.path.join(src, "slow.log"), encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().split("\n")
    entries, cur, ts = [], None, None
    for line in lines:
        if line.endswith("started with:") or line.startswith("Tcp port: ") or re.match(r"^Time\s+Id\s+Command", line):
            continue
        if line.startswith("# Time: "):
            ts = mariadb_short_ts(line[8:].strip())
            continue
        m = re.match(r"^# User@Host: (\S*)\[(\S*)\] @ (\S*) \[(\S*)\]", line)
        if m:
            cur = dict(ts=ts, priv=m.group(1), user=m.group(2), host=m.group(3), ip=m.group(4), hdr={}, body=[])
            entries.append(cur)
            continue
        if cur is None:
            continue
        if line.startswith("# ") and not cur["body"]:
            for k, v in re.findall(r"(\w+): (\S*)", line):
                cur["hdr"][k] = v
            continue
        cur["body"].append(line)
    micros = assign_micros([epoch(e["ts"]) for e in entries])
    buf = ["%s, Version: 8.0.28 (Source distribution). started with:" % MYSQLD8,
           "Tcp port: 3306  Unix socket: /tmp/mysql.sock",
           "Time                 Id Command    Argument"]
    for e, us in zip(entries, micros):
        body = e["body"]
        while body and body[-1] == "":
            body.pop()
        h = e["hdr"]
        buf.append("# Time: %s" % iso(us))
        buf.append("# User@Host: %s[%s] @ %s [%s]  Id: %5s" % (e["priv"], e["user"], e["host"], e["ip"],
                                                                h.get("Thread_id", "0")))
        buf.append("# Query_time: %s  Lock_time: %s Rows_sent: %s  Rows_examined: %s" % (
            h.get("Query_time", "0.000000"), h.get("Lock_time", "0.000000"),
            h.get("Rows_sent", "0"), h.get("Rows_examined", "0")))
        body = [re.sub(r"^use `(.*)`;$", r"use \1;", l) for l in body]
        text = "\n".join(body)
        buf.append(hide_secrets(text))
    write(os.path.join(out, "mysql8", "slow.log"), "\n".join(buf) + "\n")
    return entries


# ---------------------------------------------------------------- error log
ERR_REC = re.compile(r"^(\d{4}-\d{2}-\d{2}\s+\d{1,2}:\d{2}:\d{2}) (\d+) \[(\w+)\] (.*)$")


def derive_error(src, out):
    with open(os.path.join(src, "error.log"), encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().split("\n")
    evts = []
    for line in lines:
        m = ERR_REC.match(line)
        if not m:
            continue
        ts = dt.datetime.strptime(re.sub(r"\s+", " ", m.group(1)), "%Y-%m-%d %H:%M:%S")
        thread, label, msg = int(m.group(2)), m.group(3), m.group(4)
        pm = re.search(r"Starting MariaDB .* as process (\d+)", msg)
        if pm:
            evts.append((ts, thread, "start", pm.group(1)))
        elif "ready for connections" in msg:
            evts.append((ts, thread, "ready", None))
        elif re.match(r"Access denied for user '.*'@'.*' \(using password: (YES|NO)\)$", msg):
            evts.append((ts, thread, "denied", msg))
        elif "Normal shutdown" in msg:
            evts.append((ts, thread, "shutdown", None))
        elif msg.endswith("Shutdown complete"):
            evts.append((ts, thread, "down", None))
    micros = assign_micros([epoch(e[0]) for e in evts])
    b8, b57 = [], []
    for (ts, thread, kind, arg), us in zip(evts, micros):
        t = iso(us)
        if kind == "start":
            b8.append("%s 0 [System] [MY-010116] [Server] %s (mysqld 8.0.28) starting as process %s (mysqld.cc:5965)" % (t, MYSQLD8, arg))
            b57.append("%s 0 [Note] %s (mysqld 5.7.44-log) starting as process %s ..." % (t, MYSQLD57, arg))
        elif kind == "ready":
            b8.append("%s 0 [System] [MY-010931] [Server] %s: ready for connections. Version: '8.0.28'  socket: '/tmp/mysql.sock'  port: 3306  Source distribution. (mysqld.cc:5965)" % (t, MYSQLD8))
            b57.append("%s 0 [Note] %s: ready for connections." % (t, MYSQLD57))
            b57.append("Version: '5.7.44-log'  socket: '/tmp/mysql.sock'  port: 3306  Source distribution")
        elif kind == "denied":
            b8.append("%s %d [Note] [MY-010926] [Server] %s" % (t, thread, arg))
            b57.append("%s %d [Note] %s" % (t, thread, arg))
        elif kind == "shutdown":
            b8.append("%s 0 [System] [MY-013172] [Server] Received SHUTDOWN from user <via user signal>. Shutting down mysqld (Version: 8.0.28). (mysqld.cc:5965)" % t)
            b57.append("%s 0 [Note] Giving 0 client threads a chance to die gracefully" % t)
        elif kind == "down":
            b8.append("%s 0 [System] [MY-010910] [Server] %s: Shutdown complete (mysqld 8.0.28)  Source distribution. (mysqld.cc:5965)" % (t, MYSQLD8))
            b57.append("%s 0 [Note] %s: Shutdown complete" % (t, MYSQLD57))
    write(os.path.join(out, "mysql8", "error.log"), "\n".join(b8) + "\n")
    write(os.path.join(out, "mysql57", "error.log"), "\n".join(b57) + "\n")


# ---------------------------------------------------------------- malformed
def derive_malformed(out, rds):
    d = os.path.join(out, "malformed")
    good = [l for l in rds if ",QUERY," in l][:3]
    fails = [l for l in rds if ",FAILED_CONNECT," in l][:2]
    conn = [l for l in rds if ",CONNECT," in l][:1]
    ts = good[0][:17]
    cases = {}

    lines = [
        conn[0],                                                               # 1 ok
        "this is not an audit record at all",                                  # 2 garbage
        good[0],                                                               # 3 ok
        "20261399 25:61:00,%s,app,127.0.0.10,77,0,CONNECT,,,0,TCP/IP" % RDS_HOST,  # 4 bad timestamp
        "%s,%s,app,127.0.0.10,78,901,QUERY,shop,'SELECT \\'unterminated, 1,0,," % (ts, RDS_HOST),  # 5 unterminated quote
        fails[0],                                                              # 6 ok
        "%s,%s,app,127.0.0.10" % (ts, RDS_HOST),                               # 7 too few fields
        "",                                                                    # 8 empty line
        "%s,%s,app,127.0.0.10,79,902,FROBNICATE,shop,,0,TCP/IP" % (ts, RDS_HOST),  # 9 unknown operation
        "%s,%s,app,127.0.0.10,abc,903,QUERY,shop,'SELECT 1',0,," % (ts, RDS_HOST),  # 10 non-numeric conn id
        fails[1],                                                              # 11 ok
    ]
    tail = good[1][: len(good[1]) - 9]                                          # 12 truncated, no final newline
    write(os.path.join(d, "audit-garbage.log"), "\n".join(lines) + "\n" + tail)
    cases["audit-garbage.log"] = {
        "dialect": "rds-mysql8 audit",
        "lines": {"1": "valid CONNECT", "2": "garbage text", "3": "valid QUERY", "4": "impossible timestamp 20261399 25:61:00",
                  "5": "QUERY with unterminated quoted SQL", "6": "valid FAILED_CONNECT", "7": "too few fields",
                  "8": "empty line", "9": "unknown operation FROBNICATE (open enum: keep)",
                  "10": "non-numeric connection id", "11": "valid FAILED_CONNECT",
                  "12": "valid QUERY cut mid-record, file has no final newline"},
        "valid_records": [1, 3, 6, 11], "tolerable_records": [9],
    }

    # NUL bytes and invalid UTF-8 inside quoted SQL
    t = ts.encode()
    h = RDS_HOST.encode()
    blines = [
        conn[0].encode(),
        t + b"," + h + b",app,127.0.0.10,80,904,QUERY,shop,'SELECT \\'a\x00b\\' AS nul',0,,",
        t + b"," + h + b",app,127.0.0.10,80,905,QUERY,shop,'INSERT INTO customers (name) VALUES (\\'Jos\xe9\\')',0,,",
        t + b"," + h + b",app,127.0.0.10,80,906,QUERY,shop,'SELECT \\'\xff\xfe\xfd\\', 0x00',0,,",
        t + b"," + h + b",app,127.0.0.10,80,907,QUERY,shop,'SELECT \\'caf\xc3',0,,",
        fails[0].encode(),
    ]
    write(os.path.join(d, "audit-binary.log"), b"\n".join(blines) + b"\n")
    cases["audit-binary.log"] = {
        "dialect": "rds-mysql8 audit",
        "lines": {"1": "valid CONNECT", "2": "NUL byte inside quoted SQL", "3": "latin1 byte 0xE9 (invalid UTF-8) inside quoted SQL",
                  "4": "bytes FF FE FD inside quoted SQL", "5": "UTF-8 sequence cut (C3 without continuation), as by query_log_limit",
                  "6": "valid FAILED_CONNECT"},
        "valid_records": [1, 2, 3, 4, 5, 6],
    }

    # CRLF line endings (Aurora dialect, from the real stripe-0 lines)
    aur_dir = os.path.join(out, "aurora")
    f0 = sorted(x for x in os.listdir(aur_dir) if x.startswith("audit.log.0."))[0]
    with open(os.path.join(aur_dir, f0), encoding="utf-8") as f:
        al = f.read().split("\n")[:12]
    write(os.path.join(d, "aurora-crlf.log"), "\r\n".join(l for l in al if l) + "\r\n")
    cases["aurora-crlf.log"] = {"dialect": "aurora audit", "lines": "first real records of %s with CRLF line ends" % f0,
                                "valid_records": "all"}

    # general log with CRLF and a raw CR inside SQL
    gl = [
        "%s, Version: 8.0.28 (Source distribution). started with:" % MYSQLD8,
        "Tcp port: 3306  Unix socket: /tmp/mysql.sock",
        "Time                 Id Command    Argument",
        "2026-01-01T00:00:00.000001Z\t   41 Connect\tapp@127.0.0.10 on shop using TCP/IP",
        "2026-01-01T00:00:00.000002Z\t   41 Query\tSELECT 1",
        "2026-01-01T00:00:00.000003Z\t   41 Query\tSELECT 'a\rb' AS raw_cr",
        "2026-01-01T00:00:00.000004Z\t   41 Query\tSELECT 2,",
        "  3",
        "2026-01-01T00:00:00.000005Z\t   41 Quit\t",
    ]
    write(os.path.join(d, "general-crlf.log"), "\r\n".join(gl) + "\r\n")
    cases["general-crlf.log"] = {"dialect": "mysql8 general", "lines": "CRLF line ends; record 3 has a raw CR inside SQL; record 4 is multi-line",
                                 "records": 5}
    write(os.path.join(d, "cases.json"), json.dumps(cases, indent=2) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    recs, rds = derive_audit(a.src, a.out)
    derive_general(a.src, a.out)
    derive_slow(a.src, a.out)
    derive_error(a.src, a.out)
    derive_malformed(a.out, rds)


if __name__ == "__main__":
    main()
