// Checks HTTP responses against /openapi.yaml.
//
// checkResponse(method, path, res) finds the operation whose path template
// matches the concrete path, picks the documented response for res.status
// (exact code, then "4XX"-style range, then "default"), and checks that
//   - every required response header is present and matches its schema,
//   - the Content-Type is one of the documented media types,
//   - the body validates against that media type's schema (Ajv, draft 2020-12),
//   - a response without content has an empty body.
// It throws a ContractError listing every violation.
//
// A path that the document has but with a method it does not list must answer
// 405 and is checked against components.responses.MethodNotAllowed, plus the
// Allow header must name the documented methods. A path the document does not
// have at all is a contract violation unless { undocumented: true } is passed,
// in which case the answer must still be a problem+json error (NotFound for
// 404).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

export const SPEC_PATH = fileURLToPath(new URL('../../../openapi.yaml', import.meta.url));
const BASE = 'https://missive.dev/openapi.yaml';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export class ContractError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ContractError';
  }
}

/** Parses an OpenAPI YAML text; duplicate keys and syntax errors throw. */
export function parseSpec(text, source = 'openapi.yaml') {
  const doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('\n')}`);
  }
  const spec = doc.toJS({ maxAliasCount: -1 });
  if (!spec || typeof spec !== 'object' || typeof spec.openapi !== 'string') {
    throw new Error(`${source}: not an OpenAPI document`);
  }
  return spec;
}

export function loadSpec(path = SPEC_PATH) {
  return parseSpec(readFileSync(path, 'utf8'), path);
}

// ---------------------------------------------------------------- helpers

function escapePointer(s) {
  return String(s).replaceAll('~', '~0').replaceAll('/', '~1');
}

function unescapePointer(s) {
  return s.replaceAll('~1', '/').replaceAll('~0', '~');
}

/** Value at a local "#/a/b" pointer. */
export function resolvePointer(spec, ref) {
  if (!ref.startsWith('#')) throw new Error(`only local $ref supported: ${ref}`);
  let node = spec;
  const parts = ref.slice(1).split('/').slice(1);
  for (const raw of parts) {
    const key = unescapePointer(decodeURIComponent(raw));
    if (node === null || typeof node !== 'object' || !(key in node)) {
      throw new Error(`unresolved $ref ${ref}`);
    }
    node = node[key];
  }
  return node;
}

/** Follows $ref chains of non-schema objects (responses, headers, parameters). */
function deref(spec, obj) {
  const seen = new Set();
  while (obj && typeof obj === 'object' && typeof obj.$ref === 'string') {
    if (seen.has(obj.$ref)) throw new Error(`$ref cycle at ${obj.$ref}`);
    seen.add(obj.$ref);
    obj = resolvePointer(spec, obj.$ref);
  }
  return obj;
}

/** Deep copy with every local "#/..." $ref made absolute against BASE. */
function absolutizeRefs(node) {
  if (Array.isArray(node)) return node.map(absolutizeRefs);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#') ? BASE + v : absolutizeRefs(v);
  }
  return out;
}

/** "application/json; charset=utf-8" -> { type: "application/json", params: {charset: "utf-8"} } */
export function parseMediaType(value) {
  if (typeof value !== 'string' || value.trim() === '') return null;
  const [type, ...rest] = value.split(';');
  const params = {};
  for (const p of rest) {
    const i = p.indexOf('=');
    if (i < 0) continue;
    const k = p.slice(0, i).trim().toLowerCase();
    let v = p.slice(i + 1).trim();
    if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    params[k] = v;
  }
  return { type: type.trim().toLowerCase(), params };
}

function mediaMatches(declared, actual) {
  const d = parseMediaType(declared);
  if (!d || !actual) return false;
  const [dt, ds] = d.type.split('/');
  const [at, as] = actual.type.split('/');
  if (dt !== '*' && dt !== at) return false;
  if (ds !== '*' && ds !== as) return false;
  for (const [k, v] of Object.entries(d.params)) {
    if ((actual.params[k] ?? '').toLowerCase() !== v.toLowerCase()) return false;
  }
  return true;
}

function isJsonMedia(type) {
  return type === 'application/json' || /^application\/[a-z0-9.+-]*\+json$/.test(type);
}

function getHeader(headers, name) {
  if (!headers) return null;
  if (typeof headers.get === 'function') return headers.get(name);
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === want) return v;
  return null;
}

function preview(res) {
  let text = res.text;
  if (text === undefined) text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
  if (text === undefined || text === null) return '(none)';
  return text.length > 600 ? `${text.slice(0, 600)}... (${text.length} chars)` : text || '(empty)';
}

function formatAjvErrors(errors) {
  return (errors ?? []).map((e) => {
    const where = e.instancePath || '(root)';
    let extra = '';
    if (e.params?.additionalProperty !== undefined) extra = ` '${e.params.additionalProperty}'`;
    else if (e.params?.allowedValues) extra = ` ${JSON.stringify(e.params.allowedValues)}`;
    else if (e.params?.allowedValue !== undefined) extra = ` ${JSON.stringify(e.params.allowedValue)}`;
    return `body${where === '(root)' ? '' : where} ${e.message}${extra}`;
  });
}

// ---------------------------------------------------------------- checker

export function createChecker(spec) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false, allowUnionTypes: true });
  addFormats(ajv);
  const absolute = absolutizeRefs(spec);
  ajv.addSchema(absolute, BASE);

  // Validators are compiled on demand from the absolutized copy, keyed by the
  // JSON pointer of the schema in the document.
  const cache = new Map();
  function validatorAt(pointer) {
    let v = cache.get(pointer);
    if (!v) {
      const schema = resolvePointer(absolute, pointer);
      v = ajv.compile(schema);
      cache.set(pointer, v);
    }
    return v;
  }

  // Path templates, literal ones first so /v1/sessions/current beats /v1/sessions/{x}.
  const routes = Object.entries(spec.paths ?? {}).map(([template, item]) => {
    const names = [];
    const source = template
      .split('/')
      .map((seg) =>
        seg.replace(/\{([^}]+)\}|([^{]+)/g, (m, name, lit) => {
          if (name) {
            names.push(name);
            return '([^/]+)';
          }
          return lit.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        }),
      )
      .join('/');
    return { template, item, names, regex: new RegExp(`^${source}$`) };
  });
  routes.sort((a, b) => a.names.length - b.names.length);

  function findRoute(path) {
    const clean = path.split(/[?#]/)[0];
    for (const r of routes) {
      const m = r.regex.exec(clean);
      if (m) return { ...r, params: Object.fromEntries(r.names.map((n, i) => [n, m[i + 1]])) };
    }
    return null;
  }

  function documentedMethods(item) {
    return METHODS.filter((m) => item[m]);
  }

  /** The operation object for method+path, or null. */
  function findOperation(method, path) {
    const route = findRoute(path);
    if (!route) return null;
    const op = route.item[method.toLowerCase()];
    return op ? { route, operation: op } : null;
  }

  /**
   * Checks res ({status, headers, body, text}) against a response object found
   * at responsePointer. Returns a list of problems (strings).
   */
  function checkAgainstResponse(responsePointer, res) {
    const problems = [];
    const response = deref(spec, resolvePointer(spec, responsePointer));
    let pointer = responsePointer;
    // Track where the dereferenced response lives, to compile its schemas.
    {
      let obj = resolvePointer(spec, responsePointer);
      while (obj && typeof obj.$ref === 'string') {
        pointer = obj.$ref;
        obj = resolvePointer(spec, obj.$ref);
      }
    }

    for (const [name, rawHeader] of Object.entries(response.headers ?? {})) {
      if (name.toLowerCase() === 'content-type') continue;
      const header = deref(spec, rawHeader);
      const value = getHeader(res.headers, name);
      if (value === null || value === undefined) {
        if (header.required) problems.push(`missing required header ${name}`);
        continue;
      }
      if (header.schema) {
        const schema = deref(spec, header.schema);
        let v = value;
        if (schema.type === 'integer' || schema.type === 'number') v = Number(value);
        const validate = ajv.compile(absolutizeRefs(schema));
        if (!validate(v)) {
          problems.push(`header ${name}: ${JSON.stringify(value)} ${ajv.errorsText(validate.errors, { dataVar: '' })}`);
        }
      }
    }

    const content = response.content ?? {};
    const declared = Object.keys(content);
    const ctRaw = getHeader(res.headers, 'content-type');
    const hasBody = res.text !== undefined ? res.text !== '' : res.body !== undefined && res.body !== null && res.body !== '';
    if (declared.length === 0) {
      if (hasBody) problems.push(`response must have no body, got Content-Type ${ctRaw ?? '(none)'}`);
      return problems;
    }
    const ct = parseMediaType(ctRaw);
    if (!ct) {
      problems.push(`missing Content-Type; documented: ${declared.join(', ')}`);
      return problems;
    }
    // Most specific declared media type that matches (exact type before wildcards).
    const matches = declared
      .filter((d) => mediaMatches(d, ct))
      .sort((a, b) => (a.includes('*') ? 1 : 0) - (b.includes('*') ? 1 : 0));
    if (matches.length === 0) {
      problems.push(`Content-Type ${ctRaw} is not documented; documented: ${declared.join(', ')}`);
      return problems;
    }
    const media = matches[0];
    const mediaObj = content[media];
    if (!mediaObj.schema) return problems;
    let body = res.body;
    if (isJsonMedia(ct.type)) {
      if (typeof body === 'string' || body === undefined) {
        try {
          body = JSON.parse(res.text ?? body);
        } catch {
          problems.push(`body is not valid JSON for Content-Type ${ctRaw}`);
          return problems;
        }
      }
    } else if (typeof body !== 'string') {
      body = res.text ?? String(body);
    }
    const validate = validatorAt(`${pointer}/content/${escapePointer(media)}/schema`);
    if (!validate(body)) problems.push(...formatAjvErrors(validate.errors));
    return problems;
  }

  function fail(where, res, problems) {
    throw new ContractError(
      `openapi.yaml contract violation: ${where}\n  - ${problems.join('\n  - ')}\n` +
        `  Content-Type: ${getHeader(res.headers, 'content-type') ?? '(none)'}\n  body: ${preview(res)}`,
    );
  }

  /**
   * Throws ContractError unless res is a documented answer to method+path.
   * opts.undocumented: the path is deliberately not in the document; the
   * answer must still be a problem+json error.
   */
  function checkResponse(method, path, res, opts = {}) {
    const m = method.toUpperCase();
    const where = `${m} ${path} -> ${res.status}`;
    const route = findRoute(path);

    if (!route) {
      if (!opts.undocumented) {
        fail(where, res, [`no path in openapi.yaml matches ${path.split(/[?#]/)[0]} (pass {undocumented: true} for a deliberately unknown route)`]);
      }
      if (res.status < 400) fail(where, res, ['an undocumented route must answer with an error status']);
      const p =
        res.status === 404 ? checkAgainstResponse('#/components/responses/NotFound', res) : checkGenericProblem(res);
      if (p.length) fail(`${where} (undocumented route)`, res, p);
      return { undocumented: true };
    }

    const op = route.item[m.toLowerCase()];
    if (!op) {
      const allowed = documentedMethods(route.item).map((x) => x.toUpperCase());
      if (res.status !== 405) {
        if (opts.undocumented && res.status >= 400) {
          const p = checkGenericProblem(res);
          if (p.length) fail(`${where} (undocumented method)`, res, p);
          return { undocumented: true };
        }
        fail(where, res, [`${route.template} documents only ${allowed.join(', ')}; ${m} must answer 405, not ${res.status}`]);
      }
      const p = checkAgainstResponse('#/components/responses/MethodNotAllowed', res);
      const allow = (getHeader(res.headers, 'allow') ?? '')
        .split(',')
        .map((s) => s.trim().toUpperCase())
        .filter(Boolean);
      for (const a of allowed) if (!allow.includes(a)) p.push(`Allow header ${JSON.stringify(allow.join(', '))} lacks documented method ${a}`);
      if (allow.includes(m)) p.push(`Allow header lists ${m}, the method that was refused`);
      if (p.length) fail(`${where} (${route.template} has no ${m})`, res, p);
      return { template: route.template, response: 'MethodNotAllowed' };
    }

    const responses = op.responses ?? {};
    const code = String(res.status);
    const key = [code, `${code[0]}XX`, `${code[0]}xx`, 'default'].find((k) => k in responses);
    if (!key) {
      fail(where, res, [`status ${code} is not documented for ${m} ${route.template} (documented: ${Object.keys(responses).join(', ')})`]);
    }
    const pointer = `#/paths/${escapePointer(route.template)}/${m.toLowerCase()}/responses/${escapePointer(key)}`;
    const p = checkAgainstResponse(pointer, res);
    if (p.length) fail(`${where} (operation ${op.operationId ?? '?'}, response ${key})`, res, p);
    return { template: route.template, operationId: op.operationId, response: key };
  }

  function checkGenericProblem(res) {
    const p = [];
    if (!getHeader(res.headers, 'x-request-id')) p.push('missing required header X-Request-Id');
    const ct = parseMediaType(getHeader(res.headers, 'content-type'));
    if (!ct || ct.type !== 'application/problem+json') {
      p.push(`Content-Type must be application/problem+json, got ${getHeader(res.headers, 'content-type') ?? '(none)'}`);
      return p;
    }
    let body = res.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        p.push('body is not valid JSON');
        return p;
      }
    }
    const validate = validatorAt('#/components/schemas/Problem');
    if (!validate(body)) p.push(...formatAjvErrors(validate.errors));
    else if (body.status !== res.status) p.push(`body.status ${body.status} differs from HTTP status ${res.status}`);
    return p;
  }

  /** Validates value against components.schemas[name]; returns problems. */
  function validateSchema(name, value) {
    const validate = validatorAt(`#/components/schemas/${escapePointer(name)}`);
    return validate(value) ? [] : formatAjvErrors(validate.errors);
  }

  /** Compiles every schema reachable from a response, request body or component. */
  function compileAll() {
    const pointers = [];
    for (const name of Object.keys(spec.components?.schemas ?? {})) pointers.push(`#/components/schemas/${escapePointer(name)}`);
    const addContent = (base, content) => {
      for (const [media, mo] of Object.entries(content ?? {})) if (mo.schema) pointers.push(`${base}/content/${escapePointer(media)}/schema`);
    };
    for (const [name, r] of Object.entries(spec.components?.responses ?? {})) addContent(`#/components/responses/${escapePointer(name)}`, r.content);
    for (const [template, item] of Object.entries(spec.paths ?? {})) {
      for (const m of documentedMethods(item)) {
        const opPtr = `#/paths/${escapePointer(template)}/${m}`;
        const op = item[m];
        if (op.requestBody && !op.requestBody.$ref) addContent(`${opPtr}/requestBody`, op.requestBody.content);
        for (const [code, r] of Object.entries(op.responses ?? {})) {
          if (!r.$ref) addContent(`${opPtr}/responses/${escapePointer(code)}`, r.content);
        }
      }
    }
    for (const p of pointers) validatorAt(p);
    return pointers.length;
  }

  return { spec, checkResponse, findOperation, findRoute, validateSchema, compileAll, documentedMethods };
}

let defaultChecker;
export function defaultContract() {
  defaultChecker ??= createChecker(loadSpec());
  return defaultChecker;
}

/** checkResponse against /openapi.yaml. */
export function checkResponse(method, path, res, opts) {
  return defaultContract().checkResponse(method, path, res, opts);
}
