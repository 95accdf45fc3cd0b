/** Moved to the SDK, which owns verification and the agency-side files (`services/sdk/trust/agency-config.ts`). */
export * from '../sdk/trust/agency-config.ts';
