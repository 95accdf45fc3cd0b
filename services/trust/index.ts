/** Federation trust layer: root key, agency credentials, NATS operator/account/user JWTs, directory, revocation, rotation. */
export { applyAccountUpdate, applyAccountUpdates, pushFederationAccounts } from './account-update.ts';
export { ensureAgencyAccount, listAgencyAccounts, refreshExchangeAccount, revocationsOf, revokeAgencyUsers, writeAgencyAccount } from './agency-accounts.ts';
export type { AgencyAccount } from './agency-accounts.ts';
export { EXCHANGE_SERVICE_EXPORTS, EXCHANGE_STREAM_EXPORTS, agencyExports, agencyImports, exchangeImports } from './account-routes.ts';
export type { AccountUpdateResult, ApplyAccountUpdateOptions } from './account-update.ts';
export { inboxPrefixOf, readAgencyConfig, writeAgencyConfig } from './agency-config.ts';
export type { AgencyConfig } from './agency-config.ts';
export { CREDENTIAL_TYP, credentialIssuer, issueCredential, verifyCredential, verifyCredentialSignature } from './credential.ts';
export type { CredentialClaims, CredentialSigner, IssueCredentialInput, VerifyCredentialOptions } from './credential.ts';
export { DIRECTORY_TYP, buildDirectory, directoryKey, policyHash, verifyDirectory, writeDirectory } from './directory.ts';
export type { Directory, DirectoryAgency, DirectoryCredential, DirectoryKey } from './directory.ts';
export { DEFAULT_TTL_SECONDS, enrolAgency } from './enrol.ts';
export type { EnrolOptions, EnrolResult } from './enrol.ts';
export { initFederation, openFederation } from './federation.ts';
export type { Federation, InitFederationOptions } from './federation.ts';
export { loadSigningKey, readPrivateFile, readPrivateJwk, signingKeyFromJwk, writePrivateFile, writePublicFile } from './key-file.ts';
export type { SigningKey } from './key-file.ts';
export { generateEd25519, jwkThumbprint, publicKeyFromJwk, toPublicJwk } from './keys.ts';
export type { Ed25519PrivateJwk, Ed25519PublicJwk, GeneratedKey } from './keys.ts';
export {
  EXCHANGE_ACCOUNT_NAME,
  SYSTEM_ACCOUNT_NAME,
  createNatsTrustChain,
  decodeNatsJwt,
  createAccountKey,
  encodeAgencyAccount,
  encodeExchangeAccount,
  encodeSystemAccount,
  formatCreds,
  issueUser,
  issueUserJwt,
  keyPairFromSeed,
} from './nats-accounts.ts';
export type { IssueUserOptions, NatsIdentity, NatsPermissions, NatsTrustChain, NatsUser } from './nats-accounts.ts';
export { AGENCY_ID_PATTERN, agencyPaths, trustPaths } from './paths.ts';
export type { AgencyPaths, TrustPaths } from './paths.ts';
export { listAgencyRecords, readAgencyRecord, requireAgencyRecord, writeAgencyRecord } from './record.ts';
export type { AgencyRecord, CredentialEntry, NatsUserEntry } from './record.ts';
export { reissueForPolicy } from './policy-reissue.ts';
export type { PolicyReissue } from './policy-reissue.ts';
export { revokeAgency } from './revoke.ts';
export type { RevokeOptions, RevokeResult } from './revoke.ts';
export { createRootKey } from './root.ts';
export type { RootKey } from './root.ts';
export { rotateSigningKey } from './rotate.ts';
export type { RotateOptions, RotateResult } from './rotate.ts';
export { DEFAULT_CLUSTER_NAME, MAX_PAYLOAD_BYTES, TLS_HANDSHAKE_TIMEOUT_S, renderServerConfig } from './server-config.ts';
export type { ClusterRouteOptions, ServerConfigOptions } from './server-config.ts';
export { CA_DAYS, LOOPBACK_NAMES, SERVER_CERT_DAYS, SERVER_CERT_RENEW_MS, certificateNames, createFederationCa, ensureExchangeTls, ensureFederationCa, issueServerCertificate, readCertificate, serverNames } from './tls.ts';
