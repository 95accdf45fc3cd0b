/** Moved to the SDK, which owns verification and the agency-side files (`services/sdk/trust/json-file.ts`). */
export * from '../sdk/trust/json-file.ts';
