"""Pooled Python clients for the rolling-restart test (e2e/ops).

Writes rows into ops.t through HAProxy until stdin closes, from worker
threads, and prints one line per transaction on stdout:

    ack <id>
    fail <phase> <error>

phase is "first" when the first statement of a transaction failed (the
connection was gone before the transaction began) and "inside" when a
later statement or the COMMIT failed.

    pywriters.py sqlalchemy|pymysql HOST PORT WORKERS BASE PAUSE LIFETIME

sqlalchemy: one SQLAlchemy engine (PyMySQL driver), a pool of WORKERS
connections, pool_pre_ping=True, pool_recycle=LIFETIME seconds (0: none).
pymysql: one persistent PyMySQL connection per worker, never validated,
opened again after an error, as simple applications do.
The password is read from the environment (APP_PASSWORD), never argv.
"""

import os
import sys
import threading
import time

import pymysql

mode, host, port, workers, base, pause, lifetime = sys.argv[1:8]
port, workers, base = int(port), int(workers), int(base)
pause, lifetime = float(pause), float(lifetime)
password = os.environ["APP_PASSWORD"]
stop = threading.Event()
out = threading.Lock()


def say(line):
    with out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def short(e):
    return " ".join(str(e).split())[:150]


def sqlalchemy_worker(engine, w):
    from sqlalchemy import text
    seq = 0
    while not stop.is_set():
        seq += 1
        rid = base + w * 10_000_000 + seq
        phase = "first"
        try:
            with engine.connect() as conn:
                tx = conn.begin()
                conn.execute(text("INSERT INTO t (id, writer) VALUES (:id, :w)"), {"id": rid, "w": w})
                phase = "inside"
                tx.commit()
            say("ack %d" % rid)
        except Exception as e:  # every failure is counted by the test
            say("fail %s %s" % (phase, short(e)))
        time.sleep(pause)


def connect():
    return pymysql.connect(host=host, port=port, user="app", password=password, database="ops",
                           connect_timeout=3, read_timeout=10, write_timeout=10, autocommit=False)


def pymysql_worker(w):
    conn = None
    seq = 0
    while not stop.is_set():
        seq += 1
        rid = base + w * 10_000_000 + seq
        phase = "first"
        try:
            if conn is None:
                conn = connect()
            with conn.cursor() as cur:
                cur.execute("INSERT INTO t (id, writer) VALUES (%s, %s)", (rid, w))
            phase = "inside"
            conn.commit()
            say("ack %d" % rid)
        except Exception as e:
            say("fail %s %s" % (phase, short(e)))
            try:
                if conn is not None:
                    conn.close()
            except Exception:
                pass
            conn = None
        time.sleep(pause)


def main():
    threads = []
    if mode == "sqlalchemy":
        from sqlalchemy import create_engine
        from sqlalchemy.engine import URL
        url = URL.create("mysql+pymysql", username="app", password=password, host=host, port=port, database="ops")
        engine = create_engine(url,
                               pool_size=workers, max_overflow=0, pool_pre_ping=True,
                               pool_recycle=lifetime if lifetime > 0 else -1,
                               connect_args={"connect_timeout": 3, "read_timeout": 10, "write_timeout": 10})
        target = lambda w: sqlalchemy_worker(engine, w)
    elif mode == "pymysql":
        target = pymysql_worker
    else:
        sys.exit("unknown mode " + mode)
    for w in range(workers):
        t = threading.Thread(target=target, args=(w,), daemon=True)
        t.start()
        threads.append(t)
    say("started")
    sys.stdin.read()  # until the test closes it
    stop.set()
    for t in threads:
        t.join(timeout=20)


main()
