// Minimal parser for the Prometheus text exposition format (0.0.4).

/** -> { types: {name: type}, samples: [{name, labels, value}] }; throws on a malformed line. */
export function parsePrometheus(text) {
  const types = {};
  const samples = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (m) types[m[1]] = m[2];
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/.exec(line);
    if (!m) throw new Error(`metrics line ${i + 1} is malformed: ${JSON.stringify(line)}`);
    const labels = {};
    if (m[3]) {
      const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/gy;
      let lm;
      let consumed = 0;
      while (consumed < m[3].length && (lm = re.exec(m[3]))) {
        labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
        consumed = re.lastIndex;
      }
      if (consumed !== m[3].length) throw new Error(`metrics line ${i + 1} has malformed labels: ${JSON.stringify(line)}`);
    }
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    if (Number.isNaN(value) && m[4] !== 'NaN') throw new Error(`metrics line ${i + 1} has a bad value: ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels, value });
  });
  return { types, samples };
}

/** Samples named name whose labels include all of want. */
export function findSamples(parsed, name, want = {}) {
  return parsed.samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
}

/** Sum of the values of matching samples (0 when none). */
export function sumSamples(parsed, name, want = {}) {
  return findSamples(parsed, name, want).reduce((a, s) => a + s.value, 0);
}
