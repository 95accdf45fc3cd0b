/** Moved to the SDK, which owns verification and the agency-side files (`services/sdk/trust/keys.ts`). */
export * from '../sdk/trust/keys.ts';
