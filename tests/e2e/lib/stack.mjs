// Reads the stack.env that `deploy/stack.sh start DIR` writes (KEY=VALUE
// shell lines) from the file named by MISSIVE_STACK_ENV.
//
// Without MISSIVE_STACK_ENV, falls back to MISSIVE_URL etc. from the process
// environment, so the tests can also be pointed at a stack started by hand:
//   MISSIVE_URL=http://127.0.0.1:8080 MISSIVE_TOKEN_SECRET=... node --test tests/e2e

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Parses KEY=VALUE lines; accepts `export `, comments and '...' / "..." quoting. */
export function parseEnv(text) {
  const out = {};
  for (const rawLine of text.split(/\r?\n/)) {
    let line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('export ')) line = line.slice(7).trim();
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const key = line.slice(0, i).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) continue;
    let value = line.slice(i + 1).trim();
    if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) {
      value = value.slice(1, -1).replaceAll(`'\\''`, "'");
    } else if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    }
    out[key] = value;
  }
  return out;
}

let cached;

/** The stack's settings: MISSIVE_URL, MISSIVE_SSE_URL, MISSIVE_TOKEN_SECRET, PG*, ... */
export function loadStack() {
  if (cached) return cached;
  const file = process.env.MISSIVE_STACK_ENV;
  let env;
  if (file) {
    env = parseEnv(readFileSync(file, 'utf8'));
  } else if (process.env.MISSIVE_URL) {
    env = { ...process.env };
  } else {
    throw new Error(
      'MISSIVE_STACK_ENV is not set: run the e2e tests with `bash tests/e2e/run.sh`, ' +
        'or set MISSIVE_STACK_ENV=DIR/stack.env (or MISSIVE_URL) for a running stack',
    );
  }
  if (!env.MISSIVE_URL) throw new Error(`${file ?? 'environment'}: MISSIVE_URL is missing`);
  env.MISSIVE_URL = env.MISSIVE_URL.replace(/\/+$/, '');
  cached = Object.freeze(env);
  return cached;
}

/** The HS256 key the stack signs access tokens with, as raw bytes. */
export function tokenSecret() {
  const s = loadStack().MISSIVE_TOKEN_SECRET;
  if (!s) throw new Error('stack.env has no MISSIVE_TOKEN_SECRET');
  return Buffer.from(s, 'utf8');
}

const STACK_SH = new URL('../../../deploy/stack.sh', import.meta.url).pathname;

/**
 * Runs `deploy/stack.sh CMD DIR ...args` on the stack under test (DIR from
 * MISSIVE_DIR) without blocking the event loop, so streams and senders keep
 * running while a component is killed or restarted. Resolves with the
 * milliseconds it took; rejects with stack.sh's stderr.
 */
export function stackCommand(cmd, ...args) {
  const dir = loadStack().MISSIVE_DIR;
  if (!dir) throw new Error('stack.env has no MISSIVE_DIR');
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    execFile('bash', [STACK_SH, cmd, dir, ...args], { timeout: 120000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`stack.sh ${[cmd, ...args].join(' ')} failed: ${stderr || err.message}`, { cause: err }));
      else resolve(Date.now() - t0);
    });
  });
}
