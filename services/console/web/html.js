// Preact + htm: components written as tagged templates, no build step.
import { h } from 'preact';
import htm from 'htm';

/** Tagged template producing Preact elements. */
export const html = htm.bind(h);

/** The tiers, lowest first, and how each is named on screen. */
export const TIERS = ['public', 'operational', 'personal', 'special'];

/** Services that are not agencies, named for people. */
const PLACES = { broker: 'the broker (nats-server)', exchange: 'the exchange', scenario: 'the scenario', all: 'all agencies', '?': 'unknown sender' };

/** An agency's display name (its id when the policy gives none). */
export function nameOf(agencies, id) {
  return agencies[id]?.name ?? PLACES[id] ?? id;
}

/** A tier as a coloured badge with its name in words (colour is never the only cue). */
export function Tier({ tier }) {
  if (!tier) return html`<span class="tier none">—</span>`;
  return html`<span class="tier t-${tier}">${tier}</span>`;
}
