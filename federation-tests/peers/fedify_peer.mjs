#!/usr/bin/env node
// A fediverse peer built on Fedify (npm `@fedify/fedify`), for the
// federation tests: a second independent ActivityPub implementation beside
// bovine. Fedify does the parts that matter here with its own code, not
// ours: it compacts what it sends as JSON-LD (a one-element list becomes a
// single value, e.g. `"tag": {…}`), signs deliveries with RFC 9421 HTTP
// Message Signatures first and falls back to draft-cavage after a refusal
// ("double-knocking", remembering per server what worked), and verifies the
// signatures of what it receives (either kind) before its inbox listeners
// see an activity.
//
//     node fedify_peer.mjs --host 127.0.0.5 --port 41000 --domain fedify.test:41000 \
//         --resolve alpha.test=127.0.0.2,beta.test=127.0.0.3 --username fedify
//
// Serves, on http://<domain>:
//   GET  /users/<username>          the Person (Fedify's actor dispatcher)
//   GET  /.well-known/webfinger     (Fedify)
//   POST /users/<username>/inbox, /inbox
//                                   Fedify's inbox: verifies the signature,
//                                   then its listeners parse the activity;
//                                   every request is recorded either way
//   GET  /objects/<id>              every object and activity the peer sent
// and a control API for the tests (same shapes as bovine_peer.py):
//   POST /control/follow  {"object"} -> {"id", "inbox", "status", "body", "activity", "attempts"}
//   POST /control/reply   {"in_reply_to", "to": [...], "content", "cc"?}
//                         -> {"id", "object_id", "inbox", "status", "body", "activity", "attempts"}
//   GET  /control/received -> [{"path", "method", "headers", "body", "activity", "status",
//                               "verified", "signer", "key_id", "spec", "parsed", "problems", "at"}]
//        `parsed` is what Fedify's vocabulary read from the activity:
//        {"type", "object": {"type", "id", "content", "name", "summary",
//        "to", "cc", "inReplyTo", "tags": [{"type", "href", "name"}]}}
//   GET  /control/sent     -> [{"url", "method", "spec", "status", "body", "activity"}]
//        every outgoing POST attempt, so a double knock shows as two
//   GET  /control/fetches  -> [{"path", "headers", "at"}] (GETs of the actor and objects)
//
// Outgoing requests to `<name>.test` connect to the address given by
// --resolve while the URL (and so the signed Host and @authority) keeps
// the name and port.

import dns from "node:dns";
import http from "node:http";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";

// Fedify 1.10 declares Node 22; this machine's Node is 20 (Debian's own is
// 18). The one thing missing that Fedify reaches is ES2024's
// ArrayBuffer.prototype.transfer (Node 21+), which byte-encodings, its
// base64 library, calls to resize a buffer. Defined here as the copy the
// spec's result is (the source is not detached, which no caller relies
// on), before Fedify loads.
if (typeof ArrayBuffer.prototype.transfer !== "function") {
  Object.defineProperty(ArrayBuffer.prototype, "transfer", {
    configurable: true,
    writable: true,
    value: function transfer(newLength = this.byteLength) {
      const copy = new ArrayBuffer(newLength);
      new Uint8Array(copy).set(new Uint8Array(this, 0, Math.min(newLength, this.byteLength)));
      return copy;
    },
  });
}

const {
  Accept,
  Activity,
  Create,
  Endpoints,
  Follow,
  Mention,
  MemoryKvStore,
  Note,
  Person,
  createFederation,
  generateCryptoKeyPair,
  verifyRequest,
} = await import("@fedify/fedify");

const { values: args } = parseArgs({
  options: {
    host: { type: "string" },
    port: { type: "string" },
    domain: { type: "string" },
    resolve: { type: "string", default: "" },
    username: { type: "string", default: "fedify" },
  },
});
for (const name of ["host", "port", "domain"]) {
  if (!args[name]) {
    console.error(`--${name} is required`);
    process.exit(2);
  }
}

