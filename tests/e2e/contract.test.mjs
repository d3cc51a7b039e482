// Tests of openapi.yaml itself and of the contract checker (lib/contract.mjs).
// These need no running stack: they check the checker can fail.

import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SPEC_PATH, ContractError, createChecker, loadSpec, parseSpec, parseMediaType } from './lib/contract.mjs';

const spec = loadSpec();
const checker = createChecker(spec);

const H = (extra = {}) => new Headers({ 'x-request-id': 'req-1', ...extra });
const json = (status, body, extra = {}) => ({
  status,
  headers: H({ 'content-type': 'application/json', ...extra }),
  body,
  text: JSON.stringify(body),
});
const problem = (status, slug, extra = {}, fields = {}) => {
  const body = { type: `https://missive.dev/problems/${slug}`, title: slug, status, ...fields };
  return { status, headers: H({ 'content-type': 'application/problem+json', ...extra }), body, text: JSON.stringify(body) };
};
const user = {
  id: 7, username: 'alice', display_name: 'Alice', created_at: '2025-01-31T12:00:00Z', dm_policy: 'anyone', send_read_receipts: true, push_previews: true,
};
const publicUser = { id: 7, username: 'alice', display_name: 'Alice' };
const session = {
  access_token: 'a.b.c',
  token_type: 'Bearer',
  expires_in: 900,
  refresh_token: 'r',
  session_id: 3,
  user,
};

function rejects(fn, pattern) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof ContractError, `expected ContractError, got ${e}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test('openapi.yaml parses as OpenAPI 3.1 with the documented operations', () => {
  assert.equal(spec.openapi, '3.1.0');
  const ops = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const m of checker.documentedMethods(item)) ops.push(`${m.toUpperCase()} ${path} ${item[m].operationId}`);
  }
  assert.deepEqual(ops.sort(), [
    'DELETE /v1/blocks/{user_id} unblockUser',
    'DELETE /v1/conversations/{id}/members/{user_id} removeMember',
    'DELETE /v1/conversations/{id}/messages/{seq} deleteMessage',
    'DELETE /v1/conversations/{id}/messages/{seq}/reactions/{emoji} removeReaction',
    'DELETE /v1/sessions/current deleteCurrentSession',
    'GET /healthz getHealth',
    'GET /metrics getMetrics',
    'GET /v1/blocks listBlocks',
    'GET /v1/conversations listConversations',
    'GET /v1/conversations/{id} getConversation',
    'GET /v1/conversations/{id}/messages listMessages',
    'GET /v1/events listEvents',
    'GET /v1/me getMe',
    'GET /v1/presence getPresence',
    'GET /v1/stream openEventStream',
    'POST /v1/media createMedia',
    'GET /v1/media/{id} getMedia',
    'GET /v1/push/vapid-key getVapidKey',
    'POST /v1/push/subscriptions createPushSubscription',
    'GET /v1/push/subscriptions listPushSubscriptions',
    'DELETE /v1/push/subscriptions/{id} deletePushSubscription',
    'GET /v1/users listUsers',
    'GET /v1/users/{id} getUser',
    'PATCH /v1/conversations/{id} updateConversation',
    'PATCH /v1/conversations/{id}/messages/{seq} editMessage',
    'PATCH /v1/me updateMe',
    'POST /v1/accounts createAccount',
    'POST /v1/conversations createConversation',
    'POST /v1/conversations/{id}/accept acceptConversation',
    'POST /v1/conversations/{id}/decline declineConversation',
    'POST /v1/conversations/{id}/delivered markDelivered',
    'POST /v1/conversations/{id}/members addMembers',
    'POST /v1/conversations/{id}/messages sendMessage',
    'POST /v1/conversations/{id}/read markRead',
    'POST /v1/conversations/{id}/typing sendTyping',
    'POST /v1/sessions createSession',
    'POST /v1/sessions/refresh refreshSession',
    'POST /v1/stream/tickets createStreamTicket',
    'PUT /v1/blocks/{user_id} blockUser',
    'PUT /v1/conversations/{id}/messages/{seq}/reactions/{emoji} addReaction',
  ].sort());
  // operationIds are unique
  assert.equal(new Set(ops.map((o) => o.split(' ')[2])).size, ops.length);
  // every schema anywhere compiles, so every $ref resolves
  assert.ok(checker.compileAll() > 10);
});

test('openapi.yaml: duplicate keys are a parse error', () => {
  assert.throws(() => parseSpec('openapi: 3.1.0\ninfo: {}\ninfo: {}\n'), /[Mm]ap keys must be unique|duplicate/i);
});

test('openapi.yaml: every component is referenced (except MethodNotAllowed, used by the checker)', () => {
  const text = readFileSync(SPEC_PATH, 'utf8');
  const unused = [];
  for (const [kind, entries] of Object.entries(spec.components)) {
    if (kind === 'securitySchemes') continue; // referenced by name in `security`
    for (const name of Object.keys(entries)) {
      if (kind === 'responses' && name === 'MethodNotAllowed') continue;
      if (!text.includes(`'#/components/${kind}/${name}'`)) unused.push(`${kind}/${name}`);
    }
  }
  assert.deepEqual(unused, []);
});

test('openapi.yaml: every problem response pins its slug to its status', () => {
  const slugStatus = {
    'bad-request': 400, unauthorized: 401, forbidden: 403, 'not-found': 404, 'method-not-allowed': 405,
    conflict: 409, 'payload-too-large': 413, 'unsupported-media-type': 415, validation: 422,
    'rate-limited': 429, internal: 500, unavailable: 503,
  };
  assert.deepEqual(
    spec.components.schemas.Problem.properties.type.enum.sort(),
    Object.keys(slugStatus).map((s) => `https://missive.dev/problems/${s}`).sort(),
  );
  for (const [name, r] of Object.entries(spec.components.responses)) {
    const pinned = r.content['application/problem+json'].schema.allOf[1].properties;
    const slug = pinned.type.const.replace('https://missive.dev/problems/', '');
    assert.equal(pinned.status.const, slugStatus[slug], `${name}: ${slug}`);
  }
});

