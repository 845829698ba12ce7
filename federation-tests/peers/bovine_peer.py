#!/usr/bin/env python3
"""A fediverse peer built on bovine (PyPI), for the federation tests.

An independent ActivityPub implementation to check Officehours against: it
signs what it sends and checks the signatures of what it receives with
bovine's own code, not ours.

    python3 bovine_peer.py --host 127.0.0.5 --port 41000 --domain bovine.test:41000 \
        --resolve alpha.test=127.0.0.2,beta.test=127.0.0.3

Serves, on http://<domain>:
  GET  /actor                   the Person (publicKey, inbox, endpoints.sharedInbox)
  GET  /.well-known/webfinger   for acct:<username>@<domain>
  GET  /objects/<id>            every activity and object the peer sent
  POST /actor/inbox, /inbox     records the request and whether bovine verified
                                its digest and HTTP signature (202 if it did,
                                401 if not; recorded either way)
and a control API for the tests:
  POST /control/send     {"inbox", "activity", "wrong_key"?} -> {"status", "body"}
  POST /control/follow   {"object"} -> {"id", "inbox", "status", "body"}
  POST /control/reply    {"in_reply_to", "to": [...], "content", "cc"?}
                         -> {"id", "object_id", "inbox", "status", "body", "activity"}
  GET  /control/received -> [{"path", "method", "headers", "body", "activity",
                              "verified", "signer", "problems", "at"}]
  GET  /control/sent     -> [{"inbox", "activity", "status", "body"}]
  GET  /control/fetches  -> [{"path", "headers", "at"}] (GETs of the actor and objects)

Outgoing requests to `<name>.test` connect to the address given by --resolve
while the URL (and so the signed Host header) keeps the name and port.
"""

import argparse
import asyncio
import json
import logging
import socket
import sys
import time
import uuid
from urllib.parse import urlparse

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver
from aiohttp.web_log import AccessLogger

from bovine import BovineActor
from bovine.activitystreams import Actor, factories_for_actor_object
from bovine.crypto import build_validate_http_signature_raw, generate_rsa_public_private_key
from bovine.crypto.types import CryptographicIdentifier
from bovine.types import Visibility
from bovine.utils import webfinger_response_json

AS_JSON = "application/activity+json"
log = logging.getLogger("bovine_peer")