const fedifyVersion = JSON.parse(
  readFileSync(new URL("./node_modules/@fedify/fedify/package.json", import.meta.url), "utf8"),
).version;
const log = (...parts) => console.error(new Date().toISOString(), ...parts);

// ----- name resolution: <name>.test -> its loopback address -----

const mapping = new Map();
for (const entry of args.resolve.split(",").filter(Boolean)) {
  const [name, ip] = entry.split("=");
  if (!ip) {
    console.error(`--resolve: \`${entry}\` is not host=address`);
    process.exit(2);
  }
  mapping.set(name.trim().toLowerCase(), ip.trim());
}
// Node's fetch connects through net.connect, which resolves with
// dns.lookup: answering the mapped names there keeps every URL (and so
// every signed Host header and @authority) as it is.
const systemLookup = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  if (typeof options === "function") {
    callback = options;
    options = {};
  } else if (typeof options === "number") {
    options = { family: options };
  }
  const ip = mapping.get(String(hostname).toLowerCase());
  if (ip === undefined) return systemLookup.call(this, hostname, options, callback);
  if (options?.all) process.nextTick(callback, null, [{ address: ip, family: 4 }]);
  else process.nextTick(callback, null, ip, 4);
};

// ----- the peer's state -----

const base = `http://${args.domain}`;
const username = args.username;
const received = [];
const sent = [];
const fetches = [];
const objects = new Map();
/** Fedify's reading of each received activity, by activity id. */
const parsedById = new Map();

function specOf(headers) {
  if (headers.get("signature-input")) return "rfc9421";
  if (headers.get("signature")) return "draft-cavage";
  return null;
}

// Every outgoing request goes through fetch: record the POSTs (Fedify's
// deliveries, one entry per knock) with the answer.
const systemFetch = globalThis.fetch;
globalThis.fetch = async function recordingFetch(input, init) {
  const request = new Request(input, init);
  if (request.method !== "POST") return systemFetch(request);
  const text = await request.clone().text();
  const response = await systemFetch(request);
  const answer = await response.clone().text();
  let activity = null;
  try {
    activity = JSON.parse(text);
  } catch {
    // not JSON: kept as null
  }
  const entry = {
    url: request.url,
    method: request.method,
    spec: specOf(request.headers),
    headers: Object.fromEntries(request.headers),
    status: response.status,
    body: answer,
    activity,
  };
  sent.push(entry);
  log(`POST ${request.url} (${activity?.type}, ${entry.spec}) -> ${response.status} ${answer.slice(0, 300)}`);
  return response;
};

// ----- Fedify -----

const keyPair = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
const federation = createFederation({
  kv: new MemoryKvStore(),
  origin: base,
  // The test hosts live on loopback addresses.
  allowPrivateAddress: true,
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== username) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Fedify Peer",
      summary: "An independent ActivityPub peer (Fedify) for the federation tests.",
      inbox: ctx.getInboxUri(identifier),
      outbox: new URL(`${ctx.getActorUri(identifier).href}/outbox`),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === username ? [keyPair] : []));

async function parse(_ctx, activity) {
  const parsed = { type: activity.constructor.name, id: activity.id?.href ?? null };
  if (activity instanceof Activity) {
    try {
      const object = await activity.getObject();
      if (object != null) {
        const tags = [];
        for await (const tag of object.getTags?.() ?? []) {
          tags.push({ type: tag.constructor.name, href: tag.href?.href ?? null, name: tag.name?.toString() ?? null });
        }
        parsed.object = {
          type: object.constructor.name,
          id: object.id?.href ?? null,
          content: object.content?.toString() ?? null,
          name: object.name?.toString() ?? null,
          summary: object.summary?.toString() ?? null,
          to: (object.toIds ?? []).map((u) => u.href),
          cc: (object.ccIds ?? []).map((u) => u.href),
          inReplyTo: object.replyTargetId?.href ?? null,
          tags,
        };
      }
    } catch (error) {
      parsed.object_error = String(error);
    }
  }
  if (parsed.id) parsedById.set(parsed.id, parsed);
  log(`Fedify read ${parsed.type} ${parsed.id} (object ${parsed.object?.type})`);
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Accept, parse)
  .on(Create, parse)
  .on(Activity, parse)
  .onError((_ctx, error) => log(`inbox listener failed: ${error?.stack ?? error}`));