test('openapi.yaml and api/routes.c name the same operations with the same auth', (t) => {
  const routesC = fileURLToPath(new URL('../../api/routes.c', import.meta.url));
  if (!existsSync(routesC)) return t.skip('api/routes.c not present');
  const rows = [...readFileSync(routesC, 'utf8').matchAll(/\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*\w+\s*,\s*(ROUTE_\w+)\s*\}/g)];
  assert.ok(rows.length > 0, 'found route rows in api/routes.c');
  // ROUTE_USER (token + live session checked up front) and ROUTE_TOKEN (token checked up
  // front, session checked by the handler's own SQL) are both bearerAuth to a client.
  const authOf = { ROUTE_PUBLIC: 'public', ROUTE_USER: 'bearer', ROUTE_TOKEN: 'bearer' };
  for (const [, m, path, auth] of rows) assert.ok(auth in authOf, `${m} ${path}: unknown auth ${auth} in api/routes.c`);
  // /internal/ routes answer nginx's own subrequests (auth_request) and are not API.
  const fromC = rows.filter(([, , path]) => !path.startsWith('/internal/'))
    .map(([, m, path, auth]) => `${m} ${path} ${authOf[auth]}`).sort();
  const fromSpec = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const m of checker.documentedMethods(item)) {
      // Served by missive-sse, not missive-api: not in api/routes.c.
      if (item[m]['x-served-by'] === 'missive-sse') continue;
      const security = item[m].security ?? spec.security ?? [];
      const bearer = security.some((req) => 'bearerAuth' in req);
      assert.ok(security.length === 0 || bearer, `${m.toUpperCase()} ${path}: security must be [] or bearerAuth`);
      fromSpec.push(`${m.toUpperCase()} ${path} ${bearer ? 'bearer' : 'public'}`);
    }
  }
  assert.deepEqual(fromSpec.sort(), fromC);
});

