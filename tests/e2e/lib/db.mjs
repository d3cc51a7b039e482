// Direct SQL on the stack's database, for the few states the API cannot
// (yet) produce: a member with the admin role (no endpoint assigns roles)
// and a message older than the edit window. Uses psql with the PG* settings
// of stack.env. Tests use it to set up a state, never to check one.

import { execFileSync } from 'node:child_process';
import { loadStack } from './stack.mjs';

/** Runs one SQL statement; returns psql's unaligned output (rows of `|`-separated fields). */
export function sql(statement) {
  const s = loadStack();
  const env = { ...process.env };
  for (const k of ['PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD']) if (s[k] !== undefined) env[k] = s[k];
  try {
    return execFileSync('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-c', statement], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (e) {
    throw new Error(`psql failed: ${statement}\n${e.stderr ?? e.message}`, { cause: e });
  }
}

const int = (v) => {
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`not an id: ${v}`);
  return v;
};

/** Makes user an admin of the group (there is no endpoint for roles yet). */
export function makeAdmin(conversationId, userId) {
  sql(`UPDATE members SET role = 'admin' WHERE conversation_id = ${int(conversationId)} AND user_id = ${int(userId)} AND role = 'member'`);
}

/** Moves a message's created_at back by `hours`. */
export function ageMessage(conversationId, seq, hours) {
  sql(`UPDATE messages SET created_at = created_at - make_interval(hours => ${int(hours)}) WHERE conversation_id = ${int(conversationId)} AND seq = ${int(seq)}`);
}
