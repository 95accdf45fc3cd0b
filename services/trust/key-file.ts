/** Moved to the SDK, which owns verification and the agency-side files (`services/sdk/trust/key-file.ts`). */
export * from '../sdk/trust/key-file.ts';
