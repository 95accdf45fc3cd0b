/** Edge nodes: an agency's own leaf node that keeps sending while the link to the exchange is down. */
export { connectViaLeaf, leafDirectoryCache, runningLeafUrl } from './connect.ts';
export { Forwarder, type ForwarderOptions, type ForwarderStats } from './forwarder.ts';
export { LEAF_ACCOUNT, leafDomain, renderLeafConfig, type LeafConfigOptions } from './leaf-config.ts';
export { DEFAULT_LEAF_PORT, defaultHubUrl, startLeaf, type LeafOptions, type RunningLeaf } from './leaf.ts';
export { ensureOutbox, FORWARDER_BUCKET, OUTBOX_STREAM, outboxSubjects } from './outbox.ts';
export { leafPaths, type LeafPaths } from './paths.ts';
