// Authorization of every operation that takes a path parameter, read from
// openapi.yaml so that new endpoints are covered without editing this file:
//   - without a (valid) token: 401;
//   - as a user who is not in the conversation: 403 or 404, never 2xx, and
//     nothing changes;
//   - with a malformed id (abc, 0, -1): 400 or 404, never 2xx.
// Paths outside /v1/conversations/{id} (/v1/users/{id}, /v1/blocks/{user_id}) take any
// user's id, so they get only the first and last checks.

import test from 'node:test';
import assert from 'node:assert/strict';
import { api, assertProblem, assertStatus, signup } from './lib/client.mjs';
import { loadSpec } from './lib/contract.mjs';
import { emojiPath, group, history, sendOk } from './lib/chat.mjs';

const spec = loadSpec();
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Every documented operation whose path has a {parameter}. */
const operations = [];
for (const [path, item] of Object.entries(spec.paths)) {
  if (!path.includes('{')) continue;
  for (const m of METHODS) {
    if (!item[m]) continue;
    const params = [...(item.parameters ?? []), ...(item[m].parameters ?? [])].map((p) =>
      p.$ref ? p.$ref.split('/').reduce((node, key) => (key === '#' ? spec : node[key]), null) : p,
    );
    operations.push({ method: m.toUpperCase(), path, op: item[m], pathParams: params.filter((p) => p.in === 'path') });
  }
}

/** The documented example body of an operation, or undefined when it takes none. */
function exampleBody(op) {
  const media = op.requestBody?.content?.['application/json'];
  if (!media) return undefined;
  if (media.example !== undefined) return media.example;
  const first = Object.values(media.examples ?? {})[0];
  return first?.value ?? {};
}

// Operations on a conversation (or something in one): the non-member check applies to them.
// Others, such as /v1/users/{id} and /v1/blocks/{user_id}, take any user's id.
const inConversation = (path) => path.startsWith('/v1/conversations/{id}');

/** A conversation of owner + member with one message that has a reaction. */
async function fixture() {
  const owner = await signup();
  const member = await signup();
  const outsider = await signup();
  const conv = await group(owner, [member], 'private');
  const msg = await sendOk(member, conv.id, 'members only');
  assertStatus(await api('PUT', emojiPath(conv.id, msg.seq, '👍'), { token: owner.token }), 204);
  const values = { id: conv.id, seq: msg.seq, user_id: member.id, emoji: encodeURIComponent('👍') };
  return { owner, member, outsider, conv, msg, values };
}

function fill(o, values, override = {}) {
  return o.path.replace(/\{([^}]+)\}/g, (_, name) => {
    const v = name in override ? override[name] : values[name];
    if (v === undefined) throw new Error(`authz.test.mjs: no value for path parameter {${name}} of ${o.method} ${o.path}; extend fixture()`);
    return String(v);
  });
}

test('openapi.yaml has operations with path parameters to check', () => {
  assert.ok(operations.length >= 15, `found ${operations.length}`);
  const ids = operations.map((o) => o.op.operationId);
  for (const id of ['getConversation', 'sendMessage', 'removeMember', 'addReaction', 'blockUser']) assert.ok(ids.includes(id), id);
});

test('every operation with a path parameter: no token or a bad token is 401', async () => {
  const f = await fixture();
  for (const o of operations) {
    const path = fill(o, f.values);
    const body = exampleBody(o.op);
    assertProblem(await api(o.method, path, { body }), 401, 'unauthorized');
    assertProblem(await api(o.method, path, { body, token: 'e30.e30.c2ln' }), 401, 'unauthorized');
    assertProblem(await api(o.method, path, { body, token: `${f.owner.token}x` }), 401, 'unauthorized');
  }
});

test("every conversation operation: someone who is not in the conversation gets 403 or 404 and changes nothing", async () => {
  const f = await fixture();
  const before = {
    conv: (await api('GET', `/v1/conversations/${f.conv.id}`, { token: f.owner.token })).body,
    history: await history(f.member, f.conv.id),
  };
  const checked = [];
  for (const o of operations) {
    if (!inConversation(o.path)) continue;
    const path = fill(o, f.values);
    const res = await api(o.method, path, { token: f.outsider.token, body: exampleBody(o.op) });
    assert.ok([403, 404].includes(res.status), `${o.method} ${path} (${o.op.operationId}) as a non-member -> ${res.status} ${res.text}`);
    checked.push(o.op.operationId);
  }
  assert.ok(checked.length >= 12, `checked ${checked.join(', ')}`);
  // the same requests with ids of a conversation that does not exist answer alike
  for (const o of operations) {
    if (!inConversation(o.path)) continue;
    const path = fill(o, f.values, { id: 9007199254740000 });
    const res = await api(o.method, path, { token: f.outsider.token, body: exampleBody(o.op) });
    assert.ok([403, 404].includes(res.status), `${o.method} ${path} -> ${res.status} ${res.text}`);
  }
  const after = {
    conv: (await api('GET', `/v1/conversations/${f.conv.id}`, { token: f.owner.token })).body,
    history: await history(f.member, f.conv.id),
  };
  assert.deepEqual(after, before, 'nothing changed');
  assert.deepEqual((await api('GET', '/v1/conversations', { token: f.outsider.token })).body.conversations, []);
});

test('every operation with an id in its path: a malformed id is 400 or 404, never 2xx', async () => {
  const f = await fixture();
  for (const o of operations) {
    for (const p of o.pathParams) {
      if (p.schema?.type !== 'integer') continue;
      for (const bad of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
        const path = fill(o, f.values, { [p.name]: bad });
        const res = await api(o.method, path, { token: f.owner.token, body: exampleBody(o.op) });
        assert.ok([400, 404].includes(res.status), `${o.method} ${path} -> ${res.status} ${res.text}`);
        if (res.status === 400) assert.equal(res.body.field, p.name, `${o.method} ${path}: field`);
      }
    }
  }
  // the owner's own conversation is intact
  const conv = await api('GET', `/v1/conversations/${f.conv.id}`, { token: f.owner.token });
  assert.equal(conv.body.member_count, 2);
  assert.equal((await history(f.owner, f.conv.id)).length, 1);
});
