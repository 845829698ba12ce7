"""The inbox baseline of benches/run.sh: an ActivityPub inbox built on
bovine 0.5.19 (an independent Python implementation, from PyPI), measured
on the same machine with the same load generator (wrk, 32 connections).

bovine's own server (bovine-herd) needs its store, a process queue and
actors made with its admin tool, and it answers an inbox POST before it
stores the activity; so this baseline is the part of an inbox that bovine
itself provides, in the smallest server around it: aiohttp, bovine's
`SignatureChecker` (digest, date window, draft-cavage rsa-sha256 against the
sender's key, cached as a server caches actors), the actor checked against
the key's owner, and the activity stored in SQLite (deduplicated by id, one
commit each) before it answers 202 — the same work `cargo bench --bench
federation` times for Officehours' inbox with the job loop off.

    python3 bovine_inbox.py key              # makes the signer's key (once)
    python3 bovine_inbox.py sign URL N OUT   # N signed Follows, for presigned.lua
    python3 bovine_inbox.py serve PORT DB    # the inbox, at /inbox
"""

import json
import sqlite3
import sys
import time

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bovine.crypto.helper import content_digest_sha256
from bovine.crypto.http_signature import build_signature
from bovine.crypto.signature_checker import SignatureChecker
from bovine.crypto.types import CryptographicIdentifier, CryptographicSecret
from bovine.utils import get_gmt_now

ACTOR = "http://peer.test/actor"
KEY_ID = ACTOR + "#main-key"
# A fixed key, so the server and the signer agree without talking.
KEY_FILE = "/tmp/oh-bench-bovine-key.pem"


def private_key_pem():
    try:
        with open(KEY_FILE) as f:
            return f.read()
    except FileNotFoundError:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        with open(KEY_FILE, "w") as f:
            f.write(pem)
        return pem


def public_key_pem():
    key = serialization.load_pem_private_key(private_key_pem().encode(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def sign(url, n, out):
    host = url.split("/")[2]
    target = "/" + url.split("/", 3)[3]
    secret = CryptographicSecret.from_pem(KEY_ID, private_key_pem())
    with open(out, "w") as f:
        for i in range(n):
            body = json.dumps(
                {
                    "@context": "https://www.w3.org/ns/activitystreams",
                    "id": f"{ACTOR}/follows/{i}",
                    "type": "Follow",
                    "actor": ACTOR,
                    "object": f"http://{host}/users/advisor{i % 100}",
                }
            )
            date = get_gmt_now()
            digest = content_digest_sha256(body.encode(), prefix="SHA-256")
            helper = (
                build_signature(host, "post", target)
                .with_field("date", date)
                .with_field("digest", digest)
                .with_field("content-type", "application/activity+json")
            )
            signature = helper.sign_for_http_draft(secret)
            # One request per line: date, digest, signature, body (tab-separated; none has a tab).
            f.write("\t".join([date, digest, signature, body]) + "\n")


def serve(port, db_path):
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS inbox (id TEXT PRIMARY KEY, actor TEXT, object TEXT, body TEXT)")
    identifier = CryptographicIdentifier.from_pem(public_key_pem(), ACTOR)

    async def key_retriever(key_id):
        # A server keeps the actors it has fetched; the first fetch is not timed.
        return identifier if key_id == KEY_ID else None

    checker = SignatureChecker(key_retriever)
    # When the first request arrived and the last activity was stored: the rate.
    clock = {"first": None, "last": None, "stored": 0}

    async def inbox(request):
        if clock["first"] is None:
            clock["first"] = time.monotonic()
        body = await request.read()

        async def get_body():
            return body

        headers = {k.lower(): v for k, v in request.headers.items()}
        url = str(request.url)
        owner = await checker.validate_signature(request.method, url, headers, get_body)
        if owner is None:
            return web.Response(status=401, text="bad signature")
        activity = json.loads(body)
        if activity.get("actor") != owner:
            return web.Response(status=403, text="actor is not the signer")
        db.execute("BEGIN")
        db.execute(
            "INSERT OR IGNORE INTO inbox (id, actor, object, body) VALUES (?, ?, ?, ?)",
            (activity["id"], activity["actor"], activity.get("object"), body.decode()),
        )
        db.execute("COMMIT")
        clock["last"] = time.monotonic()
        clock["stored"] += 1
        return web.Response(status=202)

    async def count(request):
        rows = db.execute("SELECT count(*) FROM inbox").fetchone()[0]
        seconds = (clock["last"] or 0) - (clock["first"] or 0)
        rate = clock["stored"] / seconds if seconds > 0 else 0
        return web.Response(text=f"{rows} stored in {seconds:.2f} s: {rate:.0f}/s")

    app = web.Application()
    app.router.add_post("/inbox", inbox)
    app.router.add_get("/count", count)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    if sys.argv[1] == "key":
        private_key_pem()
    elif sys.argv[1] == "sign":
        sign(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)