class MappedResolver(AbstractResolver):
    """Resolves the mapped test host names to their loopback addresses; any
    other name the usual way."""

    def __init__(self, mapping):
        self.mapping = mapping
        self.fallback = aiohttp.ThreadedResolver()

    async def resolve(self, host, port=0, family=socket.AF_INET):
        ip = self.mapping.get(host.lower())
        if ip is None:
            return await self.fallback.resolve(host, port, family)
        return [
            {
                "hostname": host,
                "host": ip,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self):
        await self.fallback.close()


class QuietControlLog(AccessLogger):
    """The access log without the tests' polling of the control API."""

    def log(self, request, response, time):
        if request.method == "GET" and request.path.startswith("/control/"):
            return
        super().log(request, response, time)


class ProblemLog(logging.Handler):
    """Collects what bovine logs while it checks one request, so that a
    refused signature says why."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(f"{record.levelname}: {record.getMessage()}")


class Peer:
    def __init__(self, args):
        self.domain = args.domain
        self.username = args.username
        self.base = f"http://{args.domain}"
        self.actor_id = f"{self.base}/actor"
        self.key_id = f"{self.actor_id}#main-key"
        self.mapping = parse_resolve(args.resolve)
        self.public_pem, self.private_pem = generate_rsa_public_private_key()
        self.received = []
        self.sent = []
        self.fetches = []
        self.objects = {}
        profile = Actor(
            id=self.actor_id,
            type="Person",
            name="Bovine Peer",
            preferred_username=self.username,
            inbox=f"{self.actor_id}/inbox",
            outbox=f"{self.actor_id}/outbox",
            followers=f"{self.actor_id}/followers",
            following=f"{self.actor_id}/following",
            public_key=self.public_pem,
            public_key_name="main-key",
            summary="An independent ActivityPub peer (bovine) for the federation tests.",
        ).build(visibility=Visibility.OWNER)
        profile["endpoints"] = {**profile.get("endpoints", {}), "sharedInbox": f"{self.base}/inbox"}
        self.profile = profile
        self.activity_factory, self.object_factory = factories_for_actor_object(
            profile, id_generator=self.new_id
        )
        self.session = None
        self.actor = None
        self.wrong_actor = None
        self.validate = build_validate_http_signature_raw(self.retrieve_key)

    def new_id(self):
        return f"{self.base}/objects/{uuid.uuid4()}"

    async def start(self):
        connector = aiohttp.TCPConnector(resolver=MappedResolver(self.mapping), use_dns_cache=False)
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=20), trust_env=False
        )
        self.actor = BovineActor(actor_id=self.actor_id, public_key_url=self.key_id, secret=self.private_pem)
        await self.actor.init(session=self.session)
        # Same keyId, another key: what a forger would send.
        _, wrong_private = generate_rsa_public_private_key()
        self.wrong_actor = BovineActor(actor_id=self.actor_id, public_key_url=self.key_id, secret=wrong_private)
        await self.wrong_actor.init(session=self.session)

    async def close(self):
        if self.session is not None:
            await self.session.close()

    # ----- keys and fetches -----

    async def retrieve_key(self, key_id):
        """bovine's key retriever: fetch the key's document (a signed GET, as
        bovine does it) and read its publicKey."""
        data = await self.actor.get(key_id, fail_silently=True, create_tombstone=False)
        if not isinstance(data, dict):
            log.warning("no JSON document at key id %s", key_id)
            return None
        public_key = data.get("publicKey", data)
        if isinstance(public_key, list):
            public_key = next((k for k in public_key if k.get("id") == key_id), public_key[0] if public_key else {})
        identifier = CryptographicIdentifier.from_public_key(public_key)
        return identifier

    async def fetch(self, url):
        return await self.actor.get(url, fail_silently=True, create_tombstone=False)

    async def inbox_of(self, actor_url, shared=False):
        actor = await self.fetch(actor_url)
        if not isinstance(actor, dict):
            raise web.HTTPBadGateway(text=f"cannot fetch the actor {actor_url}")
        if shared:
            shared_inbox = (actor.get("endpoints") or {}).get("sharedInbox")
            if shared_inbox:
                return actor, shared_inbox
        return actor, actor["inbox"]

    async def post(self, inbox, activity, wrong_key=False):
        signer = self.wrong_actor if wrong_key else self.actor
        async with await signer.client.post(inbox, json.dumps(activity)) as response:
            body = await response.text()
            status = response.status
        self.sent.append({"inbox": inbox, "activity": activity, "status": status, "body": body})
        log.info("POST %s (%s) -> %s %s", inbox, activity.get("type"), status, body[:300])
        return status, body

    def remember(self, obj):
        if isinstance(obj, dict) and obj.get("id"):
            self.objects[obj["id"]] = obj

    # ----- served documents -----

    def record_fetch(self, request):
        self.fetches.append(
            {"path": request.path_qs, "headers": {k.lower(): v for k, v in request.headers.items()}, "at": time.time()}
        )

    async def get_actor(self, request):
        self.record_fetch(request)
        return web.json_response(self.profile, content_type=AS_JSON)

    async def get_collection(self, request):
        return web.json_response(
            {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": str(request.url),
                "type": "OrderedCollection",
                "totalItems": 0,
                "orderedItems": [],
            },
            content_type=AS_JSON,
        )

    async def get_object(self, request):
        self.record_fetch(request)
        obj = self.objects.get(f"{self.base}/objects/{request.match_info['id']}")
        if obj is None:
            raise web.HTTPNotFound()
        return web.json_response(obj, content_type=AS_JSON)

    async def webfinger(self, request):
        resource = request.query.get("resource", "")
        account = f"acct:{self.username}@{self.domain}"
        if resource not in (account, self.actor_id):
            raise web.HTTPNotFound()
        return web.json_response(webfinger_response_json(account, self.actor_id), content_type="application/jrd+json")

    async def inbox(self, request):
        body = await request.read()
        url = f"{self.base}{request.path_qs}"
        problems = ProblemLog()
        bovine_log = logging.getLogger("bovine")
        bovine_log.addHandler(problems)
        try:

            async def get_body():
                return body

            signer = await self.validate(request.method, url, request.headers, get_body)
        except Exception as error:  # bovine catches most, not all
            problems.messages.append(f"EXCEPTION: {error!r}")
            signer = None
        finally:
            bovine_log.removeHandler(problems)
        try:
            activity = json.loads(body)
        except ValueError:
            activity = None
        actor = activity.get("actor") if isinstance(activity, dict) else None
        if isinstance(actor, dict):
            actor = actor.get("id")
        if signer is not None and actor is not None and signer != actor:
            problems.messages.append(f"signed by {signer} but the activity's actor is {actor}")
        if signer is None and not problems.messages:
            if "signature" not in request.headers:
                problems.messages.append("no Signature header")
            else:
                problems.messages.append("bovine: the signature does not verify with the key it names")
        verified = signer is not None and (actor is None or signer == actor)
        entry = {
            "path": request.path,
            "method": request.method,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "activity": activity,
            "verified": verified,
            "signer": signer,
            "problems": problems.messages,
            "at": time.time(),
        }
        self.received.append(entry)
        kind = activity.get("type") if isinstance(activity, dict) else None
        log.info(
            "received %s on %s: verified=%s signer=%s signature=%s problems=%s",
            kind,
            request.path,
            verified,
            signer,
            request.headers.get("signature"),
            problems.messages,
        )
        if not verified:
            return web.json_response({"error": "signature not verified", "problems": problems.messages}, status=401)
        return web.Response(status=202)

    # ----- control API -----

    async def control_send(self, request):
        data = await request.json()
        activity = data["activity"]
        self.remember(activity)
        status, body = await self.post(data["inbox"], activity, wrong_key=bool(data.get("wrong_key")))
        return web.json_response({"status": status, "body": body})

    async def control_follow(self, request):
        data = await request.json()
        target, inbox = await self.inbox_of(data["object"])
        follow = self.activity_factory.follow(target["id"]).build()
        self.remember(follow)
        status, body = await self.post(inbox, follow)
        return web.json_response({"id": follow["id"], "inbox": inbox, "status": status, "body": body, "activity": follow})

    async def control_reply(self, request):
        data = await request.json()
        to = data["to"]
        if isinstance(to, str):
            to = [to]
        actors = []
        for url in to:
            actors.append(await self.fetch(url))
        first = actors[0]
        if not isinstance(first, dict):
            raise web.HTTPBadGateway(text=f"cannot fetch the actor {to[0]}")
        tags = []
        for url, actor in zip(to, actors):
            tag = {"type": "Mention", "href": url}
            if isinstance(actor, dict) and actor.get("preferredUsername"):
                tag["name"] = f"@{actor['preferredUsername']}@{urlparse(url).netloc}"
            tags.append(tag)
        note = self.object_factory.note(
            content=data["content"],
            to=set(to),
            cc=set(data.get("cc", [])),
            in_reply_to=data["in_reply_to"],
            tag=tags,
        ).build()
        create = self.activity_factory.create(note).build()
        self.remember(note)
        self.remember(create)
        inbox = first["inbox"]
        status, body = await self.post(inbox, create)
        return web.json_response(
            {
                "id": create["id"],
                "object_id": note["id"],
                "inbox": inbox,
                "status": status,
                "body": body,
                "activity": create,
            }
        )

    async def control_received(self, request):
        return web.json_response(self.received)

    async def control_sent(self, request):
        return web.json_response(self.sent)

    async def control_fetches(self, request):
        return web.json_response(self.fetches)


def parse_resolve(text):
    mapping = {}
    for entry in filter(None, (text or "").split(",")):
        name, _, ip = entry.partition("=")
        if not ip:
            raise SystemExit(f"--resolve: `{entry}` is not host=address")
        mapping[name.strip().lower()] = ip.strip()
    return mapping


@web.middleware
async def errors_as_json(request, handler):
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as error:
        log.exception("%s %s failed", request.method, request.path)
        return web.json_response({"error": repr(error)}, status=500)


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", required=True, help="address to listen on")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--domain", required=True, help="host:port in the peer's URLs")
    parser.add_argument("--resolve", default="", help="name=ip,… for outgoing requests")
    parser.add_argument("--username", default="bovine")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from importlib.metadata import version

    log.info("bovine %s, aiohttp %s, on %s:%s as %s", version("bovine"), aiohttp.__version__, args.host, args.port, args.domain)

    peer = Peer(args)
    await peer.start()
    app = web.Application(middlewares=[errors_as_json])
    app.add_routes(
        [
            web.get("/actor", peer.get_actor),
            web.get("/actor/outbox", peer.get_collection),
            web.get("/actor/followers", peer.get_collection),
            web.get("/actor/following", peer.get_collection),
            web.get("/objects/{id}", peer.get_object),
            web.get("/.well-known/webfinger", peer.webfinger),
            web.post("/actor/inbox", peer.inbox),
            web.post("/inbox", peer.inbox),
            web.post("/control/send", peer.control_send),
            web.post("/control/follow", peer.control_follow),
            web.post("/control/reply", peer.control_reply),
            web.get("/control/received", peer.control_received),
            web.get("/control/sent", peer.control_sent),
            web.get("/control/fetches", peer.control_fetches),
        ]
    )
    runner = web.AppRunner(app, access_log=log, access_log_class=QuietControlLog)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    try:
        await site.start()
    except OSError as error:
        log.error("cannot listen on %s:%s: %s", args.host, args.port, error)
        await peer.close()
        raise SystemExit(3)
    log.info("listening on %s:%s, actor %s", args.host, args.port, peer.actor_id)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await peer.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
