/**
 * Scraping `/metrics` as Prometheus does, and reading the answer strictly:
 * `parseExposition` checks every line against the text exposition format
 * (0.0.4) and throws on the first one a Prometheus server would reject or
 * misread (a malformed name, label or value, a family whose TYPE comes after
 * its samples or twice, a family split in two, a duplicated series, a sample
 * name that does not belong to its family's type, a negative counter,
 * histogram buckets that decrease or disagree with `_count`). docs/decisions.md
 * (section 5) says why this is not a library.
 */

/** A metric family: its type, its help, and its samples. */
export interface Family {
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | null;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
/** A float as Go's strconv.ParseFloat (Prometheus's parser) reads it: NaN and Inf in any case (prom-client writes `Nan`). */
const VALUE = String.raw`(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])`;
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (${VALUE})(?: (-?\\d+))?$`);
const PAIR = new RegExp(`^(${LABEL})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"(?:,|$)`);
const META = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`);
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function unescape(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseLabels(text: string | undefined, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text ?? '';
  while (rest.length > 0) {
    const match = PAIR.exec(rest);
    if (!match) throw new Error(`malformed labels in ${JSON.stringify(line)}`);
    if (match[1]! in labels) throw new Error(`label ${match[1]} twice in ${JSON.stringify(line)}`);
    labels[match[1]!] = unescape(match[2]!);
    rest = rest.slice(match[0].length);
  }
  return labels;
}

/** The family a sample belongs to: itself, or for a histogram/summary its base name. */
function familyOf(name: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && ['histogram', 'summary'].includes(families.get(base)?.type ?? '')) return base;
  }
  return name;
}

/** Checks a histogram's series: buckets cumulative, `+Inf` equal to `_count`. */
function checkHistogram(name: string, family: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name === `${name}_bucket`) {
      if (le === undefined) throw new Error(`${name}_bucket without le`);
      entry.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
    } else if (s.name === `${name}_count`) entry.count = s.value;
  }
  for (const [key, { buckets, count }] of series) {
    const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
    sorted.forEach(([, v], i) => {
      if (i > 0 && v < sorted[i - 1]![1]) throw new Error(`${name}${key}: buckets decrease`);
    });
    if (sorted.at(-1)?.[0] !== Infinity || sorted.at(-1)?.[1] !== count) throw new Error(`${name}${key}: +Inf bucket is not _count`);
  }
}

/** Parses and checks an exposition; throws on the first problem. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: string | null = null;
  const open = (name: string): Family => {
    if (current !== name) {
      if (closed.has(name)) throw new Error(`family ${name} appears twice`);
      if (current !== null) closed.add(current);
      current = name;
    }
    let family = families.get(name);
    if (!family) families.set(name, (family = { type: 'untyped', help: null, samples: [] }));
    return family;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = META.exec(line);
    if (meta) {
      const [, kind, name, rest = ''] = meta;
      const family = open(name!);
      if (kind === 'HELP') {
        if (family.help !== null) throw new Error(`HELP of ${name} twice`);
        family.help = unescape(rest);
      } else {
        if (!TYPES.has(rest) || family.samples.length > 0 || family.type !== 'untyped')
          throw new Error(`bad TYPE line ${JSON.stringify(line)}`);
        family.type = rest as Family['type'];
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`malformed sample ${JSON.stringify(line)}`);
    const [, name, labelText, value] = match;
    const labels = parseLabels(labelText, line);
    const familyName = familyOf(name!, families);
    const family = open(familyName);
    if (['counter', 'gauge'].includes(family.type) && name !== familyName) throw new Error(`${name} in ${family.type} ${familyName}`);
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(series)) throw new Error(`series ${series} twice`);
    seen.add(series);
    const number = /nan/i.test(value!) ? NaN : /inf/i.test(value!) ? (value!.startsWith('-') ? -Infinity : Infinity) : Number(value);
    if (family.type === 'counter' && !(number >= 0)) throw new Error(`counter ${name} is ${value}`);
    family.samples.push({ name: name!, labels, value: number });
  }
  for (const [name, family] of families) if (family.type === 'histogram') checkHistogram(name, family);
  return families;
}

/** The value of the sample `name` whose labels include `labels`, or undefined. */
export function sample(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

/** What a scrape of `/metrics` answered. */
export interface Scrape {
  contentType: string | null;
  text: string;
  families: Map<string, Family>;
  /** The value of a sample, 0 when absent (a counter not incremented yet). */
  value(name: string, labels?: Record<string, string>): number;
}

/** Scrapes the `/metrics` of the gateway serving `graphqlUrl`. */
export async function scrape(graphqlUrl: string): Promise<Scrape> {
  const response = await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'));
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  const text = await response.text();
  const families = parseExposition(text);
  return {
    contentType: response.headers.get('content-type'),
    text,
    families,
    value: (name, labels) => sample(families, name, labels) ?? 0,
  };
}
