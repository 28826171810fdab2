/*
 * A UTF-16 surrogate without its pair is not Unicode text, yet a JS string (and JSON, as a
 * \uD800–\uDFFF escape) can hold one. SQLite cannot keep it: bound as a parameter it becomes
 * U+FFFD, and decoded from JSON text inside SQLite it becomes invalid UTF-8, which the libSQL
 * driver aborts the whole process reading back.
 */
const SOURCE = "[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]";
const ONE = new RegExp(SOURCE);
const ALL = new RegExp(SOURCE, "g");

/** Whether `s` holds a lone surrogate. */
export const hasLoneSurrogate = (s: string): boolean => ONE.test(s);

/** `s` with each lone surrogate replaced by U+FFFD, as SQLite would store it from a parameter. */
export const replaceLoneSurrogates = (s: string): string => s.replace(ALL, "\ufffd");