test('checker accepts documented answers', () => {
  checker.checkResponse('POST', '/v1/accounts', json(201, user, { location: '/v1/users/7' }));
  checker.checkResponse('POST', '/v1/sessions', json(201, session));
  checker.checkResponse('POST', '/v1/sessions/refresh', json(200, session));
  checker.checkResponse('GET', '/v1/users/7', json(200, publicUser));
  checker.checkResponse('GET', '/v1/users?q=al&limit=2', json(200, { users: [publicUser], next_cursor: 'abc' }));
  checker.checkResponse('GET', '/v1/users', json(200, { users: [], next_cursor: null }));
  checker.checkResponse('GET', '/v1/me', problem(401, 'unauthorized', { 'www-authenticate': 'Bearer realm="missive"' }));
  checker.checkResponse('POST', '/v1/accounts', problem(422, 'validation', {}, { detail: 'x', field: 'username' }));
  checker.checkResponse('DELETE', '/v1/sessions/current', { status: 204, headers: H(), body: '', text: '' });
  checker.checkResponse('GET', '/healthz', json(200, { status: 'ok', checks: { database: 'ok' } }));
  checker.checkResponse('GET', '/healthz', json(503, { status: 'unavailable', checks: { database: 'unavailable' } }));
  checker.checkResponse('GET', '/metrics', {
    status: 200,
    headers: H({ 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }),
    body: 'x 1\n',
    text: 'x 1\n',
  });
  checker.checkResponse('PUT', '/v1/me', problem(405, 'method-not-allowed', { allow: 'GET, PATCH' }));
  checker.checkResponse('GET', '/v1/nope', problem(404, 'not-found'), { undocumented: true });
  // a literal path beats a template
  assert.equal(checker.findOperation('DELETE', '/v1/sessions/current').operation.operationId, 'deleteCurrentSession');
  assert.equal(checker.findOperation('GET', '/v1/users/12?x=1').operation.operationId, 'getUser');
  assert.equal(checker.findOperation('GET', '/v1/users/12/x'), null);
});

test('checker rejects a body that violates the schema', () => {
  const { created_at, ...noCreatedAt } = user;
  rejects(() => checker.checkResponse('GET', '/v1/me', json(200, noCreatedAt)), /must have required property 'created_at'/);
  rejects(() => checker.checkResponse('GET', '/v1/me', json(200, { ...user, id: '7' })), /body\/id must be integer/);
  rejects(() => checker.checkResponse('GET', '/v1/me', json(200, { ...user, created_at: 'yesterday' })), /date-time/);
  rejects(() => checker.checkResponse('GET', '/v1/me', json(200, { ...user, password: 'x' })), /additional properties 'password'/);
  rejects(() => checker.checkResponse('GET', '/v1/users/7', json(200, user)), /'created_at'/);
  rejects(() => checker.checkResponse('POST', '/v1/sessions', json(201, { ...session, token_type: 'bearer' })), /token_type/);
  rejects(() => checker.checkResponse('GET', '/v1/users', json(200, { users: [] })), /next_cursor/);
  rejects(() => checker.checkResponse('GET', '/v1/users', json(200, { users: [], next_cursor: 5 })), /next_cursor/);
});

test('checker rejects wrong media types, missing headers and stray bodies', () => {
  rejects(() => checker.checkResponse('GET', '/v1/me', { ...json(200, user), headers: H({ 'content-type': 'text/html' }) }), /not documented/);
  rejects(() => checker.checkResponse('GET', '/v1/me', { ...json(200, user), headers: new Headers({ 'content-type': 'application/json' }) }), /X-Request-Id/);
  rejects(() => checker.checkResponse('GET', '/v1/me', { status: 200, headers: H({ 'content-type': 'application/json' }), body: '{', text: '{' }), /not valid JSON/);
  rejects(() => checker.checkResponse('POST', '/v1/accounts', json(201, user)), /Location/);
  rejects(() => checker.checkResponse('POST', '/v1/accounts', json(201, user, { location: '/users/7' })), /Location/);
  rejects(() => checker.checkResponse('GET', '/v1/me', problem(401, 'unauthorized')), /WWW-Authenticate/);
  rejects(() => checker.checkResponse('DELETE', '/v1/sessions/current', json(204, {})), /no body/);
  rejects(() => checker.checkResponse('GET', '/metrics', { status: 200, headers: H({ 'content-type': 'text/plain' }), body: '', text: '' }), /not documented/);
  // an error as plain JSON instead of problem+json
  rejects(() => checker.checkResponse('GET', '/v1/users/1', json(404, { error: 'not found' })), /not documented/);
});