// ----- control API -----

function remember(json) {
  if (json && typeof json === "object" && typeof json.id === "string") objects.set(json.id, json);
}

function newId() {
  return new URL(`${base}/objects/${randomUUID()}`);
}

function context() {
  return federation.createContext(new URL(base), undefined);
}

async function lookupActor(ctx, url) {
  const documentLoader = await ctx.getDocumentLoader({ identifier: username });
  const actor = await ctx.lookupObject(url, { documentLoader });
  if (actor == null || actor.inboxId == null) throw new Error(`cannot fetch the actor ${url}`);
  return actor;
}

/** Sends through Fedify, and answers with the last knock's outcome. */
async function deliver(ctx, recipient, activity) {
  const before = sent.length;
  let error = null;
  try {
    await ctx.sendActivity({ identifier: username }, recipient, activity, { preferSharedInbox: false });
  } catch (e) {
    error = String(e);
    log(`sendActivity failed: ${e}`);
  }
  const attempts = sent.slice(before).map(({ url, spec, status, body }) => ({ url, spec, status, body }));
  const last = attempts.at(-1) ?? { status: null, body: error };
  return { status: last.status, body: last.body, attempts, error };
}

async function controlFollow(data) {
  const ctx = context();
  const target = await lookupActor(ctx, data.object);
  const follow = new Follow({ id: newId(), actor: ctx.getActorUri(username), object: target.id });
  const json = await follow.toJsonLd({ contextLoader: ctx.contextLoader });
  remember(json);
  const outcome = await deliver(ctx, target, follow);
  return { id: follow.id.href, inbox: target.inboxId.href, activity: json, ...outcome };
}

async function controlReply(data) {
  const ctx = context();
  const to = typeof data.to === "string" ? [data.to] : data.to;
  const cc = data.cc ?? [];
  const recipients = [];
  for (const url of to) recipients.push(await lookupActor(ctx, url));
  const tags = recipients.map(
    (actor) => new Mention({ href: actor.id, name: `@${actor.preferredUsername}@${actor.id.host}` }),
  );
  const me = ctx.getActorUri(username);
  const published = Temporal.Now.instant();
  const note = new Note({
    id: newId(),
    attributedTo: me,
    tos: to.map((u) => new URL(u)),
    ccs: cc.map((u) => new URL(u)),
    replyTarget: new URL(data.in_reply_to),
    content: data.content,
    tags,
    published,
  });
  const create = new Create({
    id: newId(),
    actor: me,
    tos: note.toIds,
    ccs: note.ccIds,
    object: note,
    published,
  });
  const json = await create.toJsonLd({ contextLoader: ctx.contextLoader });
  remember(json);
  remember(await note.toJsonLd({ contextLoader: ctx.contextLoader }));
  const outcome = await deliver(ctx, recipients[0], create);
  return {
    id: create.id.href,
    object_id: note.id.href,
    inbox: recipients[0].inboxId.href,
    activity: json,
    ...outcome,
  };
}

// Fedify's vocabulary needs Temporal; Node 20 has none, Fedify ships the polyfill.
const { Temporal } = await import("@js-temporal/polyfill");

// ----- HTTP -----

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function json(res, status, value, type = "application/json") {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function asRequest(req, body) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  return new Request(new URL(req.url, base), {
    method: req.method,
    headers,
    body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
  });
}

/** The key that signed `request` (either spec), by Fedify's own check, or null. */
async function signingKey(request) {
  try {
    return await verifyRequest(request, { documentLoader: context().documentLoader });
  } catch (error) {
    log(`verifyRequest failed: ${error}`);
    return null;
  }
}

