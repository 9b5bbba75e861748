/** Bounds of --metrics' per-topic series, apart from the counters so that the CLI can name them cheaply. */

/** Most topic series by default; PUBLISH of further topics count as overflow. */
export const DEFAULT_TOPIC_MAX = 1000;
/** The deepest --metrics-topic-depth. */
export const MAX_TOPIC_DEPTH = 32;
/** The most series --metrics-topic-max allows. */
export const TOPIC_MAX_LIMIT = 100_000;