test('checker rejects undocumented statuses, mismatched problem slugs and unknown routes', () => {
  rejects(() => checker.checkResponse('GET', '/v1/me', problem(404, 'not-found')), /status 404 is not documented/);
  rejects(() => checker.checkResponse('POST', '/v1/accounts', problem(400, 'validation', {}, { field: 'x' })), /allowed|equal to constant/);
  rejects(() => checker.checkResponse('POST', '/v1/accounts', problem(422, 'validation')), /field/);
  rejects(() => checker.checkResponse('GET', '/v1/nope', problem(404, 'not-found')), /no path in openapi.yaml/);
  rejects(() => checker.checkResponse('GET', '/v1/nope', json(404, { status: 404 }), { undocumented: true }));
  rejects(() => checker.checkResponse('GET', '/v1/nope', json(200, {}), { undocumented: true }), /error status/);
  rejects(() => checker.checkResponse('PUT', '/v1/me', problem(404, 'not-found')), /must answer 405/);
  rejects(() => checker.checkResponse('PUT', '/v1/me', problem(405, 'method-not-allowed')), /Allow/);
  rejects(() => checker.checkResponse('PUT', '/v1/me', problem(405, 'method-not-allowed', { allow: 'GET' })), /lacks documented method PATCH/);
  rejects(() => checker.checkResponse('PUT', '/v1/me', problem(405, 'method-not-allowed', { allow: 'GET, PATCH, PUT' })), /lists PUT/);
});

// ---------------------------------------------------------------- conversations, messages, events

const ts = '2025-01-31T12:00:00.000Z';
const message = {
  conversation_id: 12, seq: 1, sender_id: 7, client_msg_id: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', body: 'hi',
  reply_to: null, media_ids: [], created_at: ts, edited_at: null, deleted_at: null,
  reactions: [{ emoji: '👍', count: 1, mine: true }],
};
const member = {
  user_id: 7, username: 'alice', display_name: 'Alice', role: 'owner', state: 'active', joined_at: ts,
  last_read_seq: 1, last_delivered_seq: 1,
};
const summary = {
  id: 12, kind: 'group', title: 'G', created_by: 7, created_at: ts, last_activity_at: ts, last_seq: 1,
  role: 'owner', state: 'active', muted_until: null, last_read_seq: 1, last_delivered_seq: 1, unread_count: 0,
  member_count: 1, last_message: message, peer: null,
};
const conversation = { ...summary, members: [member] };
const event = (type, data) => ({ pos: 5, type, conversation_id: 12, actor_id: 7, created_at: ts, data });

test('checker accepts documented conversation, message and event answers', () => {
  checker.checkResponse('POST', '/v1/conversations', json(201, conversation));
  checker.checkResponse('POST', '/v1/conversations', json(200, { ...conversation, kind: 'direct', title: null, peer: publicUser, role: 'member' }));
  checker.checkResponse('GET', '/v1/conversations?filter=requests', json(200, { conversations: [summary], next_cursor: 'x' }));
  checker.checkResponse('GET', '/v1/conversations/12', json(200, { ...conversation, last_message: null, muted_until: ts }));
  checker.checkResponse('POST', '/v1/conversations/12/decline', { status: 204, headers: H(), body: '', text: '' });
  checker.checkResponse('POST', '/v1/conversations/12/messages', json(201, message, { location: '/v1/conversations/12/messages/1' }));
  checker.checkResponse('POST', '/v1/conversations/12/messages', json(200, { ...message, body: null, deleted_at: ts, reactions: [] }));
  checker.checkResponse('POST', '/v1/conversations/12/messages', problem(503, 'unavailable', { 'retry-after': '1' }));
  checker.checkResponse('GET', '/v1/conversations/12/messages?after=0', json(200, { messages: [message], has_more: false }));
  checker.checkResponse('GET', '/v1/conversations/12/messages', json(200, { messages: [{ ...message, receipts: { recipients: 2, delivered: 1, read: 0 } }], has_more: true }));
  checker.checkResponse('GET', '/v1/conversations/12', json(200, { ...conversation, members: [{ ...member, last_read_seq: null }] }));
  checker.checkResponse('POST', '/v1/conversations/12/typing', problem(429, 'rate-limited', { 'retry-after': '2' }));
  checker.checkResponse('POST', '/v1/stream/tickets', json(201, { ticket: 't', expires_in: 30 }));
  checker.checkResponse('GET', '/v1/presence?user_ids=1,2', json(200, { presence: [{ user_id: 1, online: false, last_active_at: null }] }));
  checker.checkResponse('PUT', '/v1/conversations/12/messages/1/reactions/%F0%9F%91%8D', { status: 204, headers: H(), body: '', text: '' });
  checker.checkResponse('GET', '/v1/blocks', json(200, { blocks: [{ user: publicUser, created_at: ts }] }));
  checker.checkResponse('GET', '/v1/events?cursor=4', json(200, {
    events: [
      event('message.created', { conversation_id: 12, seq: 1, sender_id: 7, client_msg_id: message.client_msg_id, body: null, reply_to: null, media_ids: [], created_at: ts, deleted: true }),
      event('message.edited', { conversation_id: 12, seq: 1, body: 'x', edited_at: ts }),
      event('message.deleted', { conversation_id: 12, seq: 1, deleted_at: ts, by: 7 }),
      event('reaction.added', { conversation_id: 12, seq: 1, user_id: 7, emoji: '👍' }),
      event('reaction.removed', { conversation_id: 12, seq: 1, user_id: 7, emoji: '👍' }),
      event('member.added', { conversation_id: 12, user_id: 8, role: 'member', by: 7 }),
      event('member.removed', { conversation_id: 12, user_id: 8, by: 7 }),
      event('member.role_changed', { conversation_id: 12, user_id: 8, role: 'owner' }),
      event('conversation.created', { conversation: { id: 12, kind: 'group', title: 'G', created_by: 7, member_ids: [7, 8] } }),
      event('conversation.renamed', { conversation_id: 12, title: 'H' }),
      event('conversation.accepted', { conversation_id: 12, user_id: 8 }),
      event('conversation.declined', { conversation_id: 12 }),
      event('receipt', { conversation_id: 12, user_id: 8, delivered_seq: 3, read_seq: null }),
    ],
    cursor: 5,
  }));
  assert.equal(checker.findOperation('DELETE', '/v1/conversations/1/members/2').operation.operationId, 'removeMember');
  assert.equal(checker.findOperation('POST', '/v1/conversations/1/accept').operation.operationId, 'acceptConversation');
});