async function toFedify(req, res, body) {
  const request = asRequest(req, body);
  const headers = request.headers;
  const response = await federation.fetch(request, {
    contextData: undefined,
    onNotFound: async () => new Response("Not found", { status: 404 }),
    onNotAcceptable: async () => new Response("Not acceptable", { status: 406 }),
  });
  const answer = Buffer.from(await response.arrayBuffer());
  const out = {};
  response.headers.forEach((value, name) => {
    out[name] = value;
  });
  res.writeHead(response.status, out);
  res.end(answer);
  return { status: response.status, text: answer.toString("utf8"), headers };
}

function actorOf(activity) {
  const actor = activity?.actor;
  return typeof actor === "string" ? actor : (actor?.id ?? null);
}

async function handle(req, res) {
  const url = new URL(req.url, base);
  const path = url.pathname;
  if (path.startsWith("/control/")) {
    if (req.method === "GET" && path === "/control/received") return json(res, 200, received);
    if (req.method === "GET" && path === "/control/sent") return json(res, 200, sent);
    if (req.method === "GET" && path === "/control/fetches") return json(res, 200, fetches);
    const data = JSON.parse((await readBody(req)).toString("utf8") || "{}");
    if (req.method === "POST" && path === "/control/follow") return json(res, 200, await controlFollow(data));
    if (req.method === "POST" && path === "/control/reply") return json(res, 200, await controlReply(data));
    return json(res, 404, { error: `no control endpoint ${req.method} ${path}` });
  }
  if (req.method === "GET" && path.startsWith("/objects/")) {
    fetches.push({ path: req.url, headers: req.headers, at: Date.now() / 1000 });
    const object = objects.get(`${base}${path}`);
    if (object === undefined) return json(res, 404, { error: "not found" });
    return json(res, 200, object, "application/activity+json");
  }
  const body = await readBody(req);
  if (req.method !== "POST") {
    if (req.method === "GET") fetches.push({ path: req.url, headers: req.headers, at: Date.now() / 1000 });
    await toFedify(req, res, body);
    return;
  }
  // An inbox: Fedify verifies and parses; we record what arrived and what
  // Fedify made of it, and who signed it (Fedify's verifyRequest again, for
  // the key's owner, which its inbox listeners are not told).
  const key = await signingKey(asRequest(req, body));
  const { status, text, headers } = await toFedify(req, res, body);
  let activity = null;
  try {
    activity = JSON.parse(body.toString("utf8"));
  } catch {
    // not JSON: kept as null
  }
  const parsed = activity?.id ? parsedById.get(activity.id) : undefined;
  const signer = key?.ownerId?.href ?? null;
  const entry = {
    path,
    method: req.method,
    headers: req.headers,
    body: body.toString("utf8"),
    activity,
    status,
    // Fedify's inbox took it (signature verified, activity parsed) and the
    // key's owner is the activity's actor.
    verified: status >= 200 && status < 300 && parsed !== undefined && signer !== null && signer === actorOf(activity),
    signer,
    key_id: key?.id?.href ?? null,
    spec: specOf(headers),
    parsed: parsed ?? null,
    problems: status >= 300 ? [text] : [],
    at: Date.now() / 1000,
  };
  received.push(entry);
  log(`received ${activity?.type} on ${path} (${entry.spec}): ${status} signer=${signer} ${status >= 300 ? text : ""}`);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    log(`${req.method} ${req.url} failed: ${error?.stack ?? error}`);
    if (!res.headersSent) json(res, 500, { error: String(error) });
    else res.end();
  });
});
server.on("error", (error) => {
  console.error(`cannot listen on ${args.host}:${args.port}: ${error}`);
  process.exit(1);
});
server.listen(Number(args.port), args.host, () => {
  log(`Fedify ${fedifyVersion} on Node ${process.versions.node}, at ${args.host}:${args.port} as ${base}/users/${username}`);
});
