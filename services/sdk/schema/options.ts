import type { ReflectionObject } from 'protobufjs';
import { TIERS, type Tier } from '../tier.ts';
import { PACKAGE } from './catalogue-list.ts';

const SENSITIVITY_NAMES: Record<string, Tier> = {
  SENSITIVITY_PUBLIC: 'public',
  SENSITIVITY_OPERATIONAL: 'operational',
  SENSITIVITY_PERSONAL: 'personal',
  SENSITIVITY_SPECIAL: 'special',
};

/**
 * A Liaison custom option of a reflection object. protobufjs keys parsed options by the name as
 * written between parentheses, so `(liaison.v1.family)`, `(.liaison.v1.family)` and, inside the
 * package, `(family)` all have to be looked up.
 */
export function liaisonOption(obj: ReflectionObject, name: string): unknown {
  const options = obj.options;
  if (!options) return undefined;
  for (const key of [`(${PACKAGE}.${name})`, `(.${PACKAGE}.${name})`, `(v1.${name})`, `(${name})`]) {
    if (key in options) return options[key];
  }
  return undefined;
}

/** The tier of a `(liaison.v1.sensitivity)` option value (enum name or number); undefined if unset. */
export function sensitivityTier(value: unknown): Tier | undefined {
  if (typeof value === 'string') return SENSITIVITY_NAMES[value];
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= TIERS.length) return TIERS[value - 1];
  return undefined;
}

const PARAGRAPH = /^(\d+)(\([a-z]\))?$/;

/** Parse a `(liaison.v1.paragraphs)` value like `"13,9(c)"`; undefined when malformed or empty. */
export function parseParagraphs(value: unknown): { refs: string[]; numbers: number[] } | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const refs = String(value).split(',').map((s) => s.trim());
  if (refs.length === 0 || refs.some((r) => !PARAGRAPH.test(r))) return undefined;
  const numbers = [...new Set(refs.map((r) => Number(PARAGRAPH.exec(r)![1])))];
  return { refs, numbers };
}
