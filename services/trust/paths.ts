/** Moved to the SDK, which owns verification and the agency-side files (`services/sdk/trust/paths.ts`). */
export * from '../sdk/trust/paths.ts';
