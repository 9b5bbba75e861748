/** MQTT topic matching (§4.7): `+` one level, `#` this level and all below; `$` topics need an explicit first level. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  if (topic.startsWith('$') && !filter.startsWith('$')) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Whether two filters can match a common topic (used to select SUBSCRIBE traffic by a filter). */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === '#' || q === '#') return true;
    if (p === undefined || q === undefined) return false;
    if (p !== '+' && q !== '+' && p !== q) return false;
  }
  return true;
}

/** What is wrong with a Topic Filter (§4.7.1), and which wildcard is misused; undefined when valid. */
export function topicFilterProblem(filter: string): { wildcard?: '#' | '+'; detail: string } | undefined {
  if (filter.length === 0) return { detail: 'a Topic Filter must not be empty' };
  if (filter.indexOf('#') === -1 && filter.indexOf('+') === -1) return undefined;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.length > 1 && level.includes('#'))
      return { wildcard: '#', detail: '"#" must occupy a whole level' };
    if (level.length > 1 && level.includes('+'))
      return { wildcard: '+', detail: '"+" must occupy a whole level' };
    if (level === '#' && i !== levels.length - 1)
      return { wildcard: '#', detail: '"#" must be the last level' };
  }
  return undefined;
}