test('checker rejects conversation, message and event answers that break the schemas', () => {
  rejects(() => checker.checkResponse('GET', '/v1/conversations', json(200, { conversations: [conversation], next_cursor: null })), /unevaluated|members/);
  rejects(() => checker.checkResponse('GET', '/v1/conversations/12', json(200, summary)), /members/);
  rejects(() => checker.checkResponse('GET', '/v1/conversations/12', json(200, { ...conversation, state: 'declined' })), /state/);
  rejects(() => checker.checkResponse('GET', '/v1/conversations/12', json(200, { ...conversation, secret: 1 })), /unevaluated|secret/);
  rejects(() => checker.checkResponse('GET', '/v1/conversations/12', json(200, { ...conversation, created_at: '2025-01-31T12:00:00Z' })), /pattern/);
  rejects(() => checker.checkResponse('POST', '/v1/conversations/12/messages', json(201, message)), /Location/);
  rejects(() => checker.checkResponse('POST', '/v1/conversations/12/messages', json(200, { ...message, body: 5 })), /body/);
  rejects(() => checker.checkResponse('POST', '/v1/conversations/12/messages', json(200, { ...message, client_msg_id: 'x' })), /uuid/);
  rejects(() => checker.checkResponse('POST', '/v1/conversations/12/messages', problem(503, 'unavailable')), /Retry-After/);
  rejects(() => checker.checkResponse('POST', '/v1/conversations/12/decline', json(204, {})), /no body/);
  rejects(() => checker.checkResponse('GET', '/v1/conversations/12/messages', json(200, { messages: [] })), /has_more/);
  rejects(() => checker.checkResponse('GET', '/v1/events', json(200, { events: [], cursor: '5' })), /cursor/);
  rejects(() => checker.checkResponse('GET', '/v1/events', json(200, { events: [event('message.exploded', {})], cursor: 5 })));
  // data that belongs to another type
  rejects(() => checker.checkResponse('GET', '/v1/events', json(200, { events: [event('member.added', { conversation_id: 12, title: 'H' })], cursor: 5 })));
  rejects(() => checker.checkResponse('GET', '/v1/events', json(200, { events: [event('conversation.declined', { conversation_id: 12, user_id: 8 })], cursor: 5 })));
  rejects(() => checker.checkResponse('GET', '/v1/blocks', json(200, { blocks: [{ user: user, created_at: ts }] })));
  rejects(() => checker.checkResponse('GET', '/v1/events', json(200, { events: [event('receipt', { conversation_id: 12, user_id: 8, delivered_seq: 3 })], cursor: 5 })));
  rejects(() => checker.checkResponse('POST', '/v1/conversations/12/typing', problem(429, 'rate-limited')), /Retry-After/);
});

test('parseMediaType', () => {
  assert.deepEqual(parseMediaType('Application/JSON; charset="utf-8"'), { type: 'application/json', params: { charset: 'utf-8' } });
  assert.equal(parseMediaType(''), null);
  assert.equal(parseMediaType(null), null);
});
